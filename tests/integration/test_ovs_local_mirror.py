"""ovs_local_mirror against a real ovsdb-server on the Open_vSwitch schema, read back with
ovs-vsctl. No ovs-vswitchd runs here (so `wait: false`, like ovs-vsctl --no-wait); packets
through a real datapath are the lab's business."""

import pytest


@pytest.fixture
def ovs(ovs_node):
    node = ovs_node('ovs_local_mirror')
    for port, lsp in (('web0_h', 'web-0.shop'), ('web1_h', 'web-1.shop')):
        node.vsctl('add-port', 'br-int', port, '--', 'set', 'Interface', port,
                   'external_ids:iface-id=%s' % lsp)
    node.vsctl('add-port', 'br-int', 'mirror0', '--', 'set', 'Interface', 'mirror0',
               'type=internal')
    return node


def test_create_by_pod_noop_update_delete(ovs):
    args = dict(name='dbg', pods=[{'name': 'web-0', 'namespace': 'shop'}])
    created = ovs.run(args, diff=True)
    assert created['changed'] is True, created
    assert ovs.port_names('dbg', 'select_src_port') == ['web0_h']
    assert ovs.port_names('dbg', 'select_dst_port') == ['web0_h']
    output = ovs.get('dbg', 'output_port')
    assert ovs.vsctl('get', 'Port', output, 'name').strip('"') == 'mirror0'
    assert ovs.vsctl('get', 'Bridge', 'br-int', 'mirrors') != '[]'
    assert created['diff']['before'] == {} and created['diff']['after']['select_src_port'] == [
        'web0_h']

    before = ovs.dump()
    again = ovs.run(args)
    assert again['changed'] is False and ovs.dump() == before

    egress = ovs.run(dict(args, direction='egress', lsps=['web-1.shop'], snaplen=128))
    assert egress['changed'] is True
    assert ovs.port_names('dbg', 'select_src_port') == ['web0_h', 'web1_h']
    assert ovs.port_names('dbg', 'select_dst_port') == []
    assert ovs.get('dbg', 'snaplen') == '128'

    gone = ovs.run(dict(name='dbg', state='absent'))
    assert gone['changed'] is True and ovs.get('dbg', 'name') == ''
    assert ovs.vsctl('get', 'Bridge', 'br-int', 'mirrors') == '[]'
    assert ovs.run(dict(name='dbg', state='absent'))['changed'] is False


def test_select_all_output_vlan_and_created_output(ovs):
    everything = ovs.run(dict(name='all', select_all=True, output_vlan=100))
    assert everything['changed'] is True, everything
    assert ovs.get('all', 'select_all') == 'true' and ovs.get('all', 'output_vlan') == '100'
    assert ovs.get('all', 'output_port') == ''

    created = ovs.run(dict(name='tap', ports=['web1_h'], output_port='kmtap9',
                           create_output=True))
    assert created['changed'] is True, created
    assert ovs.vsctl('get', 'Interface', 'kmtap9', 'type') == 'internal'
    assert 'kmtap9' in ovs.vsctl('list-ports', 'br-int').split()
    # wait=false: no ovs-vswitchd to create the tap, so the module does not wait for it
    # (the lab's test_lab_local_mirror shows the port brought up with a real vswitchd).
    assert 'commands' not in created, created


def test_m0_made_by_this_module_is_its_own_and_a_kube_ovn_cni_m0_is_refused(ovs):
    """Issue 11: creating m0 then re-running the same task must not fail as kube-ovn-cni's."""
    args = dict(name='m0', select_all=True)
    created = ovs.run(args)
    assert created['changed'] is True, created
    assert ovs.vsctl('get', 'Mirror', 'm0', 'external_ids:"kubeovn.mirror/owner"').strip(
        '"') == 'kubeovn.mirror.ovs_local_mirror'
    before = ovs.dump()
    again = ovs.run(args)
    assert not again.get('failed') and again['changed'] is False, again
    assert ovs.dump() == before
    assert ovs.run(dict(args, select_all=False, ports=['web0_h']))['changed'] is True

    # kube-ovn-cni restarts: it clears the bridge's mirrors and makes its own m0.
    ovs.vsctl('clear', 'Bridge', 'br-int', 'mirrors', '--', '--id=@m', 'create', 'Mirror',
              'name=m0', 'select_all=true', '--', 'add', 'Bridge', 'br-int', 'mirrors', '@m')
    before = ovs.dump()
    refused = ovs.run(args)
    assert refused.get('failed') and 'kube-ovn-cni' in refused['msg'], refused
    assert ovs.dump() == before


