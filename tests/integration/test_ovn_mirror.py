"""ovn_mirror against a real OVN NB ovsdb-server, the DB read back with ovn-nbctl."""

import json
import os
import socket
import threading
import time

import pytest

from lab.ansible import task
from lab.daemons import OvsdbServer
from lab.ovn_versions import VERSIONS

pytestmark = pytest.mark.both_ovn   # on the oldest and newest NB (conftest: NB_VERSIONS)

GRE = dict(name='mirror1', type='gre', index=99, filter='from-lport', sink='172.19.0.21')


def test_create_reports_changed_and_writes_the_row(nb):
    result = nb.run('ovn_mirror', GRE)
    assert result['changed'] is True, result
    assert nb.mirror('mirror1') == dict(name='mirror1', type='gre', index=99,
                                        filter='from-lport', sink='172.19.0.21',
                                        external_ids={})
    assert result['mirror'] == dict(GRE, external_ids={}, ports=[])


def test_rerun_is_a_noop_and_writes_nothing(nb):
    nb.run('ovn_mirror', dict(GRE, external_ids={'owner': 'netops'}))
    before = nb.dump()
    result = nb.run('ovn_mirror', dict(GRE, external_ids={'owner': 'netops'}))
    assert result['changed'] is False, result
    assert nb.dump() == before


def test_update_in_place_keeps_row_and_attachments(nb):
    nb.add_ports(['web-0.default', 'web-1.default'])
    nb.run('ovn_mirror', GRE)
    uuid = nb.mirror_uuid('mirror1')
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'mirror1')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'mirror1')

    result = nb.run('ovn_mirror', dict(name='mirror1', type='erspan', index=7,
                                       filter='to-lport', sink='172.19.0.22'))
    assert result['changed'] is True, result
    assert nb.mirror_uuid('mirror1') == uuid
    assert nb.mirror('mirror1')['type'] == 'erspan'
    assert nb.mirror('mirror1')['index'] == 7
    assert nb.mirror('mirror1')['filter'] == 'to-lport'
    assert nb.mirror('mirror1')['sink'] == '172.19.0.22'
    assert nb.ports_of('mirror1') == ['web-0.default', 'web-1.default']
    assert result['mirror']['ports'] == ['web-0.default', 'web-1.default']


def test_options_left_out_keep_their_value(nb):
    nb.run('ovn_mirror', dict(GRE, external_ids={'a': '1'}))
    result = nb.run('ovn_mirror', dict(name='mirror1', filter='to-lport'))
    assert result['changed'] is True
    assert nb.mirror('mirror1') == dict(GRE, filter='to-lport', external_ids={'a': '1'})


def test_external_ids_given_replace_the_whole_map(nb):
    nb.run('ovn_mirror', dict(GRE, external_ids={'a': '1', 'b': '2'}))
    result = nb.run('ovn_mirror', dict(name='mirror1', external_ids={'b': '3', 'n': 5}))
    assert result['changed'] is True
    assert nb.mirror('mirror1')['external_ids'] == {'b': '3', 'n': '5'}
    assert nb.run('ovn_mirror', dict(name='mirror1', external_ids={'b': '3', 'n': '5'}))[
        'changed'] is False
    nb.run('ovn_mirror', dict(name='mirror1', external_ids={}))
    assert nb.mirror('mirror1')['external_ids'] == {}


def test_delete_removes_the_row_and_every_attachment(nb):
    nb.add_ports(['web-0.default', 'web-1.default'])
    nb.run('ovn_mirror', GRE)
    nb.run('ovn_mirror', dict(GRE, name='keep'))
    for port in ('web-0.default', 'web-1.default'):
        nb.nbctl('lsp-attach-mirror', port, 'mirror1')
        nb.nbctl('lsp-attach-mirror', port, 'keep')

    result = nb.run('ovn_mirror', dict(name='mirror1', state='absent'))
    assert result['changed'] is True
    assert result['mirror'] == {}
    assert nb.mirror('mirror1') is None
    assert nb.mirror('keep') is not None, 'only the named mirror may be deleted'
    assert nb.ports_of('keep') == ['web-0.default', 'web-1.default']
    rules = nb.nbctl('--bare', '--columns=mirror_rules', 'list', 'Logical_Switch_Port')
    assert rules.split() == [nb.mirror_uuid('keep')] * 2

    again = nb.run('ovn_mirror', dict(name='mirror1', state='absent'))
    assert again['changed'] is False


