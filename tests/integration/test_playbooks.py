"""The collection's playbooks end to end: the lab's OVN/OVS daemons, the test control plane,
and a stand-in for the kubelet and Kube-OVN (lab/standin.py)."""

import os
import subprocess
import threading

import pytest
import yaml

from lab.ansible import REPO, run_collection_playbook
from lab.daemons import wait_until
from lab.ovn import MIRROR_TAP, PODS, PREFIX, SINK_IP
from lab.standin import ClusterStandIn, create_lab_pods

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')
INVENTORY = os.path.join(REPO, 'examples', 'inventory')
MARK = 'kubeovn.mirror/owner'


@pytest.fixture(scope='module')
def cluster(kube):
    from kubernetes.client.exceptions import ApiException
    try:
        kube.core.create_namespaced_service_account('default', {'metadata': {'name': 'default'}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    with ClusterStandIn(kube.kubeconfig, addresses={('default', 'mirror-receiver'): SINK_IP}):
        yield kube


def play(lab, kube, playbook, **options):
    env = {'K8S_AUTH_KUBECONFIG': kube.kubeconfig, 'OVN_NB_DB': lab.nb}
    env.update(options.pop('env', {}))
    run = run_collection_playbook(playbook, env=env, **options)
    return run


def nb_mirror(lab, name):
    out = lab.nbctl('--format=json', '--columns=name,type,index,filter,sink,external_ids',
                    'find', 'Mirror', 'name="%s"' % name)
    import json
    data = json.loads(out)['data']
    if not data:
        return None
    row = dict(zip(['name', 'type', 'index', 'filter', 'sink', 'external_ids'], data[0]))
    row['external_ids'] = dict(row['external_ids'][1])
    return row


def nb_ports(lab, name):
    uuid = lab.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name="%s"' % name)
    if not uuid:
        return []
    return sorted(lab.nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                            'mirror_rules{>=}' + uuid).split())


def test_teardown_leaves_what_it_did_not_create(lab, cluster):
    """A same-named mirror without the marker, and (remote_mirror_networks: false) a
    same-named NetworkAttachmentDefinition that was there before."""
    lab.nbctl('mirror-add', 'web0-egress', 'gre', '1', 'to-lport', SINK_IP)
    nads = cluster.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', 'default')
    nads.create({'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
                 'metadata': {'name': 'mirrornet'}, 'spec': {'config': '{}'}})
    try:
        down = play(lab, cluster, 'playbooks/teardown.yml', var_files=[REMOTE_VARS],
                    extra_vars={'remote_mirror_networks': False})
        assert down.failures == [], down.failures
        assert nb_mirror(lab, 'web0-egress')['index'] == 1
        assert 'was not created by this playbook' in down.result(
            'Leave alone a mirror this collection did not create')['msg']
        assert nads.get_or_none('mirrornet') is not None
    finally:
        if nb_mirror(lab, 'web0-egress') is not None:
            lab.nbctl('mirror-del', 'web0-egress')
        nads.api.delete_namespaced_custom_object('k8s.cni.cncf.io', 'v1', 'default',
                                                 'network-attachment-definitions', 'mirrornet')


def test_remote_mirror_refuses_a_mirror_without_ports(lab, cluster):
    run = play(lab, cluster, 'playbooks/remote_mirror.yml', var_files=[REMOTE_VARS],
               extra_vars={'remote_mirror_pods': []})
    assert run.rc != 0
    assert ('needs remote_mirror_pods, remote_mirror_pod_names or remote_mirror_ports'
            in run.failures[0][1]), run.failures
    assert cluster.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions',
                          'default').get_or_none('mirrornet') is None


