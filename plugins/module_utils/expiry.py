# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirrors that expire: the `expires` option (a duration or a timestamp), stored as a UTC
timestamp in the mirror's external_ids (EXPIRES_KEY), and the time left.

A duration counts from the run that first sets it: later runs with a duration keep the stored
time, so re-running a playbook neither changes nor extends it. A timestamp sets it exactly;
`never` removes it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

EXPIRES_KEY = 'kubeovn.mirror/expires'
NEVER = 'never'
_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_DURATION = re.compile(r'^(?:(\d+)([smhdw]))+$')
_PART = re.compile(r'(\d+)([smhdw])')
_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_time(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(_FORMAT)


def parse_time(text):
    """A stored or given ISO 8601 timestamp (Z or an offset; none means UTC), or None."""
    value = str(text).strip()
    if value.endswith(('Z', 'z')):
        value = value[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def duration_seconds(text):
    """Seconds of a duration such as 90s, 30m, 2h, 1d, 1h30m; None when it is not one."""
    value = str(text).strip().lower()
    if not _DURATION.match(value):
        return None
    return sum(int(number) * _UNITS[unit] for number, unit in _PART.findall(value))


def check_expires(value):
    """ValueError naming `value` unless it is a positive duration, a timestamp or never."""
    if value is None or str(value).strip().lower() == NEVER:
        return
    seconds = duration_seconds(value)
    if seconds is None and parse_time(value) is None:
        raise ValueError('expires %r is neither a duration (such as 30m, 2h, 1d, 1h30m) nor an '
                         'ISO 8601 timestamp (such as 2026-12-31T18:00:00Z) nor never'
                         % (value,))
    if seconds == 0:
        raise ValueError('expires %r is a duration of zero' % (value,))


def stored_expiry(value, current, now=None):
    """The EXPIRES_KEY value `expires` asks for, given the mirror's `current` one (or None):
    None to remove it. ValueError when a timestamp asked for has already passed."""
    if value is None:
        return current
    if str(value).strip().lower() == NEVER:
        return None
    now = now or utc_now()
    seconds = duration_seconds(value)
    if seconds is not None:
        if current is not None and parse_time(current) is not None:
            return current
        return format_time(now + datetime.timedelta(seconds=seconds))
    moment = parse_time(value)
    if moment <= now and format_time(moment) != current:
        raise ValueError('expires %r has already passed (it is %s now)'
                         % (value, format_time(now)))
    return format_time(moment)


def apply_expiry(external_ids, value, current_ids):
    """`external_ids` with EXPIRES_KEY as `expires` (`value`) asks, from `current_ids`."""
    ids = dict(external_ids)
    wanted = stored_expiry(value, (current_ids or {}).get(EXPIRES_KEY))
    if wanted is None:
        ids.pop(EXPIRES_KEY, None)
    else:
        ids[EXPIRES_KEY] = wanted
    return ids


def has_passed(value, now=None):
    """Whether `expires` is a timestamp that has passed (a duration never has)."""
    if value is None or duration_seconds(value) is not None:
        return False
    moment = parse_time(value)
    return moment is not None and moment <= (now or utc_now())


def time_left(external_ids, now=None):
    """{expires, expires_in (seconds, negative once passed), expired} of a mirror."""
    stored = (external_ids or {}).get(EXPIRES_KEY)
    moment = parse_time(stored) if stored else None
    if moment is None:
        return dict(expires=None, expires_in=None, expired=False)
    seconds = int((moment - (now or utc_now())).total_seconds())
    return dict(expires=format_time(moment), expires_in=seconds, expired=seconds <= 0)