def test_external_ids_replace_the_map_but_keep_the_marker(ovs):
    ovs.run(dict(name='dbg', ports=['web0_h'], external_ids={'a': '1'}))
    result = ovs.run(dict(name='dbg', ports=['web0_h'], external_ids={'b': 2}))
    assert result['changed'] is True, result
    assert result['mirror']['external_ids'] == {
        'b': '2', 'kubeovn.mirror/owner': 'kubeovn.mirror.ovs_local_mirror'}
    assert ovs.get('dbg', 'external_ids') == \
        'b=2 kubeovn.mirror/owner=kubeovn.mirror.ovs_local_mirror'


def test_a_hand_made_mirror_is_taken_over_with_the_marker(ovs):
    ovs.vsctl('--', '--id=@p', 'get', 'Port', 'mirror0', '--', '--id=@m', 'create', 'Mirror',
              'name=byhand', 'select_all=true', 'output_port=@p', '--',
              'add', 'Bridge', 'br-int', 'mirrors', '@m')
    taken = ovs.run(dict(name='byhand', select_all=True))
    assert taken['changed'] is True, taken
    assert 'kubeovn.mirror/owner' in ovs.get('byhand', 'external_ids')
    assert ovs.run(dict(name='byhand', select_all=True))['changed'] is False


def test_pods_on_an_attachment_network_select_by_provider(ovs):
    ovs.vsctl('add-port', 'br-int', 'web0_net1', '--', 'set', 'Interface', 'web0_net1',
              'external_ids:iface-id=web-0.shop.attachnet.default.ovn')
    result = ovs.run(dict(name='att', direction='ingress', pods=[
        {'name': 'web-0', 'namespace': 'shop', 'provider': 'attachnet.default.ovn'}]))
    assert result['changed'] is True, result
    assert ovs.port_names('att', 'select_dst_port') == ['web0_net1']


@pytest.mark.parametrize('args', [
    dict(name='dbg', ports=['web0_h']),
    dict(name='existing', ports=['web1_h']),
    dict(name='existing', state='absent'),
], ids=['create', 'update', 'delete'])
def test_check_mode_writes_nothing(ovs, args):
    ovs.run(dict(name='existing', ports=['web0_h']))
    before = ovs.dump()
    result = ovs.run(args, check=True)
    assert result['changed'] is True, result
    assert ovs.dump() == before


@pytest.mark.parametrize('name,external_ids,owner', [
    ('m0', {}, 'kube-ovn-cni'),
    ('mirror1', {'ovn-owned': 'true'}, 'ovn-controller'),
])
def test_mirrors_of_kube_ovn_cni_and_ovn_controller_are_refused_unless_forced(
        ovs, name, external_ids, owner):
    ids = ['external_ids:%s=%s' % item for item in external_ids.items()]
    ovs.vsctl('--', '--id=@m', 'create', 'Mirror', 'name=%s' % name, 'select_all=true', *ids,
              '--', 'add', 'Bridge', 'br-int', 'mirrors', '@m')
    before = ovs.dump()
    refused = ovs.run(dict(name=name, ports=['web0_h']))
    assert refused.get('failed') and owner in refused['msg'] and 'force' in refused['msg']
    assert ovs.dump() == before
    forced = ovs.run(dict(name=name, state='absent', force=True))
    assert forced['changed'] is True and ovs.get(name, 'name') == ''


@pytest.mark.parametrize('args,fragment', [
    (dict(name='x', ports=['nope', 'web0_h'], lsps=['ghost.shop']), "'nope'"),
    (dict(name='x', ports=['web0_h'], output_port='absent0'), "'absent0'"),
    (dict(name='x', select_all=True, bridge='br-nope'), "'br-nope'"),
    (dict(name='x', select_all=True, snaplen=10), '10'),
    (dict(name='x', select_all=True, output_vlan=4096), '4096'),
    (dict(name='', select_all=True), "''"),
    (dict(name='x', select_all=True, direction='sideways'), 'sideways'),
    (dict(name='x'), 'selects nothing'),
    (dict(name='x', pods=[{'name': 'web-0', 'namespace': ''}]), 'namespace'),
    (dict(name='x', select_all=True, create_output=True, output_port='a-very-long-tap0'),
     "'a-very-long-tap0'"),
    (dict(name='x', select_all=True, external_ids={'k': 'v\x00'}), 'control character'),
], ids=['missing-ports', 'missing-output', 'missing-bridge', 'snaplen', 'vlan', 'empty-name',
        'direction', 'selects-nothing', 'empty-namespace', 'output-iface-name',
        'external-ids-text'])
def test_bad_input_fails_naming_the_value_and_writes_nothing(ovs, args, fragment):
    before = ovs.dump()
    result = ovs.run(args)
    assert result.get('failed') is True, result
    assert fragment in result['msg'], result['msg']
    assert ovs.dump() == before


