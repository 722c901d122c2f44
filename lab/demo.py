"""`make demo`: the collection's main job against the embedded lab, start to finish.

Starts a real Kubernetes control plane (etcd + kube-apiserver), the one-machine OVN lab and a
real node (containerd + kubelet + kube-scheduler, lab/node.py) whose pods the lab's CNI wires
onto OVN; runs the playbooks (remote mirror, GitOps inventory, local mirror) against real
pods, sends traffic between them with `kubectl exec`, prints what tcpdump inside the receiver
pod captured, converges again to show changed=0, tears everything down with the teardown
playbook and stops every daemon.
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
from lab.daemons import wait_until
from lab.eda import Rulebook
from lab import images
from lab.kube import ControlPlane
from lab.node import NODE_USER, SCHEDULER_USER, Node, node_pki
from lab.ovn import MIRROR_TAP, PODS, POD_BY_IP, PREFIX, SINK_IP, SINK_MAC, Lab, lsp_mirrors
from lab.ovn_versions import CURRENT_VERSION, HOST_VERSION, VERSIONS
from lab.standin import ClusterStandIn, create_lab_pods

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')
LOCAL_VARS = os.path.join(REPO, 'examples', 'demo', 'local_mirror.yml')
INVENTORY = os.path.join(REPO, 'examples', 'inventory')
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')
# On an OVN with filter `both` and type `local` (>= 23.06): the remote mirror carries both
# directions, and an OVN local mirror delivers to this port of the node.
OVN_LOCAL_PORT = PREFIX + 'mon0'


class Demo:
    def __init__(self, workdir, quiet=False, version=CURRENT_VERSION):
        self.workdir = os.path.abspath(workdir)
        self.quiet = quiet
        self.version = version
        self.current_ovn = version != HOST_VERSION    # has filter both and type local
        self.started = time.monotonic()
        self.timings = []
        self.lab = self.plane = self.standin = self.node = None

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
        """The three playbooks of the demo; the recap totals of each."""
        return [
            ('remote_mirror.yml', self.playbook('playbooks/remote_mirror.yml',
                                                var_files=[self.remote_vars])),
            ('mirrors.yml (GitOps inventory)', self.playbook('playbooks/mirrors.yml',
                                                             inventory=INVENTORY)),
            ('local_mirror.yml', self.playbook('playbooks/local_mirror.yml',
                                               var_files=[self.local_vars])),
        ]

    # ---- the run ------------------------------------------------------------------------
    def run(self):
        try:
            self._run()
        finally:
            self.stop()
        total = time.monotonic() - self.started
        print()
        self.say('Timings:')
        marks = self.timings + [('end', time.monotonic())]
        for (title, start), (dummy, end) in zip(marks, marks[1:]):
            print('           %-76s %6.1f s' % (title, end - start))
        print('           %-76s %6.1f s' % ('total', total))
        print()
        self.say('Demo done in %.0f s: mirrored packets captured inside the receiver pod and '
                 'on %s, second converge changed=0, everything removed.' % (total, MIRROR_TAP))

    def _run(self):
        self.step('Start a Kubernetes control plane (etcd + kube-apiserver)')
        os.makedirs(self.workdir, exist_ok=True)
        pki, apiserver_args = node_pki(os.path.join(self.workdir, 'pki'))
        self.plane = ControlPlane(os.path.join(self.workdir, 'kube-' + str(os.getpid())),
                                  users=[NODE_USER, SCHEDULER_USER],
                                  extra_apiserver_args=apiserver_args)
        os.makedirs(self.plane.workdir, exist_ok=True)
        self.plane.start()
        self.say('API at %s, up in %.1f s' % (self.plane.server, self.plane.start_seconds))
        from kubernetes import client, config
        core = client.CoreV1Api(config.new_client_from_config(self.plane.kubeconfig))
        # No controller-manager makes the default ServiceAccount pods need.
        core.create_namespaced_service_account('default', {'metadata': {'name': 'default'}})

        self.step('Start the OVN %s lab (OVS userspace datapath, NB/SB, northd, '
                  'ovn-controller)' % self.version)
        self.lab = Lab(os.path.join(self.workdir, 'lab'), self.version, netns_pods=False).up()
        self.say('lab up in %.1f s: br-int, underlay br-phy' % self.lab.start_seconds)
        # Kube-OVN's controller is played by a stand-in: networks become ready, pods get
        # addresses and LSPs, the receiver's attachment gets the sink address.
        self.standin = ClusterStandIn(
            self.plane.kubeconfig, node=self.lab,
            addresses={('default', 'mirror-receiver'): SINK_IP},
            macs={('default', 'mirror-receiver'): SINK_MAC}).start()

        self.step('Start a node (containerd + kubelet + kube-scheduler) and the lab pods')
        self.node = Node(self.workdir, self.plane, self.lab, pki).start()
        self.say('node Ready in %.1f s' % self.node.start_seconds)
        create_lab_pods(core, image=images.TOOLS_IMAGE)
        for name in PODS:
            self.node.wait_running(name)
        self.say(self.node.kubectl('get', 'pods', '-o', 'wide'))
        self.local_vars = os.path.join(self.workdir, 'local_mirror.yml')
        with open(LOCAL_VARS) as handle:
            local = yaml.safe_load(handle)
        local['local_mirror_ovs']['ovs_connection'] = self.lab.ovs_db
        self.remote_vars = os.path.join(self.workdir, 'remote_mirror.yml')
        with open(REMOTE_VARS) as handle:
            remote = yaml.safe_load(handle)
        remote['mirror_receiver_image'] = images.TOOLS_IMAGE
        if self.current_ovn:
            remote.update(remote_mirror_name='web0-both', remote_mirror_filter='both')
            local['local_mirror_ovn'] = dict(name='web0-ovn-local', filter='both',
                                             pods=[dict(name='web-0', namespace='default')],
                                             port=OVN_LOCAL_PORT,
                                             ovs_connection=self.lab.ovs_db)
        for path, variables in ((self.local_vars, local), (self.remote_vars, remote)):
            with open(path, 'w') as handle:
                yaml.safe_dump(variables, handle)

        self.step('First converge: remote mirror, GitOps inventory, local mirror')
        first = self.converge_all()

        self.step('kubectl exec ping between pods; tcpdump in the receiver pod and on %s'
                  % MIRROR_TAP)
        remote_name = 'web0-both' if self.current_ovn else 'web0-egress'
        for name, src, dst in ((remote_name, True, self.current_ovn),
                               ('db-ingress', False, True), ('web1-egress', True, False)):
            self.lab.wait_tunnel(name)
            self.lab.wait_mirror_realised(name, src, dst)
        # No prepare_tap(): ovs_local_mirror and ovs_mirror_port bring up the ports they create.
        self.lab.wait_mirror_realised('web0-local', True, True)
        points = [(None, MIRROR_TAP, 'icmp')]
        if self.current_ovn:
            self.lab.wait_mirror_realised('web0-ovn-local', True, True)
            points.append((None, OVN_LOCAL_PORT, 'icmp'))
        flows = [('web-0', 'web-1'), ('web-0', 'db-0'), ('web-1', 'db-0')]
        for source, target in flows:            # warm up tunnel neighbours and flows
            self.ping(source, target, count=1)
        count = 5

        def traffic():
            for source, target in flows:
                self.say('$ kubectl exec %s -- ping -c %d %s   (%s)'
                         % (source, count, PODS[target][2], target))
                self.ping(source, target, count=count)
        # The collection's capture (playbooks/capture.yml: tcpdump in the receiver pod through
        # the API, the pcap fetched and reported per mirror) while the host captures the local
        # mirror ports and the pods ping.
        self.say('$ ansible-playbook playbooks/capture.yml -e mirror_capture_duration=12 ...')
        outcome = {}
        capture = threading.Thread(target=lambda: outcome.update(run=run_collection_playbook(
            'playbooks/capture.yml', env=self.cluster_env(), extra_vars={
                'mirror_capture_duration': 12,
                'mirror_capture_dest': os.path.join(self.workdir, 'captures'),
                'mirror_capture_expect_packets': [remote_name, 'db-ingress', 'web1-egress']})))
        capture.start()
        try:
            wait_until(lambda: self.node.kubectl('exec', 'mirror-receiver', '--', 'pgrep', '-x',
                                                 'tcpdump', check=False), 60,
                       'tcpdump running in the receiver pod', interval=0.3)
            captured = self.lab.captures(points, traffic, seconds=8, count=500)
        finally:
            capture.join(300)
        run = outcome['run']
        if run.failures:
            raise SystemExit('playbooks/capture.yml failed: %s' % (run.failures,))
        self.summary(run.result('Report the capture per mirror'), captured[0][0],
                     captured[1][0] if self.current_ovn else None)

        self.step('Second converge of the same playbooks and inventory')
        second = self.converge_all()
        for (name, totals), (dummy, again) in zip(first, second):
            self.say('%-32s first run changed=%-3d second run changed=%d'
                     % (name, totals['changed'], again['changed']))
        if any(totals['changed'] for dummy, totals in second):
            raise SystemExit('the second converge changed something')

        self.step('Follow the cluster: the rulebook kubeovn.mirror.follow_mirrors while pods '
                  'come and go')
        self.follow(core)

        self.step('Teardown playbook, then the GitOps inventory with nothing declared')
        self.playbook('playbooks/teardown.yml', var_files=[self.remote_vars, self.local_vars])
        self.playbook('playbooks/mirrors.yml', inventory=INVENTORY,
                      extra_vars={'kubeovn_mirrors': []})
        left = self.lab.nbctl('--bare', '--columns=name', 'list', 'Mirror')
        self.say('NB mirrors left: %s' % (left.split() or 'none'))
        self.say('pods left in default: %s' % (
            [p.metadata.name for p in core.list_namespaced_pod('default').items] or 'none'))

    def follow(self, core):
        """Event-Driven Ansible keeps the inventory's mirrors true: a new pod gets its port
        attached, and detached once the pod is deleted, with no manual run."""
        with open(os.path.join(INVENTORY, 'group_vars', 'kubeovn', 'mirrors.yml')) as handle:
            declared = yaml.safe_load(handle)['kubeovn_mirrors']
        variables = {'follow_mirrors_selectors': [selector for mirror in declared
                                                  for selector in mirror['selectors']],
                     'follow_mirrors_kubeconfig': self.plane.kubeconfig,
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
            self.node.wait_running('db-1')
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
        return lsp_mirrors(self.lab.nbctl, name)

    def mirror_uuid(self, name):
        return self.lab.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=' + name)

    def mirrored(self, mirror):
        """The LSPs a mirror is attached to, as ovn-nbctl reads them."""
        names = self.lab.nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
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
        return {'K8S_AUTH_KUBECONFIG': self.plane.kubeconfig, 'OVN_NB_DB': self.lab.nb,
                # kubectl for the receiver's link step (kubectl connection)
                'PATH': self.node.bindir + os.pathsep + os.environ['PATH']}

    def ping(self, source, target, count):
        """A bounded ping from one lab pod to another, through kubectl exec."""
        return self.node.kubectl('exec', source, '--', 'ping', '-c', str(count), '-i', '0.2',
                                 '-W', '1', PODS[target][2], check=False)

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
        self.local_summary(local_lines, 'What OVS copied to %s (OVS mirror web0-local, both '
                           'directions):' % MIRROR_TAP)
        if ovn_local_lines is not None:
            self.local_summary(ovn_local_lines, 'What OVN copied to %s (OVN local mirror '
                               'web0-ovn-local, filter both):' % OVN_LOCAL_PORT)

    def local_summary(self, lines, title):
        counts = collections.Counter()
        for line in lines:
            match = re.search(r'IP (\S+) > (\S+): ICMP (echo \w+)', line)
            if match:
                counts[(match.group(1), match.group(2), match.group(3))] += 1
        print()
        self.say(title)
        if not counts:
            raise SystemExit('no mirrored packets on that port')
        for (src, dst, what), number in sorted(counts.items()):
            print('           %2d x %s %s -> %s'
                  % (number, what, POD_BY_IP.get(src, src), POD_BY_IP.get(dst, dst)))

    def stop(self):
        self.step('Stop everything')
        if self.node is not None:
            self.node.stop()
        if self.standin is not None:
            self.standin.stop()
        if self.lab is not None:
            self.lab.down()
        if self.plane is not None:
            self.plane.stop()
        self.say('daemons stopped, lab namespaces and links removed')


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
