"""ovn_lsp_mirror against a real OVN NB ovsdb-server, the DB read back with ovn-nbctl."""

import concurrent.futures

import pytest

from lab.ansible import run_module

pytestmark = pytest.mark.both_ovn   # on the oldest and newest NB (conftest: NB_VERSIONS)

GRE = dict(name='mirror1', type='gre', index=99, filter='from-lport', sink='172.19.0.21')
PORTS = ['web-0.default', 'web-1.default', 'db-0.shop', 'db-0.shop.attachnet.default.ovn']


@pytest.fixture
def seeded(nb):
    nb.add_ports(PORTS)
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')
    nb.nbctl('mirror-add', 'other', 'gre', '100', 'to-lport', '172.19.0.21')
    return nb


def test_attach_by_name_and_by_pod_then_noop(seeded):
    nb = seeded
    args = dict(mirror='mirror1', ports=['web-0.default'],
                pods=[{'name': 'db-0', 'namespace': 'shop'},
                      {'name': 'db-0', 'namespace': 'shop', 'provider': 'attachnet.default.ovn'}])
    result = nb.run('ovn_lsp_mirror', args)
    assert result['changed'] is True, result
    expected = ['db-0.shop', 'db-0.shop.attachnet.default.ovn', 'web-0.default']
    assert nb.ports_of('mirror1') == expected
    assert sorted(result['attached']) == expected
    assert result['ports'] == expected and result['detached'] == []

    before = nb.dump()
    again = nb.run('ovn_lsp_mirror', args)
    assert again['changed'] is False and again['attached'] == []
    assert nb.dump() == before


def test_pod_namespace_defaults_to_default(seeded):
    result = seeded.run('ovn_lsp_mirror', dict(mirror='mirror1', pods=[{'name': 'web-1'}]))
    assert result['attached'] == ['web-1.default']
    assert seeded.ports_of('mirror1') == ['web-1.default']


def test_attaching_keeps_other_mirrors_and_other_ports(seeded):
    nb = seeded
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'other')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'mirror1')
    nb.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=['web-0.default']))
    assert nb.ports_of('mirror1') == ['web-0.default', 'web-1.default']
    assert nb.ports_of('other') == ['web-0.default']


def test_missing_ports_and_mirror_are_all_named_and_nothing_is_written(seeded):
    nb = seeded
    before = nb.dump()
    result = nb.run('ovn_lsp_mirror', dict(mirror='mirror1',
                                           ports=['web-0.default', 'ghost-1.default'],
                                           pods=[{'name': 'ghost-2', 'namespace': 'x'}]))
    assert result.get('failed') is True, result
    assert "'ghost-1.default'" in result['msg'] and "'ghost-2.x'" in result['msg']
    assert nb.dump() == before, 'web-0.default must not be attached when others are missing'

    result = nb.run('ovn_lsp_mirror', dict(mirror='nosuch', ports=['web-0.default', 'ghost']))
    assert "mirror 'nosuch'" in result['msg'] and "'ghost'" in result['msg'], result['msg']
    assert nb.dump() == before


def test_detach_then_noop_and_gone_things_count_as_detached(seeded):
    nb = seeded
    nb.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=PORTS))
    result = nb.run('ovn_lsp_mirror', dict(mirror='mirror1', state='absent',
                                           ports=['web-0.default', 'web-1.default', 'gone']))
    assert result['changed'] is True, result
    assert sorted(result['detached']) == ['web-0.default', 'web-1.default']
    assert nb.ports_of('mirror1') == ['db-0.shop', 'db-0.shop.attachnet.default.ovn']
    again = nb.run('ovn_lsp_mirror', dict(mirror='mirror1', state='absent',
                                          ports=['web-0.default']))
    assert again['changed'] is False
    gone_mirror = nb.run('ovn_lsp_mirror', dict(mirror='nosuch', state='absent',
                                                ports=['web-0.default']))
    assert gone_mirror['changed'] is False and not gone_mirror.get('failed'), gone_mirror


def test_exclusive_detaches_every_port_not_listed(seeded):
    nb = seeded
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'mirror1')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'mirror1')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'other')
    result = nb.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=['db-0.shop'],
                                           exclusive=True))
    assert result['attached'] == ['db-0.shop']
    assert sorted(result['detached']) == ['web-0.default', 'web-1.default']
    assert nb.ports_of('mirror1') == ['db-0.shop']
    assert nb.ports_of('other') == ['web-1.default'], 'other mirrors are not touched'

    emptied = nb.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=[], exclusive=True))
    assert emptied['detached'] == ['db-0.shop'] and nb.ports_of('mirror1') == []


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_check_mode_writes_nothing(seeded, state):
    nb = seeded
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'mirror1')
    before = nb.dump()
    ports = ['web-0.default'] if state == 'present' else ['web-1.default']
    result = nb.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=ports, state=state),
                    check=True)
    assert result['changed'] is True
    assert nb.dump() == before
    expected = ['web-0.default', 'web-1.default'] if state == 'present' else []
    assert result['ports'] == expected


def test_diff_lists_ports_before_and_after(seeded):
    result = seeded.run('ovn_lsp_mirror', dict(mirror='mirror1', ports=['web-0.default']),
                        diff=True)
    assert result['diff'] == {'before': {'mirror': 'mirror1', 'ports': []},
                              'after': {'mirror': 'mirror1', 'ports': ['web-0.default']}}


def test_duplicates_are_attached_once(seeded):
    result = seeded.run('ovn_lsp_mirror', dict(
        mirror='mirror1', ports=['web-0.default', 'web-0.default'],
        pods=[{'name': 'web-0', 'namespace': 'default'}]))
    assert result['attached'] == ['web-0.default']
    assert seeded.ports_of('mirror1') == ['web-0.default']


@pytest.mark.parametrize('args,fragment', [
    (dict(mirror='', ports=['web-0.default']), 'empty'),
    (dict(mirror='mirror1', ports=['']), 'empty'),
    (dict(mirror='mirror1', pods=[{'name': 'web-0', 'namespace': ''}]), 'namespace'),
    (dict(mirror='mirror1', pods=[{'namespace': 'x'}]), 'name'),
    (dict(mirror='mirror1', ports=['web-0.default'], state='gone'), 'gone'),
], ids=['empty-mirror', 'empty-port', 'empty-namespace', 'pod-without-name', 'bad-state'])
@pytest.mark.one_ovn
def test_bad_input_fails_and_writes_nothing(seeded, args, fragment):
    before = seeded.dump()
    result = seeded.run('ovn_lsp_mirror', args)
    assert result.get('failed') is True, result
    assert fragment in result['msg'], result['msg']
    assert seeded.dump() == before


def test_eight_parallel_runs_lose_no_update(nb):
    """8 concurrent ansible-playbook runs, 50 different ports each, one mirror: all 400 end
    attached (ovsdb mutations, retried by ovsdbapp on TRY_AGAIN, not read-modify-write)."""
    groups = [['p%d-%02d.load' % (group, index) for index in range(50)] for group in range(8)]
    nb.add_ports([name for group in groups for name in group])
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')

    def attach(ports):
        return run_module('ovn_lsp_mirror', dict(mirror='mirror1', ports=ports,
                                                 nb_connection=nb.connection), nb.workdir)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attach, groups))
    assert all(r['changed'] is True and not r.get('failed') for r in results), results
    assert nb.ports_of('mirror1') == sorted(name for group in groups for name in group)
    assert len(nb.ports_of('mirror1')) == 400
