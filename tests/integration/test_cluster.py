"""The two-node test cluster (lab/cluster.py): controllers roll pods out by themselves,
kube-ovn-cni runs as a DaemonSet on each node, copies cross nodes.

Each test reads the truth on its own: packets captured (tcpdump on a node's mirror0, or inside
the receiver pod), ovs-vsctl on the right node, ovn-nbctl, the API. The tests of this module
share the cluster and run in order.
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
from lab.cluster import SINK_IP, Cluster
from lab.daemons import wait_until
from lab.eda import REPAIR_PLAY, Rulebook, write_inventory
from lab.ovn import decode_mirrored, read_pcap

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')
NODE_A, NODE_B = 'node-a', 'node-b'
MIRRORED_PODS = {'a-0': NODE_A, 'a-1': NODE_A, 'b-0': NODE_B, 'b-1': NODE_B}


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """Two nodes, the controllers, Kube-OVN's DaemonSets (kube-ovn-cni with
    --enable-mirror=false, as install.sh makes it; ovs-ovn), the stand-in as Kube-OVN's
    controller, and four pods pinned two per node."""
    started = time.monotonic()
    cluster = Cluster(tmp_path_factory.mktemp('cluster'), nodes=2)
    try:
        cluster.start().start_kube_ovn()
        cluster.pods = dict((name, cluster.pod(name, node)) for name, node in
                            MIRRORED_PODS.items())
        print('cluster up in %.1f s (nodes, controllers and DaemonSets %.1f s)'
              % (time.monotonic() - started, cluster.start_seconds))
        yield cluster
        assert cluster.standin.errors == [], cluster.standin.errors
    finally:
        cluster.stop()


def ip_of(cluster, pod):
    return cluster.pods[pod].status.pod_ip


def play(cluster, playbook, **options):
    env = {'K8S_AUTH_KUBECONFIG': cluster.kubeconfig, 'OVN_NB_DB': cluster.nb,
           'PATH': cluster.bindir + os.pathsep + os.environ['PATH']}
    return run_collection_playbook(playbook, env=env, **options)


def chassis_of(cluster, lsp):
    """The chassis (node) ovn-controller bound `lsp` on, read from the SB."""
    uuid = cluster.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding',
                         'logical_port=' + lsp)
    return cluster.sbctl('--bare', '--columns=name', 'list', 'Chassis', uuid) if uuid else None


def test_nodes_ready_by_the_controllers_and_a_deployment_pings_across_nodes(cluster):
    """The node lifecycle controller untainted the nodes, the token controller made the
    `default` account; a Deployment's pods are spread over both nodes, each bound to its own
    node's chassis, and ping each other across nodes (Geneve over the underlay)."""
    for node in cluster.nodes:
        status = cluster.core.read_node(node.name)
        assert [c.status for c in status.status.conditions if c.type == 'Ready'] == ['True']
        assert not status.spec.taints
    assert cluster.core.read_namespaced_service_account('default', 'default')
    for app in ('kube-ovn-cni', 'ovs-ovn'):
        assert sorted(pod.spec.node_name for pod in cluster.core.list_namespaced_pod(
            'kube-system', label_selector='app=' + app.replace('ovs-ovn', 'ovs')).items) == \
            [NODE_A, NODE_B]

    cluster.apps.create_namespaced_deployment('default', {
        'metadata': {'name': 'spread'},
        'spec': {'replicas': 4, 'selector': {'matchLabels': {'app': 'spread'}},
                 'template': {'metadata': {'labels': {'app': 'spread'}}, 'spec': {
                     'terminationGracePeriodSeconds': 1, 'automountServiceAccountToken': False,
                     'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                                     'imagePullPolicy': 'Never',
                                     'command': ['sleep', 'infinity']}]}}}})

    def running():
        pods = cluster.core.list_namespaced_pod('default', label_selector='app=spread').items
        return [pod for pod in pods if pod.status.phase == 'Running'] if len(pods) == 4 and \
            all(pod.status.phase == 'Running' for pod in pods) else None
    wait_until(running, 120, 'the Deployment\'s 4 pods Running', interval=0.5)
    pods = running()
    by_node = dict((node.name, [pod for pod in pods if pod.spec.node_name == node.name])
                   for node in cluster.nodes)
    assert by_node[NODE_A] and by_node[NODE_B], [(p.metadata.name, p.spec.node_name)
                                                 for p in pods]
    for pod in pods:
        assert chassis_of(cluster, '%s.default' % pod.metadata.name) == pod.spec.node_name
    out = cluster.ping(by_node[NODE_A][0].metadata.name, by_node[NODE_B][0].status.pod_ip)
    assert ' 0% packet loss' in out, out
    cluster.apps.delete_namespaced_deployment('spread', 'default')


