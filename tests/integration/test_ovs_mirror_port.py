"""ovs_mirror_port against a real ovsdb-server on the Open_vSwitch schema, read back with
ovs-vsctl (no ovs-vswitchd here: `wait: false`). Delivery through a real datapath is in
test_lab_current_ovn.py."""

import pytest


@pytest.fixture
def ovs(ovs_node):
    node = ovs_node('ovs_mirror_port')
    node.vsctl('add-port', 'br-int', 'web0_h', '--', 'set', 'Interface', 'web0_h',
               'external_ids:iface-id=web-0.shop')
    return node


def mirror_id(ovs, interface):
    return ovs.vsctl('--if-exists', 'get', 'Interface', interface,
                     'external_ids:mirror-id').strip('"')


def test_create_noop_update_delete_with_check_mode_and_diff(ovs):
    before = ovs.dump()
    dry = ovs.run({'name': 'mon0'}, check=True, diff=True)
    assert dry['changed'] is True and ovs.dump() == before, dry
    assert dry['diff'] == {'before': {}, 'after': {'name': 'mon0', 'bridge': 'br-int',
                                                   'mirror_id': 'mon0', 'created': True}}

    created = ovs.run({'name': 'mon0'})
    assert created['changed'] is True and created['port']['created'] is True, created
    assert 'mon0' in ovs.vsctl('list-ports', 'br-int').split()
    assert ovs.vsctl('get', 'Interface', 'mon0', 'type') == 'internal'
    assert mirror_id(ovs, 'mon0') == 'mon0'
    assert 'commands' not in created            # wait=false: not made ready here

    before = ovs.dump()
    again = ovs.run({'name': 'mon0'})
    assert again['changed'] is False and ovs.dump() == before, again

    renamed = ovs.run({'name': 'mon0', 'mirror_id': 'team-a'}, diff=True)
    assert renamed['changed'] is True and mirror_id(ovs, 'mon0') == 'team-a', renamed
    assert renamed['diff']['before']['mirror_id'] == 'mon0'

    before = ovs.dump()
    dry_gone = ovs.run({'name': 'mon0', 'state': 'absent'}, check=True)
    assert dry_gone['changed'] is True and ovs.dump() == before
    gone = ovs.run({'name': 'mon0', 'state': 'absent'})
    assert gone['changed'] is True and gone['port'] == {}, gone
    assert 'mon0' not in ovs.vsctl('list-ports', 'br-int').split()
    assert ovs.run({'name': 'mon0', 'state': 'absent'})['changed'] is False


def test_an_existing_port_is_adopted_and_only_its_key_removed(ovs):
    ovs.vsctl('add-port', 'br-int', 'tap9', '--', 'set', 'Interface', 'tap9', 'type=internal',
              'external_ids:keep=me')
    adopted = ovs.run({'name': 'tap9', 'mirror_id': 'mon9'})
    assert adopted['changed'] is True and adopted['port']['created'] is False, adopted
    assert mirror_id(ovs, 'tap9') == 'mon9'
    released = ovs.run({'name': 'tap9', 'state': 'absent'}, diff=True)
    assert released['changed'] is True and released['port']['mirror_id'] is None, released
    assert 'tap9' in ovs.vsctl('list-ports', 'br-int').split()
    assert mirror_id(ovs, 'tap9') == ''
    assert ovs.vsctl('get', 'Interface', 'tap9', 'external_ids:keep') == 'me'


@pytest.mark.parametrize('args, message', [
    ({'name': 'much-too-long-name'}, "name 'much-too-long-name' is not a valid interface name"),
    ({'name': 'a/b'}, 'is not a valid interface name'),
    ({'name': 'mon0', 'mirror_id': ' x'}, 'leading or trailing white space'),
    ({'name': 'mon0', 'mirror_id': 'x\x01'}, 'control character'),
    ({'name': 'mon0', 'bridge': 'br-nope'}, "bridge 'br-nope' does not exist"),
    ({'name': 'mon1', 'mirror_id': 'taken'}, "mirror-id 'taken' is already on port mon0"),
])
def test_bad_input_fails_clearly_and_writes_nothing(ovs, args, message):
    ovs.vsctl('add-port', 'br-int', 'mon0', '--', 'set', 'Interface', 'mon0', 'type=internal',
              'external_ids:mirror-id=taken')
    before = ovs.dump()
    result = ovs.run(args)
    assert result.get('failed') and message in result['msg'], result
    assert ovs.dump() == before


def planned_with(ovs, params, meanwhile):
    """ovs_mirror_port's planner through module_utils, `meanwhile()` (another client's
    change) run right after its first plan: (the plans, the outcome)."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import (
        ovs_mirror, ovs_mirror_port, ovsdb)
    params = dict(dict(bridge='br-int', mirror_id=None, state='present'), **params)
    planner = ovs_mirror_port.plan_mirror_port(params, ovs_mirror_port.check_params(params))
    plans = []

    def planning(api):
        outcome, commands = planner(api)
        plans.append(outcome)
        if len(plans) == 1:
            meanwhile()
        return outcome, commands
    with ovs_mirror.open_ovs(dict(ovs_connection=ovs.server.unix, timeout=10,
                                  wait=False)) as session:
        return plans, ovsdb.run_planned(session.api, planning)


def test_a_port_deleted_before_its_key_is_set_is_created_instead(ovs, write_path):
    """Adopting a port writes only its interface: the check that the bridge's ports are as
    read is a `wait` operation (or, without add_op, the bridge written back as read).
    Without it the key would be set on nothing and the run report it set."""
    ovs.vsctl('add-port', 'br-int', 'tap9', '--', 'set', 'Interface', 'tap9', 'type=internal')
    plans, outcome = planned_with(ovs, dict(name='tap9', mirror_id='mon9'),
                                  lambda: ovs.vsctl('del-port', 'br-int', 'tap9'))
    assert [plan['created'] for plan in plans] == [None, 'tap9'], plans
    assert outcome['after']['created'] is True, outcome
    assert mirror_id(ovs, 'tap9') == 'mon9'
    assert ovs.vsctl('get', 'Port', 'tap9', 'external_ids:"kubeovn.mirror/owner"').strip(
        '"') == 'kubeovn.mirror.ovs_mirror_port'


def test_an_adopted_port_deleted_before_its_key_is_removed_is_not_reported_changed(
        ovs, write_path):
    ovs.vsctl('add-port', 'br-int', 'tap9', '--', 'set', 'Interface', 'tap9', 'type=internal',
              'external_ids:mirror-id=mon9')
    plans, outcome = planned_with(ovs, dict(name='tap9', state='absent'),
                                  lambda: ovs.vsctl('del-port', 'br-int', 'tap9'))
    assert [plan['changed'] for plan in plans] == [True, False], plans
    assert outcome['changed'] is False and outcome['before'] == {}, outcome
