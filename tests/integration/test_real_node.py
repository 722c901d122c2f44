"""A real node: containerd + kubelet + kube-scheduler on the test cluster, pods wired onto the
OVN lab by lab/cni.py, Kube-OVN's controller played by the stand-in (lab/standin.py).

The remote-mirror playbook runs against real pods: the lab's pods web-0 / web-1 / db-0 and the
receiver are containers of the tools image; the mirrored copies are captured inside the
receiver pod with tcpdump through `kubectl exec`. The tests of this module share the node and
run in order: the mirrors the second one converges are used by the next two, and the last one
tears them down.
"""

import json
import os
import re
import threading
import time

import pytest
import yaml

from lab import images
from lab.ansible import REPO, run_collection_playbook
from lab.daemons import wait_until
from lab.eda import REPAIR_PLAY, Rulebook, write_inventory
from lab.kube import ControlPlane
from lab.node import NODE_NAME, NODE_USER, SCHEDULER_USER, Node, node_pki
from lab.kube_ovn import bridge_state, kube_ovn_cni_start, undo_kube_ovn_cni
from lab.ovn import PODS, SINK_IP, SINK_MAC, Lab, decode_mirrored
from lab.standin import ClusterStandIn, create_lab_pods

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')


class RealCluster:
    def __init__(self, plane, lab, node):
        from kubernetes import client, config
        self.plane, self.lab, self.node = plane, lab, node
        self.kubeconfig = plane.kubeconfig
        self.core = client.CoreV1Api(config.new_client_from_config(plane.kubeconfig))

    def pod(self, name, command=('sleep', 'infinity'), **spec):
        """A pod of the tools image; returns once it is Running."""
        self.core.create_namespaced_pod('default', {
            'metadata': {'name': name}, 'spec': dict({
                'terminationGracePeriodSeconds': 1, 'automountServiceAccountToken': False,
                'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                                'imagePullPolicy': 'Never', 'command': list(command)}]},
                **spec)})
        return self.node.wait_running(name)

    def delete(self, *names, timeout=150):
        """Deletes the pods and waits until the API no longer has them. The kubelet (v1.20.2)
        deletes a pod from the API once its sandbox is removed. It removes the sandbox at once
        only when the status it holds already shows the containers stopped; otherwise its
        container GC removes it, and that runs once a minute. So a pod stopped in 2 s can stay
        a minute longer."""
        from kubernetes.client.exceptions import ApiException
        for name in names:
            self.core.delete_namespaced_pod(name, 'default', grace_period_seconds=1)

        def gone(name):
            try:
                self.core.read_namespaced_pod(name, 'default')
            except ApiException as exc:
                return exc.status == 404
            return False
        wait_until(lambda: all(gone(name) for name in names), timeout,
                   'pods %s deleted' % ', '.join(names), interval=0.5)

    def lsp(self, name):
        """The pod's LSP as ovn-nbctl reads it: {_uuid, addresses} or None."""
        out = json.loads(self.lab.nbctl('--format=json', '--columns=_uuid,addresses', 'find',
                                        'Logical_Switch_Port', 'name="%s"' % name))
        if not out['data']:
            return None
        uuid, addresses = out['data'][0]
        return {'uuid': uuid[1], 'addresses': addresses}

    def play(self, playbook, **options):
        env = {'K8S_AUTH_KUBECONFIG': self.kubeconfig, 'OVN_NB_DB': self.lab.nb,
               'PATH': self.node.bindir + os.pathsep + os.environ['PATH']}
        return run_collection_playbook(playbook, env=env, **options)


@pytest.fixture(scope='module')
def real(tmp_path_factory):
    """Its own control plane (the session's has pods no node could run), the lab without
    namespace pods, the node, and the stand-in as Kube-OVN's controller."""
    workdir = tmp_path_factory.mktemp('real-node')
    pki, apiserver_args = node_pki(workdir / 'pki')
    started = time.monotonic()
    plane = ControlPlane(workdir / 'kube', users=[NODE_USER, SCHEDULER_USER],
                         extra_apiserver_args=apiserver_args)
    os.makedirs(plane.workdir)
    plane.start()
    lab = node = standin = None
    try:
        lab = Lab(workdir / 'lab', netns_pods=False).up()
        cluster = RealCluster(plane, lab, None)
        cluster.core.create_namespaced_service_account('default',
                                                       {'metadata': {'name': 'default'}})
        standin = ClusterStandIn(plane.kubeconfig, node=lab,
                                 addresses={('default', 'mirror-receiver'): SINK_IP},
                                 macs={('default', 'mirror-receiver'): SINK_MAC}).start()
        node = Node(workdir, plane, lab, pki).start()
        cluster.node = node
        print('real node up in %.1f s (node itself %.1f s)'
              % (time.monotonic() - started, node.start_seconds))
        yield cluster
        assert standin.errors == [], standin.errors
    finally:
        if node is not None:
            node.stop()
        if standin is not None:
            standin.stop()
        if lab is not None:
            lab.down()
        plane.stop()


def test_node_ready_pods_run_ping_over_the_lab_exec_and_recreate(real):
    node = real.core.read_node(NODE_NAME)
    assert [c.status for c in node.status.conditions if c.type == 'Ready'] == ['True']
    assert node.status.node_info.container_runtime_version == 'containerd://1.6.20'

    first, second = real.pod('ping-a'), real.pod('ping-b')
    assert first.spec.node_name == NODE_NAME and first.status.pod_ip.startswith('10.66.0.')
    # kubectl exec reaches the container: its eth0 holds the address Kube-OVN annotated.
    addresses = real.node.kubectl('exec', 'ping-a', '--', 'ip', '-br', 'addr', 'show', 'eth0')
    assert first.metadata.annotations['ovn.kubernetes.io/ip_address'] + '/24' in addresses
    out = real.node.kubectl('exec', 'ping-a', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2',
                            second.status.pod_ip)
    assert ' 0% packet loss' in out, out

    # The LSP carries the pod's MAC and IP; ovn-controller bound it to the node's chassis.
    annotations = first.metadata.annotations
    old = real.lsp('ping-a.default')
    assert old['addresses'] == '%s %s' % (annotations['ovn.kubernetes.io/mac_address'],
                                          annotations['ovn.kubernetes.io/ip_address'])
    assert real.lab.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding',
                          'logical_port=ping-a.default')
    old_port = real.lab.vsctl('--bare', '--columns=name', 'find', 'Interface',
                              'external_ids:iface-id=ping-a.default')
    assert old_port.endswith('_h')

    # Deleted and created again under the same name: a new LSP, the old one and its OVS
    # port gone (CNI DEL), and the new pod reachable.
    real.delete('ping-a')
    wait_until(lambda: real.lsp('ping-a.default') is None, 30, 'old LSP deleted')
    again = real.pod('ping-a')
    new = real.lsp('ping-a.default')
    assert new is not None and new['uuid'] != old['uuid']
    new_port = real.lab.vsctl('--bare', '--columns=name', 'find', 'Interface',
                              'external_ids:iface-id=ping-a.default')
    assert new_port and new_port != old_port
    assert old_port not in real.lab.vsctl('list-ports', 'br-int').split()
    out = real.node.kubectl('exec', 'ping-b', '--', 'ping', '-c', '2', '-i', '0.2', '-W', '2',
                            again.status.pod_ip)
    assert ' 0% packet loss' in out, out
    real.delete('ping-a', 'ping-b')


