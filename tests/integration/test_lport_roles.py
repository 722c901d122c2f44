"""The roles with `lport` mirrors (OVN >= 25.09): remote_mirror with remote_mirror_type lport
against a real kube-apiserver (lab/kube.py) and a real OVN 26.03 Northbound, read back with
ovn-nbctl and the Kubernetes API; older Northbounds refuse it before anything is written; and
mirror_capture_report counting unencapsulated copies at the receiver's port.

There is no kubelet and no Kube-OVN controller: the test plays their part (the receiver runs
and gets its pod network address; its logical switch port is added with ovn-nbctl), as
tests/integration/test_roles_k8s.py does.

test_capture_role_counts_lport_copies_in_a_namespace needs a network namespace (the `netns`
fixture, machine-wide: `make test` runs it serially).
"""

import os
import subprocess
import threading
import time
import uuid

import pytest

from lab.ansible import run_module, run_playbook
from lab.ovn_versions import CURRENT_VERSION, HOST_VERSION, NEXT_VERSION

kube_test = pytest.mark.kube
on_26 = pytest.mark.parametrize('ovn_version', [NEXT_VERSION], indirect=True,
                                ids=['ovn' + NEXT_VERSION])

ICMP = {'priority': 300, 'match': 'icmp4', 'action': 'mirror'}
SKIP_ALL = {'priority': 200, 'match': '1', 'action': 'skip'}
UDP = {'priority': 250, 'match': 'udp', 'action': 'mirror'}


def role_task(role, variables):
    return {'name': role, 'ansible.builtin.include_role': {'name': 'kubeovn.mirror.' + role},
            'vars': variables, 'ignore_errors': True}


def run_role(kube, role, variables, workdir, check=False, diff=False):
    return run_playbook([role_task(role, variables)], workdir, check=check, diff=diff,
                        env={'K8S_AUTH_KUBECONFIG': kube.kubeconfig})


def failed(results):
    return [(r.get('action'), r.get('msg')) for r in results if r.get('failed')]


def changed(results):
    return [r.get('action') for r in results if r.get('changed')]


def play_kubelet_and_kube_ovn(kube, nb, namespace, pod, address, timeout=30):
    """In the background: once the pod exists, run it (status subresource), add its logical
    switch port `<pod>.<namespace>` to the NB and give it its pod network address, in the
    order Kube-OVN does (the port first, then the annotation)."""
    stop = threading.Event()

    def act():
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                current = kube.core.read_namespaced_pod(pod, namespace)
            except Exception:  # noqa: BLE001 - not created yet
                time.sleep(0.3)
                continue
            nb.add_ports(['%s.%s' % (pod, namespace)], switch='ovn-default')
            kube.core.patch_namespaced_pod_status(pod, namespace, {'status': {
                'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                'containerStatuses': [{'name': 'receiver', 'ready': True, 'restartCount': 0,
                                       'image': current.spec.containers[0].image,
                                       'imageID': '', 'state': {'running': {}}}]}})
            kube.core.patch_namespaced_pod(pod, namespace, {'metadata': {'annotations': {
                'ovn.kubernetes.io/ip_address': address,
                'ovn.kubernetes.io/logical_switch': 'ovn-default'}}})
            return
    thread = threading.Thread(target=act, daemon=True)
    thread.start()

    class Handle:
        def join(self):
            stop.set()
            thread.join(10)
    return Handle()


def lport_vars(nb, namespace, **extra):
    variables = {
        'remote_mirror_name': 'tap1', 'remote_mirror_type': 'lport',
        'remote_mirror_filter': 'both',
        'remote_mirror_pods': [{'name': 'web-0', 'namespace': namespace}],
        'remote_mirror_rules': [SKIP_ALL, ICMP],
        'remote_mirror_nb_connection': nb.connection,
        # a route check that would fail if it ran: lport has no routes to check
        'remote_mirror_sink_route_check': 'hosts', 'remote_mirror_node_hosts': ['no-such-node'],
        # an underlay definition that would be refused if it were used
        'underlay_network_cidr_block': 'not-a-cidr', 'remote_mirror_pod_mtu': 9000,
        'remote_mirror_attachment_namespace': namespace,
        'mirror_receiver_name': 'receiver', 'mirror_receiver_namespace': namespace,
        'mirror_receiver_wait_timeout': 20}
    variables.update(extra)
    return variables


