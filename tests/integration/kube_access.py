"""What several integration tests need to reach the test API server as a user would: docs/
rbac.yml's rules bound to an identity, a ServiceAccount's token, the API's CA, and an NB
published the way Kube-OVN publishes it (the `nb_on_test_link` fixture, tests/integration/
conftest.py, serves it)."""

import base64
import copy
import os
import subprocess
import uuid

import pytest
import yaml

from lab.ansible import REPO
from lab.daemons import OvsdbServer, spawn, stop_processes, wait_for_daemon

RBAC = os.path.join(REPO, 'docs', 'rbac.yml')
# Where nb_on_test_link's NB listens: an address of 198.18.0.0/15 (RFC 2544's benchmarking
# range, on nothing of this machine), one per pytest worker so that two workers never share it.
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
NB_TEST_ADDRESS = '198.18.0.%d' % (10 + int(_WORKER[2:] or 0))


def bind(kube, user, suffix, drop=None):
    """Create docs/rbac.yml's roles (under unique names) and bind them to `user` (a user name,
    or a subject). `drop` = (resource, verb) removes that verb, to make a token that lacks it."""
    with open(RBAC) as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc]
    for doc in documents:
        doc = copy.deepcopy(doc)
        doc['metadata']['name'] = 'kubeovn-mirror-' + suffix
        for rule in doc['rules']:
            if drop and drop[0] in rule['resources']:
                rule['verbs'] = [verb for verb in rule['verbs'] if verb != drop[1]]
        subject = [user if isinstance(user, dict) else
                   {'kind': 'User', 'name': user, 'apiGroup': 'rbac.authorization.k8s.io'}]
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


def service_account_token(kube, namespace, name='mirror-automation'):
    """A ServiceAccount bound to exactly docs/rbac.yml's rules, and a token requested for it
    (TokenRequest), as a bearer token credential carries one."""
    kube.core.create_namespaced_service_account(namespace, {'metadata': {'name': name}})
    bind(kube, {'kind': 'ServiceAccount', 'name': name, 'namespace': namespace},
         'sa-' + namespace)
    request = kube.core.create_namespaced_service_account_token(
        name, namespace, {'spec': {'expirationSeconds': 3600}})
    return request.status.token


def api_ca_cert(kube):
    """The CA that signed the API server's certificate."""
    if kube.plane is not None:   # kube-apiserver's own, self-signed at its start
        return os.path.join(kube.plane.workdir, 'certs', 'apiserver.crt')
    if not kube.api.configuration.ssl_ca_cert:
        pytest.skip('the cluster of $KUBECONFIG names no CA')
    return kube.api.configuration.ssl_ca_cert


def serve_nb_on_test_link(tmp_path, pki):
    """An NB ovsdb-server listening on NB_TEST_ADDRESS, an address the test puts on a veth
    pair it creates: Endpoints may not hold loopback addresses, and this one keeps the traffic
    on this host. The link goes away with the test.
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