@pytest.fixture(scope='module')
def lab_pods(real):
    """web-0, web-1, db-0 as real pods at the lab pods' addresses."""
    create_lab_pods(real.core, image=images.TOOLS_IMAGE)
    for name in PODS:
        pod = real.node.wait_running(name)
        assert pod.status.pod_ip == PODS[name][2]
    return real


# The second remote mirror: db-0's incoming traffic as ERSPAN, session index 7.
ERSPAN_VARS = dict(remote_mirror_name='db-ingress-x', remote_mirror_type='erspan',
                   remote_mirror_index=7, remote_mirror_filter='to-lport',
                   remote_mirror_pods=[{'name': 'db-0', 'namespace': 'default'}])


def remote_vars(tmp_path, name='remote_mirror', **overrides):
    """The demo's remote-mirror variables with the tools image as the receiver's."""
    with open(REMOTE_VARS) as handle:
        variables = yaml.safe_load(handle)
    variables.update(mirror_receiver_image=images.TOOLS_IMAGE, **overrides)
    path = tmp_path / (name + '.yml')
    path.write_text(yaml.safe_dump(variables))
    return str(path)


def test_remote_mirror_copies_are_captured_inside_the_receiver_pod(lab_pods, tmp_path):
    real = lab_pods
    variables = remote_vars(tmp_path)
    first = real.play('playbooks/remote_mirror.yml', var_files=[variables])
    assert first.rc == 0 and first.failures == [], (first.failures, first.stderr[-2000:])
    receiver = real.core.read_namespaced_pod('mirror-receiver', 'default')
    assert receiver.status.phase == 'Running' and receiver.spec.node_name == NODE_NAME
    status = json.loads(receiver.metadata.annotations['k8s.v1.cni.cncf.io/network-status'])
    assert [(s['interface'], s['ips']) for s in status] == [
        ('eth0', [receiver.status.pod_ip]), ('net1', [SINK_IP])]

    real.lab.wait_tunnel('web0-egress')
    real.lab.wait_mirror_realised('web0-egress', src=True, dst=False)
    real.lab.ping('web-0', PODS['web-1'][2], count=1)
    pcap = real.node.capture('mirror-receiver', 'net1', lambda: real.node.kubectl(
        'exec', 'web-0', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '1', PODS['web-1'][2]))
    copies = decode_mirrored(pcap)
    requests = [c for c in copies if c['icmp_type'] == 8]
    assert len(requests) >= 3, copies
    assert {(c['tunnel'], c['key'], c['src'], c['dst']) for c in requests} == {
        ('gre', 99, PODS['web-0'][2], PODS['web-1'][2])}
    assert not [c for c in copies if c['icmp_type'] == 0], copies

    # ERSPAN, the other direction: db-0's incoming traffic, session index 7.
    erspan_vars = remote_vars(tmp_path, 'erspan', **ERSPAN_VARS)
    erspan = real.play('playbooks/remote_mirror.yml', var_files=[erspan_vars])
    assert erspan.failures == [], erspan.failures
    real.lab.wait_tunnel('db-ingress-x')
    real.lab.wait_mirror_realised('db-ingress-x', src=False, dst=True)
    real.lab.ping('web-1', PODS['db-0'][2], count=1)
    pcap = real.node.capture('mirror-receiver', 'net1', lambda: real.node.kubectl(
        'exec', 'web-1', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '1', PODS['db-0'][2]))
    copies = [c for c in decode_mirrored(pcap) if c['tunnel'] == 'erspan']
    assert {(c['key'], c['src'], c['dst'], c['icmp_type']) for c in copies} == {
        (7, PODS['web-1'][2], PODS['db-0'][2], 8)}, copies
    assert len(copies) >= 3

    again = real.play('playbooks/remote_mirror.yml', var_files=[variables])
    assert again.changed == 0 and again.failures == [], again.failures
    # Left in place for the next test, which tears both down.