def lsp(cluster, name):
    """The LSP as ovn-nbctl reads it: {uuid, addresses}, or None."""
    out = json.loads(cluster.nbctl('--format=json', '--columns=_uuid,addresses', 'find',
                                   'Logical_Switch_Port', 'name="%s"' % name))
    if not out['data']:
        return None
    (dummy, uuid), addresses = out['data'][0]
    return {'uuid': uuid, 'addresses': addresses}


def delete_pods(cluster, *names, timeout=150):
    """Deletes the pods and waits until the API no longer has them. The kubelet (v1.20.2)
    deletes a pod from the API once its sandbox is removed; it removes the sandbox at once
    only when the status it holds already shows the containers stopped, else at its container
    GC, once a minute: a pod stopped in 2 s can stay a minute longer."""
    from kubernetes.client.exceptions import ApiException
    for name in names:
        cluster.core.delete_namespaced_pod(name, 'default', grace_period_seconds=1)

    def gone(name):
        try:
            cluster.core.read_namespaced_pod(name, 'default')
        except ApiException as exc:
            return exc.status == 404
        return False
    wait_until(lambda: all(gone(name) for name in names), timeout,
               'pods %s deleted' % ', '.join(names), interval=0.5)


def test_a_pod_recreated_under_its_name_gets_a_new_port_on_its_node(cluster):
    """kubectl exec reaches the pod, whose eth0 holds the address Kube-OVN annotated and whose
    LSP carries its MAC and IP; deleted and created again under the same name (on node B): a
    new LSP, the old OVS port gone from node B's br-int (CNI DEL), the new pod reachable."""
    first = cluster.pod('again', NODE_B)
    annotations = first.metadata.annotations
    address = annotations['ovn.kubernetes.io/ip_address']
    assert address + '/24' in cluster.exec('again', 'ip', '-br', 'addr', 'show', 'eth0')
    old = lsp(cluster, 'again.default')
    assert old['addresses'] == '%s %s' % (annotations['ovn.kubernetes.io/mac_address'], address)
    vsctl = cluster.node(NODE_B).vsctl
    old_port = vsctl('--bare', '--columns=name', 'find', 'Interface',
                     'external_ids:iface-id=again.default')
    assert old_port.endswith('_h')

    delete_pods(cluster, 'again')
    wait_until(lambda: lsp(cluster, 'again.default') is None, 30, 'old LSP deleted')
    again = cluster.pod('again', NODE_B)
    new = lsp(cluster, 'again.default')
    assert new is not None and new['uuid'] != old['uuid']
    new_port = vsctl('--bare', '--columns=name', 'find', 'Interface',
                     'external_ids:iface-id=again.default')
    assert new_port and new_port != old_port
    assert old_port not in vsctl('list-ports', 'br-int').split()
    assert ' 0% packet loss' in cluster.ping('a-0', again.status.pod_ip, count=2)
    delete_pods(cluster, 'again')


def mirror0_icmp(cluster, node, traffic):
    """What tcpdump on `node`'s mirror0 saw of ICMP while `traffic()` ran: [(src, dst, kind)]."""
    lines, dummy = cluster.node(node).capture('mirror0', traffic, seconds=5)
    seen = []
    for line in lines:
        found = re.search(r'IP (\S+) > (\S+): ICMP echo (request|reply)', line)
        if found:
            seen.append(found.groups())
    return seen