def test_gitops_inventory_converges_then_noop_then_purges_only_its_own(lab, cluster, tmp_path):
    create_lab_pods(cluster.core)     # the inventory selects the lab's pods by label
    lab.nbctl('mirror-add', 'by-hand-2', 'gre', '6', 'to-lport', SINK_IP)
    first = play(lab, cluster, 'playbooks/mirrors.yml', inventory=INVENTORY)
    assert first.failures == [] and first.changed == 1, first.failures
    assert nb_ports(lab, 'db-ingress') == ['db-0.default']
    assert nb_ports(lab, 'web1-egress') == ['web-1.default']
    assert nb_mirror(lab, 'web1-egress')['external_ids'] == {MARK: 'lab-netops'}
    assert play(lab, cluster, 'playbooks/mirrors.yml', inventory=INVENTORY).changed == 0

    with open(os.path.join(INVENTORY, 'group_vars', 'kubeovn', 'mirrors.yml')) as handle:
        declared = yaml.safe_load(handle)['kubeovn_mirrors']
    fewer = [m for m in declared if m['name'] != 'db-ingress']
    run = play(lab, cluster, 'playbooks/mirrors.yml', inventory=INVENTORY,
               extra_vars={'kubeovn_mirrors': fewer})
    assert run.result('Converge the OVN Northbound mirrors to the declared list')[
        'deleted'] == ['db-ingress']
    assert nb_mirror(lab, 'db-ingress') is None and nb_mirror(lab, 'by-hand-2') is not None
    play(lab, cluster, 'playbooks/mirrors.yml', inventory=INVENTORY,
         extra_vars={'kubeovn_mirrors': []})
    assert nb_mirror(lab, 'web1-egress') is None and nb_mirror(lab, 'by-hand-2') is not None


def cni_server_args(kube):
    spec = kube.apps.read_namespaced_daemon_set('kube-ovn-cni', 'kube-system').spec
    return [c for c in spec.template.spec.containers if c.name == 'cni-server'][0].args


def test_local_mirror_all_three_ways_and_teardown(lab, cluster, cni_daemonset, tmp_path):
    kube = cluster
    for name in ('web-0', 'web-1'):
        try:
            kube.core.create_namespaced_pod('default', {
                'metadata': {'name': name, 'labels': {'app': 'web'}},
                'spec': {'automountServiceAccountToken': False,
                         'containers': [{'name': 'app', 'image': 'busybox'}]}})
        except Exception:  # noqa: BLE001 - left from an earlier test in this module
            pass
    variables = tmp_path / 'local.yml'
    variables.write_text(yaml.safe_dump({
        'local_mirror_cni': {'enable': True, 'iface': 'mirror0'},
        'local_mirror_pods': {'namespace': 'default', 'names': ['web-0']},
        'local_mirror_ovs': {'name': 'web0-local', 'bridge': 'br-int',
                             'output_port': MIRROR_TAP, 'create_output': True,
                             'pods': [{'name': 'web-0', 'namespace': 'default'}],
                             'ovs_connection': lab.ovs_db},
    }))
    first = play(lab, kube, 'playbooks/local_mirror.yml', var_files=[str(variables)])
    assert first.failures == [], first.failures
    args = cni_server_args(kube)
    assert '--enable-mirror=true' in args and '--mirror-iface=mirror0' in args
    annotations = kube.core.read_namespaced_pod('web-0', 'default').metadata.annotations
    assert annotations.get('ovn.kubernetes.io/mirror') == 'true'
    assert lab.vsctl('--bare', '--columns=name', 'find', 'Mirror', 'name=web0-local')

    # ovs_local_mirror brought up the port it created (create_output): no prepare_tap().
    lab.wait_mirror_realised('web0-local', True, True)
    lines, dummy = lab.capture_host(MIRROR_TAP, lambda: lab.ping('web-0', PODS['web-1'][2],
                                                                 count=3))
    assert len([line for line in lines if 'echo request' in line]) >= 3, lines
    assert len([line for line in lines if 'echo reply' in line]) >= 3, lines

    assert play(lab, kube, 'playbooks/local_mirror.yml',
                var_files=[str(variables)]).changed == 0

    down = play(lab, kube, 'playbooks/teardown.yml', var_files=[str(variables)],
                extra_vars={'teardown_remote': False})
    assert down.failures == [], down.failures
    assert not lab.vsctl('--bare', '--columns=name', 'find', 'Mirror', 'name=web0-local')
    annotations = kube.core.read_namespaced_pod('web-0', 'default').metadata.annotations or {}
    assert 'ovn.kubernetes.io/mirror' not in annotations
    args = cni_server_args(kube)
    assert '--enable-mirror=false' in args


