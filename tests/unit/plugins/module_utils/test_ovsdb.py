"""Pure logic of the connection layer: parsing remotes and TLS options (no server)."""

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb


@pytest.mark.parametrize('text,expected', [
    ('unix:/var/run/ovn/ovnnb_db.sock', ['unix:/var/run/ovn/ovnnb_db.sock']),
    ('tcp:10.0.0.1:6641', ['tcp:10.0.0.1:6641']),
    ('ssl:10.0.0.1:6641, ssl:10.0.0.2:6641,ssl:10.0.0.3:6641',
     ['ssl:10.0.0.1:6641', 'ssl:10.0.0.2:6641', 'ssl:10.0.0.3:6641']),
    ('tcp:[fd00::1]:6641', ['tcp:[fd00::1]:6641']),
])
def test_valid_remotes_are_split(text, expected):
    assert ovsdb.parse_remotes(text) == expected


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
        ovsdb.parse_remotes(text)
    assert named in str(err.value)


def test_tls_options_are_not_needed_without_ssl_remotes():
    ovsdb.configure_tls(['tcp:127.0.0.1:6641'])


def test_ssl_remote_names_every_missing_tls_option():
    with pytest.raises(ValueError) as err:
        ovsdb.configure_tls(['tcp:127.0.0.1:1', 'ssl:127.0.0.1:2'], ssl_ca_cert='/x')
    assert 'ssl_key' in str(err.value) and 'ssl_cert' in str(err.value)
    assert 'ssl_ca_cert' not in str(err.value)


def test_unreadable_tls_file_is_named(tmp_path):
    with pytest.raises(ValueError) as err:
        ovsdb.configure_tls(['ssl:127.0.0.1:2'], str(tmp_path / 'k'), str(tmp_path / 'c'),
                            str(tmp_path / 'ca'))
    assert 'ssl_key' in str(err.value) and str(tmp_path / 'k') in str(err.value)