def run_with_traffic(real, playbook, traffic, **options):
    """`playbook` in a thread; once tcpdump runs in the receiver pod, `traffic()`."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(run=real.play(playbook, **options)))
    thread.start()
    try:
        wait_until(lambda: real.node.kubectl('exec', 'mirror-receiver', '--', 'pgrep', '-x',
                                             'tcpdump', check=False), 60,
                   'tcpdump running in the receiver pod', interval=0.3)
        traffic()
    finally:
        thread.join(300)
    return outcome['run']


def test_capture_role_reports_each_mirrors_copies_and_names_a_silent_one(lab_pods, tmp_path):
    """playbooks/capture.yml while the test pings: per-mirror counts equal the pings sent in
    each mirrored direction; a mirror with no port fails expect_packets by its name."""
    real = lab_pods
    for variables in (remote_vars(tmp_path), remote_vars(tmp_path, 'erspan', **ERSPAN_VARS)):
        converge = real.play('playbooks/remote_mirror.yml', var_files=[variables])
        assert converge.failures == [], converge.failures
    real.lab.nbctl('mirror-add', 'idle-x', 'gre', '42', 'from-lport', SINK_IP)
    try:
        for name, src, dst in (('web0-egress', True, False), ('db-ingress-x', False, True)):
            real.lab.wait_tunnel(name)
            real.lab.wait_mirror_realised(name, src=src, dst=dst)
        for source, target in (('web-0', 'web-1'), ('web-1', 'db-0')):   # neighbours warm
            real.lab.ping(source, PODS[target][2], count=1)

        def traffic():
            for source, target in (('web-0', 'web-1'), ('web-1', 'db-0')):
                real.node.kubectl('exec', source, '--', 'ping', '-c', '4', '-i', '0.2', '-W',
                                  '1', PODS[target][2])
        run = run_with_traffic(real, 'playbooks/capture.yml', traffic, extra_vars={
            'mirror_capture_duration': 8, 'mirror_capture_dest': str(tmp_path / 'captures'),
            'mirror_capture_expect_packets': ['web0-egress', 'db-ingress-x']})
        assert run.failures == [], run.failures
        report = run.result('Report the capture per mirror')
        assert os.path.getsize(report['path']) > 24 and report['truncated'] is False
        by_name = dict((m['name'], m) for m in report['mirrors'])
        icmp = dict((name, [(c['src'], c['dst'], c['packets'])
                            for c in by_name[name]['conversations'] if c['protocol'] == 'icmp'])
                    for name in ('web0-egress', 'db-ingress-x'))
        assert icmp == {'web0-egress': [(PODS['web-0'][2], PODS['web-1'][2], 4)],
                        'db-ingress-x': [(PODS['web-1'][2], PODS['db-0'][2], 4)]}, report
        assert (by_name['web0-egress']['type'], by_name['web0-egress']['index']) == ('gre', 99)
        assert (by_name['db-ingress-x']['type'], by_name['db-ingress-x']['index']) == (
            'erspan', 7)
        assert by_name['idle-x']['packets'] == 0

        silent = run_with_traffic(real, 'playbooks/capture.yml', traffic, extra_vars={
            'mirror_capture_duration': 4, 'mirror_capture_dest': str(tmp_path / 'captures'),
            'mirror_capture_expect_packets': ['web0-egress', 'idle-x']})
        failed = silent.result('Report the capture per mirror')
        assert failed.get('failed') and 'no packets from mirror idle-x in the capture' in \
            failed['msg'], failed
    finally:
        real.lab.nbctl('mirror-del', 'idle-x')


def test_remote_mirror_writes_an_evidence_report_with_what_the_capture_saw(lab_pods, tmp_path):
    """remote_mirror_evidence_dir (opt-in): JSON and Markdown naming the mirror, its pods and
    ports, the receiver, the expiry, and the capture's count of the test's pings."""
    real = lab_pods
    evidence = tmp_path / 'evidence'
    variables = remote_vars(tmp_path, 'evidence', remote_mirror_expires='2h',
                            remote_mirror_evidence_dir=str(evidence),
                            remote_mirror_evidence_capture=True,
                            remote_mirror_evidence_capture_duration=8)
    converge = real.play('playbooks/remote_mirror.yml', var_files=[remote_vars(tmp_path)])
    assert converge.failures == [], converge.failures
    real.lab.wait_tunnel('web0-egress')
    real.lab.wait_mirror_realised('web0-egress', src=True, dst=False)
    real.lab.ping('web-0', PODS['web-1'][2], count=1)
    run = run_with_traffic(real, 'playbooks/remote_mirror.yml', lambda: real.node.kubectl(
        'exec', 'web-0', '--', 'ping', '-c', '4', '-i', '0.2', '-W', '1', PODS['web-1'][2]),
        var_files=[variables])
    assert run.failures == [], run.failures
    report = json.loads((evidence / 'web0-egress-evidence.json').read_text())
    mirror = report['mirror']
    assert (mirror['name'], mirror['type'], mirror['index'], mirror['filter'], mirror['sink'],
            mirror['ports']) == ('web0-egress', 'gre', 99, 'from-lport', SINK_IP,
                                 ['web-0.default'])
    assert 7000 < mirror['expires_in'] <= 7200 and mirror['expired'] is False
    # since when: recorded when the role first created the mirror, before this report
    assert report['since'] == mirror['external_ids']['kubeovn.mirror/since'] <= \
        report['generated_at'], report
    assert mirror['external_ids']['kubeovn.mirror/receiver'] == 'default/mirror-receiver'
    assert report['receiver'] == {'pod': 'default/mirror-receiver',
                                  'attachment': 'default/mirrornet', 'address': SINK_IP}
    assert report['pods'] == [{'name': 'web-0', 'namespace': 'default'}]
    icmp = [(c['src'], c['dst'], c['packets']) for c in report['capture']['conversations']
            if c['protocol'] == 'icmp']
    assert icmp == [(PODS['web-0'][2], PODS['web-1'][2], 4)], report['capture']
    assert os.path.exists(report['capture']['path'])
    summary = (evidence / 'web0-egress-evidence.md').read_text()
    for line in ('# Mirror web0-egress: evidence', '| pods | default/web-0 |',
                 '| to | %s: pod default/mirror-receiver on default/mirrornet |' % SINK_IP,
                 '| since | %s |' % report['since'],
                 '| 4 | icmp | %s | %s |' % (PODS['web-0'][2], PODS['web-1'][2])):
        assert line in summary, summary
    never = real.play('playbooks/remote_mirror.yml', var_files=[remote_vars(
        tmp_path, 'never', remote_mirror_expires='never')])
    assert never.failures == [], never.failures


def gre_copies(real, key=99):
    """The GRE copies (key 99) of web-0's echo requests to web-1, captured in the receiver."""
    pcap = real.node.capture('mirror-receiver', 'net1', lambda: real.node.kubectl(
        'exec', 'web-0', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '1', PODS['web-1'][2],
        check=False))
    return [c for c in decode_mirrored(pcap) if c['tunnel'] == 'gre' and c['key'] == key
            and c['icmp_type'] == 8 and c['src'] == PODS['web-0'][2]]


