"""Least-privilege RBAC (docs/rbac.yml) and NB discovery through the Kubernetes API, against
a real kube-apiserver (RBAC authorization) and a real NB ovsdb-server."""

import base64
import copy
import os
import subprocess
import uuid

import pytest
import yaml

from lab.ansible import REPO, run_playbook
from lab.daemons import OvsdbServer, spawn, stop_processes, wait_for_daemon
from lab.eda import Following
from lab.kube import write_kubeconfig

from test_roles_k8s import (UNDERLAY, failed, messages, play_kube_ovn_for_underlay,
                            play_kubelet_and_kube_ovn, role_task)

RBAC = os.path.join(REPO, 'docs', 'rbac.yml')
NB_TEST_ADDRESS = '192.0.2.2'


def bind(kube, user, suffix, drop=None):
    """Create docs/rbac.yml's roles (under unique names) and bind them to `user`.
    `drop` = (resource, verb) removes that verb, to make a token that lacks it."""
    with open(RBAC) as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc]
    for doc in documents:
        doc = copy.deepcopy(doc)
        doc['metadata']['name'] = 'kubeovn-mirror-' + suffix
        for rule in doc['rules']:
            if drop and drop[0] in rule['resources']:
                rule['verbs'] = [verb for verb in rule['verbs'] if verb != drop[1]]
        subject = [{'kind': 'User', 'name': user, 'apiGroup': 'rbac.authorization.k8s.io'}]
        ref = {'kind': doc['kind'], 'name': doc['metadata']['name'],
               'apiGroup': 'rbac.authorization.k8s.io'}
        if doc['kind'] == 'ClusterRole':
            kube.rbac.create_cluster_role(doc)
            kube.rbac.create_cluster_role_binding({'metadata': {'name': doc['metadata']['name']},
                                                   'subjects': subject, 'roleRef': ref})
        else:
            namespace = doc['metadata']['namespace']
            kube.rbac.create_namespaced_role(namespace, doc)
            kube.rbac.create_namespaced_role_binding(namespace, {
                'metadata': {'name': doc['metadata']['name']}, 'subjects': subject,
                'roleRef': ref})


def user_kubeconfig(kube, tmp_path, token):
    server = kube.api.configuration.host
    return write_kubeconfig(str(tmp_path / (token + '.kubeconfig')), server, token)


@pytest.fixture(scope='module')
def rbac_bound(kube):
    bind(kube, 'mirror-operator', 'operator')
    bind(kube, 'mirror-limited', 'limited',
         drop=('network-attachment-definitions', 'create'))


def test_roles_succeed_with_exactly_the_documented_rbac(kube, rbac_bound, tmp_path,
                                                        cni_daemonset, namespace):
    kubeconfig = user_kubeconfig(kube, tmp_path, 'operator-token')
    suffix = uuid.uuid4().hex[:6]
    kube.core.create_namespaced_pod(namespace, {'metadata': {'name': 'web-0'}, 'spec': {
        'containers': [{'name': 'c', 'image': 'busybox'}], 'automountServiceAccountToken': False}})
    controller = play_kube_ovn_for_underlay(kube, 'pn' + suffix, 'sub' + suffix)
    kubelet = play_kubelet_and_kube_ovn(kube, namespace, 'receiver',
                                        'attachnet.%s.ovn' % namespace, '172.19.0.21')
    results = run_playbook([
        role_task('attachment_network', {'attachment_network_namespace': namespace}),
        role_task('underlay_network', dict(
            UNDERLAY, underlay_network_provider_network='pn' + suffix,
            underlay_network_vlan='vlan' + suffix, underlay_network_subnet='sub' + suffix,
            underlay_network_provider='attachnet.%s.ovn' % namespace)),
        role_task('mirror_receiver', {'mirror_receiver_name': 'receiver',
                                      'mirror_receiver_namespace': namespace,
                                      'mirror_receiver_wait_timeout': 20}),
        role_task('cni_mirror', {'cni_mirror_repair': False}),  # no DaemonSet controller
        role_task('pod_mirror', {'pod_mirror_namespace': namespace,
                                 'pod_mirror_names': ['web-0']}),
    ], tmp_path, env={'K8S_AUTH_KUBECONFIG': kubeconfig})
    controller.join()
    kubelet.join()
    assert not failed(results), messages(results)
    facts = [r['ansible_facts'] for r in results if 'ansible_facts' in r]
    assert {'mirror_receiver_ip': '172.19.0.21'} in facts, 'the receiver role ran to its end'


def test_event_source_follows_pods_with_the_documented_rbac(kube, rbac_bound, tmp_path,
                                                            namespace):
    """kubeovn.mirror.pod_events lists and watches pods (and kube-ovn-cni's in kube-system)
    with the documented rules."""
    follow = Following(user_kubeconfig(kube, tmp_path, 'operator-token'),
                       [{'namespace': namespace, 'label_selectors': ['app=web']}]).start()
    try:
        kube.core.create_namespaced_pod(namespace, {
            'metadata': {'name': 'web-0', 'labels': {'app': 'web'}},
            'spec': {'containers': [{'name': 'c', 'image': 'busybox'}],
                     'automountServiceAccountToken': False}})
        follow.wait_for(name='web-0', change='added')
        assert [f.reconnects for f in follow.followers] == [0, 0]   # nothing was refused
    finally:
        follow.close()