def m0(cluster, node):
    """kube-ovn-cni's mirror m0 on `node`, as ovs-vsctl reads it there."""
    out = cluster.node(node).vsctl('--format=json', '--columns=select_all,select_dst_port',
                                   'find', 'Mirror', 'name=m0')
    (select_all, (kind, ports)), = json.loads(out)['data']
    return select_all, [ports] if kind == 'uuid' else [uuid for dummy, uuid in ports]


def traffic_on_each_node(cluster):
    for source, target in (('b-0', 'b-1'), ('a-0', 'a-1')):
        assert ' 0% packet loss' in cluster.ping(source, ip_of(cluster, target), count=3)


def test_pod_mirror_copies_what_one_pod_of_node_b_receives(cluster):
    """Global mirroring off, pod_mirror annotates b-0: kube-ovn-cni on node B puts b-0's port
    into m0's select_dst_port only, so while b-0 pings b-1 mirror0 sees the replies b-0
    receives and not the requests it sends; node A's m0 is untouched. Annotation removed:
    nothing."""
    pod_vars = {'local_mirror_pods': {'namespace': 'default', 'names': ['b-0']}}
    run = play(cluster, 'playbooks/local_mirror.yml', extra_vars=pod_vars)
    assert run.failures == [] and run.changed >= 1, run.failures
    port = cluster.node(NODE_B).vsctl('--bare', '--columns=name', 'find', 'Interface',
                                      'external_ids:iface-id=b-0.default')
    port_uuid = cluster.node(NODE_B).vsctl('get', 'Port', port, '_uuid')
    wait_until(lambda: m0(cluster, NODE_B) == (False, [port_uuid]), 30,
               'b-0\'s port in m0 select_dst_port on node B', interval=0.5)
    assert m0(cluster, NODE_A) == (False, [])
    seen = mirror0_icmp(cluster, NODE_B, lambda: traffic_on_each_node(cluster))
    b0, b1 = ip_of(cluster, 'b-0'), ip_of(cluster, 'b-1')
    assert seen == [(b1, b0, 'reply')] * 3, seen

    run = play(cluster, 'playbooks/local_mirror.yml',
               extra_vars=dict(pod_vars, local_mirror_state='absent'))
    assert run.failures == [] and run.changed >= 1, run.failures
    wait_until(lambda: m0(cluster, NODE_B) == (False, []), 30,
               'b-0\'s port out of m0 on node B', interval=0.5)
    assert mirror0_icmp(cluster, NODE_B, lambda: traffic_on_each_node(cluster)) == []


def remote_vars(tmp_path, name='remote_mirror', **overrides):
    """The demo's remote-mirror variables: the receiver (tools image) on node A."""
    with open(REMOTE_VARS) as handle:
        variables = yaml.safe_load(handle)
    variables.update(mirror_receiver_image=images.TOOLS_IMAGE, mirror_receiver_node=NODE_A,
                     remote_mirror_pods=[{'name': 'b-0', 'namespace': 'default'}])
    variables.update(overrides)
    path = tmp_path / (name + '.yml')
    path.write_text(yaml.safe_dump(variables))
    return str(path)


# b-1's incoming traffic as ERSPAN, session index 7, to the same receiver.
ERSPAN_VARS = dict(remote_mirror_name='b1-ingress', remote_mirror_type='erspan',
                   remote_mirror_index=7, remote_mirror_filter='to-lport',
                   remote_mirror_pods=[{'name': 'b-1', 'namespace': 'default'}])


def wait_realised(cluster, node, name, src, dst):
    """Until ovn-controller on `node` made the OVS mirror `name` with its tunnel port."""
    vsctl = cluster.node(node).vsctl

    def realised():
        if 'ovn-' + name not in vsctl('list-ports', 'br-int').split():
            return False
        selects = [bool(vsctl('--bare', '--columns=' + column, 'find', 'Mirror',
                              'name=' + name)) for column in ('select_src_port',
                                                              'select_dst_port')]
        return selects == [src, dst]
    wait_until(realised, 30, 'mirror %s realised on %s' % (name, node), interval=0.2)


