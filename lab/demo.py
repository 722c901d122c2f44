"""`make demo`: the collection's main job against the embedded two-node cluster, start to
finish.

Starts the test cluster (lab/cluster.py: a control plane with its controllers, one OVN
central, nodes node-a and node-b each with its own OVS, ovn-controller, containerd and kubelet,
kube-ovn-cni and ovs-ovn as DaemonSets); runs the playbooks (remote mirror, GitOps inventory,
local mirror) against real pods on both nodes, sends traffic between them with `kubectl exec`,
prints what the receiver pod on node-a captured of the copies node-b's OVS sent across the
underlay (with OVN 26.03, also an `lport` mirror whose rules copy only ICMP straight to a
second receiver's port), shows node-b's mirror0 after cni_mirror, converges again to show
changed=0, follows pods with the rulebook, tears everything down with the teardown playbook
and stops every daemon. Each step's time is printed at the end.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import threading
import time

import yaml

from lab.ansible import REPO, ansible_env, playbook_command, run_collection_playbook
from lab.cluster import Cluster
from lab.daemons import wait_until
from lab.eda import Rulebook
from lab import images
from lab.ovn import PODS, POD_BY_IP, PREFIX, SINK_IP, SINK_MAC, lsp_mirrors, read_pcap
from lab.ovn_versions import CURRENT_VERSION, HOST_VERSION, NEXT_VERSION, VERSIONS
from lab.standin import create_lab_pods

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')
LOCAL_VARS = os.path.join(REPO, 'examples', 'demo', 'local_mirror.yml')
LPORT_VARS = os.path.join(REPO, 'examples', 'demo', 'lport_mirror.yml')
INVENTORY = os.path.join(REPO, 'examples', 'inventory')
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')
# The receiver and db-0 on node-a; web-0 and web-1 on node-b, so the web mirrors' copies
# cross the underlay from node-b to the receiver.
RECEIVER_NODE, WEB_NODE = 'node-a', 'node-b'
POD_NODES = {'web-0': WEB_NODE, 'web-1': WEB_NODE, 'db-0': RECEIVER_NODE}
# On an OVN with filter `both` and type `local` (>= 23.06): the remote mirror carries both
# directions, and an OVN local mirror delivers to this port of the node.
OVN_LOCAL_PORT = PREFIX + 'mon0'
ICMP_TYPES = {0: 'icmp echo reply', 3: 'icmp dest. unreachable', 8: 'icmp echo request'}
MIRROR_TAP = PREFIX + 'mirror0'


class Demo:
    def __init__(self, workdir, quiet=False, version=CURRENT_VERSION):
        self.workdir = os.path.abspath(workdir)
        self.quiet = quiet
        self.version = version
        self.current_ovn = version != HOST_VERSION    # has filter both and type local
        self.lport = version == NEXT_VERSION          # has type lport and mirror rules
        self.started = time.monotonic()
        self.timings = []
        self.cluster = None

    # ---- output -----------------------------------------------------------------------
    def say(self, text=''):
        print('[%6.1fs] %s' % (time.monotonic() - self.started, text), flush=True)

    def step(self, title):
        self.timings.append((title, time.monotonic()))
        print(flush=True)
        self.say('== ' + title)

    # ---- running playbooks --------------------------------------------------------------
    def playbook(self, playbook, **options):
        """Run a playbook with Ansible's usual output (indented); return the recap totals."""
        cmd = playbook_command(playbook, **options)
        self.say('$ ansible-playbook %s' % ' '.join(
            os.path.relpath(arg, REPO) if arg.startswith(REPO) else arg for arg in cmd[1:]))
        env = ansible_env(dict(self.cluster_env(),
                               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default',
                               ANSIBLE_DISPLAY_SKIPPED_HOSTS='0'))
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        totals = collections.Counter()
        for line in proc.stdout:
            if not self.quiet and line.strip():
                print('           ' + line.rstrip(), flush=True)
            match = RECAP.match(line.strip())
            if match:
                totals.update(dict(ok=int(match.group(2)), changed=int(match.group(3)),
                                   unreachable=int(match.group(4)), failed=int(match.group(5))))
        proc.wait(600)
        if proc.returncode != 0 or totals['failed'] or totals['unreachable']:
            raise SystemExit('ansible-playbook %s failed (rc=%d)' % (playbook, proc.returncode))
        self.say('-> ok=%d changed=%d failed=%d'
                 % (totals['ok'], totals['changed'], totals['failed']))
        return totals

    def converge_all(self):
        """The playbooks of the demo; the recap totals of each."""
        lport = [('remote_mirror.yml (lport)', self.playbook(
            'playbooks/remote_mirror.yml', var_files=[self.lport_vars]))] if self.lport else []
        return lport + [
            ('remote_mirror.yml', self.playbook('playbooks/remote_mirror.yml',
                                                var_files=[self.remote_vars])),
            ('mirrors.yml (GitOps inventory)', self.playbook('playbooks/mirrors.yml',
                                                             inventory=INVENTORY)),
            ('local_mirror.yml', self.playbook('playbooks/local_mirror.yml',
                                               inventory=self.nodes_inventory,
                                               var_files=[self.local_vars])),
        ]

    # ---- the run ------------------------------------------------------------------------
    def run(self):
        try:
            self.start_cluster()
            self.write_variables()
            self.step('First converge: %sremote mirror, GitOps inventory, local mirror'
                      % ('lport mirror, ' if self.lport else ''))
            first = self.converge_all()
            self.capture()
            if self.lport:
                self.lport_capture()
            self.step('Second converge of the same playbooks and inventory')
            second = self.converge_all()
            for (name, totals), (dummy, again) in zip(first, second):
                self.say('%-32s first run changed=%-3d second run changed=%d'
                         % (name, totals['changed'], again['changed']))
            if any(totals['changed'] for dummy, totals in second):
                raise SystemExit('the second converge changed something')
            self.cni_mirror()
            self.step('The rulebook kubeovn.mirror.follow_mirrors while pods come and go')
            self.follow(self.cluster.core)
            self.teardown()
        finally:
            self.stop()
        total = time.monotonic() - self.started
        print()
        self.say('Timings:')
        marks = self.timings + [('end', time.monotonic())]
        for (title, start), (dummy, end) in zip(marks, marks[1:]):
            print('           %-76s %6.1f s' % (title[:76], end - start))
        print('           %-76s %6.1f s' % ('total', total))
        print()
        self.say('Demo done in %.0f s: copies from %s captured inside the receiver pod on %s, '
                 '%s%s\'s mirror0 after cni_mirror, second converge changed=0, everything '
                 'removed.' % (total, WEB_NODE, RECEIVER_NODE, 'an lport mirror\'s rules copying '
                               'only ICMP, ' if self.lport else '', WEB_NODE))

    def start_cluster(self):
        self.step('Start the cluster: control plane and controllers, OVN %s, node-a, node-b'
                  % self.version)
        os.makedirs(self.workdir, exist_ok=True)
        self.cluster = Cluster(self.workdir, nodes=2, version=self.version).start()
        self.say('API at %s; nodes Ready and untainted by the controllers in %.1f s'
                 % (self.cluster.plane.server, self.cluster.start_seconds))
        for node in self.cluster.nodes:
            self.say('  %s: node IP %s, Geneve and underlay %s on br-phy, chassis %s'
                     % (node.name, node.ip, node.underlay_ip, node.name))

        self.step("Kube-OVN's controller (stand-in), kube-ovn-cni and ovs-ovn, the lab pods")
        # Kube-OVN's controller is played by a stand-in: networks become ready, pods get
        # addresses and LSPs, the receiver's attachment gets the sink address.
        self.cluster.start_kube_ovn(receiver_mac=SINK_MAC)
        create_lab_pods(self.cluster.core, image=images.TOOLS_IMAGE, nodes=POD_NODES)
        for name in PODS:
            self.cluster.wait_running(name)
        self.say(self.cluster.kubectl('get', 'pods', '-A', '-o', 'wide'))

    def write_variables(self):
        """The demo's variables files, and an inventory of the node web-0 runs on (the local
        mirrors are made on that node, as over SSH)."""
        with open(LOCAL_VARS) as handle:
            local = yaml.safe_load(handle)
        with open(REMOTE_VARS) as handle:
            remote = yaml.safe_load(handle)
        with open(LPORT_VARS) as handle:
            lport = yaml.safe_load(handle)
        for receiver in (remote, lport):
            receiver.update(mirror_receiver_image=images.TOOLS_IMAGE,
                            mirror_receiver_node=RECEIVER_NODE)
        if self.current_ovn:
            remote.update(remote_mirror_name='web0-both', remote_mirror_filter='both')
            local['local_mirror_ovn'] = dict(name='web0-ovn-local', filter='both',
                                             pods=[dict(name='web-0', namespace='default')],
                                             port=OVN_LOCAL_PORT)
        local['kubeovn_mirror_nodes'] = WEB_NODE
        self.local_vars = os.path.join(self.workdir, 'local_mirror.yml')
        self.remote_vars = os.path.join(self.workdir, 'remote_mirror.yml')
        self.lport_vars = os.path.join(self.workdir, 'lport_mirror.yml')
        for path, variables in ((self.local_vars, local), (self.remote_vars, remote),
                                (self.lport_vars, lport)):
            with open(path, 'w') as handle:
                yaml.safe_dump(variables, handle)
        self.nodes_inventory = os.path.join(self.workdir, 'nodes.yml')
        with open(self.nodes_inventory, 'w') as handle:
            yaml.safe_dump({'all': {'hosts': dict((node.name, {
                'ansible_connection': 'local',
                'ansible_python_interpreter': node.python}) for node in self.cluster.nodes)}},
                handle)

    def capture(self):
        remote_name = 'web0-both' if self.current_ovn else 'web0-egress'
        self.step('Ping between pods; capture in the receiver pod (%s) and on %s\'s ports'
                  % (RECEIVER_NODE, WEB_NODE))
        web = self.cluster.node(WEB_NODE)
        for name, src, dst in ((remote_name, True, self.current_ovn),
                               ('web1-egress', True, False)):
            self.wait_realised(WEB_NODE, name, src, dst)
        self.wait_realised(RECEIVER_NODE, 'db-ingress', False, True)
        # No prepare_tap(): ovs_local_mirror and ovs_mirror_port bring up the ports they create.
        self.wait_realised(WEB_NODE, 'web0-local', True, True, tunnel=False)
        points = [MIRROR_TAP]
        if self.current_ovn:
            self.wait_realised(WEB_NODE, 'web0-ovn-local', True, True, tunnel=False)
            points.append(OVN_LOCAL_PORT)
        flows = [('web-0', 'web-1'), ('web-0', 'db-0'), ('web-1', 'db-0')]
        for source, target in flows:            # warm up tunnel neighbours and flows
            self.ping(source, target, count=1)
        count = 5

        def traffic():
            for source, target in flows:
                self.say('$ kubectl exec %s -- ping -c %d %s   (%s on %s -> %s on %s)'
                         % (source, count, PODS[target][2], source, POD_NODES[source], target,
                            POD_NODES[target]))
                self.ping(source, target, count=count)
        captured = {}

        def during():       # node-b's local mirror ports captured while the pods ping
            for port in points[1:]:
                threading.Thread(target=lambda port=port: captured.update({port: web.capture(
                    port, lambda: time.sleep(7), seconds=8, count=500)[0]})).start()
            captured[points[0]] = web.capture(points[0], traffic, seconds=8, count=500)[0]
            wait_until(lambda: len(captured) == len(points), 15, 'the local captures')
        report = self.capture_playbook('mirror-receiver',
                                       [remote_name, 'db-ingress', 'web1-egress'], during)
        self.summary(report, captured[MIRROR_TAP], captured.get(OVN_LOCAL_PORT))

    def capture_playbook(self, pod, expect, during):
        """The collection's capture (playbooks/capture.yml: tcpdump in the receiver pod through
        the API, the pcap fetched and reported per mirror) while `during()` runs; its report."""
        self.say('$ ansible-playbook playbooks/capture.yml -e mirror_capture_pod=%s '
                 '-e mirror_capture_duration=9 ...' % pod)
        outcome = {}
        capture = threading.Thread(target=lambda: outcome.update(run=run_collection_playbook(
            'playbooks/capture.yml', env=self.cluster_env(), extra_vars={
                'mirror_capture_pod': pod, 'mirror_capture_duration': 9,
                'mirror_capture_dest': os.path.join(self.workdir, 'captures', pod),
                'mirror_capture_expect_packets': expect})))
        capture.start()
        try:
            wait_until(lambda: self.cluster.exec(pod, 'pgrep', '-x', 'tcpdump', check=False),
                       60, 'tcpdump running in the receiver pod %s' % pod, interval=0.3)
            during()
        finally:
            capture.join(300)
        run = outcome['run']
        if run.failures:
            raise SystemExit('playbooks/capture.yml failed: %s' % (run.failures,))
        return run.result('Report the capture per mirror')

    def lport_capture(self):
        """The lport mirror's rules at work: web-0 pings db-0 and sends it UDP at the same
        time; the receiver pod's own port gets the ICMP copies only."""
        self.step("lport mirror web0-lport: its rules copy only ICMP to lport-receiver's port")
        self.say('$ ovn-nbctl mirror-list   (its entry)')
        listing = self.cluster.nbctl('mirror-list').split('\n\n')
        for line in next(entry for entry in listing if 'web0-lport:' in entry).splitlines():
            print('           ' + line.strip('\n'), flush=True)
        receiver = self.cluster.core.read_namespaced_pod('lport-receiver', 'default')
        self.ping('web-0', 'db-0', count=1)
        count, target = 5, PODS['db-0'][2]
        send_udp = ('import socket, time\n'
                    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
                    'for n in range(%d):\n'
                    '    s.sendto(b"udp copy?", ("%s", 4369))\n'
                    '    time.sleep(0.2)\n' % (count, target))

        def traffic():
            self.say('$ kubectl exec web-0 -- ping -c %d %s   and, at the same time,   '
                     'kubectl exec web-0 -- python3 (%d UDP datagrams to %s:4369)'
                     % (count, target, count, target))
            udp = threading.Thread(target=lambda: self.cluster.exec(
                'web-0', 'python3', '-c', send_udp, check=False))
            udp.start()
            self.ping('web-0', 'db-0', count=count)
            udp.join(60)
        report = self.capture_playbook('lport-receiver', ['web0-lport'], traffic)
        print()
        self.say('What playbooks/capture.yml captured in pod lport-receiver (%s, on %s; web-0 '
                 'on %s) on its own port, eth0 (%d packets, pcap %s):' % (
                     receiver.status.pod_ip, receiver.spec.node_name, POD_NODES['web-0'],
                     report['packets'], os.path.relpath(report['path'])))
        kinds = collections.Counter()
        for frame in read_pcap(report['path']):
            if len(frame) < 34 or frame[12:14] != b'\x08\x00':
                continue
            payload = frame[14 + (frame[14] & 0x0F) * 4:]
            source, target = ('.'.join(str(byte) for byte in frame[at:at + 4])
                              for at in (26, 30))
            kind = (ICMP_TYPES.get(payload[0], 'icmp type %d' % payload[0])
                    if frame[23] == 1 else 'ip proto %d' % frame[23])
            kinds[(kind, POD_BY_IP.get(source, source), POD_BY_IP.get(target, target))] += 1
        for (kind, source, target), number in sorted(kinds.items()):
            print('           %2d x %-24s %s -> %s' % (number, kind, source, target))
        udp = sum(number for (kind, dummy, dummy), number in kinds.items()
                  if kind == 'ip proto 17')
        unreachable = sum(number for (kind, dummy, dummy), number in kinds.items()
                          if kind == ICMP_TYPES[3])
        if udp or not unreachable or not kinds[(ICMP_TYPES[8], 'web-0', 'db-0')]:
            raise SystemExit('the rules did not copy ICMP alone: %s' % dict(kinds))
        self.say('Rule 300 icmp4 mirror above rule 200 "1" skip: the pings and db-0\'s answers '
                 'to the UDP datagrams (port unreachable: they reached db-0) were copied, the '
                 'UDP datagrams were not.')

    def cni_mirror(self):
        self.step('cni_mirror on, rolled out by the DaemonSet controller; mirror0 on %s, off'
                  % WEB_NODE)
        before = self.cni_pods()
        self.playbook('playbooks/local_mirror.yml', extra_vars={
            'local_mirror_cni': {'enable': True, 'wait': True}})
        after = self.cni_pods()
        self.say('kube-ovn-cni pods replaced: %s -> %s' % (
            ', '.join(sorted(before)), ', '.join(sorted(after))))
        receiver_ip = self.cluster.core.read_namespaced_pod('mirror-receiver',
                                                            'default').status.pod_ip

        def traffic():      # between node-b's pods, and between node-a's (none of mirror0's)
            self.ping('web-0', 'web-1', count=3)
            self.cluster.ping('db-0', receiver_ip, count=3)
        web = self.cluster.node(WEB_NODE)
        lines, dummy = web.capture('mirror0', traffic, seconds=6)
        seen = self.local_summary(lines, '$ ip netns exec kml-%s tcpdump -i mirror0 icmp   (every '
                                  'pod of %s, both directions; none of %s\'s)'
                                  % (WEB_NODE, WEB_NODE, RECEIVER_NODE))
        if seen != {('echo request', 'web-0', 'web-1'): 3, ('echo reply', 'web-1', 'web-0'): 3}:
            raise SystemExit('mirror0 on %s copied %s, not exactly its own pods\' pings'
                             % (WEB_NODE, dict(seen)))
        self.playbook('playbooks/local_mirror.yml', extra_vars={
            'local_mirror_cni': {'enable': False, 'wait': True}})
        lines, dummy = web.capture('mirror0', traffic, seconds=6)
        if [line for line in lines if 'ICMP' in line]:
            raise SystemExit('mirror0 still copies after cni_mirror off: %s' % lines)
        self.say('kube-ovn-cni back to --enable-mirror=false: mirror0 on %s silent; the role '
                 'repaired the OVN mirrors its restart broke (mirror_repair)' % WEB_NODE)

    def cni_pods(self):
        return [pod.metadata.name for pod in self.cluster.core.list_namespaced_pod(
            'kube-system', label_selector='app=kube-ovn-cni').items
            if pod.metadata.deletion_timestamp is None]

    def teardown(self):
        self.step('Teardown playbook, then the GitOps inventory with nothing declared')
        self.playbook('playbooks/teardown.yml', inventory=self.nodes_inventory,
                      var_files=[self.remote_vars, self.local_vars])
        if self.lport:
            self.playbook('playbooks/remote_mirror.yml', var_files=[self.lport_vars],
                          extra_vars={'remote_mirror_state': 'absent'})
        self.playbook('playbooks/mirrors.yml', inventory=INVENTORY,
                      extra_vars={'kubeovn_mirrors': []})
        left = self.cluster.nbctl('--bare', '--columns=name', 'list', 'Mirror')
        self.say('NB mirrors left: %s' % (left.split() or 'none'))
        self.say('pods left in default: %s' % (
            [p.metadata.name for p in self.cluster.core.list_namespaced_pod('default').items]
            or 'none'))

    def wait_realised(self, node, name, src, dst, tunnel=True):
        """Until ovn-controller (or the module) made the OVS mirror `name` on `node` select
        (or not) source and destination ports, with its tunnel port for a remote mirror."""
        vsctl = self.cluster.node(node).vsctl

        def realised():
            if tunnel and 'ovn-' + name not in vsctl('list-ports', 'br-int').split():
                return False
            return [bool(vsctl('--bare', '--columns=' + column, 'find', 'Mirror',
                               'name=' + name)) for column in
                    ('select_src_port', 'select_dst_port')] == [src, dst]
        wait_until(realised, 30, 'mirror %s realised on %s' % (name, node), interval=0.2)
        self.cluster.node(node).appctl('ovs-vswitchd', 'revalidator/purge')

    def follow(self, core):
        """Event-Driven Ansible keeps the inventory's mirrors true: a new pod gets its port
        attached, and detached once the pod is deleted, with no manual run."""
        with open(os.path.join(INVENTORY, 'group_vars', 'kubeovn', 'mirrors.yml')) as handle:
            declared = yaml.safe_load(handle)['kubeovn_mirrors']
        variables = {'follow_mirrors_selectors': [selector for mirror in declared
                                                  for selector in mirror['selectors']],
                     'follow_mirrors_kubeconfig': self.cluster.kubeconfig,
                     'follow_mirrors_repair': False}
        workdir = os.path.join(self.workdir, 'follow')
        os.makedirs(workdir, exist_ok=True)
        self.say('$ ansible-rulebook -r kubeovn.mirror.follow_mirrors -i examples/inventory '
                 '--vars follow.yml   # %s' % json.dumps(variables['follow_mirrors_selectors']))
        rulebook = Rulebook(workdir, INVENTORY, variables, env=self.cluster_env())
        try:
            wait_until(lambda: rulebook.runs('PLAY RECAP') >= 1, 180,
                       'the rulebook\'s start-up converge', interval=0.5)
            self.say('rulebook running, its start-up converge done')
            core.create_namespaced_pod('default', {
                'metadata': {'name': 'db-1', 'labels': {'app': 'db'}},
                'spec': {'terminationGracePeriodSeconds': 1,
                         'automountServiceAccountToken': False,
                         'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                                         'imagePullPolicy': 'Never',
                                         'command': ['sleep', 'infinity']}]}})
            self.say('$ kubectl run db-1 -l app=db ...   -> port db-1.default attached to '
                     'db-ingress %.1f s after it appeared in the NB, no manual run'
                     % self.attached_after('db-1.default', 'db-ingress'))
            self.cluster.wait_running('db-1')
            core.delete_namespaced_pod('db-1', 'default', grace_period_seconds=1)
            started = time.monotonic()
            uuid = self.mirror_uuid('db-ingress')
            wait_until(lambda: uuid not in (self.lsp_row('db-1.default') or ('', []))[1], 90,
                       'the rulebook detaching db-1', interval=0.2)
            self.say('$ kubectl delete pod db-1   -> detached from db-ingress %.1f s later'
                     % (time.monotonic() - started))
            self.say('db-ingress mirrors %s; the rulebook ran %d converge(s), its start-up one '
                     'included' % (self.mirrored('db-ingress'), rulebook.runs()))
        finally:
            left = rulebook.stop()
        if left:
            raise SystemExit('ansible-rulebook left processes behind: %s' % left)
        self.say('rulebook stopped (Ctrl-C), no process left')

    def lsp_row(self, name):
        """(uuid, mirror uuids) of an LSP, as ovn-nbctl reads it, or None."""
        return lsp_mirrors(self.cluster.nbctl, name)

    def mirror_uuid(self, name):
        return self.cluster.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=' + name)

    def mirrored(self, mirror):
        """The LSPs a mirror is attached to, as ovn-nbctl reads them."""
        names = self.cluster.nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                                   'mirror_rules{>=}' + self.mirror_uuid(mirror)).split()
        return sorted(names)

    def attached_after(self, lsp, mirror):
        """Seconds from the LSP appearing to the mirror on it (bounded)."""
        wait_until(lambda: self.lsp_row(lsp) is not None, 90, 'the port %s in the NB' % lsp,
                   interval=0.1)
        appeared = time.monotonic()
        uuid = self.mirror_uuid(mirror)
        wait_until(lambda: uuid in self.lsp_row(lsp)[1], 90,
                   'the rulebook attaching %s to %s' % (lsp, mirror), interval=0.2)
        return time.monotonic() - appeared

    def cluster_env(self):
        """What the playbooks need in the environment to reach the cluster and the NB."""
        return {'K8S_AUTH_KUBECONFIG': self.cluster.kubeconfig, 'OVN_NB_DB': self.cluster.nb,
                # kubectl for the kubectl connection (receiver's link step, ovs-ovn pods)
                'PATH': self.cluster.bindir + os.pathsep + os.environ['PATH']}

    def ping(self, source, target, count):
        """A bounded ping from one lab pod to another, through kubectl exec."""
        return self.cluster.ping(source, PODS[target][2], count=count)

    def summary(self, report, local_lines, ovn_local_lines=None):
        """Per mirror, what the collection's capture in the receiver pod reported."""
        print()
        where = (SINK_IP, report['packets'], os.path.relpath(report['path']))
        self.say('What playbooks/capture.yml captured in pod mirror-receiver on net1 (%s), '
                 'by mirror (%d packets, pcap %s):' % where)
        for mirror in report['mirrors']:
            print('           %-12s %-6s %-4s %-5s %3d packets %6d bytes' % (
                mirror['name'] or '?', mirror['type'],
                'key' if mirror['type'] == 'gre' else 'idx', mirror['index'],
                mirror['packets'], mirror['bytes']))
            for talk in mirror['conversations']:
                print('               %3d x %s %s -> %s' % (
                    talk['packets'], talk['protocol'], POD_BY_IP.get(talk['src'], talk['src']),
                    POD_BY_IP.get(talk['dst'], talk['dst'])))
        senders = collections.Counter(
            '.'.join(str(byte) for byte in frame[26:30]) for frame in read_pcap(report['path'])
            if len(frame) > 34 and frame[12:14] == b'\x08\x00' and frame[23] == 47)
        nodes = dict((node.underlay_ip, node.name) for node in self.cluster.nodes)
        print()
        self.say('Who sent those copies (outer source address):')
        for address, number in sorted(senders.items()):
            print('           %3d from %s (%s)%s' % (
                number, nodes.get(address, '?'), address,
                ', across the underlay to %s' % RECEIVER_NODE
                if nodes.get(address) != RECEIVER_NODE else ''))
        self.local_summary(local_lines, 'What OVS copied to %s on %s (OVS mirror web0-local, '
                           'both directions):' % (MIRROR_TAP, WEB_NODE))
        if ovn_local_lines is not None:
            self.local_summary(ovn_local_lines, 'What OVN copied to %s on %s (OVN local mirror '
                               'web0-ovn-local, filter both):' % (OVN_LOCAL_PORT, WEB_NODE))

    def local_summary(self, lines, title):
        """Print the ICMP echoes tcpdump saw on a local mirror port; {(what, source pod,
        destination pod): packets}."""
        counts = collections.Counter()
        for line in lines:
            match = re.search(r'IP (\S+) > (\S+): ICMP (echo \w+)', line)
            if match:
                counts[(match.group(3), POD_BY_IP.get(match.group(1), match.group(1)),
                        POD_BY_IP.get(match.group(2), match.group(2)))] += 1
        print()
        self.say(title)
        if not counts:
            raise SystemExit('no mirrored packets on that port')
        for (what, src, dst), number in sorted(counts.items(), key=lambda item: item[0][1:]):
            print('           %2d x %s %s -> %s' % (number, what, src, dst))
        return counts

    def stop(self):
        self.step('Stop everything')
        if self.cluster is not None:
            self.cluster.stop()
        self.say('daemons stopped, namespaces, links and mounts removed')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workdir', nargs='?', default='build/demo')
    parser.add_argument('--quiet', action='store_true', help="hide Ansible's task output")
    parser.add_argument('--ovn', choices=VERSIONS, default=CURRENT_VERSION,
                        help='OVN version of the lab (default %(default)s, what Kube-OVN '
                             '1.15+ runs; 23.03 is Debian bookworm\'s)')
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit('make demo needs root (network namespaces, OVS): run it with sudo')
    Demo(options.workdir, quiet=options.quiet, version=options.ovn).run()


if __name__ == '__main__':
    main()