def test_a_token_lacking_a_verb_fails_clearly(kube, rbac_bound, tmp_path, namespace):
    kubeconfig = user_kubeconfig(kube, tmp_path, 'limited-token')
    results = run_playbook([role_task('attachment_network',
                                      {'attachment_network_namespace': namespace})],
                           tmp_path, env={'K8S_AUTH_KUBECONFIG': kubeconfig})
    message = failed(results)[0]['msg'] if failed(results) else ''
    assert 'forbidden' in message.lower() and 'cannot create' in message, results


# ---- NB discovery -------------------------------------------------------------------------

@pytest.fixture
def nb_on_test_link(tmp_path, pki):
    """An NB ovsdb-server listening on 192.0.2.2 (TEST-NET-1), an address the test puts on a
    veth pair it creates: Endpoints may not hold loopback addresses, and this one keeps the
    traffic on this host. The link goes away with the test.
    """
    tag = uuid.uuid4().hex[:6]
    link, peer = 'kmd%sa' % tag, 'kmd%sb' % tag
    subprocess.run(['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', peer], check=True)
    try:
        subprocess.run(['ip', 'addr', 'add', NB_TEST_ADDRESS + '/32', 'dev', link], check=True)
        for name in (link, peer):
            subprocess.run(['ip', 'link', 'set', name, 'up'], check=True)
        server = OvsdbServer(tmp_path, name='disc')
        subprocess.run(['ovsdb-tool', 'create', server.db, server.schema], check=True)
        proc = spawn(
            ['ovsdb-server', server.db, '--remote=punix:' + server.sock,
             '--remote=ptcp:6641:' + NB_TEST_ADDRESS, '--remote=pssl:6642:' + NB_TEST_ADDRESS,
             '--private-key=' + pki.server_key, '--certificate=' + pki.server_cert,
             '--ca-cert=' + pki.ca_cert, '--unixctl=' + server.ctl, '--log-file=' + server.log],
            server.out)
        try:
            wait_for_daemon('discovery NB', proc, lambda: os.path.exists(server.sock), 10,
                            [server.log, server.out])
            yield server
        finally:
            stop_processes([proc])
    finally:
        subprocess.run(['ip', 'link', 'del', link], check=False)


def publish_nb(kube, port, tls_pki=None):
    for call in (lambda: kube.core.delete_namespaced_endpoints('ovn-nb', 'kube-system'),
                 lambda: kube.core.delete_namespaced_secret('kube-ovn-tls', 'kube-system')):
        try:
            call()
        except Exception:  # noqa: BLE001 - absent
            pass
    kube.core.create_namespaced_endpoints('kube-system', {
        'metadata': {'name': 'ovn-nb'},
        'subsets': [{'addresses': [{'ip': NB_TEST_ADDRESS}], 'ports': [{'port': port}]}]})
    if tls_pki:
        def b64(path):
            with open(path, 'rb') as handle:
                return base64.b64encode(handle.read()).decode()
        kube.core.create_namespaced_secret('kube-system', {
            'metadata': {'name': 'kube-ovn-tls'},
            'data': {'cacert': b64(tls_pki.ca_cert), 'cert': b64(tls_pki.client_cert),
                     'key': b64(tls_pki.client_key)}})


@pytest.mark.parametrize('tls', [False, True], ids=['tcp', 'ssl'])
def test_ovn_module_finds_the_nb_with_only_a_kubeconfig(kube, rbac_bound, nb_on_test_link, pki,
                                                        tmp_path, tls):
    publish_nb(kube, 6642 if tls else 6641, pki if tls else None)
    kubeconfig = user_kubeconfig(kube, tmp_path, 'operator-token')
    mirror = {'name': 'found', 'type': 'gre', 'index': 7, 'filter': 'to-lport',
              'sink': '172.19.0.21', 'kubeconfig': kubeconfig, 'timeout': 10}
    results = run_playbook([{'name': 'mirror via discovered NB', 'ignore_errors': True,
                             'kubeovn.mirror.ovn_mirror': mirror}],
                           tmp_path, env={'OVN_NB_DB': ''})
    assert not failed(results), messages(results)
    out = subprocess.run(['ovn-nbctl', '--db=' + nb_on_test_link.unix, '--bare', '--columns=name',
                          'list', 'Mirror'], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['found']
    text = repr(results)
    with open(pki.client_key) as handle:
        key_line = handle.read().splitlines()[1]
    assert key_line not in text, 'TLS key material must never reach the output'


def test_a_cluster_without_ovn_nb_endpoints_fails_clearly(kube, rbac_bound, tmp_path):
    try:
        kube.core.delete_namespaced_endpoints('ovn-nb', 'kube-system')
    except Exception:  # noqa: BLE001 - absent already
        pass
    kubeconfig = user_kubeconfig(kube, tmp_path, 'operator-token')
    results = run_playbook([{'name': 'info via discovery', 'ignore_errors': True,
                             'kubeovn.mirror.ovn_mirror_info': {'kubeconfig': kubeconfig}}],
                           tmp_path, env={'OVN_NB_DB': ''})
    assert failed(results), results
    assert 'no ready ovn-nb endpoint' in failed(results)[0]['msg'], messages(results)