def run_with_traffic(cluster, playbook, traffic, **options):
    """`playbook` in a thread; once tcpdump runs in the receiver pod, `traffic()`."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(
        run=play(cluster, playbook, **options)))
    thread.start()
    try:
        wait_until(lambda: cluster.exec('mirror-receiver', 'pgrep', '-x', 'tcpdump',
                                        check=False), 60,
                   'tcpdump running in the receiver pod', interval=0.3)
        traffic()
    finally:
        thread.join(300)
    return outcome['run']


def test_remote_mirrors_of_node_b_pods_reach_the_receiver_on_node_a(cluster, tmp_path):
    """GRE (b-0's outgoing) and ERSPAN (b-1's incoming) mirrors with the receiver pod on node
    A: node B's OVS encapsulates the copies (outer source: node B's underlay address) and they
    cross the underlay into the receiver, where playbooks/capture.yml counts them per mirror."""
    for variables in (remote_vars(tmp_path), remote_vars(tmp_path, 'erspan', **ERSPAN_VARS)):
        run = play(cluster, 'playbooks/remote_mirror.yml', var_files=[variables])
        assert run.failures == [], run.failures
    receiver = cluster.core.read_namespaced_pod('mirror-receiver', 'default')
    assert receiver.spec.node_name == NODE_A
    wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
    wait_realised(cluster, NODE_B, 'b1-ingress', src=False, dst=True)
    b0, b1, a0 = ip_of(cluster, 'b-0'), ip_of(cluster, 'b-1'), ip_of(cluster, 'a-0')
    cluster.ping('b-0', b1, count=2)            # node B resolves the sink's MAC first
    cluster.ping('a-0', b1, count=1)

    pcap = cluster.capture_in_pod('mirror-receiver', 'net1', lambda: (
        cluster.ping('b-0', b1, count=3), cluster.ping('a-0', b1, count=3)))
    copies = decode_mirrored(pcap)
    gre = [c for c in copies if c['tunnel'] == 'gre']
    erspan = [c for c in copies if c['tunnel'] == 'erspan']
    assert {(c['key'], c['src'], c['dst'], c['icmp_type']) for c in gre} == {(99, b0, b1, 8)}
    assert len(gre) == 3, copies
    assert {(c['key'], c['src'], c['dst'], c['icmp_type']) for c in erspan} == {
        (7, b0, b1, 8), (7, a0, b1, 8)}, copies
    assert len(erspan) == 6, copies
    # sent by node B's OVS: the outer IPv4 source of every copy is node B's underlay address
    sources = set('.'.join(str(byte) for byte in frame[26:30]) for frame in read_pcap(pcap)
                  if frame[12:14] == b'\x08\x00' and frame[23] == 47)
    assert sources == {cluster.node(NODE_B).underlay_ip}, sources

    run = run_with_traffic(cluster, 'playbooks/capture.yml', lambda: (
        cluster.ping('b-0', b1, count=4), cluster.ping('a-0', b1, count=4)), extra_vars={
        'mirror_capture_duration': 8, 'mirror_capture_dest': str(tmp_path / 'captures'),
        'mirror_capture_expect_packets': ['web0-egress', 'b1-ingress']})
    assert run.failures == [], run.failures
    report = run.result('Report the capture per mirror')
    by_name = dict((m['name'], m) for m in report['mirrors'])
    icmp = dict((name, sorted((c['src'], c['dst'], c['packets'])
                              for c in by_name[name]['conversations'] if c['protocol'] == 'icmp'))
                for name in ('web0-egress', 'b1-ingress'))
    assert icmp == {'web0-egress': [(b0, b1, 4)],
                    'b1-ingress': sorted([(b0, b1, 4), (a0, b1, 4)])}, report
    assert (by_name['b1-ingress']['type'], by_name['b1-ingress']['index']) == ('erspan', 7)

    # A mirror with no port sends nothing: expect_packets fails naming it.
    cluster.nbctl('mirror-add', 'idle-x', 'gre', '42', 'from-lport', SINK_IP)
    try:
        silent = run_with_traffic(cluster, 'playbooks/capture.yml', lambda: cluster.ping(
            'b-0', b1, count=3), extra_vars={
            'mirror_capture_duration': 4, 'mirror_capture_dest': str(tmp_path / 'captures'),
            'mirror_capture_expect_packets': ['web0-egress', 'idle-x']})
        failed = silent.result('Report the capture per mirror')
        assert failed.get('failed') and 'no packets from mirror idle-x in the capture' in \
            failed['msg'], failed
    finally:
        cluster.nbctl('mirror-del', 'idle-x')


def test_preflight_refuses_a_sink_that_node_b_cannot_route_to(cluster, tmp_path):
    """Node A has a route to 203.0.113.0/24 (via the underlay), node B none: remote_mirror
    asks each node's OVS through its ovs-ovn pod and refuses naming node B only; nothing is
    written to the NB."""
    cluster.node(NODE_A).netns_run('ip', 'route', 'add', '203.0.113.0/24', 'via', '172.31.0.1',
                                   'dev', 'br-phy')
    try:
        wait_until(lambda: 'dev br-phy' in cluster.node(NODE_A).appctl(
            'ovs-vswitchd', 'ovs/route/lookup', '203.0.113.9', check=False), 10,
            'node A\'s OVS learning the route')
        variables = remote_vars(tmp_path, 'far', remote_mirror_name='far',
                                remote_mirror_sink='203.0.113.9', remote_mirror_networks=False)
        run = play(cluster, 'playbooks/remote_mirror.yml', var_files=[variables])
        assert run.rc != 0
        (task, message), = run.failures
        assert 'no route to the sink 203.0.113.9 on node(s) node-b (' in message, message
        assert 'node-a' not in message, message
        assert 'far' not in cluster.nbctl('--bare', '--columns=name', 'list', 'Mirror').split()

        # A node that cannot be asked (here: no such container in the ovs-ovn pods) is named
        # apart, with the API's answer.
        variables = remote_vars(tmp_path, 'unasked', remote_mirror_name='far',
                                remote_mirror_sink='203.0.113.9', remote_mirror_networks=False,
                                remote_mirror_ovs_container='nosuch')
        run = play(cluster, 'playbooks/remote_mirror.yml', var_files=[variables])
        (task, message), = run.failures
        assert 'could not ask node(s) node-a, node-b (ovs-appctl in their ovs-ovn pod: ' in \
            message and 'no route' not in message, message
    finally:
        cluster.node(NODE_A).netns_run('ip', 'route', 'del', '203.0.113.0/24', check=False)


def ovs_rows(cluster, node):
    """Every Mirror and Port row of `node`'s OVS by uuid, as ovs-vsctl reads them."""
    vsctl = cluster.node(node).vsctl
    return dict((table, vsctl('--bare', '--columns=_uuid,name', 'list', table))
                for table in ('Mirror', 'Port', 'Interface'))


