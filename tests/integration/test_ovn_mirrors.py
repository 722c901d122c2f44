"""ovn_mirrors (a declared set of mirrors) against a real NB, read back with ovn-nbctl."""

import pytest

pytestmark = pytest.mark.both_ovn   # on the oldest and newest NB (conftest: NB_VERSIONS)

PORTS = ['web-0.default', 'web-1.default', 'db-0.shop']
MARK = 'kubeovn.mirror/owner'
WEB = dict(name='web', type='gre', index=99, filter='from-lport', sink='172.19.0.21',
           pods=[{'name': 'web-0'}, {'name': 'web-1'}])
DB = dict(name='db', type='erspan', index=7, filter='to-lport', sink='172.19.0.21',
          ports=['db-0.shop'])


@pytest.fixture
def seeded(nb):
    nb.add_ports(PORTS)
    return nb


def converge(nb, mirrors, **options):
    args = dict(mirrors=mirrors)
    args.update((key, options.pop(key)) for key in ('owner', 'purge') if key in options)
    return nb.run('ovn_mirrors', args, **options)


def test_create_all_in_one_run_then_noop(seeded):
    nb = seeded
    result = converge(nb, [WEB, DB])
    assert result['changed'] is True, result
    assert sorted(result['created']) == ['db', 'web']
    assert nb.mirror('web') == dict(name='web', type='gre', index=99, filter='from-lport',
                                    sink='172.19.0.21', external_ids={MARK: 'kubeovn.mirror'})
    assert nb.mirror('db')['type'] == 'erspan'
    assert nb.ports_of('web') == ['web-0.default', 'web-1.default']
    assert nb.ports_of('db') == ['db-0.shop']
    assert [m['name'] for m in result['mirrors']] == ['db', 'web']

    before = nb.dump()
    again = converge(nb, [WEB, DB])
    assert again['changed'] is False, again
    assert again['created'] == again['updated'] == again['deleted'] == []
    assert nb.dump() == before


def test_update_settings_and_ports_in_place(seeded):
    nb = seeded
    converge(nb, [WEB])
    uuid = nb.mirror_uuid('web')
    result = converge(nb, [dict(WEB, index=100, pods=[{'name': 'web-1'}],
                                ports=['db-0.shop'])])
    assert result['changed'] is True and result['updated'] == ['web'], result
    assert nb.mirror_uuid('web') == uuid
    assert nb.mirror('web')['index'] == 100
    assert nb.ports_of('web') == ['db-0.shop', 'web-1.default']


def test_a_new_and_an_existing_mirror_gain_the_same_port_in_one_run(seeded):
    """One transaction writes the port both ways (ovn_attachments.attachment_commands): for
    the new mirror through the IDL (its UUID is not known yet), for the existing one as a
    raw operation after it; the port ends up with both."""
    nb = seeded
    converge(nb, [WEB])
    result = converge(nb, [dict(WEB, ports=['db-0.shop']), DB])
    assert result['created'] == ['db'] and result['updated'] == ['web'], result
    assert nb.ports_of('web') == ['db-0.shop', 'web-0.default', 'web-1.default']
    assert nb.ports_of('db') == ['db-0.shop']
    assert converge(nb, [dict(WEB, ports=['db-0.shop']), DB])['changed'] is False


def test_purge_deletes_only_this_owners_unlisted_mirrors(seeded):
    nb = seeded
    converge(nb, [WEB, DB])
    converge(nb, [dict(WEB, name='theirs')], owner='other-team')
    nb.nbctl('mirror-add', 'by-hand', 'gre', '5', 'to-lport', '172.19.0.9')
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'by-hand')

    kept = converge(nb, [WEB])
    assert kept['changed'] is False and nb.mirror('db') is not None, kept

    result = converge(nb, [WEB], purge=True)
    assert result['deleted'] == ['db'], result
    assert nb.mirror('db') is None and nb.ports_of('db') == []
    assert nb.mirror('theirs')['external_ids'] == {MARK: 'other-team'}
    assert nb.mirror('by-hand') is not None
    assert nb.ports_of('by-hand') == ['web-0.default']
    assert converge(nb, [WEB], purge=True)['changed'] is False


def test_absent_deletes_and_an_unmarked_listed_mirror_is_taken_over(seeded):
    nb = seeded
    nb.nbctl('mirror-add', 'web', 'gre', '99', 'from-lport', '172.19.0.21')
    nb.nbctl('mirror-add', 'old', 'gre', '1', 'to-lport', '172.19.0.21')
    result = converge(nb, [WEB, dict(name='old', state='absent')])
    assert result['updated'] == ['web'] and result['deleted'] == ['old'], result
    assert nb.mirror('web')['external_ids'] == {MARK: 'kubeovn.mirror'}
    assert nb.mirror('old') is None


def test_check_mode_writes_nothing_and_reports_the_plan(seeded):
    nb = seeded
    converge(nb, [DB])
    before = nb.dump()
    result = converge(nb, [WEB], purge=True, check=True, diff=True)
    assert result['changed'] is True
    assert result['created'] == ['web'] and result['deleted'] == ['db']
    assert nb.dump() == before
    assert [m['name'] for m in result['diff']['before']] == ['db']
    assert result['diff']['after'][0]['ports'] == ['web-0.default', 'web-1.default']


def test_diff_shows_the_changed_fields(seeded):
    nb = seeded
    converge(nb, [WEB])
    result = converge(nb, [dict(WEB, filter='to-lport')], diff=True)
    assert result['diff']['before'][0]['filter'] == 'from-lport'
    assert result['diff']['after'][0]['filter'] == 'to-lport'


@pytest.mark.parametrize('mirrors, options, message', [
    ([WEB, dict(WEB)], {}, "mirror 'web' is declared more than once"),
    ([dict(WEB, index=-1)], {}, "mirror 'web': index -1 is out of range"),
    ([dict(WEB, sink='not-an-ip')], {}, "mirror 'web': sink 'not-an-ip' is not"),
    ([dict(WEB, name=' web')], {}, "has leading or trailing white space"),
    ([dict(name='new', ports=['web-0.default'])], {},
     "mirror 'new' does not exist; creating it needs type, filter, sink"),
    ([WEB, dict(DB, ports=['ghost.default'], pods=[{'name': 'ghost', 'namespace': 'x'}])],
     {}, "logical switch port 'ghost.default' (mirror 'db'), logical switch port 'ghost.x'"),
    ([WEB], {'owner': ''}, 'owner name must not be empty'),
    ([dict(WEB, filter='sideways')], {}, 'sideways'),
])
@pytest.mark.one_ovn
def test_bad_input_fails_naming_the_value_and_writes_nothing(
        seeded, mirrors, options, message):
    nb = seeded
    converge(nb, [DB])
    before = nb.dump()
    result = converge(nb, mirrors, **options)
    assert result.get('failed') is True, result
    assert message in result['msg'], result['msg']
    assert nb.dump() == before
