"""A one-machine OVN lab: real OVS (userspace datapath) and OVN daemons, pods as network
namespaces on br-int, an underlay bridge and a receiver namespace at the mirror sink.

Everything lives under one run directory; every daemon is started and stopped by its pid;
addresses exist only on the namespaces and bridges made here (172.31.0.0/24 underlay,
10.66.0.0/24 pods). `Lab.down()` also cleans up what a crashed earlier run left behind.
"""

import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import time

from lab.daemons import (DaemonError, command_lines, spawn, stop_processes, wait_for_daemon,
                         wait_until)
from lab.ovn_versions import CURRENT_VERSION, HOST_VERSION, VERSIONS, ovn

PREFIX = 'kml'                      # every netns / link name made here starts with this
UNDERLAY_IP, SINK_IP = '172.31.0.1', '172.31.0.21'
SINK_MAC = '02:00:00:31:00:21'
PODS = {                            # name -> (LSP, MAC, IP)
    'web-0': ('web-0.default', '02:00:00:66:00:10', '10.66.0.10'),
    'web-1': ('web-1.default', '02:00:00:66:00:11', '10.66.0.11'),
    'db-0': ('db-0.default', '02:00:00:66:00:20', '10.66.0.20'),
}
MIRROR_TAP = PREFIX + 'mirror0'     # local mirror output: an OVS internal port (a tap here)
# The pods' logical switch, subnet and gateway (Kube-OVN's default subnet).
POD_SWITCH, POD_CIDR, POD_GATEWAY = 'ovn-default', '10.66.0.0/24', '10.66.0.1'


def run(*cmd, check=True, env=None, timeout=30):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, env=env,
                          timeout=timeout).stdout.strip()


