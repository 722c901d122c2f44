"""Mirrors that expire: `expires` on ovn_mirror and ovn_mirrors stored in external_ids, the
time left in ovn_mirror_info, and playbooks/expire.yml deleting only this collection's expired
mirrors; against a real NB ovsdb-server, read back with ovn-nbctl."""

import datetime

import pytest

from lab.ansible import run_collection_playbook

pytestmark = pytest.mark.both_ovn   # on the oldest and newest NB (conftest: NB_VERSIONS)

KEY = 'kubeovn.mirror/expires'
OWNER = 'kubeovn.mirror/owner'
RECEIVER = 'kubeovn.mirror/receiver'
GRE = dict(name='m1', type='gre', index=99, filter='from-lport', sink='172.19.0.21')


def stamp(**delta):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def seconds_until(text):
    moment = datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc)
    return (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def test_a_duration_is_stored_once_and_a_rerun_keeps_it(nb):
    first = nb.run('ovn_mirror', dict(GRE, expires='2h'))
    assert first['changed'] is True
    stored = nb.mirror('m1')['external_ids'][KEY]
    assert 7100 < seconds_until(stored) <= 7200
    before = nb.dump()
    again = nb.run('ovn_mirror', dict(GRE, expires='2h'))
    assert again['changed'] is False and nb.dump() == before
    # external_ids replacing the map leaves the expiry alone
    nb.run('ovn_mirror', dict(GRE, external_ids={'team': 'netops'}))
    assert nb.mirror('m1')['external_ids'] == {'team': 'netops', KEY: stored}
    info = nb.run('ovn_mirror_info', dict(name='m1'))['mirrors'][0]
    assert info['expires'] == stored and info['expired'] is False
    assert 7000 < info['expires_in'] <= 7200


def test_a_timestamp_sets_it_exactly_check_mode_and_diff_write_nothing_never_removes(nb):
    nb.run('ovn_mirror', dict(GRE, expires='30m'))
    later = stamp(days=2)
    before = nb.dump()
    planned = nb.run('ovn_mirror', dict(GRE, expires=later), check=True, diff=True)
    assert planned['changed'] is True and nb.dump() == before
    assert planned['diff']['after']['external_ids'][KEY] == later
    assert nb.run('ovn_mirror', dict(GRE, expires=later))['changed'] is True
    assert nb.mirror('m1')['external_ids'][KEY] == later
    assert nb.run('ovn_mirror', dict(name='m1', expires='never'))['changed'] is True
    assert KEY not in nb.mirror('m1')['external_ids']


@pytest.mark.parametrize('value,fragment', [
    ('soon', "expires 'soon' is neither a duration"),
    ('0m', "expires '0m' is a duration of zero"),
    ('2020-01-01T00:00:00Z', "expires '2020-01-01T00:00:00Z' has already passed"),
])
def test_bad_expires_is_named_and_nothing_is_written(nb, value, fragment):
    before = nb.dump()
    result = nb.run('ovn_mirror', dict(GRE, expires=value))
    assert result.get('failed') and fragment in result['msg'], result
    assert nb.dump() == before


def test_ovn_mirrors_deletes_a_declared_mirror_once_expired_and_does_not_recreate_it(nb):
    nb.add_ports(['web-0.default'])
    declared = dict(GRE, ports=['web-0.default'], expires=stamp(hours=1))
    assert nb.run('ovn_mirrors', dict(mirrors=[declared]))['created'] == ['m1']
    # Time passes: the stored expiry is now behind us (written as time would have made it).
    nb.nbctl('set', 'Mirror', nb.mirror_uuid('m1'),
             'external_ids:"%s"="%s"' % (KEY, stamp(minutes=-1)))
    check = nb.run('ovn_mirrors', dict(mirrors=[declared]), check=True)
    assert (check['changed'], check['expired'], check['deleted']) == (True, ['m1'], ['m1'])
    assert nb.mirror('m1') is not None
    run = nb.run('ovn_mirrors', dict(mirrors=[declared]))
    assert run['expired'] == ['m1'] and nb.mirror('m1') is None
    # Declared with a timestamp that has passed: not created again.
    gone = dict(declared, expires=stamp(minutes=-5))
    again = nb.run('ovn_mirrors', dict(mirrors=[gone]))
    assert (again['changed'], again['expired'], again['created']) == (False, ['m1'], [])
    assert nb.mirror('m1') is None


@pytest.mark.kube
def test_expire_playbook_deletes_only_this_collections_expired_mirrors(nb, kube, namespace):
    """And the receiver pods the remote_mirror role made for them (its marker), unless a mirror
    that stays still sends to that receiver."""
    receivers = {'owned-old': 'rx-old', 'owned-old-shared': 'rx-shared',
                 'owned-new': 'rx-shared', 'by-hand-old': 'rx-hand'}
    for name, owned, expires in (('owned-old', True, stamp(minutes=-1)),
                                 ('owned-old-shared', True, stamp(minutes=-2)),
                                 ('owned-new', True, stamp(hours=1)),
                                 ('by-hand-old', False, stamp(minutes=-1))):
        nb.nbctl('mirror-add', name, 'gre', '7', 'to-lport', '172.19.0.21')
        uuid = nb.mirror_uuid(name)
        nb.nbctl('set', 'Mirror', uuid, 'external_ids:"%s"="%s"' % (KEY, expires),
                 'external_ids:"%s"="%s/%s"' % (RECEIVER, namespace, receivers[name]))
        if owned:
            nb.nbctl('set', 'Mirror', uuid, 'external_ids:"%s"=kubeovn.mirror' % OWNER)
    for pod in sorted(set(receivers.values())):
        kube.core.create_namespaced_pod(namespace, {'metadata': {'name': pod}, 'spec': {
            'containers': [{'name': 'c', 'image': 'busybox'}],
            'automountServiceAccountToken': False}})

    def pods():
        return sorted(p.metadata.name for p in kube.core.list_namespaced_pod(namespace).items)
    env = {'OVN_NB_DB': nb.connection, 'K8S_AUTH_KUBECONFIG': kube.kubeconfig}
    names = ('owned-old', 'owned-old-shared', 'owned-new', 'by-hand-old')
    check = run_collection_playbook('playbooks/expire.yml', env=env, check=True)
    assert check.failures == [] and check.changed == 2, check.failures   # mirrors, pods
    planned = check.result('Delete the receiver pods made for them that no remaining mirror '
                           'sends to')['results']
    assert [r['item'] for r in planned] == [{'namespace': namespace, 'name': 'rx-old'}]
    assert [m for m in names if nb.mirror(m)] == list(names)
    assert pods() == ['rx-hand', 'rx-old', 'rx-shared']
    run = run_collection_playbook('playbooks/expire.yml', env=env)
    assert run.failures == [] and run.changed == 2, run.failures
    assert [m for m in names if nb.mirror(m)] == ['owned-new', 'by-hand-old']
    assert pods() == ['rx-hand', 'rx-shared']
    assert run_collection_playbook('playbooks/expire.yml', env=env).changed == 0
