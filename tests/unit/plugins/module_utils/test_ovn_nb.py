"""Pure logic of NB mirror planning: validation, merging, schema support (no server).

Schemas come from tests/unit/fixtures/ovn-nb (vendored, see its README), not from the OVN
installed on the machine."""

import copy
import json
import os

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    kube_ovn_names, ovn_attachments, ovn_mirror_plan, ovn_mirror_set, ovn_nb)
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import OvsdbError

# tests/unit/fixtures/ovn-nb, from tests/unit/plugins/module_utils/
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                        'fixtures', 'ovn-nb')


def vendored_schema(ovn_version):
    with open(os.path.join(FIXTURES, 'ovn-nb-%s.ovsschema' % ovn_version)) as handle:
        return json.load(handle)


BOOKWORM_SCHEMA = vendored_schema('23.03')


def newer_schema():
    schema = copy.deepcopy(BOOKWORM_SCHEMA)
    columns = schema['tables']['Mirror']['columns']
    columns['filter']['type']['key']['enum'] = ['set', ['both', 'from-lport', 'to-lport']]
    columns['type']['type']['key']['enum'] = ['set', ['erspan', 'gre', 'local', 'lport']]
    columns['mirror_rules'] = {'type': {'key': 'uuid', 'min': 0, 'max': 'unlimited'}}
    schema['version'] = '7.12.0'
    return schema


BOOKWORM = ovn_nb.MirrorSupport(BOOKWORM_SCHEMA)
NEWER = ovn_nb.MirrorSupport(newer_schema())
OVN_25_03 = ovn_nb.MirrorSupport(vendored_schema('25.03'))


def params(**overrides):
    base = dict(name='m1', type=None, index=None, filter=None, sink=None,
                external_ids=None, state='present')
    base.update(overrides)
    return base


CREATE = params(type='gre', index=99, filter='from-lport', sink='172.19.0.21')


def test_bookworm_schema_support_is_read_from_the_schema():
    assert BOOKWORM.types == ['erspan', 'gre']
    assert BOOKWORM.filters == ['from-lport', 'to-lport']
    assert BOOKWORM.schema_version == '7.0.0'
    assert BOOKWORM.has_mirror_rules is False
    assert NEWER.as_dict() == dict(types=['erspan', 'gre', 'local', 'lport'],
                                   filters=['both', 'from-lport', 'to-lport'],
                                   schema_version='7.12.0', mirror_rules=True,
                                   matches='OVN >= 25.09 (no Kube-OVN release yet): adds '
                                           'type lport')
    assert 'Kube-OVN 1.12' in BOOKWORM.matches()


def test_ovn_25_03_schema_support_is_read_from_the_schema():
    """OVN 25.03 (Kube-OVN 1.15, 1.16): filter both and type local, no lport, no rules."""
    assert OVN_25_03.as_dict() == dict(types=['erspan', 'gre', 'local'],
                                       filters=['both', 'from-lport', 'to-lport'],
                                       schema_version='7.11.0', mirror_rules=False,
                                       matches=ovn_nb.MirrorSupport.matches(OVN_25_03))
    assert 'Kube-OVN 1.13/1.14' in OVN_25_03.matches() and '1.15+' in OVN_25_03.matches()
    OVN_25_03.check('filter', 'both')
    with pytest.raises(ValueError) as err:
        OVN_25_03.check('type', 'lport')
    assert '25.09' in str(err.value) and '7.11.0' in str(err.value)


def test_a_schema_without_mirror_table_names_the_ovn_version():
    schema = copy.deepcopy(BOOKWORM_SCHEMA)
    del schema['tables']['Mirror']
    with pytest.raises(OvsdbError) as err:
        ovn_nb.MirrorSupport(schema)
    assert '22.12' in str(err.value)


@pytest.mark.parametrize('option,value,version', [
    ('filter', 'both', '23.06'), ('type', 'local', '23.06'), ('type', 'lport', '25.09')])
def test_values_the_server_lacks_name_the_ovn_version_that_added_them(option, value, version):
    with pytest.raises(ValueError) as err:
        BOOKWORM.check(option, value)
    assert repr(value) in str(err.value) and version in str(err.value)
    NEWER.check(option, value)


def test_create_needs_every_field_and_says_which():
    with pytest.raises(ValueError) as err:
        ovn_mirror_plan.desired_mirror(params(type='gre'), {}, BOOKWORM)
    assert 'filter, sink, index' in str(err.value)