def ovs_ovn_pod(real):
    """kube-system's ovs-ovn pod as Kube-OVN's DaemonSet makes it on a node (label app=ovs,
    container openvswitch, host network, the node's /run/openvswitch mounted), with the lab's
    run directory as the node's /run/openvswitch and the tools image (python3-openvswitch)."""
    from kubernetes.client.exceptions import ApiException
    try:
        real.core.create_namespaced_service_account('kube-system',
                                                    {'metadata': {'name': 'default'}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    real.core.create_namespaced_pod('kube-system', {
        'metadata': {'name': 'ovs-ovn-lab', 'labels': {'app': 'ovs', 'component': 'network'}},
        'spec': {'hostNetwork': True, 'terminationGracePeriodSeconds': 1,
                 'automountServiceAccountToken': False,
                 'containers': [{'name': 'openvswitch', 'image': images.TOOLS_IMAGE,
                                 'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity'],
                                 'volumeMounts': [{'name': 'host-run-ovs',
                                                   'mountPath': '/run/openvswitch'}]}],
                 'volumes': [{'name': 'host-run-ovs',
                              'hostPath': {'path': real.lab.rundir}}]}})
    return real.node.wait_running('ovs-ovn-lab', 'kube-system')


def kube_ovn_cni_pod(real, name):
    """kube-system's kube-ovn-cni pod on the node as its DaemonSet labels it (app=kube-ovn-cni,
    host network); Running and Ready once the kubelet has started it."""
    real.core.create_namespaced_pod('kube-system', {
        'metadata': {'name': name, 'labels': {'app': 'kube-ovn-cni', 'component': 'network'}},
        'spec': {'hostNetwork': True, 'terminationGracePeriodSeconds': 1,
                 'automountServiceAccountToken': False,
                 'containers': [{'name': 'cni-server', 'image': images.TOOLS_IMAGE,
                                 'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity']}]}})
    return real.node.wait_running(name, 'kube-system')