@pytest.mark.parametrize('overrides,fragment', [
    (dict(remote_mirror_type='erspan', remote_mirror_index=2000),
     'index 2000 is out of range: the ERSPAN index of a erspan mirror must be within 0..1023'),
    (dict(remote_mirror_filter='both'), "filter 'both' is not accepted by this OVN Northbound"),
    (dict(remote_mirror_sink='10.9.9.9'),
     'sink 10.9.9.9 is not in the receiver subnet 172.31.0.0/24'),
    (dict(remote_mirror_pod_mtu=1480),
     'a copy of a full-size packet (pod MTU 1480 + 42 bytes of GRE encapsulation = 1522) '
     'exceeds the underlay MTU 1500'),
    (dict(remote_mirror_expires='soon'), "expires 'soon' is neither a duration"),
], ids=['erspan-index', 'filter-server', 'sink-subnet', 'mtu', 'expires'])
def test_remote_mirror_preflight_refuses_naming_the_problem_and_writes_nothing(
        lab, cluster, overrides, fragment):
    kube = cluster
    nads = kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', 'default')
    nb_before = lab.nbctl('--bare', '--columns=name', 'list', 'Mirror')
    run = play(lab, kube, 'playbooks/remote_mirror.yml', var_files=[REMOTE_VARS],
               extra_vars=overrides)
    refused = run.result('Refuse a mirror that cannot work, naming every problem')
    assert refused.get('failed') and fragment in refused['msg'], refused
    assert 'nothing changed' in refused['msg']
    assert run.changed == 0
    assert lab.nbctl('--bare', '--columns=name', 'list', 'Mirror') == nb_before
    assert nads.get_or_none('mirrornet') is None
    assert kube.custom('kubeovn.io', 'v1', 'subnets').get_or_none('mirrornet') is None


def test_remote_mirror_preflight_refuses_a_33rd_mirror_and_writes_nothing(lab, cluster):
    """OVS takes at most 32 mirrors per bridge: with 32 in the NB, a new one is refused."""
    present = lab.nbctl('--bare', '--columns=name', 'list', 'Mirror').split()
    names = ['full-%02d' % i for i in range(32 - len(present))]     # 32 in the NB
    batch = []
    for number, name in enumerate(names):
        batch += ['--', 'mirror-add', name, 'gre', str(1000 + number), 'from-lport', SINK_IP]
    lab.nbctl(*batch[1:])
    try:
        nb_before = lab.nbctl('--bare', '--columns=name', 'list', 'Mirror')
        run = play(lab, cluster, 'playbooks/remote_mirror.yml', var_files=[REMOTE_VARS])
        refused = run.result('Refuse a mirror that cannot work, naming every problem')
        assert refused.get('failed') and "mirror 'web0-egress' would make 33 mirrors: OVS " \
            "takes at most 32 per bridge" in refused['msg'], refused
        assert run.changed == 0
        assert lab.nbctl('--bare', '--columns=name', 'list', 'Mirror') == nb_before
    finally:
        lab.nbctl(*[part for name in names for part in ('--', 'mirror-del', name)][1:])