def test_merge_keeps_current_values_for_options_left_out():
    current = dict(name='m1', type='gre', index=99, filter='from-lport', sink='172.19.0.21',
                   external_ids={'a': '1'}, ports=['p'])
    desired = ovn_mirror_plan.desired_mirror(params(filter='to-lport'), current, BOOKWORM)
    assert desired == dict(name='m1', type='gre', index=99, filter='to-lport',
                           sink='172.19.0.21', external_ids={'a': '1'})


def test_external_ids_values_are_strings():
    desired = ovn_mirror_plan.desired_mirror(
        dict(CREATE, external_ids={'n': 5, 'b': True}), {}, BOOKWORM)
    assert desired['external_ids'] == {'n': '5', 'b': 'True'}


@pytest.mark.parametrize('sink,canonical', [
    ('172.19.0.21', '172.19.0.21'), (' 10.0.0.1 ', '10.0.0.1'),
    ('2001:DB8:0:0::1', '2001:db8::1'), ('::ffff:10.0.0.1', '::ffff:a00:1')])
def test_ip_sinks_are_canonical(sink, canonical):
    assert ovn_mirror_plan.desired_mirror(dict(CREATE, sink=sink), {}, BOOKWORM)['sink'] == canonical


@pytest.mark.parametrize('sink', ['', 'x', '1.2.3', '256.0.0.1', '10.0.0.0/8', 'fe80::1%eth0z'])
def test_bad_ip_sinks_are_named(sink):
    with pytest.raises(ValueError) as err:
        ovn_mirror_plan.desired_mirror(dict(CREATE, sink=sink), {}, BOOKWORM)
    assert repr(sink) in str(err.value) or 'needs sink' in str(err.value)


@pytest.mark.parametrize('mirror_type,index,ok', [
    ('gre', 0, True), ('gre', 4294967295, True), ('gre', 4294967296, False),
    ('gre', -1, False), ('erspan', 1023, True), ('erspan', 1024, False),
    ('erspan', 0, True)])
def test_index_ranges(mirror_type, index, ok):
    args = dict(CREATE, type=mirror_type, index=index)
    if ok:
        assert ovn_mirror_plan.desired_mirror(args, {}, BOOKWORM)['index'] == index
    else:
        with pytest.raises(ValueError) as err:
            ovn_mirror_plan.desired_mirror(args, {}, BOOKWORM)
        assert str(index) in str(err.value)


def test_local_mirror_needs_no_index_and_a_non_empty_sink():
    desired = ovn_mirror_plan.desired_mirror(params(type='local', filter='both', sink='m0'), {}, NEWER)
    assert desired['index'] == 0
    with pytest.raises(ValueError):
        ovn_mirror_plan.desired_mirror(params(type='local', filter='both', sink=' '), {}, NEWER)


def test_pods_become_kube_ovn_port_names_and_duplicates_go():
    names = kube_ovn_names.pod_lsp_names([
        {'name': 'web-0', 'namespace': 'default'},
        {'name': 'web-0', 'namespace': 'default', 'provider': 'attachnet.default.ovn'}])
    assert names == ['web-0.default', 'web-0.default.attachnet.default.ovn']
    assert kube_ovn_names.unique(['b', 'a', 'b', 'c', 'a']) == ['b', 'a', 'c']


def test_attachment_params_are_checked_once_and_give_unique_names():
    names = ovn_attachments.check_attachment_params(dict(
        mirror='m1', ports=['web-0.shop'], pods=[{'name': 'web-0', 'namespace': 'shop'}]))
    assert names == ['web-0.shop']
    with pytest.raises(ValueError) as err:
        ovn_attachments.check_attachment_params(dict(mirror='m1', ports=['a\x00'], pods=[]))
    assert 'control character' in str(err.value)


@pytest.mark.parametrize('params,says', [
    (dict(name='m1', external_ids={'k': 'v\x01'}), 'external_ids value'),
    (dict(name=' m1', external_ids=None), 'white space'),
])
def test_mirror_params_are_checked_before_connecting(params, says):
    with pytest.raises(ValueError) as err:
        ovn_mirror_plan.check_mirror_params(params)
    assert says in str(err.value)


@pytest.mark.parametrize('mirrors,owner,says', [
    ([{'name': 'a'}, {'name': 'a'}], 'netops', 'declared more than once'),
    ([{'name': 'a', 'external_ids': {'k\x00': 'v'}}], 'netops', 'external_ids key'),
    ([{'name': 'a', 'ports': ['']}], 'netops', 'must not be empty'),
    ([], ' netops', 'owner name'),
])
def test_a_declared_set_is_checked_before_connecting(mirrors, owner, says):
    with pytest.raises(ValueError) as err:
        ovn_mirror_set.check_params(dict(mirrors=mirrors, owner=owner))
    assert says in str(err.value)
