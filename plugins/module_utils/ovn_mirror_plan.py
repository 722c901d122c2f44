# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning one OVN Northbound mirror (ovn_mirror): the checks of its parameters, the mirror
they ask for (rules included), and the planner (see ovsdb.run_planned) turning the
difference into ovsdbapp commands. Port attachments are ovn_attachments'.

The input is checked once, before connecting (check_mirror_params); the planner trusts it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry, ovn_nb, ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import lsp_name
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    ERSPAN_SESSION_ID_MAX, GRE_KEY_MAX, check_external_ids, check_name, check_text, string_map)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_nb import (
    attached_ports, mirror_record)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb import find_row

IP_SINK_TYPES = ('gre', 'erspan')
# Mirror_Rule (OVN >= 25.09): priority 0..32767, the highest matching rule decides.
RULE_PRIORITY_MAX = 32767
RULE_ACTIONS = ('mirror', 'skip')


# ---- checking ---------------------------------------------------------------------------

def check_mirror_params(params):
    """ovn_mirror's input, before connecting; ValueError names the offending value. Returns
    the parameters the planner takes: the sink of `sink_pod` resolved to its LSP name, the
    rules checked and in the order OVN applies them."""
    check_name('mirror', params['name'])
    check_external_ids(params.get('external_ids'))
    expiry.check_expires(params.get('expires'))
    checked = dict(params, rules=checked_rules(params.get('rules')))
    pod = params.get('sink_pod')
    if pod:
        if params.get('sink') is not None:
            raise ValueError('give the sink as sink or as sink_pod, not both')
        if params.get('type') not in (None, 'lport'):
            raise ValueError('sink_pod is the sink of an lport mirror, not of a %s mirror'
                             % params['type'])
        checked['sink'] = lsp_name(pod.get('name'), pod.get('namespace'), pod.get('provider'))
    return checked


def checked_rules(rules):
    """`rules` entries ({priority, match, action}) checked, highest priority first; None when
    not given (the mirror's rules are kept)."""
    if rules is None:
        return None
    seen = set()
    for position, rule in enumerate(rules):
        priority, match = rule.get('priority'), rule.get('match')
        if isinstance(priority, bool) or not isinstance(priority, int) or \
                not 0 <= priority <= RULE_PRIORITY_MAX:
            raise ValueError('rules[%d]: priority %r must be within 0..%d'
                             % (position, priority, RULE_PRIORITY_MAX))
        if match is None or not str(match).strip():
            raise ValueError('rules[%d]: match must not be empty, got %r' % (position, match))
        check_text('rules[%d]: match' % position, match)
        if rule.get('action') not in RULE_ACTIONS:
            raise ValueError('rules[%d]: action %r is not one of %s'
                             % (position, rule.get('action'), ', '.join(RULE_ACTIONS)))
        key = (priority, match)
        if key in seen:
            raise ValueError('rules[%d]: a rule of priority %d and match %r is listed twice'
                             % (position, priority, match))
        seen.add(key)
    return ovn_nb.sorted_rules(dict(priority=rule['priority'], match=str(rule['match']),
                                    action=rule['action']) for rule in rules)


# ---- the mirror the parameters ask for ----------------------------------------------------

def normalize_ip(value):
    """The canonical text of an IPv4/IPv6 address (so 2001:db8::0:1 == 2001:db8::1)."""
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        address = None
    # OVS tunnel remote_ip takes no IPv6 scope id (fe80::1%eth0).
    if address is None or getattr(address, 'scope_id', None):
        raise ValueError('sink %r is not an IPv4 or IPv6 address' % (value,))
    return str(address)


def check_index(mirror_type, index):
    limit = ERSPAN_SESSION_ID_MAX if mirror_type == 'erspan' else GRE_KEY_MAX
    what = 'ERSPAN index' if mirror_type == 'erspan' else 'GRE key'
    if isinstance(index, bool) or not 0 <= index <= limit:
        raise ValueError('index %r is out of range: the %s of a %s mirror must be within '
                         '0..%d' % (index, what, mirror_type, limit))


