"""Least-privilege RBAC (docs/rbac.yml) and NB discovery through the Kubernetes API, against
a real kube-apiserver (RBAC authorization) and a real NB ovsdb-server."""

import json
import logging
import os
import shutil
import subprocess
import uuid

import pytest

from lab.ansible import run_playbook, run_playbook_verbose
from lab.daemons import wait_until
from lab.eda import Following, Rulebook, write_inventory
from lab.kube import write_kubeconfig
from lab.standin import LAB_SWITCH, ClusterStandIn

from kube_access import api_ca_cert, bind, publish_nb, service_account_token
from test_roles_k8s import (UNDERLAY, failed, messages, play_kube_ovn_for_underlay,
                            play_kubelet_and_kube_ovn, role_task)


def user_kubeconfig(kube, tmp_path, token):
    server = kube.api.configuration.host
    return write_kubeconfig(str(tmp_path / (token + '.kubeconfig')), server, token)


def web_pod(kube, namespace, name):
    """A pod labelled app=web (no kubelet here: it stays Pending, and counts for mirrors)."""
    kube.core.create_namespaced_pod(namespace, {
        'metadata': {'name': name, 'labels': {'app': 'web'}},
        'spec': {'containers': [{'name': 'c', 'image': 'busybox'}],
                 'automountServiceAccountToken': False}})


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
        web_pod(kube, namespace, 'web-0')
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


# ---- A bearer token alone (AWX's "OpenShift or Kubernetes API Bearer Token" credential) ------

def without_kubeconfig(tmp_path):
    """An environment with no kubeconfig anywhere and no K8S_AUTH_* variable (HOME an empty
    folder, not in a pod)."""
    home = tmp_path / 'home'
    home.mkdir(exist_ok=True)
    env = dict.fromkeys([name for name in os.environ if name.startswith('K8S_AUTH_')]
                        + ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'OVN_NB_DB'])
    env['HOME'] = str(home)
    return env


def credential(kube, token):
    """What the credential holds: the API's address, the token, the CA (verification on)."""
    return dict(host=kube.api.configuration.host, api_key=token, ca_cert=api_ca_cert(kube))


def credential_env(kube, token, tmp_path):
    """Only what the credential injects: K8S_AUTH_HOST, K8S_AUTH_API_KEY,
    K8S_AUTH_SSL_CA_CERT."""
    given = credential(kube, token)
    return dict(without_kubeconfig(tmp_path), K8S_AUTH_HOST=given['host'],
                K8S_AUTH_API_KEY=given['api_key'], K8S_AUTH_SSL_CA_CERT=given['ca_cert'])


def web_pods(kube, namespace, nb_server, names=('web-0', 'web-1')):
    """Pods labelled app=web, with the LSPs Kube-OVN would give them (ovn-nbctl)."""
    for name in names:
        web_pod(kube, namespace, name)
    nbctl = ['ovn-nbctl', '--db=' + nb_server.unix]
    subprocess.run(nbctl + ['ls-add', 'sw0'], check=True)
    for name in names:
        subprocess.run(nbctl + ['lsp-add', 'sw0', '%s.%s' % (name, namespace)], check=True)
    return ['%s.%s' % (name, namespace) for name in sorted(names)]


