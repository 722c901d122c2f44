# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NB attachments of mirrors declared by selectors: the planners of ovn_mirror_plan and
ovn_mirror_set, given the LSPs of the pods that match now.

Which matched LSPs exist is decided inside the transaction (from the IDL, re-read on every
retry), so a port created or deleted meanwhile is seen: existing ones are attached, the
others are `pending`. A mirror with selectors is exact: every other port is detached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    ovn_mirror_plan, ovn_mirror_set, ovsdb)
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import unique
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import check_selectors


def check_attachment_params(params):
    """ovn_lsp_mirror's input: ovn_mirror_plan.check_attachment_params (whose LSP names it
    returns) and the selectors."""
    names = ovn_mirror_plan.check_attachment_params(params)
    check_selectors(params['selectors'])
    return names


def check_mirror_set_params(params):
    """ovn_mirrors' input: ovn_mirror_set.check_params and each mirror's selectors."""
    ovn_mirror_set.check_params(params)
    for item in params['mirrors']:
        check_selectors(item.get('selectors'), 'mirror %r: selectors' % item['name'])


def _split_existing(names, lsps):
    """The LSP names in `lsps` that exist, and those that do not (each in order)."""
    present, missing = [], []
    for name in lsps:
        (missing if names.get('Logical_Switch_Port', name) is None else present).append(name)
    return present, missing


def plan_selected_attachments(mirror_name, named, selected, state, exclusive, with_selectors):
    """plan_lsp_attachments for `named` LSPs (must exist) plus the `selected` ones (pending
    when absent); exclusive whenever selectors are in use."""
    def planner(api):
        names = ovsdb.RowsByName(api)
        present, pending = _split_existing(names, selected)
        lsps = unique(list(named) + present)
        outcome, commands = ovn_mirror_plan.plan_lsp_attachments(
            mirror_name, lsps, state,
            exclusive or (with_selectors and state == 'present'))(api, names)
        outcome['pending'] = pending if state == 'present' else []
        return outcome, commands
    return planner


def plan_selected_mirror_set(mirrors, selected_by_mirror, owner, purge, support):
    """plan_mirror_set where each mirror's ports also hold the existing LSPs of its selected
    pods (`selected_by_mirror`: name -> [lsp]); outcome['pending']: name -> [lsp]."""
    def planner(api):
        names = ovsdb.RowsByName(api)
        declared, pending = [], {}
        for item in mirrors:
            selected = selected_by_mirror.get(item['name'], [])
            if selected and item.get('state', 'present') == 'present':
                present, missing = _split_existing(names, selected)
                item = dict(item, ports=unique(list(item.get('ports') or []) + present))
                if missing:
                    pending[item['name']] = missing
            declared.append(item)
        outcome, commands = ovn_mirror_set.plan_mirror_set(
            declared, owner, purge, support)(api, names)
        outcome['pending'] = pending
        return outcome, commands
    return planner
