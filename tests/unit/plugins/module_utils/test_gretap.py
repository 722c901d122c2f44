"""Reading iproute2's JSON and planning ip commands (no kernel needed)."""

import json

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import gretap

SHOW = json.dumps([{
    'ifname': 'mirror1', 'flags': ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], 'mtu': 1462,
    'linkinfo': {'info_kind': 'gretap', 'info_data': {
        'remote': 'any', 'local': '172.19.0.21', 'link': 'net1', 'ikey': '0.0.0.99',
        'okey': '0.0.0.99'}}}])


def params(**overrides):
    base = dict(name='mirror1', type='gretap', local='172.19.0.21', remote=None, key=99,
                erspan_index=None, erspan_version=1, dev='net1', mtu=None, up=True,
                state='present')
    base.update(overrides)
    return base


def test_dotted_keys_and_any_remote_are_read():
    record = gretap.parse_link(SHOW, 'mirror1')
    assert record == dict(name='mirror1', type='gretap', local='172.19.0.21', remote=None,
                          dev='net1', key=99, mtu=1462, up=True)


def test_same_parameters_need_no_replace_other_key_does():
    current = gretap.parse_link(SHOW, 'mirror1')
    assert not gretap.needs_replace(current, gretap.desired_link(params()))
    assert gretap.needs_replace(current, gretap.desired_link(params(key=100)))
    assert gretap.needs_replace(current, gretap.desired_link(params(local='172.19.0.22')))


def test_erspan_add_command_defaults_the_key_to_the_index():
    cmd = gretap.add_command(params(type='erspan', key=None, erspan_index=7))
    assert cmd[:5] == ['link', 'add', 'mirror1', 'type', 'erspan']
    assert cmd[-7:] == ['key', '7', 'seq', 'erspan_ver', '1', 'erspan', '7']


def test_unsupported_message_says_what_the_kernel_lacks():
    message = gretap.unsupported_message('gretap', 'Error: Unknown device type.\n')
    assert 'ip_gre' in message and 'Unknown device type' in message
    assert gretap.unsupported_message('gretap', 'RTNETLINK answers: File exists') is None


@pytest.mark.parametrize('name', ['', 'a-name-longer-than-15', 'a/b', 'a b', 'a\x01'])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_bad_link_names_are_refused(name, state):
    with pytest.raises(ValueError) as error:
        gretap.check_params(params(name=name, state=state))
    assert repr(name) in str(error.value)


def test_a_fifteen_character_link_name_is_fine():
    gretap.check_params(params(name='mirror-15-chars'))


def test_absent_needs_only_a_name():
    gretap.check_params(params(state='absent', local='not-an-address', key=-1))


def test_plan_creates_a_missing_link_and_sets_it_up():
    after, commands = gretap.plan_link(None, params(mtu=1400))
    assert commands == [
        ['link', 'add', 'mirror1', 'type', 'gretap', 'local', '172.19.0.21', 'dev', 'net1',
         'key', '99'],
        ['link', 'set', 'mirror1', 'mtu', '1400'],
        ['link', 'set', 'mirror1', 'up']]
    assert after == dict(name='mirror1', type='gretap', local='172.19.0.21', remote=None,
                         dev='net1', key=99, mtu=1400, up=True)


def test_plan_leaves_a_matching_link_alone():
    current = gretap.parse_link(SHOW, 'mirror1')
    after, commands = gretap.plan_link(current, params())
    assert commands == [] and after['mtu'] == 1462


def test_plan_changes_mtu_and_up_in_place():
    current = gretap.parse_link(SHOW, 'mirror1')
    dummy, commands = gretap.plan_link(current, params(mtu=1400, up=False))
    assert commands == [['link', 'set', 'mirror1', 'mtu', '1400'],
                        ['link', 'set', 'mirror1', 'down']]


@pytest.mark.parametrize('change', [dict(key=100), dict(type='erspan', erspan_index=7)])
def test_plan_replaces_a_link_whose_tunnel_differs(change):
    current = gretap.parse_link(SHOW, 'mirror1')
    dummy, commands = gretap.plan_link(current, params(**change))
    assert commands[0] == ['link', 'del', 'mirror1']
    assert commands[1][:3] == ['link', 'add', 'mirror1']
    assert commands[-1] == ['link', 'set', 'mirror1', 'up']


def test_plan_absent_deletes_only_an_existing_link():
    current = gretap.parse_link(SHOW, 'mirror1')
    assert gretap.plan_link(current, params(state='absent')) == (
        {}, [['link', 'del', 'mirror1']])
    assert gretap.plan_link(None, params(state='absent')) == ({}, [])