@pytest.mark.parametrize('args', [
    GRE,                                                   # create
    dict(name='mirror1', index=100),                       # update
    dict(name='mirror1', state='absent'),                  # delete
], ids=['create', 'update', 'delete'])
def test_check_mode_writes_nothing(nb, args):
    if args is not GRE:
        nb.run('ovn_mirror', GRE)
    before = nb.dump()
    result = nb.run('ovn_mirror', args, check=True, diff=True)
    assert result['changed'] is True, result
    assert nb.dump() == before, 'check mode changed the database'
    if args.get('state') == 'absent':
        assert result['diff']['after'] == {}
    else:
        expected_index = args.get('index', 99)
        assert result['mirror']['index'] == expected_index
        assert result['diff']['after']['index'] == expected_index


def test_diff_shows_before_and_after(nb):
    created = nb.run('ovn_mirror', GRE, diff=True)
    assert created['diff'] == {'before': {}, 'after': dict(GRE, external_ids={}, ports=[])}
    updated = nb.run('ovn_mirror', dict(name='mirror1', filter='to-lport'), diff=True)
    assert updated['diff']['before']['filter'] == 'from-lport'
    assert updated['diff']['after']['filter'] == 'to-lport'
    plain = nb.run('ovn_mirror', dict(name='mirror1', filter='from-lport'))
    assert 'diff' not in plain


def test_ipv6_sink_is_compared_in_canonical_form(nb):
    result = nb.run('ovn_mirror', dict(GRE, sink='2001:DB8:0::0:21'))
    assert result['mirror']['sink'] == '2001:db8::21'
    assert nb.mirror('mirror1')['sink'] == '2001:db8::21'
    assert nb.run('ovn_mirror', dict(GRE, sink='2001:db8::21'))['changed'] is False


def test_erspan_mirror_at_the_index_limit(nb):
    result = nb.run('ovn_mirror', dict(name='span1', type='erspan', index=1023,
                                       filter='to-lport', sink='10.0.0.9'))
    assert result['changed'] is True, result
    assert nb.mirror('span1')['index'] == 1023


def test_gre_key_at_the_32_bit_limit(nb):
    assert nb.run('ovn_mirror', dict(GRE, index=4294967295))['changed'] is True
    assert nb.mirror('mirror1')['index'] == 4294967295


BAD_INPUTS = [
    ('bad-ip', dict(GRE, sink='not-an-ip'), "'not-an-ip'"),
    ('bad-ipv4', dict(GRE, sink='300.1.1.1'), "'300.1.1.1'"),
    ('gre-key-too-big', dict(GRE, index=4294967296), '4294967296'),
    ('negative-index', dict(GRE, index=-1), '-1'),
    ('erspan-index-too-big', dict(GRE, type='erspan', index=1024), '1024'),
    ('unknown-type', dict(GRE, type='vxlan'), 'vxlan'),
    ('unknown-filter', dict(GRE, filter='sideways'), 'sideways'),
    ('empty-name', dict(GRE, name=''), 'empty'),
    ('blank-name', dict(GRE, name='  '), 'empty'),
    ('create-without-sink', dict(name='new', type='gre', index=1, filter='to-lport'), 'sink'),
    ('create-without-index', dict(name='new', type='gre', filter='to-lport', sink='1.2.3.4'),
     'index'),
    ('update-to-bad-ip', dict(name='existing', sink='1.2.3'), "'1.2.3'"),
    ('update-to-erspan-with-gre-key', dict(name='existing', type='erspan'), '5000'),
    ('bad-remote', dict(GRE, nb_connection='http://x'), 'http://x'),
    ('bad-port', dict(GRE, nb_connection='tcp:127.0.0.1:99999'), '99999'),
    ('zero-timeout', dict(GRE, timeout=0), 'timeout'),
]