def kube_ovn_objects(kube, namespace):
    """The networks a tunnel mirror would make: NADs in the namespace, Subnets, Vlans and
    ProviderNetworks (names)."""
    found = {}
    for plural, group, scoped in (('network-attachment-definitions', 'k8s.cni.cncf.io', True),
                                  ('subnets', 'kubeovn.io', False), ('vlans', 'kubeovn.io', False),
                                  ('provider-networks', 'kubeovn.io', False)):
        api = kube.custom(group, 'v1', plural, namespace if scoped else None)
        found[plural] = sorted(item['metadata']['name'] for item in api.list()['items'])
    return found


@kube_test
@on_26
def test_remote_mirror_lport_end_to_end_on_the_pod_network(kube, nb, namespace, tmp_path):
    nb.add_ports(['web-0.%s' % namespace], switch='ovn-default')
    networks = kube_ovn_objects(kube, namespace)

    # check mode on a first run: the receiver has no port yet, nothing is written
    before = nb.dump()
    check = run_role(kube, 'remote_mirror', lport_vars(nb, namespace), tmp_path, check=True)
    assert failed(check) == [], failed(check)
    assert nb.dump() == before and kube.core.list_namespaced_pod(namespace).items == []

    kubelet = play_kubelet_and_kube_ovn(kube, nb, namespace, 'receiver', '10.16.0.9')
    first = run_role(kube, 'remote_mirror', lport_vars(nb, namespace), tmp_path)
    kubelet.join()
    assert failed(first) == [], failed(first)
    receiver = 'receiver.%s' % namespace
    mirror = nb.mirror('tap1')
    assert (mirror['type'], mirror['sink'], mirror['filter']) == ('lport', receiver, 'both')
    assert mirror['external_ids']['kubeovn.mirror/owner'] == 'kubeovn.mirror'
    assert mirror['external_ids']['kubeovn.mirror/receiver'] == '%s/receiver' % namespace
    assert nb.mirror_rules('tap1') == [ICMP, SKIP_ALL]
    assert nb.ports_of('tap1') == ['web-0.%s' % namespace]
    # no attachment, no underlay, no gretap link, no route check
    pod = kube.core.read_namespaced_pod('receiver', namespace)
    assert 'k8s.v1.cni.cncf.io/networks' not in (pod.metadata.annotations or {})
    assert kube_ovn_objects(kube, namespace) == networks
    ran = [r.get('action') for r in first if not r.get('skipped')]
    assert 'kubeovn.mirror.gretap_receiver' not in ran and 'ansible.builtin.command' not in ran
    assert 'kubernetes.core.k8s_exec' not in ran, ran

    again = run_role(kube, 'remote_mirror', lport_vars(nb, namespace), tmp_path)
    assert failed(again) == [] and changed(again) == [], (failed(again), changed(again))

    # rules are exact: one replaced, one added; check mode first writes nothing
    new_rules = [SKIP_ALL, dict(ICMP, priority=400), UDP]
    before = nb.dump()
    planned = run_role(kube, 'remote_mirror', lport_vars(nb, namespace,
                                                         remote_mirror_rules=new_rules),
                       tmp_path, check=True, diff=True)
    assert failed(planned) == [] and 'kubeovn.mirror.ovn_mirror' in changed(planned), planned
    assert nb.dump() == before
    updated = run_role(kube, 'remote_mirror', lport_vars(nb, namespace,
                                                         remote_mirror_rules=new_rules), tmp_path)
    assert failed(updated) == [], failed(updated)
    assert nb.mirror_rules('tap1') == [dict(ICMP, priority=400), UDP, SKIP_ALL]
    # the default: no rules
    cleared = run_role(kube, 'remote_mirror', lport_vars(nb, namespace, remote_mirror_rules=[]),
                       tmp_path)
    assert failed(cleared) == [] and nb.mirror_rules('tap1') == []

    # teardown: the mirror and the receiver go; networks named as a tunnel mirror's would be
    # (someone else's here) stay
    subnet = sentinel_networks(kube, namespace)
    gone = run_role(kube, 'remote_mirror', lport_vars(
        nb, namespace, remote_mirror_state='absent', underlay_network_subnet=subnet), tmp_path)
    assert failed(gone) == [], failed(gone)
    assert nb.mirror('tap1') is None
    assert kube.core.list_namespaced_pod(namespace).items == []
    assert_sentinels_stay(kube, namespace, subnet)


