# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which logical switch ports a mirror is attached to (ovn_lsp_mirror, and the ports of
ovn_mirrors' declared mirrors): the checks of ovn_lsp_mirror's input, the commands that
attach and detach, the planners, and the second transaction that reads the ports attached
meanwhile and trims them to the plan.

An attachment is the mirror's UUID in a port's `mirror_rules` column.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovn_nb, ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import (
    pod_lsp_names, unique)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_nb import (
    attached_ports, ports_by_mirror)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb import find_row
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import check_selectors
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import check_name


def check_attachment_params(params):
    """ovn_lsp_mirror's input, before connecting: the mirror's name, the selectors, and the
    LSP names the ports and pods give, without repeats (returned, for the monitor condition
    and plan)."""
    check_name('mirror', params['mirror'])
    check_selectors(params.get('selectors'))
    names = unique(list(params['ports']) + pod_lsp_names(params['pods']))
    for name in names:
        check_name('logical switch port', name)
    return names


def attachment_commands(api, names, mirror_row, mirror_name, attach, detach):
    """Commands attaching the mirror to the LSPs named in `attach` and detaching it from
    those in `detach`, checking at commit that those ports and an existing mirror are
    still there as they were read (so a port or the mirror deleted meanwhile is noticed,
    not skipped: ovsdbapp retries and the planner plans again from fresh rows).
    `names` is the planner's ovsdb.RowsByName. `mirror_row` is None when the mirror is
    created in the same transaction: it is then found by `mirror_name` when the commands
    run (the IDL holds the rows a transaction inserts), and has no port to detach."""
    if not attach and not detach:
        return []
    lsps = 'Logical_Switch_Port'
    attaching = [(name, names.get(lsps, name)) for name in attach]
    detaching = [(name, names.get(lsps, name)) for name in detach]
    detaching = [(name, row) for name, row in detaching if row is not None]

    def raw_operations():
        # The checks first, then the writes; each mutation only adds or removes this
        # mirror, so other mirrors on the same ports are left as they are.
        return (ovsdb.name_check_ops('Mirror', [(mirror_name, mirror_row)])
                + ovsdb.name_check_ops(lsps, attaching + detaching)
                + ovsdb.reference_mutation_ops(lsps, [row for dummy, row in attaching],
                                               'mirror_rules', 'insert', mirror_row)
                + ovsdb.reference_mutation_ops(lsps, [row for dummy, row in detaching],
                                               'mirror_rules', 'delete', mirror_row))

    def mutate(txn):
        # What ovsdbapp's lsp_attach_mirror / lsp_detach_mirror do, on the rows already
        # looked up: one command instead of one per port; for an existing mirror as raw
        # operations (ovsdb.add_raw_operations).
        if mirror_row is not None and ovsdb.add_raw_operations(txn, raw_operations()):
            return
        # A mirror inserted by this transaction (or python-ovs before 3.4): through the
        # IDL, which checks these rows because it writes them.
        mirror = mirror_row if mirror_row is not None else find_row(api, 'Mirror', mirror_name)
        for dummy, row in attaching + detaching:
            row.verify('mirror_rules')
        for dummy, row in attaching:
            row.addvalue('mirror_rules', mirror)
        for dummy, row in detaching:
            row.delvalue('mirror_rules', mirror)
    return [ovsdb.CallbackCommand(api, mutate)]