def planned_twice(ovs, params, meanwhile):
    """Run the OVS planner once through module_utils, doing `meanwhile()` (another client's
    change) right after the first plan; the plannings and the outcome (or the error)."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovs_mirror
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb, ovsdb_remotes
    defaults = dict(bridge='br-int', output_port='mirror0', create_output=False,
                    output_vlan=None, select_all=False, ports=[], lsps=[], pods=[],
                    direction='both', snaplen=None, external_ids=None, force=False,
                    state='present')
    planner = ovs_mirror.plan_local_mirror(dict(defaults, **params))
    plans = []

    def planning(api):
        plans.append('planning')
        outcome = planner(api)
        plans[-1] = outcome[0]
        if len(plans) == 1:
            meanwhile()
        return outcome
    views = [ovsdb.TableView(table, columns) for table, columns in ovs_mirror.OVS_VIEWS]
    with ovsdb.open_session(ovs_mirror.NoWaitOvsdbIdl, 'Open_vSwitch',
                            ovsdb_remotes.ConnectionSettings(ovs.server.unix, 10), views) as session:
        try:
            return plans, ovsdb.run_planned(session.api, planning)
        except LookupError as exc:
            return plans, exc


def test_a_selected_port_removed_between_plan_and_commit_is_noticed(ovs):
    plans, outcome = planned_twice(ovs, dict(name='m1', ports=['web0_h', 'web1_h']),
                                   lambda: ovs.vsctl('del-port', 'br-int', 'web1_h'))
    assert len(plans) == 2 and plans[0]['changed'] is True, plans
    assert isinstance(outcome, LookupError) and "'web1_h'" in str(outcome), outcome
    assert ovs.get('m1', 'name') == ''          # nothing written


def test_a_mirror_deleted_between_plan_and_commit_is_not_reported_as_deleted(ovs):
    ovs.run(dict(name='m1', ports=['web0_h']))
    plans, outcome = planned_twice(ovs, dict(name='m1', state='absent'),
                                   lambda: ovs.vsctl('clear', 'Bridge', 'br-int', 'mirrors'))
    assert len(plans) == 2 and plans[0]['changed'] is True, plans
    assert outcome['changed'] is False, outcome
    assert ovs.get('m1', 'name') == ''


def mirror_of_web0(ovs):
    """Mirror m1 of web0_h to mirror0, as ovs_local_mirror makes it (written with ovs-vsctl)."""
    ovs.vsctl('--', '--id=@p', 'get', 'Port', 'web0_h', '--', '--id=@o', 'get', 'Port',
              'mirror0', '--', '--id=@m', 'create', 'Mirror', 'name=m1', 'select_src_port=@p',
              'select_dst_port=@p', 'output_port=@o',
              'external_ids:"kubeovn.mirror/owner"=kubeovn.mirror.ovs_local_mirror', '--',
              'add', 'Bridge', 'br-int', 'mirrors', '@m')


@pytest.mark.parametrize('removed, fragment', [
    ('web1_h', "port 'web1_h'"), ('mirror0', "output port 'mirror0'")],
    ids=['selected-port', 'output-port'])
def test_a_port_removed_while_an_existing_mirror_is_updated_is_noticed(ovs, write_path,
                                                                       removed, fragment):
    """Updating a mirror writes only the Mirror row: the check that the bridge's ports are
    as read is a `wait` operation (or, without add_op, the bridge written back as read)."""
    mirror_of_web0(ovs)
    before = ovs.dump()
    plans, outcome = planned_twice(ovs, dict(name='m1', ports=['web0_h', 'web1_h'],
                                             snaplen=128),
                                   lambda: ovs.vsctl('del-port', 'br-int', removed))
    assert len(plans) == 2 and plans[0]['changed'] is True, plans
    assert isinstance(outcome, LookupError) and fragment in str(outcome), outcome
    # Nothing written: the mirror is as it was (no snaplen, web0_h only).
    assert ovs.port_names('m1', 'select_src_port') == ['web0_h']
    assert ovs.get('m1', 'snaplen') == ''
    assert removed in before and removed not in ovs.dump()


def test_a_mirror_cleared_while_it_is_updated_is_made_again(ovs, write_path):
    """kube-ovn-cni's InitMirror (clear bridge br-int mirrors) between plan and commit: the
    update of the deleted row would match nothing; the retry creates the mirror instead."""
    mirror_of_web0(ovs)
    plans, outcome = planned_twice(ovs, dict(name='m1', ports=['web0_h', 'web1_h']),
                                   lambda: ovs.vsctl('clear', 'Bridge', 'br-int', 'mirrors'))
    assert len(plans) == 2 and plans[0]['before']['name'] == 'm1', plans
    assert outcome['before'] == {} and outcome['changed'] is True, outcome
    assert ovs.port_names('m1', 'select_src_port') == ['web0_h', 'web1_h']
    assert ovs.vsctl('get', 'Bridge', 'br-int', 'mirrors') != '[]'