def sentinel_networks(kube, namespace):
    """A NetworkAttachmentDefinition and a Subnet named as remote_mirror's tunnel networks
    would be, for a teardown to leave alone; returns the Subnet's name."""
    kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', namespace).create({
        'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
        'metadata': {'name': 'attachnet'}, 'spec': {'config': '{}'}})
    subnet = 'sub' + uuid.uuid4().hex[:6]
    kube.custom('kubeovn.io', 'v1', 'subnets').create({
        'apiVersion': 'kubeovn.io/v1', 'kind': 'Subnet', 'metadata': {'name': subnet},
        'spec': {'protocol': 'IPv4', 'cidrBlock': '172.19.0.0/16',
                 'provider': 'attachnet.%s.ovn' % namespace}})
    return subnet


def assert_sentinels_stay(kube, namespace, subnet):
    nads = kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', namespace)
    assert nads.get_or_none('attachnet') is not None, 'the teardown deleted the NAD'
    assert kube.custom('kubeovn.io', 'v1', 'subnets').get_or_none(subnet) is not None, \
        'the teardown deleted the Subnet'


@kube_test
@on_26
def test_remote_mirror_lport_sink_given_as_a_port_and_teardown_by_the_mirror_found(
        kube, nb, namespace, tmp_path):
    """remote_mirror_sink names another port as the sink; a teardown that does not say lport
    finds the mirror is one and touches no network either."""
    nb.add_ports(['web-0.%s' % namespace, 'sniffer.tools'], switch='ovn-default')
    kubelet = play_kubelet_and_kube_ovn(kube, nb, namespace, 'receiver', '10.16.0.10')
    result = run_role(kube, 'remote_mirror', lport_vars(
        nb, namespace, remote_mirror_sink='sniffer.tools', remote_mirror_rules=[]), tmp_path)
    kubelet.join()
    assert failed(result) == [], failed(result)
    assert nb.mirror('tap1')['sink'] == 'sniffer.tools' and nb.mirror_rules('tap1') == []

    subnet = sentinel_networks(kube, namespace)
    variables = lport_vars(nb, namespace, remote_mirror_state='absent',
                           underlay_network_subnet=subnet)
    del variables['remote_mirror_type']                 # the default, gre
    gone = run_role(kube, 'remote_mirror', variables, tmp_path)
    assert failed(gone) == [], failed(gone)
    assert nb.mirror('tap1') is None and kube.core.list_namespaced_pod(namespace).items == []
    assert_sentinels_stay(kube, namespace, subnet)


@kube_test
@pytest.mark.parametrize('ovn_version', [HOST_VERSION, CURRENT_VERSION], indirect=True,
                         ids=['ovn' + HOST_VERSION, 'ovn' + CURRENT_VERSION])
def test_older_servers_refuse_remote_mirror_lport_before_anything_is_written(
        kube, nb, namespace, tmp_path):
    nb.add_ports(['web-0.%s' % namespace, 'receiver.%s' % namespace])
    networks = kube_ovn_objects(kube, namespace)
    before = nb.dump()
    result = run_role(kube, 'remote_mirror', lport_vars(nb, namespace), tmp_path)
    problems = failed(result)
    assert len(problems) == 1, problems
    message = problems[0][1]
    assert message.startswith('Remote mirror tap1 refused, nothing changed:'), message
    assert "type 'lport' is not accepted" in message and 'OVN >= 25.09' in message
    assert 'rules are not supported' in message, message
    assert nb.dump() == before
    assert kube.core.list_namespaced_pod(namespace).items == []
    assert kube_ovn_objects(kube, namespace) == networks


@kube_test
@on_26
@pytest.mark.parametrize('change,fragment', [
    ({'remote_mirror_type': 'gre', 'remote_mirror_sink': '172.19.0.21',
      'underlay_network_cidr_block': '172.19.0.0/16', 'remote_mirror_pod_mtu': 1400,
      'remote_mirror_sink_route_check': 'none'}, 'rules apply only to lport mirrors'),
    ({'remote_mirror_rules': [dict(ICMP, priority=40000)]}, 'priority 40000'),
    # the role's argument spec refuses it first
    ({'remote_mirror_rules': [dict(ICMP, action='copy')]}, 'got: copy'),
], ids=['rules-on-gre', 'priority', 'action'])
def test_bad_rules_are_refused_before_anything_is_written(
        kube, nb, namespace, tmp_path, change, fragment):
    before = nb.dump()
    result = run_role(kube, 'remote_mirror', lport_vars(nb, namespace, **change), tmp_path)
    problems = failed(result)
    assert len(problems) == 1 and fragment in problems[0][1], problems
    assert nb.dump() == before and kube.core.list_namespaced_pod(namespace).items == []