def test_rulebook_repairs_only_node_b_when_its_kube_ovn_cni_is_recreated(cluster, tmp_path):
    """The rulebook runs; kube-ovn-cni's pod on node B is deleted and the DaemonSet controller
    recreates it: its InitMirror clears node B's mirrors and the copies stop. Once the new pod
    is ready, the rulebook repairs node B (through its ovs-ovn pod) and only node B: node A's
    OVS rows are unchanged, and the copies reach the receiver again."""
    inventory = write_inventory(tmp_path, {
        'mirrors_nb_connection': cluster.nb, 'mirrors_kubeconfig': cluster.kubeconfig,
        'mirror_repair_kubeconfig': cluster.kubeconfig, 'kubeovn_mirrors': []})
    rulebook = Rulebook(tmp_path, inventory, {
        'follow_mirrors_selectors': [{'namespace': 'default', 'label_selectors': ['app=none']}],
        'follow_mirrors_kubeconfig': cluster.kubeconfig},
        env={'PATH': cluster.bindir + os.pathsep + os.environ['PATH']})
    b1 = ip_of(cluster, 'b-1')

    def copies():
        pcap = cluster.capture_in_pod('mirror-receiver', 'net1', lambda: cluster.ping(
            'b-0', b1, count=3), seconds=4)
        return [c for c in decode_mirrored(pcap) if c['tunnel'] == 'gre' and c['key'] == 99]
    try:
        wait_until(lambda: rulebook.runs() >= 1, 120, 'the start-up converge', interval=0.5)
        wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
        assert len(copies()) == 3
        node_a = ovs_rows(cluster, NODE_A)
        old = cluster.daemon_pod('kube-ovn-cni', NODE_B)
        cluster.core.delete_namespaced_pod(old.metadata.name, 'kube-system')
        wait_until(lambda: (cluster.daemon_pod('kube-ovn-cni', NODE_B) or old).metadata.uid !=
                   old.metadata.uid, 90, 'kube-ovn-cni recreated on node B', interval=0.5)
        cluster.wait_daemonset('kube-ovn-cni')
        ready = time.monotonic()
        wait_until(lambda: re.search(r'ovs-ovn@node-b: stale \[[^]]+\], removed',
                                     rulebook.log_text()), 120, 'the rulebook\'s repair',
                   interval=0.5)
        wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
        print('node B repaired by the rulebook %.1f s after its kube-ovn-cni was ready'
              % (time.monotonic() - ready))
        log = rulebook.log_text()       # the last repair: node B's (at start, every node's)
        said = re.search(r"ovs-ovn@node-b: stale \[([^]]*)\], removed \[([^]]*)\]",
                         log.split(REPAIR_PLAY)[-1])
        assert [sorted(re.findall(r"'([^']+)'", part)) for part in said.groups()] == \
            [['ovn-b1-ingress', 'ovn-web0-egress']] * 2, said.group(0)
        assert 'ovs-ovn@node-a' not in log.split(REPAIR_PLAY)[-1], log[-3000:]
        assert ovs_rows(cluster, NODE_A) == node_a
        assert len(copies()) == 3
    finally:
        left = rulebook.stop()
    assert left == [], left

    # Found by `make soak`: a kube-ovn-cni pod that becomes ready while no rulebook runs (or
    # one killed before its repair ran) gives no `ready` event later. A rulebook started
    # afterwards checks every node at start and repairs node B.
    old = cluster.daemon_pod('kube-ovn-cni', NODE_B)
    cluster.core.delete_namespaced_pod(old.metadata.name, 'kube-system')
    wait_until(lambda: (cluster.daemon_pod('kube-ovn-cni', NODE_B) or old).metadata.uid !=
               old.metadata.uid, 90, 'kube-ovn-cni recreated on node B', interval=0.5)
    cluster.wait_daemonset('kube-ovn-cni')
    assert copies() == []           # InitMirror cleared node B's mirrors; nothing repairs them
    later = tmp_path / 'later'
    later.mkdir()
    rulebook = Rulebook(later, inventory, {
        'follow_mirrors_selectors': [{'namespace': 'default', 'label_selectors': ['app=none']}],
        'follow_mirrors_kubeconfig': cluster.kubeconfig},
        env={'PATH': cluster.bindir + os.pathsep + os.environ['PATH']})
    try:
        wait_until(lambda: re.search(r'ovs-ovn@node-b: stale \[[^]]+\], removed',
                                     rulebook.log_text()), 120, 'the repair at start',
                   interval=0.5)
        wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
        assert len(copies()) == 3
    finally:
        left = rulebook.stop()
    assert left == [], left


