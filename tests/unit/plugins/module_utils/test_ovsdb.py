"""Pure logic of the connection layer: parsing remotes and TLS options, and the JSON
parser given to python-ovs (no server)."""

import json

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import json_framing, ovsdb_remotes


@pytest.mark.parametrize('text,expected', [
    ('unix:/var/run/ovn/ovnnb_db.sock', ['unix:/var/run/ovn/ovnnb_db.sock']),
    ('tcp:10.0.0.1:6641', ['tcp:10.0.0.1:6641']),
    ('ssl:10.0.0.1:6641, ssl:10.0.0.2:6641,ssl:10.0.0.3:6641',
     ['ssl:10.0.0.1:6641', 'ssl:10.0.0.2:6641', 'ssl:10.0.0.3:6641']),
    ('tcp:[fd00::1]:6641', ['tcp:[fd00::1]:6641']),
])
def test_valid_remotes_are_split(text, expected):
    assert ovsdb_remotes.parse_remotes(text) == expected


@pytest.mark.parametrize('text,named', [
    ('', 'empty'),
    ('   ', 'empty'),
    ('http://nb:6641', 'http://nb:6641'),
    ('tcp:10.0.0.1', 'tcp:10.0.0.1'),
    ('tcp:10.0.0.1:0', 'tcp:10.0.0.1:0'),
    ('tcp:10.0.0.1:65536', 'tcp:10.0.0.1:65536'),
    ('ssl::6641', 'ssl::6641'),
    ('unix:', 'unix:'),
    ('tcp:10.0.0.1:6641,', "''"),
    ('ptcp:6641', 'ptcp:6641'),
])
def test_malformed_remotes_are_named(text, named):
    with pytest.raises(ValueError) as err:
        ovsdb_remotes.parse_remotes(text)
    assert named in str(err.value)


def test_tls_options_are_not_needed_without_ssl_remotes():
    ovsdb_remotes.configure_tls(['tcp:127.0.0.1:6641'])


def test_ssl_remote_names_every_missing_tls_option():
    with pytest.raises(ValueError) as err:
        ovsdb_remotes.configure_tls(['tcp:127.0.0.1:1', 'ssl:127.0.0.1:2'], ssl_ca_cert='/x')
    assert 'ssl_key' in str(err.value) and 'ssl_cert' in str(err.value)
    assert 'ssl_ca_cert' not in str(err.value)


def test_unreadable_tls_file_is_named(tmp_path):
    with pytest.raises(ValueError) as err:
        ovsdb_remotes.configure_tls(['ssl:127.0.0.1:2'], str(tmp_path / 'k'),
                                    str(tmp_path / 'c'), str(tmp_path / 'ca'))
    assert 'ssl_key' in str(err.value) and str(tmp_path / 'k') in str(err.value)


# json_framing.StdlibJsonParser: python-ovs's JSON-RPC reader feeds it whatever the socket gave
# (4,096 bytes at a time), keeps what `feed` did not use, and starts a new parser on it.
_MESSAGES = [
    {'id': 1, 'result': [{'rows': [{'name': 'web-0.shop', 'external_ids': [
        'map', [['note', 'a } and a { in a string, "quoted", and a \\ backslash']]]}]}]},
    {'id': None, 'method': 'update3', 'params': [
        'monid', '00000000-0000-0000-0000-000000000000',
        {'Logical_Switch_Port': {'4d3c': {'modify': {'mirror_rules': ['uuid', '4d3c']}}}}]},
    {'id': 'echo', 'result': [], 'error': None, 'text': 'ends in a brace }'},
    {'id': 3, 'result': [True, False, 1.5, -7, 'caf\u00e9 \u2603', '\\', '"}', []]},
]


def _read_like_python_ovs(pieces):
    """What ovs.jsonrpc.Connection.recv does with a parser: returns the messages decoded."""
    pending, parser, decoded = '', None, []
    for piece in pieces:
        pending += piece
        while pending:
            parser = parser or json_framing.StdlibJsonParser()
            pending = pending[parser.feed(pending):]
            if parser.is_done():
                decoded.append(parser.finish())
                parser = None
    assert parser is None and pending == ''
    return decoded


def _wire(messages):
    return ''.join(json.dumps(message, separators=(',', ':')) for message in messages)


def test_the_json_parser_decodes_messages_cut_at_every_place():
    stream = _wire(_MESSAGES)
    for cut in range(1, len(stream)):
        assert _read_like_python_ovs([stream[:cut], stream[cut:]]) == _MESSAGES, cut


def test_the_json_parser_decodes_messages_cut_into_many_small_pieces():
    stream = _wire(_MESSAGES)
    for size in (1, 2, 3, 7, 64, 4096):
        pieces = [stream[start:start + size] for start in range(0, len(stream), size)]
        assert _read_like_python_ovs(pieces) == _MESSAGES, size


def test_the_json_parser_reports_a_malformed_message_as_python_ovs_does():
    # python-ovs's parser returns a string from finish() for bad input; jsonrpc then
    # drops the connection with that error.
    for bad in ('{"id":1,"result":tru}', '}', '{"id":[1}'):
        parser = json_framing.StdlibJsonParser()
        used = parser.feed(bad)
        assert parser.is_done(), bad
        result = parser.finish()
        assert isinstance(result, str) and 'invalid JSON' in result, (bad, result)
        assert used <= len(bad)


def test_the_json_parser_is_the_one_python_ovs_uses_once_installed():
    from ovs import json as ovs_json
    if ovs_json.PARSER == ovs_json.PARSER_C:
        pytest.skip('python-ovs has its C parser here')
    json_framing.install()
    assert ovs_json.Parser is json_framing.StdlibJsonParser


def test_python_ovs_reads_a_schema_file_through_it(tmp_path):
    # ovs.json.from_file (SchemaHelper(location=...)) uses the same parser, 4,096 characters
    # at a time: with and without a newline after the object.
    from ovs import json as ovs_json
    json_framing.install()
    schema = {'name': 'OVN_Northbound', 'version': '7.0.0', 'tables': {
        'Mirror': {'columns': {'name': {'type': 'string'}, 'note': {'type': 'string'}}}},
        'padding': ['x' * 100] * 100}
    for ending in ('', '\n'):
        path = tmp_path / ('schema%d.json' % len(ending))
        path.write_text(json.dumps(schema, indent=2) + ending)
        assert ovs_json.from_file(str(path)) == schema