@kube_test
def test_remote_mirror_gre_still_uses_the_attachment_address_index_and_no_rules(
        kube, nb, namespace, tmp_path):
    """The tunnel path the lport branches sit beside, without the networks (given as not
    ours), the link and the route check: the receiver on the attachment, its attachment
    address as the sink, the index, no rules."""
    nb.add_ports(['web-0.%s' % namespace])
    provider = 'attachnet.%s.ovn' % namespace
    stop = threading.Event()

    def kubelet_and_kube_ovn():
        while not stop.is_set():
            try:
                current = kube.core.read_namespaced_pod('receiver', namespace)
            except Exception:  # noqa: BLE001 - not created yet
                time.sleep(0.3)
                continue
            kube.core.patch_namespaced_pod_status('receiver', namespace, {'status': {
                'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                'containerStatuses': [{'name': 'receiver', 'ready': True, 'restartCount': 0,
                                       'image': current.spec.containers[0].image,
                                       'imageID': '', 'state': {'running': {}}}]}})
            kube.core.patch_namespaced_pod('receiver', namespace, {'metadata': {'annotations': {
                provider + '.kubernetes.io/ip_address': '172.19.0.21'}}})
            return
    thread = threading.Thread(target=kubelet_and_kube_ovn, daemon=True)
    thread.start()
    variables = lport_vars(nb, namespace, remote_mirror_type='gre', remote_mirror_index=99,
                           remote_mirror_filter='from-lport', remote_mirror_rules=[],
                           remote_mirror_networks=False, remote_mirror_receiver_link=False,
                           remote_mirror_sink_route_check='none', remote_mirror_pod_mtu=1400)
    result = run_role(kube, 'remote_mirror', variables, tmp_path)
    stop.set()
    thread.join(10)
    assert failed(result) == [], failed(result)
    mirror = nb.mirror('tap1')
    assert (mirror['type'], mirror['index'], mirror['sink'], mirror['filter']) == (
        'gre', 99, '172.19.0.21', 'from-lport')
    assert nb.ports_of('tap1') == ['web-0.%s' % namespace]
    pod = kube.core.read_namespaced_pod('receiver', namespace)
    assert pod.metadata.annotations['k8s.v1.cni.cncf.io/networks'] == '%s/attachnet' % namespace


# ---- mirror_capture_report: lport copies per receiver port ---------------------------------

def write_lport_pcap(path):
    from scapy.layers.inet import GRE, ICMP as ICMPLayer, IP, UDP as UDPLayer
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    copies = [Ether() / IP(src='10.16.0.10', dst='10.16.0.11') / ICMPLayer()] * 3 + \
        [Ether() / IP(src='10.16.0.10', dst='10.16.0.12') / UDPLayer(dport=4369)] * 2
    gre = Ether() / IP(src='172.19.0.2', dst='10.16.0.9') / \
        GRE(key_present=1, key=99, proto=0x6558) / copies[0]
    wrpcap(path, copies + [gre])


