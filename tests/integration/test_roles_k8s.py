"""The Kubernetes-side roles against a real kube-apiserver + etcd (lab/kube.py).

There is no kubelet and no Kube-OVN controller: where a role waits for them, the test plays
their part explicitly in a bounded background thread (pod status via the status
subresource, the attachment address annotation, ProviderNetwork/Subnet status).
"""

import glob
import shutil
import os
import tempfile
import threading
import time
import uuid

import pytest

from lab.ansible import run_playbook

pytestmark = pytest.mark.kube


def role_task(role, variables, **keywords):
    body = {'name': role, 'ansible.builtin.include_role': {'name': 'kubeovn.mirror.' + role},
            'vars': variables, 'ignore_errors': True}
    body.update(keywords)
    return body


def run_role(kube, role, variables, workdir, check=False, kubeconfig=None):
    env = {'K8S_AUTH_KUBECONFIG': kubeconfig or kube.kubeconfig}
    return run_playbook([role_task(role, variables)], workdir, check=check, env=env)


def changed_count(results):
    return sum(1 for result in results if result.get('changed'))


def failed(results):
    return [result for result in results if result.get('failed')]


def messages(results):
    """The failure messages of a run, for assertion output."""
    return [(result.get('action'), result.get('msg')) for result in failed(results)]