class Lab:
    def __init__(self, rundir, version=HOST_VERSION):
        self.rundir = os.path.abspath(str(rundir))
        self.ovn = ovn(version)      # whose daemons and tools (lab/ovn_versions.py)
        self.procs = {}
        self.env = dict(os.environ, OVS_RUNDIR=self.rundir, OVS_LOGDIR=self.rundir,
                        OVS_DBDIR=self.rundir, OVN_RUNDIR=self.rundir, OVN_LOGDIR=self.rundir,
                        OVN_DBDIR=self.rundir)

    # ---- paths and clients ------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.rundir, name)

    @property
    def ovs_db(self):
        return 'unix:' + self.path('db.sock')

    @property
    def nb(self):
        return 'unix:' + self.path('ovnnb_db.sock')

    @property
    def sb(self):
        return 'unix:' + self.path('ovnsb_db.sock')

    def vsctl(self, *args):
        return self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=20', *args)

    def nbctl(self, *args):
        return self.tool('ovn-nbctl', '--db=' + self.nb, '--timeout=20', *args)

    def sbctl(self, *args):
        return self.tool('ovn-sbctl', '--db=' + self.sb, *args)

    def tool(self, name, *args, check=True):
        """Run one of this lab's OVN/OVS tools (of its version)."""
        return run(*(self.ovn.cmd(name) + list(args)), check=check, env=self.env)

    def appctl(self, target, *args):
        return self.tool('ovs-appctl', '-t', self.path(target), *args)

    def netns(self, name, *cmd, **kwargs):
        return run('ip', 'netns', 'exec', self.netns_of(name), *cmd, **kwargs)

    def netns_of(self, name):
        """The network namespace of lab pod `name`."""
        return PREFIX + '-' + name

    # ---- start ------------------------------------------------------------------------
    def _daemon(self, name, cmd, ready):
        self.procs[name] = spawn(cmd, self.path(name + '.out'), env=self.env)
        wait_for_daemon(name, self.procs[name], ready, 20,
                        [self.path(name + '.log'), self.path(name + '.out')])

    def _ovsdb(self, name, schema, sock):
        db = self.path(name + '.db')
        self.tool('ovsdb-tool', 'create', db, schema)
        self._daemon(name, self.ovn.cmd('ovsdb-server') + [
            db, '--remote=punix:' + self.path(sock), '--unixctl=' + self.path(name + '.ctl'),
            '--pidfile=' + self.path(name + '.pid'), '--log-file=' + self.path(name + '.log')],
            lambda: os.path.exists(self.path(sock)))

    def up(self):
        """Start everything; a start that fails takes down what it had started."""
        started = time.monotonic()
        self.down()
        try:
            try:
                self._up()
            except TimeoutError as exc:   # chassis or pods never bound: show the daemons' view
                raise DaemonError('OVN lab', str(exc), [self.path(name + '.log') for name in (
                    'ovn-controller', 'ovn-northd', 'ovs-vswitchd')])
        except BaseException:
            self.down()     # also removes the run directory: the error carries the log tails
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _up(self):
        os.makedirs(self.rundir, exist_ok=True)
        self._ovsdb('ovsdb-server', self.ovn.vswitch_schema, 'db.sock')
        self.vsctl('--no-wait', 'init')
        self._daemon('ovs-vswitchd', self.ovn.cmd('ovs-vswitchd') + [
            self.ovs_db, '--unixctl=' + self.path('ovs-vswitchd.ctl'),
            '--pidfile=' + self.path('ovs-vswitchd.pid'),
            '--log-file=' + self.path('ovs-vswitchd.log')],
            lambda: os.path.exists(self.path('ovs-vswitchd.ctl')))
        self._ovsdb('nb', self.ovn.nb_schema, 'ovnnb_db.sock')
        self._ovsdb('sb', self.ovn.sb_schema, 'ovnsb_db.sock')
        self._daemon('ovn-northd', self.ovn.cmd('ovn-northd') + [
            '--ovnnb-db=' + self.nb, '--ovnsb-db=' + self.sb,
            '--unixctl=' + self.path('ovn-northd.ctl'), '--pidfile=' + self.path('ovn-northd.pid'),
            '--log-file=' + self.path('ovn-northd.log')],
            lambda: os.path.exists(self.path('ovn-northd.ctl')))

        # Underlay: a netdev bridge whose own tap holds the tunnel source address (OVS learns
        # the route from it), and a veth to the receiver namespace at the sink address.
        self.vsctl('add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev')
        run('ip', 'addr', 'add', UNDERLAY_IP + '/24', 'dev', 'br-phy')
        run('ip', 'link', 'set', 'br-phy', 'up')
        self.add_namespace('rx', 'br-phy', SINK_MAC, SINK_IP + '/24')

        self.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev',
                   'fail-mode=secure')
        # Mirror statistics every second instead of every 5 s, so tests see them move.
        self.vsctl('set', 'Open_vSwitch', '.', 'other_config:stats-update-interval=1000')
        self.vsctl('set', 'Open_vSwitch', '.', 'external_ids:system-id=lab-chassis',
                   'external_ids:ovn-remote=' + self.sb, 'external_ids:ovn-encap-type=geneve',
                   'external_ids:ovn-encap-ip=' + UNDERLAY_IP,
                   'external_ids:ovn-bridge-datapath-type=netdev')
        self._daemon('ovn-controller', self.ovn.cmd('ovn-controller') + [
            self.ovs_db, '--pidfile=' + self.path('ovn-controller.pid'),
            '--log-file=' + self.path('ovn-controller.log')],
            lambda: os.path.exists(self.path('ovn-controller.pid')))

        self.nbctl('ls-add', POD_SWITCH)
        for pod, (lsp, mac, ip) in PODS.items():
            self.nbctl('lsp-add', POD_SWITCH, lsp, '--', 'lsp-set-addresses', lsp,
                       '%s %s' % (mac, ip))
            port = self.add_namespace(pod, 'br-int', mac, ip + '/24')
            self.vsctl('set', 'Interface', port, 'external_ids:iface-id=' + lsp)
        # Preload the sink's MAC so the first mirrored packets are not dropped on an ARP miss.
        wait_until(lambda: 'lab-chassis' in self.sbctl('list', 'Chassis'), 20, 'chassis up')
        self.appctl('ovs-vswitchd.ctl', 'tnl/arp/set', 'br-phy', SINK_IP, SINK_MAC)
        wait_until(self._pods_bound, 30, 'pods bound by ovn-controller', interval=0.2)

    def _pods_bound(self):
        """Every pod's LSP is bound to our chassis in the SB."""
        for lsp, dummy_mac, dummy_ip in PODS.values():
            chassis = self.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding',
                                 'logical_port=' + lsp)
            if not chassis:
                return False
        return True

    def add_namespace(self, name, bridge, mac, cidr):
        """A network namespace (a lab pod, or the receiver) whose eth0 has `mac` and `cidr`,
        linked by a veth to a port on `bridge`; returns that port's name. down() removes it."""
        netns, host_end = PREFIX + '-' + name, PREFIX + name.replace('-', '')[:8] + 'h'
        run('ip', 'netns', 'add', netns)
        run('ip', 'link', 'add', host_end, 'type', 'veth', 'peer', 'name', 'eth0',
            'netns', netns)
        run('ip', '-n', netns, 'link', 'set', 'eth0', 'address', mac)
        run('ip', '-n', netns, 'addr', 'add', cidr, 'dev', 'eth0')
        for args in (('-n', netns, 'link', 'set', 'eth0', 'up'),
                     ('-n', netns, 'link', 'set', 'lo', 'up'),
                     ('link', 'set', host_end, 'up')):
            run('ip', *args)
        self.vsctl('add-port', bridge, host_end)
        return host_end

    # ---- stop -------------------------------------------------------------------------
    def down(self):
        """Stop every daemon by pid (ours, or a crashed run's pidfiles) and remove the
        namespaces and links; safe to call any time."""
        if os.path.exists(self.path('ovs-vswitchd.ctl')):
            for bridge in ('br-int', 'br-phy'):
                self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=5', '--if-exists',
                          'del-br', bridge, check=False)
        stop_processes(list(self.procs.values()))
        self.procs = {}
        leftover = pidfile_pids(self.rundir)
        for rundir, pids in other_labs(self.rundir).items():
            # Lab daemons from another run directory (a killed test run, a forgotten
            # `make lab-up`) hold br-int/br-phy and the lab's addresses: two labs cannot
            # share this machine's kernel links, so the newer one stops the older.
            print('lab: stopping a lab left running in %s (pids %s)' % (
                rundir, ' '.join(map(str, sorted(pids)))), file=sys.stderr)
            leftover += sorted(pids)
        for pid in leftover:  # a crashed earlier run's daemons
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        deadline = time.monotonic() + 10
        while any(os.path.exists('/proc/%d' % pid) for pid in leftover) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        for netns in run('ip', 'netns', 'list', check=False).splitlines():
            if netns.split()[0].startswith(PREFIX + '-'):
                run('ip', 'netns', 'del', netns.split()[0], check=False)
        for link in json.loads(run('ip', '-j', '-d', 'link', 'show', check=False) or '[]'):
            if link['ifname'].startswith(PREFIX) or link['ifname'] in LAB_TAPS and \
                    link.get('linkinfo', {}).get('info_data', {}).get('persist'):
                run('ip', 'link', 'del', link['ifname'], check=False)
        shutil.rmtree(self.rundir, ignore_errors=True)

    # ---- traffic ----------------------------------------------------------------------
    def capture(self, netns, action, bpf='ip proto 47', seconds=4, count=50):
        """Packets seen on `netns`'s eth0 while `action()` runs: (tcpdump lines, pcap path)."""
        return self.captures([(netns, 'eth0', bpf)], action, seconds, count)[0]

    def capture_host(self, interface, action, bpf='icmp', seconds=4, count=50):
        """Like capture(), on an interface of the host (a lab tap such as the mirror port)."""
        return self.captures([(None, interface, bpf)], action, seconds, count)[0]

    def captures(self, points, action, seconds=4, count=50):
        """One tcpdump per (netns or None, interface, bpf) in `points`, all started before
        `action()` runs and each bounded by `seconds` and `count`; [(lines, pcap)]."""
        return captures([(['ip', 'netns', 'exec', self.netns_of(netns)] if netns else [],
                          interface, bpf) for netns, interface, bpf in points],
                        action, self.rundir, seconds, count)

    def prepare_tap(self, name=MIRROR_TAP):
        """An OVS internal port used as mirror output must be up and must not send IPv6
        (vswitchd drops packets received on a port reserved for mirroring). For a port the
        lab makes itself: ovs_local_mirror does this for the output port it creates, and a
        test must not do it for the collection."""
        run('sysctl', '-q', '-w', 'net.ipv6.conf.%s.disable_ipv6=1' % name)
        run('ip', 'link', 'set', name, 'up')

    def wait_mirror_realised(self, name, src, dst, timeout=15):
        """Until ovn-controller has made OVS mirror `name` select (or not) source and
        destination ports; then flush cached datapath flows so the new mirroring applies
        to the next packet instead of after the revalidators' next pass."""
        def realised():
            if not self.vsctl('--bare', '--columns=name', 'find', 'Mirror', 'name=' + name):
                return not src and not dst   # removed by ovn-controller: selects nothing
            selects = [bool(self.vsctl('--bare', '--columns=' + column, 'find', 'Mirror',
                                       'name=' + name))
                       for column in ('select_src_port', 'select_dst_port')]
            return selects == [src, dst]
        wait_until(realised, timeout, 'OVS mirror %s realised' % name, interval=0.1)
        self.appctl('ovs-vswitchd.ctl', 'revalidator/purge')

    def wait_tunnel(self, name, timeout=15):
        """Until ovn-controller has created the tunnel port of NB mirror `name`."""
        wait_until(lambda: 'ovn-' + name in self.vsctl('list-ports', 'br-int').split(),
                   timeout, 'ovn-controller tunnel port ovn-' + name)

    def ping(self, source, target_ip, count=3):
        """A bounded ping between two lab pods."""
        return self.netns(source, 'ping', '-c', str(count), '-i', '0.2', '-W', '1', target_ip,
                          check=False)


