"""Fixtures giving each test a real OVN Northbound ovsdb-server and an independent reader."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

from lab.ansible import run_module, run_playbook
from tools.collection import ensure_collection_link
from lab.daemons import VSWITCH_SCHEMA, OvsdbServer, Pki
from lab.ovn_versions import HOST_VERSION, NB_VERSIONS, ovn

# Tests that drive module_utils directly import the collection from build/.
sys.path.insert(0, ensure_collection_link())

for tool in ('ovsdb-server', 'ovn-nbctl', 'ovsdb-client', 'openssl'):
    if shutil.which(tool) is None:
        raise RuntimeError('%s is not installed: run `make deps` (see README)' % tool)


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp('pki')).create()


@pytest.fixture(scope='module')
def lab(tmp_path_factory, request):
    """The one-machine OVN lab (lab/ovn.py), one per test module, stopped by pid: OVN 23.03,
    or the version a module parametrizes it with (indirect)."""
    from lab.ovn import Lab
    version = getattr(request, 'param', HOST_VERSION)
    lab = Lab(tmp_path_factory.mktemp('lab') / 'run', version).up()
    print('lab up in %.1f s' % lab.start_seconds)
    try:
        yield lab
    finally:
        lab.down()


def pytest_generate_tests(metafunc):
    """Tests marked `both_ovn` run their NB server on each of NB_VERSIONS (23.03, 26.03;
    lab/ovn_versions.py). `one_ovn` opts a test out: input the module refuses by its own
    checks, identically whatever the server. A test of what a server's schema lacks or has
    names every line itself (parametrize `ovn_version` over VERSIONS)."""
    marked = metafunc.definition.get_closest_marker
    if not marked('both_ovn') or marked('one_ovn'):
        return
    if any('ovn_version' in str(mark.args[0]) for mark in
           metafunc.definition.iter_markers('parametrize')):
        return          # the test names its lines itself
    if 'ovn_version' in metafunc.fixturenames:
        metafunc.parametrize('ovn_version', NB_VERSIONS, indirect=True,
                             ids=['ovn' + version for version in NB_VERSIONS])


@pytest.fixture
def ovn_version(request):
    """The OVN (tools, schemas) a test runs against: bookworm's 23.03 unless the test is
    marked `both_ovn` (each of NB_VERSIONS) or names its line."""
    return ovn(getattr(request, 'param', HOST_VERSION))


@pytest.fixture
def nb(tmp_path, pki, ovn_version):
    """A fresh NB database served on unix, tcp and ssl; stopped by pid afterwards."""
    server = OvsdbServer(tmp_path, tcp=True, pki=pki, ovn=ovn_version).start()
    try:
        yield Nb(server, pki, tmp_path)
    finally:
        server.stop()


class Nb:
    """The NB under test, read and seeded through ovn-nbctl / ovsdb-client, not our code."""

    def __init__(self, server, pki, workdir):
        self.server = server
        self.pki = pki
        self.workdir = workdir
        self.ovn = server.ovn

    @property
    def connection(self):
        return self.server.unix

    def nbctl(self, *args):
        return subprocess.run(self.ovn.cmd('ovn-nbctl') + ['--db=' + self.server.unix]
                              + list(args),
                              check=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def nbctl_batch(self, commands):
        """Several ovn-nbctl commands in one call (one transaction)."""
        args = []
        for command in commands:
            args += ['--'] + list(command)
        return self.nbctl(*args[1:]) if args else ''

    def add_ports(self, names, switch='sw0'):
        self.nbctl('--may-exist', 'ls-add', switch)
        self.nbctl_batch([('lsp-add', switch, name) for name in names])

    def dump(self):
        return subprocess.run(self.ovn.cmd('ovsdb-client') + ['dump', self.server.unix,
                                                              'OVN_Northbound'],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def rows(self, table, columns):
        """Every row of `table` as ovn-nbctl reads it (names compared in Python, so any
        unicode or quoting in a name is fine)."""
        out = self.nbctl('--format=json', '--columns=' + ','.join(columns), 'list', table)
        data = json.loads(out)
        return [dict(zip(data['headings'], row)) for row in data['data']]

    def mirror(self, name):
        """The mirror row as ovn-nbctl sees it, or None."""
        for row in self.rows('Mirror', ['name', 'type', 'index', 'filter', 'sink',
                                        'external_ids']):
            if row['name'] == name:
                row['external_ids'] = dict(row['external_ids'][1])
                return row
        return None

    def mirror_rules(self, name):
        """The mirror's rules (Mirror_Rule rows) as ovn-nbctl lists them, highest priority
        first."""
        refs = json.loads(self.nbctl('--format=json', '--columns=mirror_rules', 'list',
                                     'Mirror', self.mirror_uuid(name)))['data'][0][0]
        uuids = [refs[1]] if refs[0] == 'uuid' else [ref[1] for ref in refs[1]]
        rules = []
        for rule_uuid in uuids:
            data = json.loads(self.nbctl('--format=json', '--columns=priority,match,action',
                                         'list', 'Mirror_Rule', rule_uuid))['data'][0]
            rules.append(dict(priority=data[0], match=data[1], action=data[2]))
        return sorted(rules, key=lambda rule: -rule['priority'])

    def mirror_uuid(self, name):
        for row in self.rows('Mirror', ['_uuid', 'name']):
            if row['name'] == name:
                return row['_uuid'][1]
        return ''

    def ports_of(self, mirror_name):
        """LSP names whose mirror_rules hold the mirror, read with ovn-nbctl."""
        uuid = self.mirror_uuid(mirror_name)
        if not uuid:
            return []
        ports = []
        for row in self.rows('Logical_Switch_Port', ['name', 'mirror_rules']):
            rules = row['mirror_rules']
            uuids = [rules[1]] if rules[0] == 'uuid' else [u[1] for u in rules[1]]
            if uuid in uuids:
                ports.append(row['name'])
        return sorted(ports)

    def run(self, module, args, **options):
        args = dict(args)
        args.setdefault('nb_connection', self.connection)
        return run_module(module, args, self.workdir, **options)

    def play(self, tasks, **options):
        return run_playbook(tasks, self.workdir, **options)


class OvsNode:
    """A node's Open_vSwitch database on a bare ovsdb-server (no ovs-vswitchd, so modules run
    with `wait: false`, like ovs-vsctl --no-wait), written and read with ovs-vsctl."""

    def __init__(self, server, workdir, module):
        self.server, self.workdir, self.module = server, workdir, module

    def vsctl(self, *args):
        return subprocess.run(['ovs-vsctl', '--db=' + self.server.unix, '--no-wait']
                              + list(args), check=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    def get(self, mirror, column):
        return self.vsctl('--bare', '--columns=' + column, 'find', 'Mirror',
                          'name=%s' % mirror)

    def port_names(self, mirror, column):
        uuids = self.get(mirror, column).split()
        return sorted(self.vsctl('get', 'Port', uuid, 'name').strip('"') for uuid in uuids)

    def dump(self):
        return subprocess.run(['ovsdb-client', 'dump', self.server.unix, 'Open_vSwitch'],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def run(self, args, **options):
        args = dict(dict(ovs_connection=self.server.unix, wait=False), **args)
        return run_module(self.module, args, self.workdir, **options)


# How raw operations reach the server: through Transaction.add_op (python-ovs >= 3.4), or
# the IDL's way of an older python-ovs (such as Kube-OVN's images have), played by taking
# add_op away.
WRITE_PATHS = ['raw-operations', 'idl-without-add_op']


@pytest.fixture(params=WRITE_PATHS)
def write_path(request, monkeypatch):
    if request.param == 'idl-without-add_op':
        from ovs.db import idl
        monkeypatch.delattr(idl.Transaction, 'add_op')
    return request.param


@pytest.fixture
def ovs_node(tmp_path):
    """OvsNode factory: a fresh Open_vSwitch database with br-int, for one module."""
    servers = []

    def make(module):
        server = OvsdbServer(tmp_path, schema=VSWITCH_SCHEMA, name='conf').start()
        servers.append(server)
        node = OvsNode(server, tmp_path, module)
        node.vsctl('init')
        node.vsctl('add-br', 'br-int')
        return node
    try:
        yield make
    finally:
        for server in servers:
            server.stop()


# Token users of the test apiserver with no rights until a test binds some: (token, user,
# uid, groups).
KUBE_USERS = [('operator-token', 'mirror-operator', '2', ''),
              ('limited-token', 'mirror-limited', '3', '')]


@pytest.fixture(scope='session')
def kube(tmp_path_factory):
    """A real etcd + kube-apiserver (built once and cached), with the CRDs the roles use.

    Uses $KUBECONFIG's cluster instead when that variable is set.
    """
    import os
    from lab.kube import ControlPlane
    if os.environ.get('KUBECONFIG'):
        yield KubeClients(os.environ['KUBECONFIG'], None)
        return
    plane = ControlPlane(tmp_path_factory.mktemp('kube'), users=KUBE_USERS).start()
    print('control plane up in %.1f s' % plane.start_seconds)
    try:
        yield KubeClients(plane.kubeconfig, plane)
    finally:
        plane.stop()


class KubeClients:
    """The test's own view of the API (the independent reader), through the Python client."""

    def __init__(self, kubeconfig, plane):
        from kubernetes import client, config
        self.kubeconfig = kubeconfig
        self.plane = plane
        self.api = config.new_client_from_config(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.objects = client.CustomObjectsApi(self.api)

    def custom(self, group, version, plural, namespace=None):
        return CustomResources(self.objects, group, version, plural, namespace)


class CustomResources:
    def __init__(self, api, group, version, plural, namespace):
        self.api, self.args, self.namespace = api, (group, version), namespace
        self.plural = plural

    def _call(self, verb, *args, **kwargs):
        if self.namespace:
            method = getattr(self.api, '%s_namespaced_custom_object%s' % verb)
            return method(*self.args, self.namespace, self.plural, *args, **kwargs)
        method = getattr(self.api, '%s_cluster_custom_object%s' % verb)
        return method(*self.args, self.plural, *args, **kwargs)

    def list(self):
        return self._call(('list', ''))

    def get(self, name):
        return self._call(('get', ''), name)

    def get_or_none(self, name):
        from kubernetes.client.exceptions import ApiException
        try:
            return self.get(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, body):
        return self._call(('create', ''), body)

    def patch_status(self, name, status):
        return self._call(('patch', '_status'), name, {'status': status})


@pytest.fixture
def namespace(kube):
    """A fresh namespace with its `default` ServiceAccount."""
    name = 'ns-' + uuid.uuid4().hex[:8]
    kube.core.create_namespace({'metadata': {'name': name}})
    # No controller-manager: the ServiceAccount pods need must be made by hand.
    kube.core.create_namespaced_service_account(name, {'metadata': {'name': 'default'}})
    return name


def _upstream_cni_daemonset(shape):
    """kube-system/kube-ovn-cni as upstream ships it: lab/kube/kube-ovn-cni-<shape>.yaml."""
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'lab', 'kube',
                        'kube-ovn-cni-%s.yaml' % shape)
    with open(path) as handle:
        return yaml.safe_load(handle)


