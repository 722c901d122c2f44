"""module_utils.expiry: durations and timestamps, what is stored, the time left."""

import datetime

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry

NOW = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('text,seconds', [
    ('90s', 90), ('30m', 1800), ('2h', 7200), ('1d', 86400), ('1w', 604800),
    ('1h30m', 5400), (' 2H ', 7200), ('2026-12-31T18:00:00Z', None), ('1.5h', None),
    ('h', None), ('', None)])
def test_durations(text, seconds):
    assert expiry.duration_seconds(text) == seconds


def test_a_duration_counts_from_now_unless_one_is_stored():
    assert expiry.stored_expiry('2h', None, NOW) == '2026-12-02T14:00:00Z'
    assert expiry.stored_expiry('2h', '2026-12-02T13:00:00Z', NOW) == '2026-12-02T13:00:00Z'


def test_timestamps_are_stored_in_utc_and_a_passed_one_only_when_already_stored():
    assert expiry.stored_expiry('2026-12-03T01:00:00+02:00', None, NOW) == \
        '2026-12-02T23:00:00Z'
    assert expiry.stored_expiry('2026-12-03T01:00:00', None, NOW) == '2026-12-03T01:00:00Z'
    with pytest.raises(ValueError, match='has already passed'):
        expiry.stored_expiry('2026-12-01T00:00:00Z', None, NOW)
    assert expiry.stored_expiry('2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z', NOW) == \
        '2026-12-01T00:00:00Z'
    assert expiry.stored_expiry('never', '2026-12-01T00:00:00Z', NOW) is None
    assert expiry.stored_expiry(None, '2026-12-01T00:00:00Z', NOW) == '2026-12-01T00:00:00Z'


def test_time_left_and_has_passed():
    ids = {expiry.EXPIRES_KEY: '2026-12-02T12:10:00Z'}
    assert expiry.time_left(ids, NOW) == dict(expires='2026-12-02T12:10:00Z', expires_in=600,
                                              expired=False)
    assert expiry.time_left({}, NOW) == dict(expires=None, expires_in=None, expired=False)
    assert expiry.time_left({expiry.EXPIRES_KEY: '2026-12-02T11:00:00Z'}, NOW)['expired']
    assert expiry.has_passed('2026-12-02T11:00:00Z', NOW)
    assert not expiry.has_passed('2h', NOW) and not expiry.has_passed(None, NOW)


@pytest.mark.parametrize('value', ['soon', '0s', '2026-13-01T00:00:00Z'])
def test_bad_values_are_refused(value):
    with pytest.raises(ValueError, match=repr(value)):
        expiry.check_expires(value)
