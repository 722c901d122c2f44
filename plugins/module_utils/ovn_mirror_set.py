# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A declared set of OVN Northbound mirrors (ovn_mirrors, GitOps): the owner marker, the
checks of the declared list, and the planner converging the NB to it, purge included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry, ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import (
    pod_lsp_names, unique)
from ansible_collections.kubeovn.mirror.plugins.module_utils.markers import OWNER_KEY
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_attachments import (
    attachment_commands, reread_and_trim_attachments, split_existing)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_mirror_plan import (
    check_mirror_params, converge_mirror)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_nb import (
    mirror_record, ports_by_mirror)
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import check_selectors
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import check_name

# OWNER_KEY (markers) marks a mirror as managed by a declared set; its value names the set's
# owner, so purge only ever deletes mirrors that the same owner created.


def check_params(params):
    """ovn_mirrors' input, before connecting: owner usable, mirror names unique, every name,
    external_ids entry, rule and selector writable. ValueError names the offending value.
    Returns the declared mirrors as the planner takes them (check_mirror_params: sinks of
    `sink_pod` resolved, rules ordered)."""
    check_name('owner', params['owner'])
    seen, mirrors = set(), []
    for item in params['mirrors']:
        check_name('mirror', item.get('name'))
        if item['name'] in seen:
            raise ValueError('mirror %r is declared more than once' % item['name'])
        seen.add(item['name'])
        try:
            mirrors.append(check_mirror_params(item))
        except ValueError as exc:
            raise ValueError('mirror %r: %s' % (item['name'], exc))
        for name in pod_lsp_names(item.get('pods')) + list(item.get('ports') or []):
            check_name('logical switch port', name)
        check_selectors(item.get('selectors'), 'mirror %r: selectors' % item['name'])
    return mirrors


def mirror_set_lsp_names(mirrors):
    """Every LSP name a declared set mentions (for the monitor condition): ports, pods, and
    the sinks of lport mirrors."""
    names = []
    for item in mirrors:
        names += list(item.get('ports') or []) + pod_lsp_names(item.get('pods'))
        if item.get('sink'):
            names.append(item['sink'])
    return unique(names)


class _SetPlan(object):
    """One planning of a declared set: what each mirror's plan adds up to."""

    def __init__(self):
        self.commands, self.missing = [], []
        self.before, self.after = {}, {}
        self.created, self.updated, self.deleted, self.expired = [], [], [], []

    def delete(self, api, row, record):
        self.before[row.name] = record
        self.commands += [ovsdb.verify_command(api, [(row, 'name')]),
                          api.db_destroy('Mirror', row.uuid)]
        self.deleted.append(row.name)

    def outcome(self):
        return dict(changed=bool(self.commands), created=self.created, updated=self.updated,
                    deleted=sorted(self.deleted), expired=sorted(self.expired),
                    before=[self.before[name] for name in sorted(self.before)],
                    after=[self.after[name] for name in sorted(self.after)])


def _plan_declared(plan, api, names, attached, item, owner, support):
    """Add one declared mirror's commands and records to `plan`."""
    name = item['name']
    row = names.get('Mirror', name)
    current = mirror_record(row, attached.get(row.uuid, [])) if row is not None else {}
    present = item.get('state', 'present') == 'present'
    gone = present and (expiry.time_left(current.get('external_ids'))['expired']
                        or expiry.has_passed(item.get('expires')))
    if gone:
        plan.expired.append(name)
    if not present or gone:
        if row is not None:
            plan.delete(api, row, current)
        return
    if current:
        plan.before[name] = current
    params = dict(item, external_ids=dict(item.get('external_ids') or {}, **{OWNER_KEY: owner}))
    if params.get('rules') is None and params.get('type') == 'lport':
        params['rules'] = []        # declared mirrors are exact: no rules listed, none kept
    wanted_ports = unique(list(item.get('ports') or []) + pod_lsp_names(item.get('pods')))
    plan.missing += ['logical switch port %r (mirror %r)' % (port, name)
                     for port in wanted_ports if names.get('Logical_Switch_Port', port) is None]
    try:
        record, mirror_commands = converge_mirror(api, row, current, params, support)
    except ValueError as exc:
        raise ValueError('mirror %r: %s' % (name, exc))
    plan.commands += mirror_commands
    current_ports = current.get('ports', [])
    # A mirror created in this transaction is found by name (ovsdbapp looks rows up in the
    # IDL, which holds the transaction's inserted rows).
    has_now, wanted = set(current_ports), set(wanted_ports)
    attach = [port for port in wanted_ports if port not in has_now]
    detach = [port for port in current_ports if port not in wanted]
    plan.commands += attachment_commands(api, names, row, name, attach, detach)
    plan.after[name] = dict(record, ports=sorted(wanted_ports))
    if row is None:
        plan.created.append(name)
    elif mirror_commands or attach or detach:
        plan.updated.append(name)


def plan_mirror_set(mirrors, owner, purge, support):
    """A planner converging the NB to a declared list of mirrors, as one transaction.

    Each mirror with state=present gets exactly its declared settings, the owner marker
    in external_ids and exactly its declared ports. state=absent deletes it. A declared
    mirror whose expiry has passed is deleted (and one whose `expires` timestamp has passed
    is not created again): outcome['expired']. With `purge`, mirrors marked with this owner
    but not declared are deleted; nothing else is touched.
    Missing ports fail the whole run naming every one of them, writing nothing.
    The planner takes the api and, from a caller that already looked names up, its
    ovsdb.RowsByName.
    """
    def planner(api, names=None):
        names = names or ovsdb.RowsByName(api)
        attached = ports_by_mirror(api)
        plan = _SetPlan()
        for item in mirrors:
            _plan_declared(plan, api, names, attached, item, owner, support)
        if purge:
            declared = set(item['name'] for item in mirrors)
            for row in api.tables['Mirror'].rows.values():
                if row.name not in declared and row.external_ids.get(OWNER_KEY) == owner:
                    plan.delete(api, row, mirror_record(row, attached.get(row.uuid, [])))
        if plan.missing:
            raise LookupError('nothing was changed because these do not exist: %s'
                              % ', '.join(plan.missing))
        return plan.outcome(), plan.commands

    return planner


def plan_selected_mirror_set(mirrors, selected_by_mirror, owner, purge, support):
    """plan_mirror_set where each mirror's ports also hold the existing LSPs of the pods its
    selectors matched (`selected_by_mirror`: name -> [lsp]); the others are pending:
    outcome['pending'] (name -> [lsp]). Which exist is decided inside the transaction."""
    def planner(api):
        names = ovsdb.RowsByName(api)
        declared, pending = [], {}
        for item in mirrors:
            selected = selected_by_mirror.get(item['name'], [])
            if selected and item.get('state', 'present') == 'present':
                present, missing = split_existing(names, selected)
                item = dict(item, ports=unique(list(item.get('ports') or []) + present))
                if missing:
                    pending[item['name']] = missing
            declared.append(item)
        outcome, commands = plan_mirror_set(declared, owner, purge, support)(api, names)
        outcome['pending'] = pending
        return outcome, commands
    return planner


def trim_after_commit(session, outcome):
    """The set's second transaction: declared mirrors are exact, so ports someone attached
    meanwhile are detached (reread_and_trim_attachments); the outcome says so."""
    expected = dict((record['name'], record['ports']) for record in outcome['after'])
    final, extra = reread_and_trim_attachments(session, expected, list(expected))
    for record in outcome['after']:
        record['ports'] = final[record['name']]
    if extra:
        outcome['changed'] = True
        outcome['updated'] = sorted(set(outcome['updated']) | set(extra))
