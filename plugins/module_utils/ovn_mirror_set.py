# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A declared set of OVN Northbound mirrors (ovn_mirrors, GitOps): the owner marker, the
checks of the declared list, and the planner converging the NB to it, purge included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry, ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import (
    OWNER_KEY, check_external_ids, check_name, pod_lsp_names, unique)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_mirror_plan import (
    attachment_commands, converge_mirror)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_nb import (
    mirror_record, ports_by_mirror)

# OWNER_KEY (naming) marks a mirror as managed by a declared set; its value names the set's
# owner, so purge only ever deletes mirrors that the same owner created.


def check_params(params):
    """ovn_mirrors' input, before connecting: owner usable, mirror names unique, every name
    and external_ids entry writable. ValueError names the offending value."""
    check_name('owner', params['owner'])
    seen = set()
    for item in params['mirrors']:
        check_name('mirror', item.get('name'))
        if item['name'] in seen:
            raise ValueError('mirror %r is declared more than once' % item['name'])
        seen.add(item['name'])
        check_external_ids(item.get('external_ids'))
        try:
            expiry.check_expires(item.get('expires'))
        except ValueError as exc:
            raise ValueError('mirror %r: %s' % (item['name'], exc))
        for name in pod_lsp_names(item.get('pods')) + list(item.get('ports') or []):
            check_name('logical switch port', name)


def mirror_set_lsp_names(mirrors):
    """Every LSP name a declared set mentions (for the monitor condition)."""
    names = []
    for item in mirrors:
        names += list(item.get('ports') or []) + pod_lsp_names(item.get('pods'))
    return unique(names)


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
        declared = dict((item['name'], item) for item in mirrors)
        attached = ports_by_mirror(api)
        commands, missing = [], []
        before, after = {}, {}
        created, updated, deleted, expired = [], [], [], []
        for item in mirrors:
            name = item['name']
            row = names.get('Mirror', name)
            current = mirror_record(row, attached.get(row.uuid, [])) if row is not None else {}
            if current:
                before[name] = current
            gone = item.get('state', 'present') == 'present' and (
                expiry.time_left(current.get('external_ids'))['expired']
                or expiry.has_passed(item.get('expires')))
            if gone:
                expired.append(name)
            if item.get('state', 'present') == 'absent' or gone:
                if row is not None:
                    commands += [ovsdb.verify_command(api, [(row, 'name')]),
                                 api.db_destroy('Mirror', row.uuid)]
                    deleted.append(name)
                continue
            params = dict(item, external_ids=dict(item.get('external_ids') or {},
                                                  **{OWNER_KEY: owner}))
            wanted_ports = unique(list(item.get('ports') or []) + pod_lsp_names(item.get('pods')))
            missing += ['logical switch port %r (mirror %r)' % (port, name)
                        for port in wanted_ports
                        if names.get('Logical_Switch_Port', port) is None]
            try:
                record, mirror_commands = converge_mirror(api, row, current, params, support)
            except ValueError as exc:
                raise ValueError('mirror %r: %s' % (name, exc))
            commands += mirror_commands
            current_ports = current.get('ports', [])
            # A mirror created in this transaction is found by name (ovsdbapp looks rows up
            # in the IDL, which holds the transaction's inserted rows).
            has_now, wanted = set(current_ports), set(wanted_ports)
            attach = [port for port in wanted_ports if port not in has_now]
            detach = [port for port in current_ports if port not in wanted]
            commands += attachment_commands(api, names, row, name, attach, detach)
            after[name] = dict(record, ports=sorted(wanted_ports))
            if row is None:
                created.append(name)
            elif mirror_commands or attach or detach:
                updated.append(name)
        if purge:
            for row in api.tables['Mirror'].rows.values():
                if row.name not in declared and row.external_ids.get(OWNER_KEY) == owner:
                    before[row.name] = mirror_record(row, attached.get(row.uuid, []))
                    commands += [ovsdb.verify_command(api, [(row, 'name')]),
                                 api.db_destroy('Mirror', row.uuid)]
                    deleted.append(row.name)
        if missing:
            raise LookupError('nothing was changed because these do not exist: %s'
                              % ', '.join(missing))
        outcome = dict(changed=bool(commands), created=created, updated=updated,
                       deleted=sorted(deleted), expired=sorted(expired),
                       before=[before[name] for name in sorted(before)],
                       after=[after[name] for name in sorted(after)])
        return outcome, commands

    return planner