def _cni_server_args(body):
    return [c for c in body['spec']['template']['spec']['containers']
            if c['name'] == 'cni-server'][0]['args']


# cni-server's args as Kube-OVN v1.14's install.sh writes them (no --mirror-iface), and as
# its Helm chart renders them (--mirror-iface=mirror0 second).
CNI_ARGS = _cni_server_args(_upstream_cni_daemonset('installsh'))
HELM_CNI_ARGS = _cni_server_args(_upstream_cni_daemonset('helm'))


def _replace_cni_daemonset(kube, shape):
    name = 'kube-ovn-cni'
    try:
        kube.apps.delete_namespaced_daemon_set(name, 'kube-system')
    except Exception:  # noqa: BLE001 - absent
        pass
    kube.apps.create_namespaced_daemon_set('kube-system', _upstream_cni_daemonset(shape))
    return name


@pytest.fixture
def cni_daemonset(kube):
    """kube-system/kube-ovn-cni as Kube-OVN v1.14's install.sh creates it."""
    return _replace_cni_daemonset(kube, 'installsh')


@pytest.fixture
def helm_cni_daemonset(kube):
    """kube-system/kube-ovn-cni as Kube-OVN v1.14's Helm chart renders it (Helm's marks on)."""
    return _replace_cni_daemonset(kube, 'helm')


@pytest.fixture
def nb_on_test_link(tmp_path, pki):
    """An NB reachable at an address Endpoints accept (kube_access.serve_nb_on_test_link)."""
    from kube_access import serve_nb_on_test_link
    yield from serve_nb_on_test_link(tmp_path, pki)