@pytest.mark.parametrize('args,fragment', [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
@pytest.mark.one_ovn
def test_bad_input_fails_naming_the_value_and_writes_nothing(nb, args, fragment):
    nb.run('ovn_mirror', dict(GRE, name='existing', index=5000))
    before = nb.dump()
    result = nb.run('ovn_mirror', args)
    assert result.get('failed') is True, result
    assert fragment in result['msg'], result['msg']
    assert nb.dump() == before


@pytest.mark.parametrize('ovn_version', VERSIONS, indirect=True,
                         ids=['ovn' + version for version in VERSIONS])
def test_both_and_local_where_the_server_has_them_else_refused_naming_the_ovn(nb):
    """23.03 lacks filter both and type local (OVN 23.06); 25.03 has them and lacks lport
    (OVN 25.09); 26.03 has them all. Each refusal names the value and the OVN that has it,
    writing nothing."""
    lacking = {'23.03': [(dict(GRE, name='b', filter='both'), "'both'", '23.06'),
                         (dict(GRE, name='l', type='local', sink='m0'), "'local'", '23.06')],
               '25.03': [(dict(GRE, name='p', type='lport', sink='x'), "'lport'", '25.09')],
               '26.03': []}
    for args, value, since in lacking[nb.ovn.version]:
        before = nb.dump()
        result = nb.run('ovn_mirror', args)
        assert result.get('failed') and value in result['msg'], result
        assert 'OVN >= %s' % since in result['msg'], result['msg']
        assert nb.dump() == before
    if nb.ovn.version != '23.03':
        assert nb.run('ovn_mirror', dict(GRE, name='b', filter='both'))['changed'] is True
        local = nb.run('ovn_mirror', dict(name='l', type='local', filter='both', sink='mon0'))
        assert local['changed'] is True and local['mirror']['index'] == 0, local
        assert nb.mirror('b')['filter'] == 'both'
        assert (nb.mirror('l')['type'], nb.mirror('l')['sink']) == ('local', 'mon0')
        assert nb.run('ovn_mirror', dict(name='l', type='local', filter='both',
                                         sink='mon0'))['changed'] is False


@pytest.mark.parametrize('transport', ['unix', 'tcp', 'ssl'])
def test_every_transport(nb, transport):
    args = dict(GRE, nb_connection=getattr(nb.server, transport))
    if transport == 'ssl':
        args.update(ssl_key=nb.pki.client_key, ssl_cert=nb.pki.client_cert,
                    ssl_ca_cert=nb.pki.ca_cert)
    assert nb.run('ovn_mirror', args)['changed'] is True
    assert nb.mirror('mirror1')['sink'] == '172.19.0.21'
    assert nb.run('ovn_mirror', args)['changed'] is False


def test_untrusted_server_certificate_is_refused(nb):
    before = nb.dump()
    result = nb.run('ovn_mirror', dict(GRE, nb_connection=nb.server.ssl,
                                       ssl_key=nb.pki.client_key, ssl_cert=nb.pki.client_cert,
                                       ssl_ca_cert=nb.pki.other_ca_cert, timeout=5))
    assert result.get('failed') is True, result
    assert nb.server.ssl in result['msg'] and 'TLS' in result['msg'], result['msg']
    assert nb.dump() == before


def test_ssl_remote_without_key_material_names_what_is_missing(nb):
    result = nb.run('ovn_mirror', dict(GRE, nb_connection=nb.server.ssl,
                                       ssl_ca_cert=nb.pki.ca_cert))
    assert result.get('failed') is True
    assert 'ssl_key' in result['msg'] and 'ssl_cert' in result['msg'], result['msg']


def test_unreachable_databases_fail_naming_remote_and_reason(nb, tmp_path):
    missing = 'unix:%s/nothing.sock' % tmp_path
    result = nb.run('ovn_mirror', dict(GRE, nb_connection=missing, timeout=3))
    assert result.get('failed') is True
    assert missing in result['msg'] and 'No such file' in result['msg'], result['msg']

    refused = 'tcp:127.0.0.1:1'
    result = nb.run('ovn_mirror', dict(GRE, nb_connection=refused, timeout=3))
    assert refused in result['msg'] and 'refused' in result['msg'], result['msg']


def test_a_server_that_never_answers_fails_within_timeout(nb, tmp_path):
    """A listener that accepts and stays silent: the module must give up after `timeout`."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_hold():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except socket.timeout:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    remote = 'tcp:127.0.0.1:%d' % listener.getsockname()[1]
    try:
        started = time.monotonic()
        result = nb.run('ovn_mirror', dict(GRE, nb_connection=remote, timeout=2))
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()
    assert result.get('failed') is True
    assert remote in result['msg'] and 'timeout' in result['msg'], result['msg']
    # 2 s of waiting plus ansible-playbook's own start-up; far below the 30 s default.
    assert elapsed < 12, elapsed


def test_module_defaults_group_sets_the_connection_once(nb):
    results = nb.play(
        [task('ovn_mirror', GRE), task('ovn_lsp_mirror', dict(mirror='mirror1', ports=[])),
         task('ovn_mirror_info', {})],
        play={'module_defaults': {'group/kubeovn.mirror.ovn': {'nb_connection': nb.connection}}})
    assert [r.get('failed', False) for r in results] == [False, False, False], results
    assert results[2]['mirrors'][0]['name'] == 'mirror1'


def test_nb_connection_falls_back_to_OVN_NB_DB(nb, monkeypatch):
    results = nb.play([task('ovn_mirror', GRE)], env={'OVN_NB_DB': nb.connection})
    assert results[0]['changed'] is True, results
    assert nb.mirror('mirror1') is not None


@pytest.fixture
def newer_nb(tmp_path):
    """A real ovsdb-server on the bookworm NB schema extended the way OVN 23.06 extended it
    (filter `both`, type `local`), standing in for a newer OVN."""
    with open('/usr/share/ovn/ovn-nb.ovsschema') as handle:
        schema = json.load(handle)
    columns = schema['tables']['Mirror']['columns']
    columns['filter']['type']['key']['enum'] = ['set', ['from-lport', 'to-lport', 'both']]
    columns['type']['type']['key']['enum'] = ['set', ['gre', 'erspan', 'local']]
    schema['version'] = '7.0.4'
    path = os.path.join(str(tmp_path), 'newer.ovsschema')
    with open(path, 'w') as handle:
        json.dump(schema, handle)
    with OvsdbServer(tmp_path, schema=path, name='newer') as server:
        yield server


def test_values_a_newer_server_has_are_accepted(nb, newer_nb):
    both = nb.run('ovn_mirror', dict(GRE, filter='both', nb_connection=newer_nb.unix))
    assert both['changed'] is True, both
    local = nb.run('ovn_mirror', dict(name='loc', type='local', filter='to-lport',
                                      sink='mirror0', nb_connection=newer_nb.unix))
    assert local['changed'] is True, local
    assert local['mirror']['index'] == 0
    info = nb.run('ovn_mirror_info', dict(nb_connection=newer_nb.unix))
    assert info['supports']['filters'] == ['both', 'from-lport', 'to-lport']
    assert info['supports']['types'] == ['erspan', 'gre', 'local']
    assert info['supports']['schema_version'] == '7.0.4'
    lport = nb.run('ovn_mirror', dict(GRE, name='lp', type='lport', sink='x',
                                      nb_connection=newer_nb.unix))
    assert lport.get('failed') and '25.09' in lport['msg'], lport


def test_a_server_without_the_mirror_table_names_the_ovn_version(nb, tmp_path):
    """A real server on the NB schema minus Mirror (as before OVN 22.12)."""
    with open('/usr/share/ovn/ovn-nb.ovsschema') as handle:
        schema = json.load(handle)
    del schema['tables']['Mirror']
    del schema['tables']['Logical_Switch_Port']['columns']['mirror_rules']
    path = os.path.join(str(tmp_path), 'old.ovsschema')
    with open(path, 'w') as handle:
        json.dump(schema, handle)
    with OvsdbServer(tmp_path, schema=path, name='old') as old:
        result = nb.run('ovn_mirror', dict(GRE, nb_connection=old.unix))
    assert result.get('failed') and 'OVN >= 22.12' in result['msg'], result