def test_capture_role_in_the_labs_receiver_namespace(lab, cluster, tmp_path):
    """playbooks/capture.yml with mirror_capture_netns: the bounded tcpdump runs in the lab's
    receiver namespace (no pod); per-mirror counts equal the pings sent in each mirrored
    direction, for GRE and ERSPAN; a mirror with nothing attached fails expect_packets."""
    mirrors = (('cap-gre', 'gre', '99', 'from-lport', 'web-0.default', True, False),
               ('cap-erspan', 'erspan', '7', 'to-lport', 'db-0.default', False, True))
    for name, kind, index, direction, port, src, dst in mirrors:
        lab.nbctl('mirror-add', name, kind, index, direction, SINK_IP)
        lab.nbctl('lsp-attach-mirror', port, name)
    lab.nbctl('mirror-add', 'cap-idle', 'gre', '42', 'from-lport', SINK_IP)
    netns = PREFIX + '-rx'
    try:
        for name, kind, index, direction, port, src, dst in mirrors:
            lab.wait_tunnel(name)
            lab.wait_mirror_realised(name, src=src, dst=dst)
        lab.ping('web-0', PODS['web-1'][2], count=1)          # neighbours and flows warm
        lab.ping('web-1', PODS['db-0'][2], count=1)

        # where the role has tcpdump write its messages (roles/mirror_capture/tasks/main.yml)
        tcpdump_log_path = '/tmp/kubeovn-mirror-capture-%s.pcap.log' % netns

        def tcpdump_log():
            try:
                with open(tcpdump_log_path) as handle:
                    return handle.read()
            except OSError:
                return ''

        def capture(expect, duration):
            if os.path.exists(tcpdump_log_path):
                os.remove(tcpdump_log_path)     # a killed run's
            outcome = {}
            thread = threading.Thread(target=lambda: outcome.update(run=play(
                lab, cluster, 'playbooks/capture.yml', extra_vars={
                    'mirror_capture_netns': netns, 'mirror_capture_interface': 'eth0',
                    'mirror_capture_duration': duration,
                    'mirror_capture_dest': str(tmp_path / 'captures'),
                    'mirror_capture_expect_packets': expect})))
            thread.start()
            try:
                # tcpdump says "listening on" (into the role's log beside the pcap) once it
                # captures; a running process alone may not be capturing yet. A play that
                # ended before (it failed) is reported as it failed.
                wait_until(lambda: 'listening on' in tcpdump_log() or not thread.is_alive(),
                           60, 'tcpdump capturing in ' + netns, interval=0.1)
                if not thread.is_alive():
                    assert outcome['run'].failures == [], outcome['run'].failures
                lab.ping('web-0', PODS['web-1'][2], count=4)
                lab.ping('web-1', PODS['db-0'][2], count=4)
            finally:
                thread.join(120)
            return outcome['run']

        run = capture(['cap-gre', 'cap-erspan'], 8)
        assert run.failures == [], run.failures
        report = run.result('Report the capture per mirror')
        assert os.path.basename(report['path']).startswith('netns-%s-eth0-' % netns)
        by_name = dict((m['name'], m) for m in report['mirrors'])
        icmp = dict((name, [(c['src'], c['dst'], c['packets']) for c in
                            by_name[name]['conversations'] if c['protocol'] == 'icmp'])
                    for name in ('cap-gre', 'cap-erspan'))
        assert icmp == {'cap-gre': [(PODS['web-0'][2], PODS['web-1'][2], 4)],
                        'cap-erspan': [(PODS['web-1'][2], PODS['db-0'][2], 4)]}, report
        assert subprocess.run(['ls', '/tmp/kubeovn-mirror-capture-%s.pcap' % netns],
                              capture_output=True, check=False).returncode != 0   # removed

        silent = capture(['cap-gre', 'cap-idle'], 3)
        failed = silent.result('Report the capture per mirror')
        assert failed.get('failed') and 'no packets from mirror cap-idle in the capture' in \
            failed['msg'], failed
    finally:
        for name in ('cap-gre', 'cap-erspan', 'cap-idle'):
            if nb_mirror(lab, name) is not None:
                lab.nbctl('mirror-del', name)


@pytest.mark.parametrize('variables,named', [
    ({'mirror_capture_netns': 'rx; touch /tmp/x'}, 'netns "rx; touch /tmp/x"'),
    ({'mirror_capture_netns': '..'}, 'netns ".."'),
    ({'mirror_capture_duration': 0}, 'duration 0'),
    ({'mirror_capture_bytes': 100}, 'bytes 100'),
    ({'mirror_capture_netns': '', 'mirror_capture_pod': '../../x'}, 'pod "../../x"'),
    ({'mirror_capture_netns': '', 'mirror_capture_namespace': 'a/b'}, 'namespace "a/b"'),
    # a boolean given as text on the command line (-e mirror_capture_read_mirrors=false)
    ({'mirror_capture_read_mirrors': 'false', 'mirror_capture_expect_packets': ['m1']},
     "expect_packets ['m1'] needs mirror_capture_read_mirrors"),
], ids=['netns-shell', 'netns-dotdot', 'duration', 'bytes', 'pod-path', 'namespace-path',
        'expect-without-read'])
def test_capture_role_refuses_bad_input_before_doing_anything(tmp_path, variables, named):
    """The role's checks run first: a bad value fails naming it, and no capture directory is
    made (the first thing the role writes)."""
    dest = tmp_path / 'captures'
    run = run_collection_playbook('playbooks/capture.yml', extra_vars=dict(
        {'mirror_capture_netns': 'rx', 'mirror_capture_dest': str(dest),
         'mirror_capture_read_mirrors': False}, **variables))
    assert run.rc != 0 and len(run.failures) == 1, run.failures
    task, message = run.failures[0]
    assert task.endswith("Check the capture's bounds") and named in message, run.failures
    assert not dest.exists()