def plan_lsp_attachments(mirror_name, lsp_names, state, exclusive):
    """A planner attaching (or detaching) `lsp_names` to the mirror, as one transaction.
    `lsp_names` come from check_attachment_params (checked, without repeats).
    The planner takes the api and, from a caller that already looked names up, its
    ovsdb.RowsByName.

    With state=present every named LSP and the mirror must exist, else it fails naming all
    that are missing and writes nothing. With state=absent missing ones are already
    detached. `exclusive` (with present) also detaches every LSP not named.
    """
    def planner(api, names=None):
        names = names or ovsdb.RowsByName(api)
        mirror = find_row(api, 'Mirror', mirror_name)
        current = attached_ports(api, mirror) if mirror is not None else []
        attached = set(current)
        missing_lsps = [name for name in lsp_names
                        if names.get('Logical_Switch_Port', name) is None]
        if state == 'present':
            missing = (['mirror %r' % mirror_name] if mirror is None else []) + \
                ['logical switch port %r' % name for name in missing_lsps]
            if missing:
                raise LookupError('nothing was changed because these do not exist: %s'
                                  % ', '.join(missing))
            attach = [name for name in lsp_names if name not in attached]
            wanted = set(lsp_names)
            detach = [name for name in current if name not in wanted] if exclusive else []
        else:
            attach = []
            detach = [name for name in lsp_names if name in attached]
        commands = attachment_commands(api, names, mirror, mirror_name, attach, detach)
        after = sorted((set(current) | set(attach)) - set(detach))
        outcome = dict(changed=bool(commands), attached=attach, detached=detach,
                       before=dict(mirror=mirror_name, ports=current),
                       after=dict(mirror=mirror_name, ports=after))
        return outcome, commands

    return planner


def plan_selected_attachments(mirror_name, named, selected, state, exclusive):
    """plan_lsp_attachments for the `named` LSPs (which must exist) plus the LSPs of the pods
    selectors matched, `selected`: those that exist are attached, the others are `pending`
    (Kube-OVN has not made them yet; the next run attaches them). Which exist is decided
    inside the transaction, from fresh rows on every retry. With selectors the mirror is
    exclusive: every other port is detached."""
    def planner(api):
        names = ovsdb.RowsByName(api)
        present, pending = split_existing(names, selected)
        outcome, commands = plan_lsp_attachments(
            mirror_name, unique(list(named) + present), state, exclusive)(api, names)
        outcome['pending'] = pending if state == 'present' else []
        return outcome, commands
    return planner


def split_existing(names, lsps):
    """The LSP names in `lsps` that exist, and those that do not (each in order)."""
    present, missing = [], []
    for name in lsps:
        (missing if names.get('Logical_Switch_Port', name) is None else present).append(name)
    return present, missing


def reread_and_trim_attachments(session, expected, exclusive):
    """After a commit, the ports each mirror is attached to, read again, and trimmed to the
    plan: the run's second transaction.

    `expected`: {mirror name: ports planned}. The plan was made from a read that cannot see
    a port someone else attached meanwhile (see ovn_nb.open_nb); this reads every port that
    has a mirror now, so the ports returned are what the NB holds. For the mirrors in
    `exclusive`, ports found beyond the plan are detached (verified like the first
    transaction). Returns ({name: ports now}, {name: ports detached here}).
    """
    ovn_nb.watch_attached_ports(session)

    def planner(api):
        final, extra, commands = {}, {}, []
        names = ovsdb.RowsByName(api)
        attached = ports_by_mirror(api)
        for name, ports in expected.items():
            row = names.get('Mirror', name)
            current = attached.get(row.uuid, []) if row is not None else []
            if name in exclusive:
                wanted = set(ports)
                surplus = [port for port in current if port not in wanted]
                if surplus:
                    extra[name] = surplus
                    commands += attachment_commands(api, names, row, name, [], surplus)
                    current = [port for port in current if port in wanted]
            final[name] = current
        return (final, extra), commands

    return session.run(planner)


def trim_attachments_after_commit(session, outcome, mirror, exclusive):
    """ovn_lsp_mirror's second transaction: the mirror's ports read again, and with
    `exclusive` the ports someone attached meanwhile detached; the outcome says so."""
    final, extra = reread_and_trim_attachments(
        session, {mirror: outcome['after']['ports']}, [mirror] if exclusive else [])
    outcome['after']['ports'] = final[mirror]
    if extra:
        outcome['changed'] = True
        outcome['detached'] = sorted(outcome['detached'] + extra[mirror])