def desired_mirror(params, current, support):
    """The mirror record the parameters ask for: given options over the current values.

    Options left out keep their current value, so an update names only what changes.
    What depends on the merge (fields missing to create, what the server supports, the
    sink and index of the resulting type) is checked here; the rest of the input was
    checked once by check_mirror_params. Raises ValueError naming the offending value.
    """
    name = params['name']
    desired = dict((key, value) for key, value in (current or {}).items() if key != 'ports')
    desired['name'] = name
    for key in ('type', 'filter', 'sink', 'index'):
        if params.get(key) is not None:
            desired[key] = params[key]
    if params.get('external_ids') is not None:
        desired['external_ids'] = string_map(params['external_ids'])
    desired.setdefault('external_ids', {})
    if params.get('rules') is not None:
        support.check_rules()
        desired['rules'] = params['rules']
    # The expiry is `expires`'s: kept when external_ids replaces the map without naming it.
    if params.get('expires') is not None or expiry.EXPIRES_KEY not in desired['external_ids']:
        desired['external_ids'] = expiry.apply_expiry(
            desired['external_ids'], params.get('expires'),
            (current or {}).get('external_ids'))

    mirror_type = desired.get('type')
    needed = ['type', 'filter', 'sink'] + (['index'] if mirror_type in IP_SINK_TYPES else [])
    missing = [key for key in needed if desired.get(key) is None]
    if missing:
        raise ValueError('mirror %r does not exist; creating it needs %s'
                         % (name, ', '.join(missing)))
    support.check('type', mirror_type)
    support.check('filter', desired['filter'])
    if mirror_type in IP_SINK_TYPES:
        desired['sink'] = normalize_ip(desired['sink'])
        check_index(mirror_type, desired['index'])
    else:
        # local: the sink is an OVS interface's external_ids:mirror-id; lport: an LSP name.
        if not str(desired['sink']).strip():
            raise ValueError('sink must not be empty for a %s mirror' % mirror_type)
        check_text('sink', desired['sink'])
        if desired.get('index') is None:
            desired['index'] = 0
    if mirror_type == 'lport':
        desired.setdefault('rules', [])
    elif params.get('rules'):
        raise ValueError('rules apply only to lport mirrors; mirror %r is of type %s'
                         % (name, mirror_type))
    elif desired.get('rules'):
        desired['rules'] = []       # no longer lport: its rules go
    else:
        desired.pop('rules', None)
    return desired


# ---- planning --------------------------------------------------------------------------

MIRROR_UPDATABLE = ('type', 'index', 'filter', 'sink', 'external_ids', 'rules')


def plan_mirror(params, support):
    """A planner (see ovsdb.run_planned) converging one mirror to `params`.

    An existing mirror is updated in place (same row), so its LSP attachments survive;
    state=absent deletes it by UUID (the server then drops it from every LSP).
    """
    name, state = params['name'], params['state']

    def planner(api):
        row = find_row(api, 'Mirror', name)
        before = mirror_record(row, attached_ports(api, row)) if row is not None else {}
        if state == 'absent':
            commands = [] if row is None else [
                ovsdb.verify_command(api, [(row, 'name')]), api.db_destroy('Mirror', row.uuid)]
            return dict(changed=bool(commands), before=before, after={}), commands
        after, commands = converge_mirror(api, row, before, params, support)
        return dict(changed=bool(commands), before=before, after=after), commands

    return planner


def converge_mirror(api, row, before, params, support):
    """(record after, commands) turning the mirror `row` (None: absent) into `params`."""
    desired = desired_mirror(params, before, support)
    # An lport sink given (to create the mirror, or a new sink) must be a port; it is read for
    # that (the modules monitor the port named as sink).
    if desired['type'] == 'lport' and desired['sink'] != (before or {}).get('sink') and \
            find_row(api, 'Logical_Switch_Port', desired['sink']) is None:
        raise LookupError('nothing was changed because the sink %r of lport mirror %r is not a '
                          'logical switch port' % (desired['sink'], desired['name']))
    if row is None:
        commands = [api.mirror_add(
            desired['name'], desired['type'], desired['index'], desired['filter'],
            desired['sink'], external_ids=desired['external_ids'])]
        if desired.get('rules'):
            commands.append(rules_command(api, None, desired['name'], desired['rules']))
        return dict(desired, ports=[]), commands
    changed = [key for key in MIRROR_UPDATABLE if desired.get(key) != before.get(key)]
    columns = [ovn_nb.RULES_COLUMN if key == 'rules' else key for key in changed]
    commands = [ovsdb.verify_command(api, [(row, column) for column in columns])] \
        if changed else []
    if 'rules' in changed:
        commands.append(rules_command(api, row, desired['name'], desired['rules']))
    plain = [(key, desired[key]) for key in changed if key not in ('external_ids', 'rules')]
    if plain:
        commands.append(api.db_set('Mirror', row.uuid, *plain))
    if 'external_ids' in changed:
        # db_set merges maps; the option is the whole map, so clear it first.
        commands.append(api.db_clear('Mirror', row.uuid, 'external_ids'))
        if desired['external_ids']:
            commands.append(api.db_set('Mirror', row.uuid,
                                       ('external_ids', desired['external_ids'])))
    return dict(desired, ports=before['ports']), commands


def rules_command(api, row, name, rules):
    """The command making the mirror's rules exactly `rules`: rules listed and already there
    are kept (same rows), the others inserted; a rule dropped from the mirror is deleted by
    the server (Mirror_Rule is not a root table). `row` is None for a mirror created in the
    same transaction, found by `name` when the command runs."""
    def apply(txn):
        mirror = row if row is not None else find_row(api, 'Mirror', name)
        # (A row inserted by this transaction has no rules yet, nor a value to read.)
        kept = dict(((rule.priority, rule.match, rule.action), rule)
                    for rule in (row.mirror_rules if row is not None else []))
        rows = []
        for rule in rules:
            existing = kept.pop((rule['priority'], rule['match'], rule['action']), None)
            if existing is None:
                existing = txn.insert(api.tables['Mirror_Rule'])
                existing.priority = rule['priority']
                existing.match = rule['match']
                existing.action = rule['action']
            rows.append(existing)
        mirror.mirror_rules = rows
    return ovsdb.CallbackCommand(api, apply)
