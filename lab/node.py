"""A node of the test cluster (lab/cluster.py), and the configuration its daemons read.

A node NAME (index i) has:
- network namespace `kml-NAME`: `eth0` on the host's node network at 198.51.100.(11+i) (the
  node IP), `eth1` on the underlay as the port of the node's netdev bridge `br-phy`, which
  holds 172.31.0.(2+i)/24: the node's Geneve encap IP and its route to the underlay (OVS learns
  routes from the namespace's kernel, as on a real node);
- a mount namespace of its own, kept by a bind mount of its file: `/run/openvswitch` there is
  the node's OVS run directory, as on a real node (kube-ovn-cni's and ovs-ovn's hostPath
  volumes reach this node's OVS, its host-network pods share this node's network namespace);
  the kubelet's fixed log directories are the node's own; `/sys` is that of the node's network
  namespace, with the host's cgroup hierarchies under it;
- ovsdb-server, ovs-vswitchd (userspace datapath), ovn-controller (system-id NAME), containerd
  and a kubelet (own root, state, sockets and cgroup root), each started in the node's
  namespaces with nsenter and stopped by pid. containerd's sockets, the kubelet's root
  directory (which holds sockets too) and the mount namespace's file are in a short directory
  under /run, as unix socket paths are limited to 108 bytes.

The CNI plugin (lab/cni.py) wires the node's pods onto its own br-int; the apiserver reaches
the kubelet at the node IP for `kubectl exec` and logs, with a client certificate the kubelet
trusts (`node_pki`).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

from lab import images
from lab.daemons import (DaemonError, Pki, spawn, stop_processes, wait_for_daemon,
                         wait_until)
from lab.kube import write_kubeconfig
from lab.ovn import captures, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = 'kubeovn-lab-cluster'      # every cluster work directory and socket directory
NODE_BRIDGE, UNDERLAY_BRIDGE = 'kmlnodes', 'kmlunder'
NODE_NETWORK_PREFIX = 24
UNDERLAY_PREFIX = '172.31.0.'
KUBELET_PORT = 10250
POD_MTU = 1400                       # Kube-OVN's default on a geneve overlay


def node_names(count):
    return ['node-%s' % chr(ord('a') + index) for index in range(count)]


def node_user(name, index):
    """The node's token user (the Node authorizer's system:node:NAME)."""
    return ('%s-token' % name, 'system:node:' + name, str(20 + index), 'system:nodes')


class Node:
    """One node: its namespaces, OVS + ovn-controller, containerd + kubelet."""

    def __init__(self, cluster, name, index):
        self.cluster, self.name, self.index = cluster, name, index
        self.dir = os.path.join(cluster.dir, name)
        self.netns = 'kml-' + name
        self.ip = '198.51.100.%d' % (11 + index)
        self.underlay_ip = UNDERLAY_PREFIX + str(2 + index)
        # Unix socket paths are limited to 108 bytes: containerd's sockets, the kubelet's
        # root (its plugin sockets) and the mount namespace's file go to a short directory.
        self.sockdir = os.path.join(cluster.sockdir, name)
        self.mount_ns = os.path.join(self.sockdir, 'mnt')
        self.socket = os.path.join(self.sockdir, 'containerd.sock')
        self.cgroup_root = '/%s-%s' % (MARKER, hashlib.sha256(
            self.dir.encode()).hexdigest()[:8] + '-' + name)
        self.procs = {}
        self.env = dict(os.environ, OVS_RUNDIR=self.ovs_dir, OVS_LOGDIR=self.ovs_dir,
                        OVS_DBDIR=self.ovs_dir, OVN_RUNDIR=self.ovs_dir,
                        OVN_LOGDIR=self.ovs_dir, OVN_DBDIR=self.ovs_dir)

    @property
    def ovs_dir(self):
        """The node's OVS run directory: its /run/openvswitch."""
        return os.path.join(self.dir, 'ovs')

    def path(self, *names):
        return os.path.join(self.dir, *names)

    @property
    def ovs_db(self):
        return 'unix:' + os.path.join(self.ovs_dir, 'db.sock')

    def inside(self, cmd):
        """`cmd` run in the node's network and mount namespaces (nsenter execs it: the pid
        is the daemon's)."""
        return ['nsenter', '--net=/run/netns/' + self.netns, '--mount=' + self.mount_ns,
                '--'] + list(cmd)

    def tool(self, name, *args, check=True, timeout=30):
        """One of the cluster's OVN/OVS tools, in this node's namespaces."""
        return run(*self.inside(self.cluster.ovn.cmd(name) + list(args)), check=check,
                   env=self.env, timeout=timeout)

    def vsctl(self, *args):
        return self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=20', *args)

    def appctl(self, target, *args, check=True):
        """ovs-appctl to this node's `target` daemon (ovs-vswitchd, ovn-controller)."""
        with open(os.path.join(self.ovs_dir, target + '.pid')) as handle:
            pid = handle.read().strip()
        return self.tool('ovs-appctl', '-t', os.path.join(self.ovs_dir, '%s.%s.ctl' % (
            target, pid)), *args, check=check)

    def capture(self, interface, action, bpf='icmp', seconds=4, count=50):
        """tcpdump on one of the node's links (e.g. mirror0) while `action()` runs, bounded by
        `seconds` and `count`: (lines, pcap)."""
        return captures([(['ip', 'netns', 'exec', self.netns], interface, bpf)], action,
                        self.dir, seconds, count)[0]

    @property
    def python(self):
        """An interpreter that runs in the node's namespaces: for Ansible, the node as an
        inventory host (`ansible_connection: local`, `ansible_python_interpreter: this`),
        where /run/openvswitch/db.sock is the node's, as on a node reached over SSH."""
        path = os.path.join(self.cluster.bindir, 'python-' + self.name)
        if not os.path.exists(path):
            with open(path, 'w') as handle:
                handle.write('#!/bin/sh\nexec %s "$@"\n' % ' '.join(self.inside([sys.executable])))
            os.chmod(path, 0o755)
        return path

    def netns_run(self, *cmd, check=True, timeout=30):
        """A command in the node's network namespace (its host network)."""
        return run('ip', 'netns', 'exec', self.netns, *cmd, check=check, timeout=timeout)

    # ---- start ------------------------------------------------------------------------
    def start_network(self):
        """The node's namespaces and links on the node network and the underlay."""
        os.makedirs(self.ovs_dir, exist_ok=True)
        os.makedirs(self.sockdir, exist_ok=True)
        run('ip', 'netns', 'add', self.netns)
        for end, bridge, inner in (('m', NODE_BRIDGE, 'eth0'), ('u', UNDERLAY_BRIDGE, 'eth1')):
            host_end = 'kml%s%s' % (self.name.replace('-', ''), end)
            run('ip', 'link', 'add', host_end, 'type', 'veth', 'peer', 'name', inner,
                'netns', self.netns)
            run('ip', 'link', 'set', host_end, 'master', bridge, 'up')
            run('ip', '-n', self.netns, 'link', 'set', inner, 'up')
        run('ip', '-n', self.netns, 'link', 'set', 'lo', 'up')
        run('ip', '-n', self.netns, 'addr', 'add', '%s/%d' % (self.ip, NODE_NETWORK_PREFIX),
            'dev', 'eth0')
        # The node's own mount namespace, kept by a bind mount of its file: there
        # /run/openvswitch is this node's OVS run directory, and the kubelet's fixed log
        # directories are the node's own (a kubelet removes the pod logs it does not know).
        open(self.mount_ns, 'w').close()
        run('unshare', '--mount=' + self.mount_ns, '--propagation', 'slave', 'true')
        for source, target in ((self.ovs_dir, '/run/openvswitch'),
                               (self.path('log', 'pods'), '/var/log/pods'),
                               (self.path('log', 'containers'), '/var/log/containers'),
                               # its pods' network namespaces (containerd's files there)
                               (self.path('netns'), '/run/netns')):
            os.makedirs(source, exist_ok=True)
            os.makedirs(target, exist_ok=True)
            run('nsenter', '--mount=' + self.mount_ns, '--', 'mount', '--bind', source, target)
        # shared, as a node's /run is: kube-ovn-cni mounts it with HostToContainer propagation
        run('nsenter', '--mount=' + self.mount_ns, '--', 'mount', '--make-shared',
            '/run/openvswitch')
        # /sys of the node's network namespace (its /sys/class/net lists the node's links, as
        # `ip netns exec` does), with the host's cgroup hierarchies kept under it
        keep = os.path.join(self.sockdir, 'cgroup')
        os.makedirs(keep, exist_ok=True)
        run(*self.inside(['sh', '-ec', 'mount --rbind /sys/fs/cgroup {0}; mount -t sysfs sysfs '
                          '/sys; mount --rbind {0} /sys/fs/cgroup; umount -l {0}'.format(keep)]))

    def _daemon(self, name, cmd, ready, timeout=30):
        self.procs[name] = spawn(self.inside(cmd), self.path(name + '.out'), env=self.env)
        wait_for_daemon('%s on %s' % (name, self.name), self.procs[name], ready, timeout,
                        [self.path(name + '.out'), os.path.join(self.ovs_dir, name + '.log')])

    def start_ovs(self):
        """ovsdb-server, ovs-vswitchd, br-phy on the underlay, br-int, ovn-controller."""
        tools = self.cluster.ovn
        db = os.path.join(self.ovs_dir, 'conf.db')
        run(*tools.cmd('ovsdb-tool') + ['create', db, tools.vswitch_schema], env=self.env)
        self._daemon('ovsdb-server', tools.cmd('ovsdb-server') + [
            db, '--remote=punix:' + os.path.join(self.ovs_dir, 'db.sock'),
            '--pidfile=' + os.path.join(self.ovs_dir, 'ovsdb-server.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovsdb-server.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'db.sock')))
        self.vsctl('--no-wait', 'init')
        self._daemon('ovs-vswitchd', tools.cmd('ovs-vswitchd') + [
            self.ovs_db, '--pidfile=' + os.path.join(self.ovs_dir, 'ovs-vswitchd.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovs-vswitchd.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'ovs-vswitchd.pid')))
        self.vsctl('add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev',
                   '--', 'add-port', 'br-phy', 'eth1')
        run('ip', '-n', self.netns, 'addr', 'add', self.underlay_ip + '/24', 'dev', 'br-phy')
        run('ip', '-n', self.netns, 'link', 'set', 'br-phy', 'up')
        self.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev',
                   'fail-mode=secure')
        self.vsctl('set', 'Open_vSwitch', '.', 'other_config:stats-update-interval=1000',
                   'external_ids:system-id=' + self.name,
                   'external_ids:hostname=' + self.name,
                   'external_ids:ovn-remote=' + self.cluster.sb,
                   'external_ids:ovn-encap-type=geneve',
                   'external_ids:ovn-encap-ip=' + self.underlay_ip,
                   'external_ids:ovn-bridge-datapath-type=netdev')
        self._daemon('ovn-controller', tools.cmd('ovn-controller') + [
            self.ovs_db, '--pidfile=' + os.path.join(self.ovs_dir, 'ovn-controller.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovn-controller.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'ovn-controller.pid')))

    def start_kubelet(self, archives):
        """containerd (the lab's images imported) and the kubelet, registering node NAME."""
        cluster = self.cluster
        write_cni(self.path('cni'), {
            'kubeconfig': cluster.plane.kubeconfig, 'ovs_db': self.ovs_db,
            'ovs_vsctl': cluster.ovn.cmd('ovs-vsctl'), 'log_file': self.path('cni.log')})
        config = write_containerd_config(self.path('containerd.toml'), self.path('containerd'),
                                         self.socket, self.path('cni'))
        self.procs['containerd'] = spawn(self.inside(['containerd', '--config', config]),
                                         self.path('containerd.log'))
        wait_until(lambda: self.alive('containerd') and os.path.exists(self.socket), 30,
                   'containerd socket on ' + self.name, interval=0.1)
        for archive in archives:
            run('ctr', '--address', self.socket, '-n', 'k8s.io', 'images', 'import', archive,
                timeout=300)
        self._cgroups('create')
        kubeconfig = write_kubeconfig(self.path('kubelet.kubeconfig'), cluster.plane.server,
                                      node_user(self.name, self.index)[0])
        config = write_kubelet_config(self.path('kubelet-config.yaml'), self.ip, KUBELET_PORT,
                                      cluster.pki.ca_cert, cgroupRoot=self.cgroup_root)
        self.procs['kubelet'] = spawn(self.inside([
            cluster.binaries['kubelet'], '--config=' + config, '--kubeconfig=' + kubeconfig,
            '--root-dir=' + os.path.join(self.sockdir, 'kubelet'),
            '--cert-dir=' + self.path('kubelet-pki'),
            '--container-runtime=remote', '--container-runtime-endpoint=unix://' + self.socket,
            '--hostname-override=' + self.name, '--node-ip=' + self.ip,
            '--volume-plugin-dir=' + self.path('volume-plugins'),
            '--pod-infra-container-image=' + images.PAUSE_IMAGE, '--v=1']),
            self.path('kubelet.log'))

    def _cgroups(self, action):
        """The node's cgroup root in every cgroup v1 hierarchy: made before the kubelet
        starts; at the end, what is left in it killed and the directories removed."""
        if action == 'remove':
            remove_cgroup_root(self.cgroup_root)
            return
        for hierarchy in cgroup_hierarchies():
            os.makedirs(hierarchy + self.cgroup_root, exist_ok=True)

    def alive(self, name):
        proc = self.procs[name]
        if proc.poll() is not None:
            raise DaemonError('%s on %s' % (name, self.name),
                              'exited with status %s' % proc.returncode,
                              [self.path(name + '.log'), self.path(name + '.out')])
        return True

    # ---- stop -------------------------------------------------------------------------
    def stop(self):
        """The daemons by pid (kubelet and containerd first, OVS last, so the pods' ports
        are still there for CNI DEL), what the node's cgroup root still holds, its links,
        namespaces and directories."""
        for group in (('kubelet',), ('containerd',), ('ovn-controller',),
                      ('ovs-vswitchd', 'ovsdb-server')):
            if 'ovs-vswitchd' in group and os.path.exists(self.path('ovs', 'db.sock')):
                for bridge in ('br-int', 'br-phy'):   # its taps go with vswitchd running
                    self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=5', '--if-exists',
                              'del-br', bridge, check=False)
            stop_processes([self.procs.pop(name) for name in group if name in self.procs])
        self._cgroups('remove')
        self.keep_logs()

    def keep_logs(self):
        """The node's logs, beside the cluster's directory (removed next)."""
        kept = os.path.join(os.path.dirname(self.cluster.dir), MARKER + '-logs', self.name)
        os.makedirs(kept, exist_ok=True)
        for path in (self.path('kubelet.log'), self.path('containerd.log'),
                     self.path('cni.log'), os.path.join(self.ovs_dir, 'ovs-vswitchd.log'),
                     os.path.join(self.ovs_dir, 'ovn-controller.log')):
            if os.path.exists(path):
                shutil.copy(path, kept)


def cgroup_hierarchies(base='/sys/fs/cgroup'):
    """The mounted cgroup v1 hierarchies (not their symlinked aliases)."""
    return [os.path.join(base, name) for name in sorted(os.listdir(base))
            if os.path.isdir(os.path.join(base, name)) and
            not os.path.islink(os.path.join(base, name))] if os.path.isdir(base) else []


def remove_cgroup_root(root):
    """Every process left under the cgroup root `root` killed, its directories removed."""
    for hierarchy in cgroup_hierarchies():
        for directory, dummy, dummy_files in os.walk(hierarchy + root, topdown=False):
            try:
                with open(os.path.join(directory, 'cgroup.procs')) as handle:
                    pids = [int(pid) for pid in handle.read().split()]
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            for dummy in range(50):
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    time.sleep(0.1)


def capture_in_pod(kubectl, pod, interface, action, pcap, bpf='ip proto 47', seconds=6,
                   count=200, namespace='default'):
    """tcpdump inside `pod` through `kubectl exec` (`kubectl`: its argv), bounded by `seconds`
    and `count`, running while `action()` does; the pcap it wrote to its stdout, saved at
    `pcap`."""
    with open(pcap, 'wb') as out:
        proc = subprocess.Popen(
            list(kubectl) + ['-n', namespace, 'exec', pod, '--', 'timeout', str(seconds),
                             'tcpdump', '-U', '-n', '-i', interface, '-c', str(count), '-w',
                             '-', bpf],
            stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: 'listening' in (proc.stderr.readline() or ''), 30,
                       'tcpdump ready in pod %s' % pod)
            action()
            proc.wait(seconds + 30)
        finally:
            stop_processes([proc])
    return pcap


def write_cni(directory, plugin_conf):
    """The CNI directory containerd reads (`bin`, `net.d`): the standard loopback plugin and
    lab/cni.py as plugin `kube-ovn-lab`, with `plugin_conf` (kubeconfig, ovs_db, ovs_vsctl,
    log_file) on the pods' bridges."""
    bindir, confdir = os.path.join(directory, 'bin'), os.path.join(directory, 'net.d')
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(confdir, exist_ok=True)
    # containerd brings the pod's loopback up with the standard plugin.
    os.symlink('/usr/lib/cni/loopback', os.path.join(bindir, 'loopback'))
    plugin = os.path.join(bindir, 'kube-ovn-lab')
    with open(plugin, 'w') as handle:
        handle.write('#!/bin/sh\nPYTHONPATH=%s exec %s -m lab.cni\n' % (REPO, sys.executable))
    os.chmod(plugin, 0o755)
    with open(os.path.join(confdir, '10-kube-ovn-lab.conflist'), 'w') as handle:
        json.dump({'cniVersion': '0.4.0', 'name': 'kube-ovn', 'plugins': [dict({
            'type': 'kube-ovn-lab', 'bridge': 'br-int', 'attachment_bridge': 'br-phy',
            'mtu': POD_MTU}, **plugin_conf)]}, handle, indent=2)


def write_containerd_config(path, directory, socket, cni_directory):
    """containerd's configuration: its root and state under `directory`, its sockets at
    `socket`, the CRI plugin with the lab's pause image and the CNI of `write_cni`."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    with open(path, 'w') as handle:
        handle.write('\n'.join([
            'version = 2',
            'root = "%s"' % os.path.join(directory, 'root'),
            'state = "%s"' % os.path.join(directory, 'state'),
            '[grpc]', 'address = "%s"' % socket,
            '[ttrpc]', 'address = "%s.ttrpc"' % socket,
            cri, 'sandbox_image = "%s"' % images.PAUSE_IMAGE,
            # Here root lacks CAP_SYS_RESOURCE: runc cannot lower a container's
            # oom_score_adj below containerd's own (the kubelet asks -998 for sandboxes).
            'restrict_oom_score_adj = true',
            cri[:-1] + '.containerd]', 'snapshotter = "overlayfs"',
            cri[:-1] + '.cni]', 'bin_dir = "%s"' % os.path.join(cni_directory, 'bin'),
            'conf_dir = "%s"' % os.path.join(cni_directory, 'net.d'), '']))
    return path


def write_kubelet_config(path, address, port, ca_cert, **settings):
    """The kubelet's configuration file: serving on `address`:`port` to clients whose
    certificate `ca_cert` signed (the apiserver), no QoS cgroups, evictions and image GC
    that a shared test machine does not trigger; `settings` added (e.g. cgroupRoot)."""
    with open(path, 'w') as handle:
        yaml.safe_dump(dict({
            'apiVersion': 'kubelet.config.k8s.io/v1beta1', 'kind': 'KubeletConfiguration',
            'address': address, 'port': port, 'readOnlyPort': 0, 'healthzPort': 0,
            'authentication': {'anonymous': {'enabled': False}, 'webhook': {'enabled': False},
                               'x509': {'clientCAFile': ca_cert}},
            'authorization': {'mode': 'AlwaysAllow'},
            'cgroupDriver': 'cgroupfs', 'cgroupsPerQOS': False,
            'enforceNodeAllocatable': [], 'failSwapOn': False,
            'evictionHard': {'memory.available': '100Mi', 'nodefs.available': '1%',
                             'imagefs.available': '1%', 'nodefs.inodesFree': '1%'},
            'imageGCHighThresholdPercent': 100, 'imageGCLowThresholdPercent': 99,
            'nodeStatusUpdateFrequency': '2s', 'syncFrequency': '10s',
            'resolvConf': '', 'serializeImagePulls': False}, **settings), handle)
    return path


def node_pki(workdir):
    """The CA the kubelet trusts and the client certificate the apiserver presents to it;
    the apiserver arguments that go with them."""
    os.makedirs(str(workdir), exist_ok=True)
    pki = Pki(workdir).create()
    return pki, ['--kubelet-client-certificate=' + pki.client_cert,
                 '--kubelet-client-key=' + pki.client_key,
                 '--kubelet-preferred-address-types=InternalIP',
                 '--authorization-mode=Node,RBAC']
