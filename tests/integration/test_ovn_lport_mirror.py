"""lport mirrors and mirror rules (OVN >= 25.09) against real NB servers: sid's OVN 26.03,
which has them, and bookworm's 23.03 and trixie's 25.03, which refuse them. The NB is read
back with ovn-nbctl."""

import pytest

from lab.ovn_versions import CURRENT_VERSION, HOST_VERSION, NEXT_VERSION

on_26 = pytest.mark.parametrize('ovn_version', [NEXT_VERSION], indirect=True,
                                ids=['ovn' + NEXT_VERSION])

SKIP_ALL = {'priority': 200, 'match': '1', 'action': 'skip'}
ICMP = {'priority': 300, 'match': 'icmp4', 'action': 'mirror'}
LPORT = dict(name='tap1', type='lport', filter='both', sink='sniffer.tools')


def rule_rows(nb):
    return [row['_uuid'][1] for row in nb.rows('Mirror_Rule', ['_uuid'])]


@on_26
def test_lport_mirror_to_a_port_is_created_with_its_rules(nb):
    nb.add_ports(['sniffer.tools', 'web-0.default'])
    result = nb.run('ovn_mirror', dict(LPORT, rules=[SKIP_ALL, ICMP]))
    assert result['changed'] is True, result
    assert nb.mirror('tap1') == dict(name='tap1', type='lport', index=0, filter='both',
                                     sink='sniffer.tools', external_ids={})
    assert nb.mirror_rules('tap1') == [ICMP, SKIP_ALL]
    assert result['mirror']['rules'] == [ICMP, SKIP_ALL]


@on_26
def test_rules_are_exact_and_a_rerun_writes_nothing(nb):
    nb.add_ports(['sniffer.tools'])
    nb.run('ovn_mirror', dict(LPORT, rules=[SKIP_ALL, ICMP]))
    before = nb.dump()
    again = nb.run('ovn_mirror', dict(LPORT, rules=[ICMP, SKIP_ALL]))     # another order
    assert again['changed'] is False, again
    assert nb.dump() == before
    kept = rule_rows(nb)

    moved = dict(ICMP, priority=400)
    changed = nb.run('ovn_mirror', dict(name='tap1', rules=[SKIP_ALL, moved]), diff=True)
    assert changed['changed'] is True, changed
    assert nb.mirror_rules('tap1') == [moved, SKIP_ALL]
    assert changed['diff']['before']['rules'] == [ICMP, SKIP_ALL]
    assert changed['diff']['after']['rules'] == [moved, SKIP_ALL]
    # The unchanged rule is the same row; the replaced one is gone from the database.
    now = rule_rows(nb)
    assert len(now) == 2 and len(set(now) & set(kept)) == 1, (kept, now)

    removed = nb.run('ovn_mirror', dict(name='tap1', rules=[]))
    assert removed['changed'] is True and nb.mirror_rules('tap1') == []
    assert rule_rows(nb) == []


@on_26
def test_rules_left_out_are_kept(nb):
    nb.add_ports(['sniffer.tools'])
    nb.run('ovn_mirror', dict(LPORT, rules=[SKIP_ALL]))
    result = nb.run('ovn_mirror', dict(name='tap1', filter='to-lport'))
    assert result['changed'] is True and nb.mirror_rules('tap1') == [SKIP_ALL]


@on_26
@pytest.mark.parametrize('args', [
    dict(LPORT, rules=[SKIP_ALL]),                         # create
    dict(name='tap1', rules=[SKIP_ALL, ICMP]),             # add a rule
    dict(name='tap1', rules=[]),                           # remove them
], ids=['create', 'add-rule', 'remove-rules'])
def test_check_mode_writes_nothing(nb, args):
    nb.add_ports(['sniffer.tools'])
    if 'type' not in args:
        nb.run('ovn_mirror', dict(LPORT, rules=[ICMP]))
    before = nb.dump()
    result = nb.run('ovn_mirror', args, check=True, diff=True)
    assert result['changed'] is True, result
    assert nb.dump() == before, 'check mode changed the database'
    assert result['diff']['after']['rules'] == sorted(args['rules'], key=lambda r: -r['priority'])


@on_26
def test_sink_given_as_a_pod(nb):
    nb.add_ports(['sniffer.tools', 'sniffer.tools.capnet.tools.ovn'])
    result = nb.run('ovn_mirror', dict(name='tap1', type='lport', filter='both',
                                       sink_pod={'name': 'sniffer', 'namespace': 'tools'}))
    assert result['changed'] is True and nb.mirror('tap1')['sink'] == 'sniffer.tools'
    on_attachment = nb.run('ovn_mirror', dict(name='tap2', type='lport', filter='both', sink_pod={
        'name': 'sniffer', 'namespace': 'tools', 'provider': 'capnet.tools.ovn'}))
    assert nb.mirror('tap2')['sink'] == 'sniffer.tools.capnet.tools.ovn', on_attachment


