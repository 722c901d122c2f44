"""ovn_mirror_info against a real OVN NB ovsdb-server seeded with ovn-nbctl."""

import pytest

from lab.ovn_versions import VERSIONS

pytestmark = pytest.mark.both_ovn   # on the oldest and newest NB (conftest: NB_VERSIONS)

# What each version's real NB schema offers (ovn-nb.ovsschema of bookworm's, trixie's and
# sid's OVN).
SUPPORTS = {
    '23.03': dict(types=['erspan', 'gre'], filters=['from-lport', 'to-lport'],
                  schema_version='7.0.0', mirror_rules=False,
                  matches='OVN 22.12/23.03, as in Kube-OVN 1.12: types gre and erspan, '
                          'filters from-lport and to-lport'),
    '25.03': dict(types=['erspan', 'gre', 'local'], filters=['both', 'from-lport', 'to-lport'],
                  schema_version='7.11.0', mirror_rules=False,
                  matches='OVN 23.06 to 25.03, as in Kube-OVN 1.13/1.14 (OVN 24.03) and 1.15+ '
                          '(OVN 25.03): filter both and type local'),
    '26.03': dict(types=['erspan', 'gre', 'local', 'lport'],
                  filters=['both', 'from-lport', 'to-lport'],
                  schema_version='7.18.0', mirror_rules=True,
                  matches='OVN >= 25.09 (no Kube-OVN release yet): adds type lport'),
}

# A mirror without the collection's expiry key (kubeovn.mirror/expires) never expires.
NEVER_EXPIRES = dict(expires=None, expires_in=None, expired=False)


@pytest.mark.parametrize('ovn_version', VERSIONS, indirect=True,
                         ids=['ovn' + version for version in VERSIONS])
def test_reads_every_mirror_with_its_ports_and_what_the_server_supports(nb):
    nb.add_ports(['web-0.default', 'web-1.default', 'idle.default'])
    nb.nbctl('mirror-add', 'b-mirror', 'erspan', '7', 'to-lport', '2001:db8::1')
    nb.nbctl('mirror-add', 'a-mirror', 'gre', '99', 'from-lport', '172.19.0.21')
    nb.nbctl('set', 'Mirror', nb.mirror_uuid('a-mirror'), 'external_ids:owner=netops')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'a-mirror')
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'a-mirror')
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'b-mirror')

    result = nb.run('ovn_mirror_info', {})
    assert result['changed'] is False
    assert result['mirrors'] == [
        dict(name='a-mirror', type='gre', index=99, filter='from-lport', sink='172.19.0.21',
             external_ids={'owner': 'netops'}, ports=['web-0.default', 'web-1.default'],
             **NEVER_EXPIRES),
        dict(name='b-mirror', type='erspan', index=7, filter='to-lport', sink='2001:db8::1',
             external_ids={}, ports=['web-0.default'], **NEVER_EXPIRES),
    ]
    assert result['supports'] == SUPPORTS[nb.ovn.version]


def test_one_mirror_by_name_and_an_unknown_name(nb):
    nb.nbctl('mirror-add', 'a-mirror', 'gre', '99', 'from-lport', '172.19.0.21')
    nb.nbctl('mirror-add', 'b-mirror', 'gre', '98', 'from-lport', '172.19.0.21')
    named = nb.run('ovn_mirror_info', dict(name='b-mirror'))
    assert [m['name'] for m in named['mirrors']] == ['b-mirror']
    assert nb.run('ovn_mirror_info', dict(name='nosuch'))['mirrors'] == []


def test_empty_database_and_check_mode(nb):
    before = nb.dump()
    result = nb.run('ovn_mirror_info', {}, check=True)
    assert result['mirrors'] == [] and not result.get('failed')
    assert nb.dump() == before


def test_unreachable_database_fails_clearly(nb, tmp_path):
    remote = 'unix:%s/none.sock' % tmp_path
    result = nb.run('ovn_mirror_info', dict(nb_connection=remote, timeout=2))
    assert result.get('failed') is True and remote in result['msg']