def captures(points, action, directory, seconds=4, count=50):
    """One tcpdump per (argv prefix, interface, bpf) in `points` (the prefix enters a network
    namespace, or is empty), all listening before `action()` runs and each bounded by
    `seconds` and `count`, writing pcaps into `directory`; [(tcpdump lines, pcap)]."""
    running = []
    try:
        for prefix, interface, bpf in points:
            pcap = os.path.join(directory, 'capture-%d.pcap' % time.monotonic_ns())
            proc = subprocess.Popen(
                list(prefix) + ['timeout', str(seconds), 'tcpdump', '-U', '-n', '-i', interface,
                                '-c', str(count), '-w', pcap, bpf],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            running.append((proc, pcap))
            wait_until(lambda: 'listening' in (proc.stderr.readline() or ''), 5,
                       'tcpdump ready on %s' % interface)
        action()
    except BaseException:
        stop_processes([proc for proc, dummy in running])
        raise
    outcome = []
    for proc, pcap in running:
        proc.wait(seconds + 5)
        outcome.append((run('tcpdump', '-n', '-r', pcap, check=False).splitlines(), pcap))
    return outcome


LAB_DAEMONS = ('ovsdb-server', 'ovs-vswitchd', 'ovn-northd', 'ovn-controller')
# The userspace datapath makes its own port, each bridge's port and internal ports persistent
# taps: they outlive an ovs-vswitchd that was killed, keep their addresses, and the next
# vswitchd would re-open them. Removed by name, and only when they are persistent taps (never a
# kernel-datapath port of a real node).
LAB_TAPS = ('ovs-netdev', 'br-int', 'br-phy', 'mirror0')


def pidfile_pids(rundir):
    """The pids in a lab run directory's pidfiles."""
    pids = []
    if os.path.isdir(rundir):
        for name in os.listdir(rundir):
            if name.endswith('.pid'):
                try:
                    with open(os.path.join(rundir, name)) as handle:
                        pids.append(int(handle.read().strip()))
                except (OSError, ValueError):
                    pass
    return pids


def other_labs(rundir):
    """{run directory: pids} of the daemons of labs running from other run directories.
    A lab is recognised by its ovs-vswitchd (`--pidfile=DIR/ovs-vswitchd.pid`; nothing else
    here runs one), its daemons by a `--pidfile=` in the same DIR."""
    by_dir, labs = {}, set()
    for pid, argv in command_lines():
        # argv[0], or the binary a version's loader runs (lab/ovn_versions.py)
        names = [os.path.basename(arg) for arg in argv[:4]]
        daemon = next((name for name in names if name in LAB_DAEMONS), None)
        if daemon is None:
            continue
        for arg in argv[1:]:
            if arg.startswith('--pidfile='):
                directory = os.path.dirname(os.path.abspath(arg[len('--pidfile='):]))
                by_dir.setdefault(directory, set()).add(pid)
                if daemon == 'ovs-vswitchd':
                    labs.add(directory)
    labs.discard(os.path.abspath(rundir))
    # A node of the test cluster (lab/cluster.py) runs its vswitchd in a network namespace of
    # its own: it holds none of the lab's links.
    labs = set(directory for directory in labs if '/kubeovn-lab-cluster/' not in directory)
    return dict((directory, by_dir[directory]) for directory in labs)


POD_BY_IP = dict((ip, pod) for pod, (dummy_lsp, dummy_mac, ip) in PODS.items())
GRE_TEB, GRE_ERSPAN_II = 0x6558, 0x88BE


def lsp_mirrors(nbctl, name):
    """(uuid, [mirror uuids]) of the LSP `name` as `nbctl` (an ovn-nbctl runner) reads it, or
    None when there is no such port."""
    rows = json.loads(nbctl('--format=json', '--columns=_uuid,mirror_rules', 'find',
                            'Logical_Switch_Port', 'name="%s"' % name))['data']
    if not rows:
        return None
    (dummy, uuid), (kind, rules) = rows[0]
    return uuid, [rules] if kind == 'uuid' else [value for dummy, value in rules]


def read_pcap(path):
    """The frames of a classic little-endian pcap file (what tcpdump -w writes)."""
    with open(path, 'rb') as handle:
        data = handle.read()
    offset, frames = 24, []
    while offset + 16 <= len(data):
        caplen = struct.unpack('<I', data[offset + 8:offset + 12])[0]
        frames.append(data[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    return frames


def decode_mirrored(path):
    """Mirrored copies in a pcap of GRE packets, as dicts: tunnel (gre/erspan), key (GRE
    key or ERSPAN session id), and the inner packet's src, dst, protocol and ICMP type."""
    copies = []
    for frame in read_pcap(path):
        if len(frame) < 34 or frame[12:14] != b'\x08\x00' or frame[23] != 47:
            continue
        gre = frame[14 + (frame[14] & 0x0F) * 4:]
        flags, proto = struct.unpack('!HH', gre[:4])
        fields = gre[4:]
        if flags & 0x8000:                      # checksum + reserved
            fields = fields[4:]
        key = None
        if flags & 0x2000:
            key, fields = struct.unpack('!I', fields[:4])[0], fields[4:]
        if flags & 0x1000:                      # sequence number
            fields = fields[4:]
        if proto == GRE_ERSPAN_II:
            copy = dict(tunnel='erspan', key=struct.unpack('!H', fields[2:4])[0] & 0x03FF)
            inner = fields[8:]
        elif proto == GRE_TEB:
            copy = dict(tunnel='gre', key=key)
            inner = fields
        else:
            continue
        if len(inner) < 34 or inner[12:14] != b'\x08\x00':
            continue
        ip = inner[14:]
        payload = ip[(ip[0] & 0x0F) * 4:]
        copy.update(src=str(ipaddress.ip_address(ip[12:16])),
                    dst=str(ipaddress.ip_address(ip[16:20])), protocol=ip[9],
                    icmp_type=payload[0] if ip[9] == 1 and payload else None)
        copies.append(copy)
    return copies


def main(argv=None):
    """`python -m lab.ovn up|down [RUNDIR]` (make lab-up / make lab-down)."""
    import argparse
    parser = argparse.ArgumentParser(description='the one-machine OVN mirroring lab')
    parser.add_argument('action', choices=['up', 'down'])
    parser.add_argument('rundir', nargs='?', default='build/lab')
    parser.add_argument('--ovn', choices=VERSIONS, default=CURRENT_VERSION,
                        help='OVN version (default %(default)s)')
    options = parser.parse_args(argv)
    lab = Lab(options.rundir, options.ovn)
    if options.action == 'down':
        lab.down()
        print('lab down: daemons stopped, namespaces and links removed')
        return
    lab.up()
    print('OVN %s lab up in %.1f s, run directory %s'
          % (lab.ovn.version, lab.start_seconds, lab.rundir))
    print('  NB: %s   OVS: %s' % (lab.nb, lab.ovs_db))
    for pod, (lsp, mac, ip) in PODS.items():
        print('  pod %-6s netns %s-%s  LSP %s  %s' % (pod, PREFIX, pod, lsp, ip))
    print('  receiver  netns %s-rx  sink %s' % (PREFIX, SINK_IP))


if __name__ == '__main__':
    main()
