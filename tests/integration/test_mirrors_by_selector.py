"""Mirrors declared by label selectors, on the test apiserver and a real NB ovsdb-server.

The test plays Kube-OVN's controller: it creates and deletes a pod's LSP with ovn-nbctl when
the pod comes and goes (a recreated pod gets a new LSP row, a Deployment's new pod a new
name). The NB is read back with ovn-nbctl, independently of the modules."""

import pytest

from lab.ansible import run_module

pytestmark = pytest.mark.kube

SINK = '172.19.0.21'


class ApiAndNb:
    """The API (pods) and the NB (their LSPs), changed the way a cluster changes them."""

    def __init__(self, kube, nb, namespace):
        self.kube, self.nb, self.ns = kube, nb, namespace

    def pod(self, name, labels, lsp=True, namespace=None):
        namespace = namespace or self.ns
        self.kube.core.create_namespaced_pod(namespace, {
            'metadata': {'name': name, 'labels': labels},
            'spec': {'containers': [{'name': 'c', 'image': 'docker.io/library/busybox'}],
                     'automountServiceAccountToken': False}})
        if lsp:
            self.lsp(name, namespace)

    def lsp(self, name, namespace=None):
        self.nb.add_ports(['%s.%s' % (name, namespace or self.ns)])

    def delete_pod(self, name, lsp=True):
        self.kube.core.delete_namespaced_pod(name, self.ns, grace_period_seconds=0)
        if lsp:
            self.nb.nbctl('lsp-del', '%s.%s' % (name, self.ns))

    def port(self, name):
        return '%s.%s' % (name, self.ns)

    def run(self, module, args, **options):
        args = dict(args, kubeconfig=self.kube.kubeconfig)
        return self.nb.run(module, args, **options)


@pytest.fixture
def api_and_nb(kube, nb, namespace):
    nb.nbctl('mirror-add', 'sel1', 'gre', '99', 'from-lport', SINK)
    return ApiAndNb(kube, nb, namespace)


def test_lsp_mirror_by_selector_follows_recreated_and_renamed_pods(api_and_nb):
    c, nb = api_and_nb, api_and_nb.nb
    c.pod('web-a', {'app': 'web'})
    c.pod('web-b', {'app': 'web'}, lsp=False)       # Kube-OVN has not made its LSP yet
    c.pod('db-0', {'app': 'db'})
    c.lsp('stray')                                  # attached by hand, not selected
    nb.nbctl('lsp-attach-mirror', c.port('stray'), 'sel1')
    args = dict(mirror='sel1', selectors=[{'namespace': c.ns, 'label_selectors': ['app=web']}])

    before = nb.dump()
    dry = c.run('ovn_lsp_mirror', args, check=True, diff=True)
    assert dry['changed'] is True and dry['attached'] == [c.port('web-a')], dry
    assert dry['detached'] == [c.port('stray')] and dry['pending'] == [c.port('web-b')]
    assert dry['diff']['after']['ports'] == [c.port('web-a')], dry
    assert nb.dump() == before

    first = c.run('ovn_lsp_mirror', args)
    assert first['changed'] is True and nb.ports_of('sel1') == [c.port('web-a')], first
    assert first['selected'] == [
        {'namespace': c.ns, 'name': 'web-a', 'lsp': c.port('web-a'), 'pending': False},
        {'namespace': c.ns, 'name': 'web-b', 'lsp': c.port('web-b'), 'pending': True}], first
    assert first['pending'] == [c.port('web-b')]

    before = nb.dump()
    again = c.run('ovn_lsp_mirror', args)
    assert again['changed'] is False and nb.dump() == before, again

    c.lsp('web-b')                                  # Kube-OVN caught up
    caught_up = c.run('ovn_lsp_mirror', args)
    assert caught_up['attached'] == [c.port('web-b')] and caught_up['pending'] == []
    assert nb.ports_of('sel1') == [c.port('web-a'), c.port('web-b')]

    # Recreated under the same name (StatefulSet): a new LSP row without the mirror.
    c.delete_pod('web-a')
    c.pod('web-a', {'app': 'web'})
    assert nb.ports_of('sel1') == [c.port('web-b')]
    recreated = c.run('ovn_lsp_mirror', args)
    assert recreated['attached'] == [c.port('web-a')], recreated
    assert nb.ports_of('sel1') == [c.port('web-a'), c.port('web-b')]

    # Renamed (Deployment): web-b goes (its LSP still there for a moment), web-c comes.
    c.delete_pod('web-b', lsp=False)
    c.pod('web-c', {'app': 'web'})
    renamed = c.run('ovn_lsp_mirror', args, diff=True)
    assert renamed['attached'] == [c.port('web-c')], renamed
    assert renamed['detached'] == [c.port('web-b')], renamed
    assert nb.ports_of('sel1') == [c.port('web-a'), c.port('web-c')]
    assert renamed['diff']['before']['ports'] == [c.port('web-a'), c.port('web-b')]