def test_rulebook_repairs_the_node_when_kube_ovn_cni_restarts(lab_pods, tmp_path):
    """The rulebook kubeovn.mirror.follow_mirrors runs; kube-ovn-cni restarts on the node (its
    pod replaced, its InitMirror run verbatim) and the copies stop. The new pod's readiness
    makes the rulebook run playbooks/repair.yml on that node by itself: it reaches the node's
    OVS through the ovs-ovn pod (kubectl exec, python-ovs in the pod), removes exactly the two
    stale ports, and the copies arrive in the receiver pod again."""
    real = lab_pods
    converge = real.play('playbooks/remote_mirror.yml', var_files=[remote_vars(tmp_path)])
    assert converge.failures == [], converge.failures
    ovs_ovn_pod(real)
    kube_ovn_cni_pod(real, 'kube-ovn-cni-a')
    inventory = write_inventory(tmp_path, {
        'mirrors_nb_connection': real.lab.nb, 'mirrors_kubeconfig': real.kubeconfig,
        'mirror_repair_kubeconfig': real.kubeconfig, 'kubeovn_mirrors': []})
    rulebook = Rulebook(tmp_path, inventory, {
        'follow_mirrors_selectors': [{'namespace': 'default', 'label_selectors': ['app=web']}],
        'follow_mirrors_kubeconfig': real.kubeconfig},
        env={'PATH': real.node.bindir + os.pathsep + os.environ['PATH']})
    try:
        wait_until(lambda: rulebook.runs() >= 1, 120, 'the start-up converge', interval=0.5)
        real.lab.wait_tunnel('web0-egress')
        real.lab.wait_mirror_realised('web0-egress', src=True, dst=False)
        assert len(gre_copies(real)) >= 3
        assert rulebook.runs(REPAIR_PLAY) == 0     # kube-ovn-cni was ready before: no repair

        real.core.delete_namespaced_pod('kube-ovn-cni-a', 'kube-system', grace_period_seconds=1)
        kube_ovn_cni_start(real.lab)
        assert 'web0-egress' not in bridge_state(real.lab)[1]
        real.lab.appctl('ovs-vswitchd.ctl', 'revalidator/purge')
        assert gre_copies(real) == []

        kube_ovn_cni_pod(real, 'kube-ovn-cni-b')
        ready = time.monotonic()
        wait_until(lambda: 'removed [' in rulebook.log_text(), 120, 'the rulebook\'s repair',
                   interval=0.5)
        real.lab.wait_tunnel('web0-egress')
        real.lab.wait_mirror_realised('web0-egress', src=True, dst=False)
        print('repaired by the rulebook: tunnel back %.1f s after the new pod was ready'
              % (time.monotonic() - ready))
        assert len(gre_copies(real)) >= 3
        # Both remote mirrors of the earlier test lost their OVS mirror: both repaired, on
        # the node whose kube-ovn-cni became ready, through its ovs-ovn pod.
        log = rulebook.log_text()
        said = re.search(r"ovs-ovn@%s: stale \[([^]]*)\], removed \[([^]]*)\]" % NODE_NAME, log)
        assert said, log[-3000:]
        assert [sorted(re.findall(r"'([^']+)'", part)) for part in said.groups()] == \
            [['ovn-db-ingress-x', 'ovn-web0-egress']] * 2, said.group(0)
        assert rulebook.runs(REPAIR_PLAY) == 1
    finally:
        left = rulebook.stop()
        undo_kube_ovn_cni(real.lab)
        for name in ('ovs-ovn-lab', 'kube-ovn-cni-a', 'kube-ovn-cni-b'):
            try:
                real.core.delete_namespaced_pod(name, 'kube-system', grace_period_seconds=0)
            except Exception:   # noqa: BLE001 - already gone
                pass
    assert left == [], left