def mirrored_ports(nb_server):
    """The LSPs that have a mirror, read with ovn-nbctl."""
    out = subprocess.run(['ovn-nbctl', '--db=' + nb_server.unix, '--bare', '--columns=name',
                          'find', 'Logical_Switch_Port', 'mirror_rules!=[]'],
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def test_ovn_modules_need_only_a_bearer_token(kube, nb_on_test_link, namespace, tmp_path):
    """K8S_AUTH_HOST, K8S_AUTH_API_KEY and K8S_AUTH_SSL_CA_CERT, and nothing else: the NB is
    found through the API (the certificate verified) and the selectors resolved."""
    token = service_account_token(kube, namespace)
    publish_nb(kube, 6641)
    ports = web_pods(kube, namespace, nb_on_test_link)
    results = run_playbook([
        {'name': 'mirror', 'ignore_errors': True, 'kubeovn.mirror.ovn_mirror': {
            'name': 'bytoken', 'type': 'gre', 'index': 9, 'filter': 'from-lport',
            'sink': '172.19.0.21', 'timeout': 10}},
        {'name': 'attach', 'ignore_errors': True, 'kubeovn.mirror.ovn_lsp_mirror': {
            'mirror': 'bytoken', 'timeout': 10,
            'selectors': [{'namespace': namespace, 'label_selectors': ['app=web']}]}},
        {'name': 'read', 'ignore_errors': True,
         'kubeovn.mirror.ovn_mirror_info': {'name': 'bytoken', 'timeout': 10}},
    ], tmp_path, env=credential_env(kube, token, tmp_path))
    assert not failed(results), messages(results)
    assert results[1]['attached'] == ports and results[1]['pending'] == [], results[1]
    assert [(m['name'], m['ports']) for m in results[2]['mirrors']] == [('bytoken', ports)]
    assert mirrored_ports(nb_on_test_link) == ports
    assert token not in json.dumps(results)


def test_a_refused_token_fails_once_naming_the_api_and_401(kube, tmp_path):
    """A token the API does not know: each module fails with one message naming the API's
    address and HTTP 401, and the token is nowhere in what ansible-playbook -vvv prints."""
    token = 'refused-' + uuid.uuid4().hex
    host = kube.api.configuration.host
    results, output = run_playbook_verbose([
        {'name': 'discover', 'ignore_errors': True,
         'kubeovn.mirror.ovn_mirror_info': {'timeout': 5}},
        {'name': 'select', 'ignore_errors': True, 'kubeovn.mirror.ovn_lsp_mirror': {
            'mirror': 'any', 'nb_connection': 'unix:' + str(tmp_path / 'no-nb.sock'),
            'selectors': [{'namespace': 'default', 'label_selectors': ['app=web']}]}},
    ], tmp_path, env=credential_env(kube, token, tmp_path))
    assert [r.get('failed') for r in results] == [True, True], results
    discover, select = (r['msg'] for r in results)
    assert discover == ('the Kubernetes API at %s refused the credentials reading endpoints '
                        'kube-system/ovn-nb (HTTP 401 Unauthorized): check the token, client '
                        'certificate or kubeconfig' % host)
    assert select.startswith('the Kubernetes API at %s refused the credentials reading pods '
                             'in namespace default (HTTP 401 Unauthorized)' % host), select
    assert '<localhost> EXEC' in output, 'a -vvv run'
    assert output.count('HTTP 401') >= 2
    assert token not in output


def test_roles_pass_their_api_options_through(kube, nb_on_test_link, namespace, tmp_path):
    """<role>_host, <role>_api_key and <role>_ca_cert, with no K8S_AUTH_* variable and no
    kubeconfig: a kubernetes.core role (attachment_network) and an OVN one (mirrors, the NB
    found through the API); the token shows nowhere in a -vvv run."""
    token = service_account_token(kube, namespace)
    publish_nb(kube, 6641)
    ports = web_pods(kube, namespace, nb_on_test_link)
    api = credential(kube, token)

    def role_api(role):
        return dict(('%s_%s' % (role, option), value) for option, value in api.items())
    results, output = run_playbook_verbose([
        role_task('attachment_network', dict(role_api('attachment_network'),
                                             attachment_network_namespace=namespace)),
        role_task('mirrors', dict(role_api('mirrors'), mirrors_nb_timeout=10, mirrors_list=[{
            'name': 'byrole', 'type': 'gre', 'index': 11, 'filter': 'to-lport',
            'sink': '172.19.0.21',
            'selectors': [{'namespace': namespace, 'label_selectors': ['app=web']}]}])),
    ], tmp_path, env=without_kubeconfig(tmp_path))
    assert not failed(results), messages(results)
    nads = kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', namespace)
    assert nads.get_or_none('attachnet') is not None
    converged = [r for r in results if 'created' in r]
    assert converged and converged[0]['created'] == ['byrole'], results
    assert mirrored_ports(nb_on_test_link) == ports
    assert token not in output


def test_event_source_needs_only_a_bearer_token(kube, namespace, tmp_path, monkeypatch,
                                                caplog):
    """kubeovn.mirror.pod_events with K8S_AUTH_HOST, K8S_AUTH_API_KEY and
    K8S_AUTH_SSL_CA_CERT alone in its environment: it lists, emits the new pod, and logs no
    token."""
    token = service_account_token(kube, namespace)
    for name, value in credential_env(kube, token, tmp_path).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    follow = Following(None, [{'namespace': namespace, 'label_selectors': ['app=web']}]).start()
    try:
        web_pod(kube, namespace, 'web-0')
        assert follow.wait_for(name='web-0', change='added')['namespace'] == namespace
        assert [f.reconnects for f in follow.followers] == [0, 0]
    finally:
        follow.close()
    assert token not in caplog.text


def test_mirror_repair_gives_its_api_options_to_kubectl(kube, namespace, tmp_path):
    """mirror_repair_host, _api_key and _ca_cert reach `kubectl exec` into each ovs-ovn pod
    (the token masked in its command line, hidden in add_host's result). No kubelet here: the
    exec itself fails, after the command was built."""
    if shutil.which('kubectl') is None:
        pytest.skip('no kubectl on this machine')
    token = service_account_token(kube, namespace)
    pod = 'ovs-ovn-' + uuid.uuid4().hex[:5]
    kube.core.create_namespaced_pod(namespace, {
        'metadata': {'name': pod, 'labels': {'app': 'ovs'}},
        'spec': {'nodeName': 'node-1', 'containers': [{'name': 'openvswitch', 'image': 'x'}],
                 'automountServiceAccountToken': False}})
    kube.core.patch_namespaced_pod_status(pod, namespace, {'status': {'phase': 'Running'}})
    api = credential(kube, token)
    variables = dict(('mirror_repair_%s' % option, value) for option, value in api.items())
    results, output = run_playbook_verbose(
        [role_task('mirror_repair', dict(variables, mirror_repair_namespace=namespace))],
        tmp_path, env=without_kubeconfig(tmp_path))
    added = [r for r in results if r.get('action') == 'ansible.builtin.add_host']
    assert added and added[0].get('censored'), results
    execs = [line for line in output.splitlines() if 'EXEC' in line and 'kubectl' in line]
    assert execs, output[-3000:]
    assert ("'--server', '%s', '--token', '********', '--certificate-authority', '%s'"
            % (api['host'], api['ca_cert'])) in execs[0]
    assert token not in output


class NbTools:
    """ovn-nbctl on an NB server, for the stand-in playing Kube-OVN's controller."""

    def __init__(self, server):
        self.server = server

    def nbctl(self, *args):
        return subprocess.run(['ovn-nbctl', '--db=' + self.server.unix] + list(args),
                              capture_output=True, text=True, check=True,
                              timeout=60).stdout.strip()


def test_the_rulebook_follows_a_new_pod_with_only_a_bearer_token(kube, nb_on_test_link,
                                                                 namespace, tmp_path):
    """ansible-rulebook -r kubeovn.mirror.follow_mirrors with only what the bearer token
    credential injects: its event source and the playbooks it runs read the API with it and
    find the NB through it; a new pod's port is attached with no manual run."""
    token = service_account_token(kube, namespace)
    publish_nb(kube, 6641)
    nb = NbTools(nb_on_test_link)
    nb.nbctl('ls-add', LAB_SWITCH)
    selectors = [{'namespace': namespace, 'label_selectors': ['app=web']}]
    inventory = write_inventory(tmp_path, {'kubeovn_mirrors': [dict(
        name='bytoken', type='gre', index=7, filter='from-lport', sink='172.19.0.21',
        selectors=selectors)]})
    standin = ClusterStandIn(kube.kubeconfig, node=nb, interval=0.2).start()
    rulebook = Rulebook(tmp_path, inventory, {'follow_mirrors_selectors': selectors,
                                              'follow_mirrors_repair': False},
                        env=credential_env(kube, token, tmp_path))
    try:
        wait_until(lambda: rulebook.runs('PLAY RECAP') >= 1, 180,
                   "the rulebook's start-up converge", interval=0.5)
        kube.core.create_namespaced_pod(namespace, {
            'metadata': {'name': 'web-0', 'labels': {'app': 'web'}},
            'spec': {'nodeName': 'follow-node', 'automountServiceAccountToken': False,
                     'containers': [{'name': 'c', 'image': 'busybox'}]}})
        wait_until(lambda: mirrored_ports(nb_on_test_link) == ['web-0.%s' % namespace], 90,
                   'the rulebook attaching web-0', interval=0.3)
    finally:
        standin.stop()
        left = rulebook.stop()
    assert left == [], left
    assert 'bytoken' in nb.nbctl('--bare', '--columns=name', 'list', 'Mirror')
    assert token not in rulebook.output() + rulebook.log_text()