BAD = [
    ('priority-too-high', dict(LPORT, rules=[dict(ICMP, priority=32768)]), '32768'),
    ('priority-negative', dict(LPORT, rules=[dict(ICMP, priority=-1)]), '-1'),
    ('empty-match', dict(LPORT, rules=[dict(ICMP, match=' ')]), 'match'),
    ('unknown-action', dict(LPORT, rules=[dict(ICMP, action='copy')]), 'copy'),
    ('duplicate-rule', dict(LPORT, rules=[ICMP, dict(ICMP, action='skip')]), 'twice'),
    ('sink-not-a-port', dict(LPORT, sink='nosuch.tools'), "'nosuch.tools'"),
    ('rules-on-gre', dict(name='g', type='gre', index=1, filter='both', sink='172.19.0.21',
                          rules=[ICMP]), 'lport'),
    ('sink-and-sink-pod', dict(LPORT, sink_pod={'name': 'sniffer', 'namespace': 'tools'}),
     'sink_pod'),
    ('sink-pod-on-gre', dict(name='g', type='gre', index=1, filter='both',
                             sink_pod={'name': 'sniffer', 'namespace': 'tools'}), 'gre'),
]


@on_26
@pytest.mark.parametrize('args,fragment', [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_fails_naming_the_value_and_writes_nothing(nb, args, fragment):
    nb.add_ports(['sniffer.tools'])
    before = nb.dump()
    result = nb.run('ovn_mirror', args)
    assert result.get('failed') is True, result
    assert fragment in result['msg'], result['msg']
    assert nb.dump() == before


@pytest.mark.parametrize('ovn_version', [HOST_VERSION, CURRENT_VERSION], indirect=True,
                         ids=['ovn' + HOST_VERSION, 'ovn' + CURRENT_VERSION])
def test_older_servers_refuse_lport_and_rules_naming_the_ovn_they_need(nb):
    nb.add_ports(['sniffer.tools'])
    nb.run('ovn_mirror', dict(name='g', type='gre', index=1, filter='from-lport',
                              sink='172.19.0.21'))
    before = nb.dump()
    lport = nb.run('ovn_mirror', LPORT)
    assert lport.get('failed') and "'lport'" in lport['msg'] and 'OVN >= 25.09' in lport['msg']
    rules = nb.run('ovn_mirror', dict(name='g', rules=[]))
    assert rules.get('failed') and 'rules' in rules['msg'] and 'OVN >= 25.09' in rules['msg']
    declared = nb.run('ovn_mirrors', dict(mirrors=[dict(LPORT, rules=[ICMP])]))
    assert declared.get('failed') and 'OVN >= 25.09' in declared['msg'], declared
    assert nb.dump() == before


@on_26
def test_declared_lport_mirrors_are_exact_rules_included(nb):
    nb.add_ports(['sniffer.tools', 'web-0.default'])
    declared = dict(LPORT, rules=[SKIP_ALL, ICMP], ports=['web-0.default'])
    result = nb.run('ovn_mirrors', dict(mirrors=[declared]))
    assert result['changed'] is True, result
    assert nb.mirror_rules('tap1') == [ICMP, SKIP_ALL] and nb.ports_of('tap1') == ['web-0.default']
    assert nb.run('ovn_mirrors', dict(mirrors=[declared]))['changed'] is False
    # Declared without rules: a declared mirror is exact, so it has none.
    result = nb.run('ovn_mirrors', dict(mirrors=[dict(LPORT, ports=['web-0.default'])]))
    assert result['changed'] is True and nb.mirror_rules('tap1') == []


@on_26
def test_info_returns_the_rules_and_what_the_server_supports(nb):
    nb.add_ports(['sniffer.tools'])
    nb.run('ovn_mirror', dict(LPORT, rules=[SKIP_ALL, ICMP]))
    nb.nbctl('mirror-add', 'g', 'gre', '9', 'from-lport', '172.19.0.21')
    info = nb.run('ovn_mirror_info', {})
    mirrors = dict((mirror['name'], mirror) for mirror in info['mirrors'])
    assert mirrors['tap1']['rules'] == [ICMP, SKIP_ALL]
    assert 'rules' not in mirrors['g']            # rules belong to lport mirrors
    assert info['supports']['mirror_rules'] is True and 'lport' in info['supports']['types']