def test_remote_mirror_writes_an_evidence_report_with_what_the_capture_saw(cluster, tmp_path):
    """remote_mirror_evidence_dir (opt-in): JSON and Markdown naming the mirror, its pods and
    ports, the receiver, the expiry, and the capture's count of the test's pings."""
    evidence = tmp_path / 'evidence'
    variables = remote_vars(tmp_path, 'evidence', remote_mirror_expires='2h',
                            remote_mirror_evidence_dir=str(evidence),
                            remote_mirror_evidence_capture=True,
                            remote_mirror_evidence_capture_duration=8)
    b0, b1 = ip_of(cluster, 'b-0'), ip_of(cluster, 'b-1')
    wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
    cluster.ping('b-0', b1, count=1)
    run = run_with_traffic(cluster, 'playbooks/remote_mirror.yml', lambda: cluster.ping(
        'b-0', b1, count=4), var_files=[variables])
    assert run.failures == [], run.failures
    report = json.loads((evidence / 'web0-egress-evidence.json').read_text())
    mirror = report['mirror']
    assert (mirror['name'], mirror['type'], mirror['index'], mirror['filter'], mirror['sink'],
            mirror['ports']) == ('web0-egress', 'gre', 99, 'from-lport', SINK_IP,
                                 ['b-0.default'])
    assert 7000 < mirror['expires_in'] <= 7200 and mirror['expired'] is False
    # since when: recorded when the role first created the mirror, before this report
    assert report['since'] == mirror['external_ids']['kubeovn.mirror/since'] <= \
        report['generated_at'], report
    assert mirror['external_ids']['kubeovn.mirror/receiver'] == 'default/mirror-receiver'
    assert report['receiver'] == {'pod': 'default/mirror-receiver',
                                  'attachment': 'default/mirrornet', 'address': SINK_IP}
    assert report['pods'] == [{'name': 'b-0', 'namespace': 'default'}]
    icmp = [(c['src'], c['dst'], c['packets']) for c in report['capture']['conversations']
            if c['protocol'] == 'icmp']
    assert icmp == [(b0, b1, 4)], report['capture']
    assert os.path.exists(report['capture']['path'])
    summary = (evidence / 'web0-egress-evidence.md').read_text()
    for line in ('# Mirror web0-egress: evidence', '| pods | default/b-0 |',
                 '| to | %s: pod default/mirror-receiver on default/mirrornet |' % SINK_IP,
                 '| since | %s |' % report['since'], '| 4 | icmp | %s | %s |' % (b0, b1)):
        assert line in summary, summary