def test_lsp_mirror_selector_all_namespaces_provider_and_detach(api_and_nb, kube):
    c, nb = api_and_nb, api_and_nb.nb
    c.pod('api-0', {'tier': 'api', 'env': 'prod'}, lsp=False)
    nb.add_ports([c.port('api-0') + '.attachnet.default.ovn'])
    c.pod('api-1', {'tier': 'api', 'env': 'dev'})
    args = dict(mirror='sel1', selectors=[{'label_selectors': ['tier=api', 'env in (prod)'],
                                           'provider': 'attachnet.default.ovn'}])
    result = c.run('ovn_lsp_mirror', args)
    assert result['changed'] is True, result
    assert nb.ports_of('sel1') == [c.port('api-0') + '.attachnet.default.ovn']
    gone = c.run('ovn_lsp_mirror', dict(args, state='absent'))
    assert gone['detached'] == [c.port('api-0') + '.attachnet.default.ovn'], gone
    assert nb.ports_of('sel1') == []


def test_require_match_and_bad_selectors_fail_and_write_nothing(api_and_nb):
    c, nb = api_and_nb, api_and_nb.nb
    c.pod('web-a', {'app': 'web'})
    before = nb.dump()
    none = c.run('ovn_lsp_mirror', dict(mirror='sel1', require_match=True, selectors=[
        {'namespace': c.ns, 'label_selectors': ['app=nothing']}]))
    assert none.get('failed') and 'match no pod (require_match=true)' in none['msg'], none
    for selector, message in (
            ({'namespace': c.ns, 'label_selectors': ['app=we b']}, "'app=we b'"),
            ({'namespace': c.ns, 'label_selectors': ['=web']}, "'=web'"),
            ({'namespace': c.ns, 'label_selectors': ['app in ()']}, 'needs at least one value'),
            ({'namespace': 'Bad_NS'}, "namespace 'Bad_NS' is not a valid"),
            ({'label_selectors': []}, 'selects every pod of every namespace'),
            ({'namespace': c.ns, 'provider': ' x'}, "provider ' x'")):
        bad = c.run('ovn_lsp_mirror', dict(mirror='sel1', selectors=[selector]))
        assert bad.get('failed') and message in bad['msg'], (selector, bad)
    bad_set = c.run('ovn_mirrors', dict(mirrors=[dict(
        name='m', type='gre', index=1, filter='both', sink=SINK,
        selectors=[{'namespace': c.ns, 'label_selectors': ['app=web,']}])]))
    assert bad_set.get('failed') and "mirror 'm': selectors[0]" in bad_set['msg'], bad_set
    assert nb.dump() == before