def kernel_refuses_gretap(real):
    """None when this kernel makes gretap links, else ip's message (probed in the
    privileged receiver pod)."""
    out = real.node.kubectl('exec', 'mirror-receiver', '--', 'sh', '-c',
                            'ip link add kmlprobe0 type gretap key 1 2>&1 && '
                            'ip link del kmlprobe0 && echo created', check=False)
    return None if out.endswith('created') else out


def test_receiver_link_step_runs_inside_the_real_pod(lab_pods, tmp_path):
    """The role's gretap step runs through kubectl exec in the receiver container: on a
    kernel without ip_gre its clear message comes from there; with it, the link comes up
    and carries the decapsulated copies."""
    real = lab_pods
    variables = remote_vars(tmp_path, remote_mirror_receiver_link=True)
    run = real.play('playbooks/remote_mirror.yml', var_files=[variables])
    refused = kernel_refuses_gretap(real)
    if refused is not None:
        step = run.result('Create the GRE/ERSPAN link inside the receiver pod')
        assert step.get('failed'), step
        assert 'this kernel cannot create gretap links' in step['msg'], step
        assert 'ip_gre' in step['msg'], step
        # It ran in the container: the module's own python there, the pod's net1 read.
        assert real.node.kubectl('exec', 'mirror-receiver', '--', 'ip', '-br', 'link', 'show',
                                 'mirror1', check=False) == ''
    else:
        assert run.failures == [], run.failures
        assert 'mirror1' in real.node.kubectl('exec', 'mirror-receiver', '--', 'ip', '-br',
                                              'link', 'show', 'mirror1')
        real.lab.wait_tunnel('web0-egress')
        real.lab.wait_mirror_realised('web0-egress', src=True, dst=False)
        pcap = real.node.capture('mirror-receiver', 'mirror1', lambda: real.node.kubectl(
            'exec', 'web-0', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '1', PODS['web-1'][2]),
            bpf='icmp')
        assert len(open(pcap, 'rb').read()) > 24
    for path in (remote_vars(tmp_path, 'erspan', remote_mirror_name='db-ingress-x'),
                 variables):
        down = real.play('playbooks/teardown.yml', var_files=[path])
        assert down.failures == [], down.failures
    assert real.lab.nbctl('--bare', '--columns=name', 'list', 'Mirror') == ''
    assert [pod.metadata.name for pod in real.core.list_namespaced_pod('default').items
            if pod.metadata.name == 'mirror-receiver'] == []