def test_capture_report_counts_lport_copies_at_the_receiver_port(tmp_path):
    """The module as a task: the mirrors as ovn_mirror_info returns them (an lport mirror's
    index is 0, its rules listed), two lport mirrors sharing the port reported together."""
    pytest.importorskip('scapy')
    path = str(tmp_path / 'rx.pcap')
    write_lport_pcap(path)
    mirrors = [dict(name='tap1', type='lport', index=0, filter='both', sink='receiver.shop',
                    rules=[ICMP], ports=['web-0.shop'], external_ids={}),
               dict(name='tap2', type='lport', index=0, filter='to-lport', sink='receiver.shop',
                    rules=[], ports=[], external_ids={}),
               dict(name='g', type='gre', index=99, filter='from-lport', sink='10.16.0.9',
                    ports=[], external_ids={})]
    result = run_module('kubeovn.mirror.mirror_capture_report', dict(
        path=path, mirrors=mirrors, port='receiver.shop', expect_packets=['tap1', 'g']),
        tmp_path)
    assert not result.get('failed'), result
    by_name = dict((m['name'], m) for m in result['mirrors'])
    assert set(by_name) == {'tap1+tap2', 'g'}, result['mirrors']
    shared = by_name['tap1+tap2']
    assert (shared['type'], shared['port'], shared['names'], shared['packets']) == (
        'lport', 'receiver.shop', ['tap1', 'tap2'], 5)
    assert by_name['g']['packets'] == 1 and result['other_packets'] == 0

    without_port = run_module('kubeovn.mirror.mirror_capture_report', dict(
        path=path, mirrors=mirrors, expect_packets=['tap1']), tmp_path)
    assert without_port.get('failed') and 'no packets from mirror tap1' in without_port['msg']
    assert 'sink receiver.shop' in without_port['msg'], without_port['msg']


# ---- the capture role on lport copies (machine-wide: a network namespace) -------------------

@pytest.fixture
def netns():
    """A network namespace with a veth: `eth0` inside (the receiver's port), its peer
    outside to send the copies from."""
    name = 'kml-lp-' + uuid.uuid4().hex[:6]
    peer = 'kmlp' + uuid.uuid4().hex[:6]
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        subprocess.run(['ip', 'link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0',
                        'netns', name], check=True)
        # no IPv6 (its neighbour discovery and MLD would reach eth0 too)
        subprocess.run(['ip', 'netns', 'exec', name, 'sysctl', '-qw',
                        'net.ipv6.conf.eth0.disable_ipv6=1'], check=True)
        subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % peer], check=True)
        subprocess.run(['ip', '-n', name, 'link', 'set', 'eth0', 'up'], check=True)
        subprocess.run(['ip', 'link', 'set', peer, 'up'], check=True)
        yield name, peer
    finally:
        subprocess.run(['ip', 'link', 'del', peer], check=False)
        subprocess.run(['ip', 'netns', 'del', name], check=False)


@on_26
def test_capture_role_counts_lport_copies_in_a_namespace(nb, netns, tmp_path):
    """mirror_capture with a receiver namespace whose port is an lport mirror's sink: auto
    finds the lport mirror in the NB, captures unencapsulated frames on eth0 (inbound only)
    and reports them for that mirror."""
    from scapy.layers.inet import ICMP as ICMPLayer, IP
    from scapy.layers.l2 import Ether
    from scapy.sendrecv import sendp
    name, peer = netns
    nb.add_ports(['rx.tools', 'web-0.shop'])
    made = nb.run('ovn_mirror', dict(name='tap1', type='lport', filter='both', sink='rx.tools'))
    assert made['changed'] is True, made
    log = '/tmp/kubeovn-mirror-capture-%s.pcap.log' % name
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(results=run_playbook([
        role_task('mirror_capture', {
            'mirror_capture_netns': name, 'mirror_capture_port': 'rx.tools',
            'mirror_capture_duration': 6, 'mirror_capture_dest': str(tmp_path / 'captures'),
            'mirror_capture_expect_packets': ['tap1']})],
        tmp_path, play={'module_defaults': {'group/kubeovn.mirror.ovn': {
            'nb_connection': nb.connection}}})))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while thread.is_alive() and time.monotonic() < deadline:
            if os.path.exists(log) and 'listening on' in open(log).read():
                break
            time.sleep(0.1)
        frame = Ether(src='0a:00:00:00:00:10', dst='0a:00:00:00:00:11') / \
            IP(src='10.16.0.10', dst='10.16.0.11') / ICMPLayer()
        sendp([frame] * 4, iface=peer, verbose=False)
    finally:
        thread.join(120)
    results = outcome['results']
    assert failed(results) == [], failed(results)
    report = [r for r in results if r.get('action') == 'kubeovn.mirror.mirror_capture_report'][0]
    lport = [m for m in report['mirrors'] if m['type'] == 'lport']
    assert [(m['name'], m['port']) for m in lport] == [('tap1', 'rx.tools')], report
    assert dict(src='10.16.0.10', dst='10.16.0.11', protocol='icmp', packets=4,
                bytes=4 * 42) in lport[0]['conversations'], lport
    assert os.path.basename(report['path']).startswith('netns-%s-eth0-' % name)