def test_mirror_set_by_selector_is_exact_and_reports_pending(api_and_nb):
    c, nb = api_and_nb, api_and_nb.nb
    c.pod('web-a', {'app': 'web'})
    c.pod('web-b', {'app': 'web'}, lsp=False)
    mirrors = [dict(name='webs', type='gre', index=7, filter='from-lport', sink=SINK,
                    selectors=[{'namespace': c.ns, 'label_selectors': ['app=web']}],
                    require_match=True)]
    before = nb.dump()
    dry = c.run('ovn_mirrors', dict(mirrors=mirrors), check=True, diff=True)
    assert dry['changed'] is True and dry['created'] == ['webs'] and nb.dump() == before, dry
    assert dry['diff']['after'][0]['ports'] == [c.port('web-a')], dry

    first = c.run('ovn_mirrors', dict(mirrors=mirrors))
    assert first['created'] == ['webs'] and nb.ports_of('webs') == [c.port('web-a')], first
    assert first['pending'] == {'webs': [c.port('web-b')]}
    assert [p['pending'] for p in first['selected']['webs']] == [False, True]
    before = nb.dump()
    assert c.run('ovn_mirrors', dict(mirrors=mirrors))['changed'] is False
    assert nb.dump() == before

    c.lsp('web-b')
    c.delete_pod('web-a')
    c.pod('web-a2', {'app': 'web'})                 # the Deployment's replacement
    followed = c.run('ovn_mirrors', dict(mirrors=mirrors))
    assert followed['updated'] == ['webs'] and followed['pending'] == {}, followed
    assert nb.ports_of('webs') == [c.port('web-a2'), c.port('web-b')]

    for name in ('web-a2', 'web-b'):
        c.delete_pod(name, lsp=False)
    empty = c.run('ovn_mirrors', dict(mirrors=mirrors))
    assert empty.get('failed') and "mirror 'webs': selectors" in empty['msg'], empty
    assert nb.ports_of('webs') == [c.port('web-a2'), c.port('web-b')], 'nothing written'


def test_bad_kubeconfig_fails_clearly(nb, tmp_path):
    nb.nbctl('mirror-add', 'sel1', 'gre', '99', 'from-lport', SINK)
    before = nb.dump()
    result = run_module('ovn_lsp_mirror', dict(
        mirror='sel1', nb_connection=nb.connection, kubeconfig=str(tmp_path / 'nope'),
        selectors=[{'namespace': 'shop', 'label_selectors': ['app=web']}]), tmp_path)
    assert result.get('failed') and 'cannot load the Kubernetes configuration' in result['msg']
    assert nb.dump() == before


@pytest.fixture
def node(tmp_path):
    """A node's Open_vSwitch database (bare ovsdb-server, no vswitchd: wait=false)."""
    import subprocess
    from lab.daemons import VSWITCH_SCHEMA, OvsdbServer
    with OvsdbServer(tmp_path, schema=VSWITCH_SCHEMA, name='conf') as server:
        def vsctl(*args):
            return subprocess.run(['ovs-vsctl', '--db=' + server.unix, '--no-wait'] + list(args),
                                  check=True, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        vsctl('init')
        vsctl('add-br', 'br-int')
        vsctl('add-port', 'br-int', 'mirror0', '--', 'set', 'Interface', 'mirror0',
              'type=internal')
        server.vsctl = vsctl
        yield server


def test_local_mirror_by_selector_follows_the_pods_on_this_node(api_and_nb, node):
    c = api_and_nb
    for name in ('web-a', 'web-b', 'web-far'):
        c.pod(name, {'app': 'web'}, lsp=False)
    for name in ('web-a', 'web-b'):          # web-far runs on another node
        port = name.replace('-', '') + '_h'
        node.vsctl('add-port', 'br-int', port, '--', 'set', 'Interface', port,
                   'external_ids:iface-id=%s' % c.port(name))

    def run(**options):
        return run_module('ovs_local_mirror', dict(
            name='dbg', ovs_connection=node.unix, wait=False, kubeconfig=c.kube.kubeconfig,
            selectors=[{'namespace': c.ns, 'label_selectors': ['app=web']}]), c.nb.workdir,
            **options)

    def selected_ports():
        uuids = node.vsctl('--bare', '--columns=select_src_port', 'find', 'Mirror',
                           'name=dbg').split()
        return sorted(node.vsctl('get', 'Port', u, 'name').strip('"') for u in uuids)

    dry = run(check=True, diff=True)
    assert dry['changed'] is True and dry['diff']['after']['select_src_port'] == [
        'weba_h', 'webb_h'], dry
    assert node.vsctl('list', 'Mirror') == ''
    first = run()
    assert first['changed'] is True and selected_ports() == ['weba_h', 'webb_h'], first
    assert [(p['name'], p['port']) for p in first['selected']] == [
        ('web-a', 'weba_h'), ('web-b', 'webb_h'), ('web-far', None)], first
    assert run()['changed'] is False

    c.delete_pod('web-b', lsp=False)         # gone from the API; its port lingers a moment
    followed = run()
    assert followed['changed'] is True and selected_ports() == ['weba_h'], followed