def in_background(action, timeout=60):
    """Run `action()` until it returns True (bounded), in a thread; join() it afterwards."""
    stop = threading.Event()

    def loop():
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if action():
                    return
            except Exception:  # noqa: BLE001 - the object may not exist yet
                pass
            time.sleep(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    class Handle:
        def join(self):
            stop.set()
            thread.join(10)
    return Handle()


# ---- attachment_network -------------------------------------------------------------------

def test_attachment_network_create_noop_check_update(kube, namespace, tmp_path):
    nads = kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', namespace)
    variables = {'attachment_network_name': 'attachnet', 'attachment_network_namespace': namespace}

    check = run_role(kube, 'attachment_network', variables, tmp_path, check=True)
    assert not failed(check), messages(check)
    assert nads.list()['items'] == [], 'check mode created the NAD'

    first = run_role(kube, 'attachment_network', variables, tmp_path)
    assert not failed(first) and changed_count(first) >= 1, messages(first)
    nad = nads.get('attachnet')
    import json
    assert json.loads(nad['spec']['config']) == {
        'cniVersion': '0.3.1', 'type': 'kube-ovn',
        'server_socket': '/run/openvswitch/kube-ovn-daemon.sock',
        'provider': 'attachnet.%s.ovn' % namespace}

    second = run_role(kube, 'attachment_network', variables, tmp_path)
    assert not failed(second) and changed_count(second) == 0, messages(second)

    updated = run_role(kube, 'attachment_network',
                       dict(variables, attachment_network_server_socket='/run/other.sock'),
                       tmp_path)
    assert changed_count(updated) >= 1
    after = nads.get('attachnet')
    assert json.loads(after['spec']['config'])['server_socket'] == '/run/other.sock'
    assert after['metadata']['uid'] == nad['metadata']['uid'], 'updated in place'


def test_attachment_network_fails_clearly_without_multus(kube, namespace, tmp_path):
    """A cluster without the NAD CRD: the role names Multus and writes nothing."""
    ext = __import__('kubernetes').client.ApiextensionsV1Api(kube.api)
    crd = ext.read_custom_resource_definition('network-attachment-definitions.k8s.cni.cncf.io')
    ext.delete_custom_resource_definition(crd.metadata.name)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ext.read_custom_resource_definition(crd.metadata.name)
                time.sleep(0.2)
            except Exception:  # noqa: BLE001 - 404 once it is gone
                break
        # kubernetes.core caches API discovery client-side; a client that never saw the
        # kind (Multus never installed) has no such cache.
        for cached in glob.glob(os.path.join(tempfile.gettempdir(), 'k8srcp-*.json')):
            os.remove(cached)
        result = run_role(kube, 'attachment_network',
                          {'attachment_network_namespace': namespace}, tmp_path)
        assert failed(result), result
        assert 'Multus is not installed' in failed(result)[0]['msg']
    finally:
        kube.plane.kubectl_apply(__import__('lab.kube', fromlist=['CRDS']).CRDS)


# ---- underlay_network ---------------------------------------------------------------------

UNDERLAY = {'underlay_network_provider_network': 'net1', 'underlay_network_default_interface': 'eth1',
            'underlay_network_vlan': 'vlan1', 'underlay_network_vlan_id': 0,
            'underlay_network_subnet': 'attachnet', 'underlay_network_cidr_block': '172.19.0.0/16',
            'underlay_network_gateway': '172.19.0.1',
            'underlay_network_exclude_ips': ['172.19.0.2..172.19.0.20'],
            'underlay_network_provider': 'attachnet.default.ovn', 'underlay_network_wait_timeout': 30}


def play_kube_ovn_for_underlay(kube, pn_name, subnet_name):
    """What Kube-OVN's controller would do: mark the ProviderNetwork and Subnet ready."""
    pns = kube.custom('kubeovn.io', 'v1', 'provider-networks')
    subnets = kube.custom('kubeovn.io', 'v1', 'subnets')

    def mark_ready():
        if pns.get_or_none(pn_name) is None or subnets.get_or_none(subnet_name) is None:
            return False
        pns.patch_status(pn_name, {'ready': True, 'readyNodes': ['node-1']})
        subnets.patch_status(subnet_name, {'conditions': [
            {'type': 'Ready', 'status': 'True', 'reason': 'ResourceReady'}]})
        return True
    return in_background(mark_ready)


def underlay_names(suffix):
    return dict(UNDERLAY, underlay_network_provider_network='pn' + suffix,
                underlay_network_vlan='vlan' + suffix, underlay_network_subnet='sub' + suffix)


def test_underlay_network_create_waits_noop_check_update(kube, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    variables = underlay_names(suffix)
    pns = kube.custom('kubeovn.io', 'v1', 'provider-networks')
    vlans = kube.custom('kubeovn.io', 'v1', 'vlans')
    subnets = kube.custom('kubeovn.io', 'v1', 'subnets')

    check = run_role(kube, 'underlay_network', variables, tmp_path, check=True)
    assert not failed(check), messages(check)
    assert pns.get_or_none('pn' + suffix) is None, 'check mode wrote'

    controller = play_kube_ovn_for_underlay(kube, 'pn' + suffix, 'sub' + suffix)
    first = run_role(kube, 'underlay_network', variables, tmp_path)
    controller.join()
    assert not failed(first), messages(first)
    assert pns.get('pn' + suffix)['spec'] == {'defaultInterface': 'eth1'}
    assert vlans.get('vlan' + suffix)['spec'] == {'id': 0, 'provider': 'pn' + suffix}
    subnet = subnets.get('sub' + suffix)
    assert subnet['spec'] == {'protocol': 'IPv4', 'cidrBlock': '172.19.0.0/16',
                              'gateway': '172.19.0.1', 'excludeIps': ['172.19.0.2..172.19.0.20'],
                              'vlan': 'vlan' + suffix, 'provider': 'attachnet.default.ovn'}

    again = run_role(kube, 'underlay_network', variables, tmp_path)
    assert not failed(again) and changed_count(again) == 0, messages(again)

    updated = run_role(kube, 'underlay_network',
                       dict(variables, underlay_network_vlan_id=100), tmp_path)
    assert not failed(updated) and changed_count(updated) >= 1
    assert vlans.get('vlan' + suffix)['spec']['id'] == 100
    assert vlans.get('vlan' + suffix)['metadata']['uid'] == \
        vlans.get('vlan' + suffix)['metadata']['uid']


def test_underlay_network_not_ready_names_the_object(kube, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    result = run_role(kube, 'underlay_network',
                      dict(underlay_names(suffix), underlay_network_wait_timeout=4), tmp_path)
    assert failed(result), result
    assert 'ProviderNetwork pn%s is not ready' % suffix in failed(result)[-1]['msg']


@pytest.mark.parametrize('change,fragment', [
    ({'underlay_network_provider': 'other.default.ovn',
      'underlay_network_attachment_provider': 'attachnet.default.ovn'}, 'other.default.ovn'),
    ({'underlay_network_gateway': '10.0.0.1'}, '10.0.0.1'),
    ({'underlay_network_vlan_id': 4096}, '4096'),
    ({'underlay_network_exclude_ips': ['172.19.0.9..172.19.0.2']}, '172.19.0.9..172.19.0.2'),
], ids=['provider-mismatch', 'gateway-outside-cidr', 'vlan-4096', 'bad-range'])
def test_underlay_network_bad_input_writes_nothing(kube, tmp_path, change, fragment):
    suffix = uuid.uuid4().hex[:6]
    result = run_role(kube, 'underlay_network', dict(underlay_names(suffix), **change), tmp_path)
    assert failed(result), result
    assert fragment in failed(result)[0]['msg'], failed(result)[0]['msg']
    assert kube.custom('kubeovn.io', 'v1', 'provider-networks').get_or_none('pn' + suffix) is None
    assert kube.custom('kubeovn.io', 'v1', 'vlans').get_or_none('vlan' + suffix) is None


# ---- mirror_receiver ----------------------------------------------------------------------

def play_kubelet_and_kube_ovn(kube, namespace, pod, provider, address, annotate=True,
                              ip_cr=False):
    """Run the pod (status subresource) and give it its attachment address, as the kubelet
    and Kube-OVN would."""
    def act():
        current = kube.core.read_namespaced_pod(pod, namespace)
        kube.core.patch_namespaced_pod_status(pod, namespace, {'status': {
            'phase': 'Running',
            'conditions': [{'type': 'Ready', 'status': 'True'}],
            'containerStatuses': [{'name': 'receiver', 'ready': True, 'restartCount': 0,
                                   'image': current.spec.containers[0].image, 'imageID': '',
                                   'state': {'running': {}}}]}})
        if annotate:
            kube.core.patch_namespaced_pod(pod, namespace, {'metadata': {'annotations': {
                provider + '.kubernetes.io/ip_address': address}}})
        if ip_cr:
            kube.custom('kubeovn.io', 'v1', 'ips').create({
                'apiVersion': 'kubeovn.io/v1', 'kind': 'IP',
                'metadata': {'name': '%s.%s.%s' % (pod, namespace, provider)},
                'spec': {'podName': pod, 'namespace': namespace, 'subnet': 'attachnet',
                         'v4IpAddress': address, 'ipAddress': address}})
        return True
    return in_background(act)


def receiver_vars(namespace, **extra):
    variables = {'mirror_receiver_name': 'receiver', 'mirror_receiver_namespace': namespace,
                 'mirror_receiver_wait_timeout': 20}
    variables.update(extra)
    return variables


def test_mirror_receiver_create_wait_fact_noop(kube, namespace, tmp_path):
    provider = 'attachnet.%s.ovn' % namespace
    check = run_role(kube, 'mirror_receiver', receiver_vars(namespace), tmp_path, check=True)
    assert not failed(check), messages(check)
    assert kube.core.list_namespaced_pod(namespace).items == []

    kubelet = play_kubelet_and_kube_ovn(kube, namespace, 'receiver', provider, '172.19.0.21')
    results = run_playbook([role_task('mirror_receiver', receiver_vars(namespace)),
                            {'name': 'show', 'ansible.builtin.debug': {'var': 'mirror_receiver_ip'}}],
                           tmp_path, env={'K8S_AUTH_KUBECONFIG': kube.kubeconfig})
    kubelet.join()
    assert not failed(results), messages(results)
    assert results[-1]['mirror_receiver_ip'] == '172.19.0.21'
    pod = kube.core.read_namespaced_pod('receiver', namespace)
    assert pod.metadata.annotations['k8s.v1.cni.cncf.io/networks'] == '%s/attachnet' % namespace
    assert pod.spec.containers[0].security_context.privileged is True
    assert pod.spec.containers[0].image == 'docker.io/kubeovn/kube-ovn:v1.12.13'

    again = run_role(kube, 'mirror_receiver', receiver_vars(namespace), tmp_path)
    assert not failed(again) and changed_count(again) == 0, messages(again)

    newer = 'docker.io/kubeovn/kube-ovn:v1.12.14'
    updated = run_role(kube, 'mirror_receiver',
                       receiver_vars(namespace, mirror_receiver_image=newer), tmp_path)
    assert not failed(updated) and changed_count(updated) >= 1, messages(updated)
    after = kube.core.read_namespaced_pod('receiver', namespace)
    assert after.spec.containers[0].image == newer
    assert after.metadata.uid == pod.metadata.uid, 'updated in place'


def test_mirror_receiver_falls_back_to_the_ip_resource(kube, namespace, tmp_path):
    provider = 'attachnet.%s.ovn' % namespace
    kubelet = play_kubelet_and_kube_ovn(kube, namespace, 'receiver', provider, '172.19.0.22',
                                        annotate=False, ip_cr=True)
    results = run_playbook([role_task('mirror_receiver', receiver_vars(
        namespace, mirror_receiver_wait_timeout=4)),
        {'name': 'show', 'ansible.builtin.debug': {'var': 'mirror_receiver_ip'}}],
        tmp_path, env={'K8S_AUTH_KUBECONFIG': kube.kubeconfig})
    kubelet.join()
    assert results[-1]['mirror_receiver_ip'] == '172.19.0.22', results


# ---- cni_mirror ---------------------------------------------------------------------------

from conftest import CNI_ARGS, HELM_CNI_ARGS  # noqa: E402


def cni_args(kube):
    ds = kube.apps.read_namespaced_daemon_set('kube-ovn-cni', 'kube-system')
    return ds, [c for c in ds.spec.template.spec.containers if c.name == 'cni-server'][0].args


def test_cni_mirror_changes_only_the_two_flags(kube, cni_daemonset, tmp_path):
    before = cni_args(kube)[0]
    check = run_role(kube, 'cni_mirror', {}, tmp_path, check=True)
    assert not failed(check), messages(check)
    assert cni_args(kube)[1] == CNI_ARGS and cni_args(kube)[0].metadata.generation == \
        before.metadata.generation

    # No DaemonSet controller here: the repair after a rollout (which waits for it) is
    # covered on the two-node cluster (test_cluster.py, and make demo).
    first = run_role(kube, 'cni_mirror', {'cni_mirror_repair': False}, tmp_path)
    assert not failed(first) and changed_count(first) >= 1, messages(first)
    after, args = cni_args(kube)
    assert args == ['--enable-mirror=true'] + CNI_ARGS[1:] + ['--mirror-iface=mirror0']
    assert [c.name for c in after.spec.template.spec.init_containers] == \
        ['hostpath-init', 'install-cni']
    assert after.spec.template.spec.init_containers[1].command == \
        before.spec.template.spec.init_containers[1].command

    again = run_role(kube, 'cni_mirror', {}, tmp_path)
    assert not failed(again) and changed_count(again) == 0, messages(again)
    assert cni_args(kube)[0].metadata.generation == after.metadata.generation, 'no rollout'

    off = run_role(kube, 'cni_mirror', {'cni_mirror_enable': False, 'cni_mirror_repair': False,
                                        'cni_mirror_iface': 'eth9'}, tmp_path)
    assert changed_count(off) >= 1
    assert cni_args(kube)[1][0] == '--enable-mirror=false'
    assert cni_args(kube)[1][-1] == '--mirror-iface=eth9'


def test_cni_mirror_missing_daemonset_and_bad_iface(kube, cni_daemonset, tmp_path):
    missing = run_role(kube, 'cni_mirror', {'cni_mirror_daemonset': 'nope'}, tmp_path)
    assert failed(missing) and 'kube-system/nope not found' in failed(missing)[0]['msg']
    bad = run_role(kube, 'cni_mirror', {'cni_mirror_iface': 'way-too-long-ifname'}, tmp_path)
    assert failed(bad) and 'way-too-long-ifname' in failed(bad)[0]['msg'], bad
    assert cni_args(kube)[1] == CNI_ARGS


# ---- pod_mirror ---------------------------------------------------------------------------

def make_pod(kube, namespace, name, labels=None):
    kube.core.create_namespaced_pod(namespace, {
        'metadata': {'name': name, 'labels': labels or {}},
        'spec': {'containers': [{'name': 'c', 'image': 'busybox'}],
                 'automountServiceAccountToken': False}})


def annotation(kube, namespace, name, key='ovn.kubernetes.io/mirror'):
    return (kube.core.read_namespaced_pod(name, namespace).metadata.annotations or {}).get(key)


def test_pod_mirror_by_name_and_selector(kube, namespace, tmp_path):
    make_pod(kube, namespace, 'web-0', {'app': 'web'})
    make_pod(kube, namespace, 'web-1', {'app': 'web'})
    make_pod(kube, namespace, 'db-0', {'app': 'db'})
    variables = {'pod_mirror_namespace': namespace, 'pod_mirror_names': ['db-0'],
                 'pod_mirror_label_selectors': ['app=web']}

    check = run_role(kube, 'pod_mirror', variables, tmp_path, check=True)
    assert not failed(check), messages(check)
    assert annotation(kube, namespace, 'web-0') is None

    first = run_role(kube, 'pod_mirror', variables, tmp_path)
    assert not failed(first), messages(first)
    assert [annotation(kube, namespace, p) for p in ('web-0', 'web-1', 'db-0')] == ['true'] * 3
    again = run_role(kube, 'pod_mirror', variables, tmp_path)
    assert changed_count(again) == 0, again

    off = run_role(kube, 'pod_mirror', dict(variables, pod_mirror_enabled=False,
                                            pod_mirror_names=[]), tmp_path)
    assert not failed(off)
    assert [annotation(kube, namespace, p) for p in ('web-0', 'web-1', 'db-0')] == \
        [None, None, 'true']


def test_pod_mirror_missing_pod_and_empty_selection(kube, namespace, tmp_path):
    make_pod(kube, namespace, 'web-0')
    missing = run_role(kube, 'pod_mirror', {'pod_mirror_namespace': namespace,
                                            'pod_mirror_names': ['web-0', 'ghost']}, tmp_path)
    assert failed(missing) and 'ghost' in failed(missing)[0]['msg']
    assert annotation(kube, namespace, 'web-0') is None
    empty = run_role(kube, 'pod_mirror', {'pod_mirror_namespace': namespace}, tmp_path)
    assert failed(empty)


def test_mirror_receiver_link_step_goes_through_kubectl_exec(kube, namespace, tmp_path):
    """With mirror_receiver_link set, the role runs gretap_receiver inside the receiver over
    the kubernetes.core.kubectl connection. There is no kubelet here, so `kubectl exec` cannot
    reach a container and Ansible reports that step unreachable: this shows the step is wired
    and attempted, not that the link works (that needs a real node with ip_gre; the module
    itself is tested in test_gretap_receiver.py)."""
    if shutil.which('kubectl') is None:
        pytest.skip('no kubectl on this machine')
    provider = 'attachnet.%s.ovn' % namespace
    kubelet = play_kubelet_and_kube_ovn(kube, namespace, 'receiver', provider, '172.19.0.21')
    results = run_role(kube, 'mirror_receiver', receiver_vars(
        namespace, mirror_receiver_link={'name': 'mirror1', 'key': 99}), tmp_path)
    kubelet.join()
    link_steps = [r for r in results if r.get('action') == 'kubeovn.mirror.gretap_receiver']
    assert len(link_steps) == 1, results
    assert link_steps[0].get('unreachable') is True, link_steps


def test_cni_mirror_waits_for_the_rollout_and_gives_up_in_time(kube, cni_daemonset, tmp_path):
    """No DaemonSet controller here: the test plays it, reporting the new generation rolled
    out; without it the bounded wait fails."""
    def roll_out():
        ds = kube.apps.read_namespaced_daemon_set('kube-ovn-cni', 'kube-system')
        if ds.metadata.generation < 2:
            return False
        kube.apps.patch_namespaced_daemon_set_status('kube-ovn-cni', 'kube-system', {'status': {
            'observedGeneration': ds.metadata.generation, 'desiredNumberScheduled': 1,
            'currentNumberScheduled': 1, 'updatedNumberScheduled': 1, 'numberReady': 1,
            'numberAvailable': 1, 'numberMisscheduled': 0}})
        return True
    controller = in_background(roll_out)
    waited = run_role(kube, 'cni_mirror', {'cni_mirror_wait': True,
                                           'cni_mirror_wait_timeout': 20}, tmp_path)
    controller.join()
    assert not failed(waited), messages(waited)

    stuck = run_role(kube, 'cni_mirror', {'cni_mirror_wait': True, 'cni_mirror_wait_timeout': 3,
                                          'cni_mirror_iface': 'eth7'}, tmp_path)
    assert failed(stuck), stuck
    assert cni_args(kube)[1][-1] == '--mirror-iface=eth7', 'the patch itself was applied'


def test_underlay_network_subnet_not_ready_names_the_subnet(kube, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    pns = kube.custom('kubeovn.io', 'v1', 'provider-networks')

    def provider_network_ready():
        if pns.get_or_none('pn' + suffix) is None:
            return False
        pns.patch_status('pn' + suffix, {'ready': True})
        return True
    controller = in_background(provider_network_ready)
    result = run_role(kube, 'underlay_network',
                      dict(underlay_names(suffix), underlay_network_wait_timeout=4), tmp_path)
    controller.join()
    assert failed(result), result
    assert 'Subnet sub%s is not ready' % suffix in failed(result)[-1]['msg'], messages(result)


# ---- upstream facts: names, gateway check, teardown order, Helm ----------------------------

def _underlay_absent(kube, pn, vlan, subnet):
    return (kube.custom('kubeovn.io', 'v1', 'provider-networks').get_or_none(pn) is None
            and kube.custom('kubeovn.io', 'v1', 'vlans').get_or_none(vlan) is None
            and kube.custom('kubeovn.io', 'v1', 'subnets').get_or_none(subnet) is None)


def test_upstream_subnet_schema_refuses_a_leading_digit(kube):
    """The fixture CRDs hold Kube-OVN v1.14's rules: the API itself refuses these names."""
    from kubernetes.client.exceptions import ApiException
    subnets = kube.custom('kubeovn.io', 'v1', 'subnets')
    with pytest.raises(ApiException) as refused:
        subnets.create({'apiVersion': 'kubeovn.io/v1', 'kind': 'Subnet',
                        'metadata': {'name': '1mirror'},
                        'spec': {'protocol': 'IPv4', 'cidrBlock': '172.30.0.0/24'}})
    assert refused.value.status == 422
    pns = kube.custom('kubeovn.io', 'v1', 'provider-networks')
    for name, spec in (('int', {'defaultInterface': 'eth1'}),
                       ('pn-much-too-long', {'defaultInterface': 'eth1'}),
                       ('pnok', {'defaultInterface': 'eth 1'}),
                       ('pnok', {})):
        with pytest.raises(ApiException) as refused:
            pns.create({'apiVersion': 'kubeovn.io/v1', 'kind': 'ProviderNetwork',
                        'metadata': {'name': name}, 'spec': spec})
        assert refused.value.status == 422, (name, spec)


@pytest.mark.parametrize('change,fragment', [
    ({'underlay_network_subnet': '1mirror{s}'}, "'1mirror{s}' must not start with a digit"),
    ({'underlay_network_subnet': 'Mirror{s}'}, "'Mirror{s}' is not a valid Kubernetes name"),
    ({'underlay_network_vlan': 'vlan_{s}'}, "'vlan_{s}' is not a valid Kubernetes name"),
    ({'underlay_network_subnet': 's' * 254}, 'is not a valid Kubernetes name'),
    ({'underlay_network_provider_network': 'int'}, "'int' is reserved by Kube-OVN"),
    ({'underlay_network_provider_network': 'pn-too-long-{s}'}, 'must have 1 to 12 characters'),
    ({'underlay_network_default_interface': 'eth 1'}, "'eth 1' is not a valid interface name"),
], ids=['subnet-digit', 'subnet-uppercase', 'vlan-underscore', 'subnet-too-long',
        'pn-int', 'pn-too-long', 'iface-space'])
def test_underlay_network_refused_names_write_nothing(kube, tmp_path, change, fragment):
    suffix = uuid.uuid4().hex[:6]
    variables = underlay_names(suffix)
    variables.update({key: value.format(s=suffix) for key, value in change.items()})
    result = run_role(kube, 'underlay_network', variables, tmp_path)
    assert failed(result), result
    message = failed(result)[0]['msg']
    assert 'nothing written' in message and fragment.format(s=suffix) in message, message
    assert _underlay_absent(kube, variables['underlay_network_provider_network'],
                            variables['underlay_network_vlan'],
                            variables['underlay_network_subnet'])


@pytest.fixture
def stricter_subnet_schema(kube):
    """A Kube-OVN whose Subnet schema refuses more than the role's pre-flight knows of (here:
    names over 8 characters), as a newer release or a webhook might; restored afterwards."""
    from kubernetes import client
    ext = client.ApiextensionsV1Api(kube.api)
    path = '/spec/versions/0/schema/openAPIV3Schema/properties/metadata/properties/name/maxLength'
    ext.patch_custom_resource_definition('subnets.kubeovn.io', [
        {'op': 'add', 'path': path, 'value': 8}])
    time.sleep(2)  # the apiserver swaps in the new schema asynchronously
    try:
        yield
    finally:
        ext.patch_custom_resource_definition('subnets.kubeovn.io', [
            {'op': 'remove', 'path': path}])
        time.sleep(2)


def test_underlay_network_api_refusal_leaves_nothing_behind(kube, tmp_path,
                                                            stricter_subnet_schema):
    suffix = uuid.uuid4().hex[:6]
    variables = dict(underlay_names(suffix), underlay_network_subnet='subnet-' + suffix)
    result = run_role(kube, 'underlay_network', variables, tmp_path)
    assert failed(result), result
    assert 'refused by the API, nothing left behind' in failed(result)[-1]['msg']
    assert 'subnet-' + suffix in failed(result)[-1]['msg']
    assert _underlay_absent(kube, 'pn' + suffix, 'vlan' + suffix, 'subnet-' + suffix)


def test_underlay_network_keeps_existing_objects_when_the_api_refuses(kube, tmp_path,
                                                                      stricter_subnet_schema):
    """Only what this run created is removed: a ProviderNetwork that was there stays."""
    suffix = uuid.uuid4().hex[:6]
    pns = kube.custom('kubeovn.io', 'v1', 'provider-networks')
    pns.create({'apiVersion': 'kubeovn.io/v1', 'kind': 'ProviderNetwork',
                'metadata': {'name': 'pn' + suffix}, 'spec': {'defaultInterface': 'eth1'}})
    variables = dict(underlay_names(suffix), underlay_network_subnet='subnet-' + suffix)
    result = run_role(kube, 'underlay_network', variables, tmp_path)
    assert failed(result), result
    assert pns.get_or_none('pn' + suffix) is not None
    assert kube.custom('kubeovn.io', 'v1', 'vlans').get_or_none('vlan' + suffix) is None


def test_underlay_network_gateway_check_switches(kube, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    variables = dict(underlay_names(suffix), underlay_network_disable_gateway_check=True,
                     underlay_network_logical_gateway=False,
                     underlay_network_u2o_interconnection=False)
    controller = play_kube_ovn_for_underlay(kube, 'pn' + suffix, 'sub' + suffix)
    first = run_role(kube, 'underlay_network', variables, tmp_path)
    controller.join()
    assert not failed(first), messages(first)
    spec = kube.custom('kubeovn.io', 'v1', 'subnets').get('sub' + suffix)['spec']
    assert spec['disableGatewayCheck'] is True
    assert spec['logicalGateway'] is False and spec['u2oInterconnection'] is False
    again = run_role(kube, 'underlay_network', variables, tmp_path)
    assert not failed(again) and changed_count(again) == 0, messages(again)


def _receiver_with_address(kube, namespace, provider, address):
    """A receiver pod and the IP resource Kube-OVN would have allocated for it."""
    kube.core.create_namespaced_pod(namespace, {
        'metadata': {'name': 'receiver', 'annotations': {
            'k8s.v1.cni.cncf.io/networks': '%s/attachnet' % namespace}},
        'spec': {'automountServiceAccountToken': False,
                 'containers': [{'name': 'receiver', 'image': 'busybox'}]}})
    name = 'receiver.%s.%s' % (namespace, provider)
    kube.custom('kubeovn.io', 'v1', 'ips').create({
        'apiVersion': 'kubeovn.io/v1', 'kind': 'IP', 'metadata': {'name': name},
        'spec': {'podName': 'receiver', 'namespace': namespace, 'subnet': 'attachnet',
                 'attachSubnets': [], 'v4IpAddress': address, 'ipAddress': address}})
    return name


def test_mirror_receiver_teardown_waits_for_the_address_release(kube, namespace, tmp_path):
    provider = 'attachnet.%s.ovn' % namespace
    ip_name = _receiver_with_address(kube, namespace, provider, '172.19.0.23')
    ips = kube.custom('kubeovn.io', 'v1', 'ips')
    released = {}

    def release_after_the_pod():
        """Kube-OVN's controller: the IP goes some seconds after its pod."""
        if kube.core.list_namespaced_pod(namespace).items:
            return False
        if 'pod_gone' not in released:
            released['pod_gone'] = time.monotonic()
            return False
        if time.monotonic() - released['pod_gone'] < 3:
            return False
        ips.api.delete_cluster_custom_object('kubeovn.io', 'v1', 'ips', ip_name)
        released['ip_gone'] = time.monotonic()
        return True
    controller = in_background(release_after_the_pod)
    result = run_role(kube, 'mirror_receiver',
                      receiver_vars(namespace, mirror_receiver_state='absent'), tmp_path)
    finished = time.monotonic()
    controller.join()
    assert not failed(result), messages(result)
    assert 'ip_gone' in released and finished >= released['ip_gone'], 'returned before release'
    assert ips.get_or_none(ip_name) is None
    assert kube.core.list_namespaced_pod(namespace).items == []


def test_remote_mirror_teardown_keeps_the_subnet_while_the_address_is_in_use(
        kube, nb, namespace, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    provider = 'attachnet.%s.ovn' % namespace
    ip_name = _receiver_with_address(kube, namespace, provider, '172.19.0.24')
    subnets = kube.custom('kubeovn.io', 'v1', 'subnets')
    subnets.create({'apiVersion': 'kubeovn.io/v1', 'kind': 'Subnet',
                    'metadata': {'name': 'sub' + suffix},
                    'spec': {'protocol': 'IPv4', 'cidrBlock': '172.19.0.0/16',
                             'provider': provider}})
    # Kube-OVN's controller is absent: the address is never released.
    result = run_playbook([role_task('remote_mirror', {
        'remote_mirror_state': 'absent', 'remote_mirror_nb_connection': nb.connection,
        'remote_mirror_attachment_namespace': namespace, 'mirror_receiver_name': 'receiver',
        'mirror_receiver_namespace': namespace, 'mirror_receiver_wait_timeout': 4,
        'underlay_network_subnet': 'sub' + suffix})],
        tmp_path, env={'K8S_AUTH_KUBECONFIG': kube.kubeconfig})
    assert failed(result), result
    assert any('IP %s' % ip_name in (r.get('msg') or '') and 'still allocated' in r['msg']
               for r in failed(result)), messages(result)
    assert subnets.get_or_none('sub' + suffix) is not None, 'the Subnet went first'


def test_cni_mirror_warns_and_names_the_values_on_a_helm_release(kube, helm_cni_daemonset,
                                                                 tmp_path):
    result = run_role(kube, 'cni_mirror', {'cni_mirror_iface': 'mirror1',
                                           'cni_mirror_repair': False}, tmp_path)
    assert not failed(result), messages(result)
    warnings = [r['msg'] for r in result if 'managed by Helm' in str(r.get('msg', ''))]
    assert len(warnings) == 1, result
    for fragment in ('release kube-ovn', 'debug.ENABLE_MIRROR=true', 'debug.MIRROR_IFACE=mirror1',
                     'agent.mirroring.enabled=true', 'agent.mirroring.interface=mirror1'):
        assert fragment in warnings[0], warnings[0]
    args = cni_args(kube)[1]
    assert args == ['--enable-mirror=true', '--mirror-iface=mirror1'] + HELM_CNI_ARGS[2:]


def test_cni_mirror_says_nothing_of_helm_on_an_install_sh_cluster(kube, cni_daemonset, tmp_path):
    result = run_role(kube, 'cni_mirror', {'cni_mirror_repair': False}, tmp_path)
    assert not failed(result), messages(result)
    assert not [r for r in result if 'managed by Helm' in str(r.get('msg', ''))]