def kernel_refuses_gretap(cluster):
    """None when this kernel makes gretap links, else ip's message (probed in the
    privileged receiver pod)."""
    out = cluster.exec('mirror-receiver', 'sh', '-c', 'ip link add kmlprobe0 type gretap key 1 '
                       '2>&1 && ip link del kmlprobe0 && echo created', check=False)
    return None if out.endswith('created') else out


def test_receiver_link_step_runs_inside_the_real_pod_then_teardown(cluster, tmp_path):
    """The role's gretap step runs through kubectl exec in the receiver container: on a
    kernel without ip_gre its clear message comes from there; with it, the link comes up and
    carries the decapsulated copies. Then teardown.yml removes both mirrors and the receiver."""
    variables = remote_vars(tmp_path, remote_mirror_receiver_link=True)
    run = play(cluster, 'playbooks/remote_mirror.yml', var_files=[variables])
    refused = kernel_refuses_gretap(cluster)
    if refused is not None:
        step = run.result('Create the GRE/ERSPAN link inside the receiver pod')
        assert step.get('failed'), step
        assert 'this kernel cannot create gretap links' in step['msg'], step
        assert 'ip_gre' in step['msg'], step
        # It ran in the container: the module's own python there, the pod's net1 read.
        assert cluster.exec('mirror-receiver', 'ip', '-br', 'link', 'show', 'mirror1',
                            check=False) == ''
    else:
        assert run.failures == [], run.failures
        assert 'mirror1' in cluster.exec('mirror-receiver', 'ip', '-br', 'link', 'show',
                                         'mirror1')
        wait_realised(cluster, NODE_B, 'web0-egress', src=True, dst=False)
        pcap = cluster.capture_in_pod('mirror-receiver', 'mirror1', lambda: cluster.ping(
            'b-0', ip_of(cluster, 'b-1'), count=3), bpf='icmp')
        assert len(open(pcap, 'rb').read()) > 24
    for path in (remote_vars(tmp_path, 'erspan', **ERSPAN_VARS), variables):
        down = play(cluster, 'playbooks/teardown.yml', var_files=[path])
        assert down.failures == [], down.failures
    assert cluster.nbctl('--bare', '--columns=name', 'find', 'Mirror',
                         'name!=roll-egress') == ''
    assert [pod.metadata.name for pod in cluster.core.list_namespaced_pod('default').items
            if pod.metadata.name == 'mirror-receiver'] == []
    for name in ('web0-egress', 'b1-ingress'):
        assert 'ovn-' + name not in cluster.node(NODE_B).vsctl('list-ports', 'br-int').split()
