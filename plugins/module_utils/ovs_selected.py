# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OVS mirror on a node whose ports are chosen by selectors: the planner of ovs_mirror,
given the LSPs of the pods that match now.

Which of them have a port on this node's bridge (an interface with that
external_ids:iface-id) is decided inside the transaction, from fresh rows on every retry; the
others run on another node or have no port yet and are reported, not an error. The mirror's
selection is exact: ports of pods gone are dropped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovs_mirror
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb import find_row
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import check_selectors


def check_params(params):
    """ovs_mirror.check_params, where selectors count as a selection (they may match no pod
    on this node today; the mirror then selects nothing until one comes), and the
    selectors themselves."""
    check_selectors(params.get('selectors'))
    if params.get('selectors'):
        params = dict(params, select_all=True)
    ovs_mirror.check_params(params)


def plan_selected_local_mirror(params, matched, require_match=False, what='selectors'):
    """ovs_mirror.plan_local_mirror with the ports of `matched` pods ({namespace, name, lsp})
    that are on the bridge added to O(lsps); outcome['selected'] says where each pod's port
    is. With `require_match`, no matched pod on the bridge fails, writing nothing."""
    def planner(api):
        bridge = find_row(api, 'Bridge', params['bridge'])
        selected, on_node = [], []
        for pod in matched:
            port = ovs_mirror.port_of_interface(bridge, pod['lsp']) \
                if bridge is not None else None
            selected.append(dict(pod, port=port.name if port is not None else None))
            if port is not None:
                on_node.append(pod['lsp'])
        if require_match and not on_node:
            raise LookupError('nothing was changed because %s match no pod with a port on '
                              'bridge %s (require_match=true)' % (what, params['bridge']))
        lsps = list(params.get('lsps') or [])
        lsps += [lsp for lsp in on_node if lsp not in lsps]
        outcome, commands = ovs_mirror.plan_local_mirror(dict(params, lsps=lsps))(api)
        outcome['selected'] = selected
        return outcome, commands
    return planner
