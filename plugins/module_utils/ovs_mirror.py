# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning a node's OVS mirror (ovs_local_mirror): a Mirror on a bridge of the Open_vSwitch
database, read, compared and planned as one transaction, its ports given by name, by LSP, by
pod or by selectors. (Making a created output port ready is the host step,
ovs_output_port.)

A Mirror is not a root table: Bridge.mirrors holds it, so it is created and added to the
bridge in one transaction, and dropping it from the bridge deletes it.

Every mirror this module writes carries the collection's marker (external_ids
OWNER_KEY=OWNER); that is how it tells its own mirrors from kube-ovn-cni's `m0` and
ovn-controller's, which it refuses to touch unless forced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import OvsdbError
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import pod_lsp_names
from ansible_collections.kubeovn.mirror.plugins.module_utils.markers import OWNER_KEY
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovs_rows import (
    KUBE_OVN_MIRROR, OVN_OWNED_KEY, OVS_SCHEMA, check_unchanged, mirror_record,
    port_of_interface)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb import find_row
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb_remotes import (
    ConnectionSettings)
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import check_selectors
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    check_external_ids, check_iface_name, check_name, string_map)

try:
    from ovsdbapp.backend.ovs_idl import transaction as ovsdbapp_transaction
    from ovsdbapp.schema.open_vswitch import impl_idl as ovs_impl_idl
except ImportError:  # pragma: no cover - reported through ovsdb.require_ovsdbapp
    ovsdbapp_transaction = ovs_impl_idl = None

# The value of the collection's marker on the OVS mirrors it writes.
OWNER = 'kubeovn.mirror.ovs_local_mirror'
MAX_MIRRORS_PER_BRIDGE = 32
SNAPLEN_RANGE = (14, 65535)
# From the pod's point of view: OVS "src" ports are where packets enter the bridge, i.e.
# what the pod sends (egress); "dst" ports are where the bridge outputs, what it receives.
DIRECTION_COLUMNS = {
    'egress': ('select_src_port',),
    'ingress': ('select_dst_port',),
    'both': ('select_src_port', 'select_dst_port'),
}

OVS_VIEWS = [
    ('Open_vSwitch', ['next_cfg', 'cur_cfg']),
    ('Bridge', ['name', 'mirrors', 'ports']),
    ('Port', ['name', 'interfaces', 'external_ids']),
    ('Interface', ['name', 'type', 'external_ids', 'ofport']),
    ('Mirror', ['name', 'select_all', 'select_src_port', 'select_dst_port', 'output_port',
                'output_vlan', 'snaplen', 'statistics', 'external_ids']),
]


class NoWaitOvsdbIdl(ovs_impl_idl.OvsdbIdl if ovs_impl_idl else object):
    """Commits without waiting for ovs-vswitchd to apply the change (ovs-vsctl --no-wait)."""

    def create_transaction(self, check_error=False, log_errors=True, **kwargs):
        return ovsdbapp_transaction.Transaction(
            self, self.ovsdb_connection, self.ovsdb_connection.timeout, check_error,
            log_errors)


def open_ovs(params):
    """The node's Open_vSwitch database (the ovs_node options), monitoring what the
    node-side modules read; OvsdbError (with the connection) when it cannot be reached."""
    ovsdb.require_ovsdbapp()
    api_class = ovs_impl_idl.OvsdbIdl if params['wait'] else NoWaitOvsdbIdl
    views = [ovsdb.TableView(table, columns) for table, columns in OVS_VIEWS]
    settings = ConnectionSettings(params['ovs_connection'], params['timeout'])
    try:
        return ovsdb.open_session(api_class, OVS_SCHEMA, settings, views)
    except (ValueError, OvsdbError) as exc:
        raise OvsdbError(str(exc), ovs_connection=params['ovs_connection'])


def local_mirror_record(bridge, mirror):
    return dict(mirror_record(mirror), bridge=bridge.name,
                snaplen=mirror.snaplen[0] if mirror.snaplen else None,
                external_ids=dict(mirror.external_ids))


def owner_of(mirror):
    """Who else manages this mirror, or None (ours, or nobody's).

    ovn-controller's mark wins over ours; an `m0` without our marker is kube-ovn-cni's
    (which, when it starts, clears the bridge's mirrors and makes its own `m0`).
    """
    if mirror.external_ids.get(OVN_OWNED_KEY) == 'true':
        return 'ovn-controller (external_ids:ovn-owned=true)'
    if mirror.name == KUBE_OVN_MIRROR and mirror.external_ids.get(OWNER_KEY) != OWNER:
        return 'kube-ovn-cni (its mirror m0)'
    return None


def check_params(params):
    """Every check of the module's input that needs no database, done once before
    connecting (the planner trusts it); ValueError names the offending value. Selectors
    count as a selection: they may match no pod on this node today, and the mirror then
    selects nothing until one comes."""
    check_selectors(params.get('selectors'))
    if params.get('selectors'):
        params = dict(params, select_all=True)
    check_name('mirror', params['name'])
    check_name('bridge', params['bridge'])
    if params.get('output_vlan') is None and params.get('create_output'):
        check_iface_name('output_port', params['output_port'])
    check_external_ids(params.get('external_ids'))
    snaplen = params.get('snaplen')
    if snaplen is not None and not SNAPLEN_RANGE[0] <= snaplen <= SNAPLEN_RANGE[1]:
        raise ValueError('snaplen %r must be within %d..%d' % ((snaplen,) + SNAPLEN_RANGE))
    vlan = params.get('output_vlan')
    if vlan is not None and not 1 <= vlan <= 4095:
        raise ValueError('output_vlan %r must be within 1..4095' % (vlan,))
    # Pod names are checked here too (lsp_name raises ValueError on empty parts).
    selection = list(params.get('ports') or []) + selected_lsps(params)
    if params['state'] == 'present' and not params.get('select_all') and not selection:
        raise ValueError('mirror %r selects nothing: give ports, lsps or pods, or '
                         'select_all=true (OVS ignores a mirror that selects nothing)'
                         % params['name'])


def selected_lsps(params):
    """The LSP names selected by `lsps` and `pods` (found by the interfaces' iface-id)."""
    return list(params.get('lsps') or []) + pod_lsp_names(params.get('pods'))


def bridge_row(api, name):
    bridge = find_row(api, 'Bridge', name)
    if bridge is None:
        raise LookupError('bridge %r does not exist' % name)
    return bridge


def _outcome(before, after, statistics=None, created_output=None):
    return dict(changed=after != before, before=before,
                after=after, statistics=statistics or {}, created_output=created_output)


def _selected_ports(bridge, params, ports_by_name):
    """(the ports the mirror selects, what is missing) from ports, lsps and pods."""
    missing, selected = [], []
    for port_name in params.get('ports') or []:
        if port_name in ports_by_name:
            selected.append(ports_by_name[port_name])
        else:
            missing.append('port %r' % port_name)
    for iface_id in selected_lsps(params):
        port = port_of_interface(bridge, iface_id)
        if port is None:
            missing.append('interface with external_ids:iface-id=%s' % iface_id)
        else:
            selected.append(port)
    return selected, missing


def _output(params, ports_by_name):
    """(the output port row, the name of one to create, what is missing)."""
    if params.get('output_vlan') is not None:
        return None, None, []
    name = params['output_port']
    if name in ports_by_name:
        return ports_by_name[name], None, []
    if params['create_output']:
        return None, name, []
    return None, None, ['output port %r (set create_output=true to create it)' % name]


def _desired_record(params, bridge, mirror, before, selected):
    """The mirror record the parameters ask for."""
    select_all = bool(params['select_all'])
    names = sorted(set(port.name for port in selected))
    columns = DIRECTION_COLUMNS[params['direction']]
    after = dict(
        name=params['name'], bridge=bridge.name, select_all=select_all,
        select_src_port=names if not select_all and 'select_src_port' in columns else [],
        select_dst_port=names if not select_all and 'select_dst_port' in columns else [],
        output_port=params['output_port'] if params.get('output_vlan') is None else None,
        output_vlan=params.get('output_vlan'),
        snaplen=params.get('snaplen'),
        external_ids=before.get('external_ids') or {},
    )
    if params.get('external_ids') is not None:
        after['external_ids'] = string_map(params['external_ids'])
    if mirror is None or not owner_of(mirror):
        # Ours from now on (a forced change of another owner's mirror leaves it theirs).
        after['external_ids'] = dict(after['external_ids'], **{OWNER_KEY: OWNER})
    return after


def _write_mirror(api, bridge, mirror, after, selected, output_port, create_output):
    """The command writing the mirror `after` describes (creating it and its output port)."""
    by_name = dict((port.name, port) for port in selected)

    def apply(txn):
        # The plan read the bridge's mirrors and ports: if either changed meanwhile (a
        # selected port removed, the mirror deleted) the server refuses the commit,
        # ovsdbapp retries and the planner plans again from fresh rows. python-ovs sends
        # verify() only for a row the transaction writes: here the bridge only when a row
        # is added to it.
        if mirror is None or create_output is not None:
            bridge.verify('mirrors')
            bridge.verify('ports')
        else:
            check_unchanged(txn, 'Bridge', bridge, ['mirrors', 'ports'])
        out = output_port
        if create_output is not None:
            out = insert_port(api, txn, bridge, create_output)
        row = mirror
        if row is None:
            row = txn.insert(api.tables['Mirror'])
            row.name = after['name']
            bridge.addvalue('mirrors', row)
        row.select_all = after['select_all']
        row.select_src_port = [by_name[n] for n in after['select_src_port']]
        row.select_dst_port = [by_name[n] for n in after['select_dst_port']]
        row.output_port = [out] if out is not None else []
        row.output_vlan = [after['output_vlan']] if after['output_vlan'] else []
        row.snaplen = [after['snaplen']] if after['snaplen'] else []
        row.external_ids = after['external_ids']
    return ovsdb.CallbackCommand(api, apply)


def _plan_absent(api, bridge, mirror, before):
    if mirror is None:
        return _outcome(before, {}), []

    def drop(txn):
        bridge.verify('mirrors')   # gone meanwhile: the server refuses, we re-plan
        bridge.delvalue('mirrors', mirror)
    return _outcome(before, {}), [ovsdb.CallbackCommand(api, drop)]


def plan_local_mirror(params):
    """A planner (see ovsdb.run_planned) converging one OVS mirror on a bridge."""
    name = params['name']

    def planner(api):
        bridge = bridge_row(api, params['bridge'])
        mirror = next((m for m in bridge.mirrors if m.name == name), None)
        before = local_mirror_record(bridge, mirror) if mirror is not None else {}
        if mirror is not None and owner_of(mirror) and not params['force']:
            raise ValueError('mirror %r on %s belongs to %s; it rewrites that mirror itself. '
                             'Set force=true to change it anyway.'
                             % (name, bridge.name, owner_of(mirror)))
        if params['state'] == 'absent':
            return _plan_absent(api, bridge, mirror, before)

        ports_by_name = dict((port.name, port) for port in bridge.ports)
        selected, missing = _selected_ports(bridge, params, ports_by_name)
        output_port, create_output, missing_output = _output(params, ports_by_name)
        missing += missing_output
        if missing:
            raise LookupError('nothing was changed because these are not on bridge %s: %s'
                              % (bridge.name, ', '.join(missing)))
        if mirror is None and len(bridge.mirrors) >= MAX_MIRRORS_PER_BRIDGE:
            raise ValueError('bridge %s already has %d mirrors, the most OVS allows'
                             % (bridge.name, MAX_MIRRORS_PER_BRIDGE))
        after = _desired_record(params, bridge, mirror, before, selected)
        statistics = dict(mirror.statistics) if mirror is not None else {}
        if after == before:
            return _outcome(before, after, statistics), []
        return (_outcome(before, after, statistics, create_output),
                [_write_mirror(api, bridge, mirror, after, selected, output_port,
                               create_output)])

    return planner


def plan_selected_local_mirror(params, matched, require_match=False, what='selectors'):
    """plan_local_mirror with the ports of `matched` pods ({namespace, name, lsp}) that are
    on the bridge added to O(lsps); outcome['selected'] says where each pod's port is (the
    others run on another node or have no port yet: reported, not an error). Decided inside
    the transaction, from fresh rows on every retry; the selection is exact. With
    `require_match`, no matched pod on the bridge fails, writing nothing."""
    def planner(api):
        bridge = find_row(api, 'Bridge', params['bridge'])
        selected, on_node = [], []
        for pod in matched:
            port = port_of_interface(bridge, pod['lsp']) if bridge is not None else None
            selected.append(dict(pod, port=port.name if port is not None else None))
            if port is not None:
                on_node.append(pod['lsp'])
        if require_match and not on_node:
            raise LookupError('nothing was changed because %s match no pod with a port on '
                              'bridge %s (require_match=true)' % (what, params['bridge']))
        lsps = list(params.get('lsps') or [])
        lsps += [lsp for lsp in on_node if lsp not in lsps]
        outcome, commands = plan_local_mirror(dict(params, lsps=lsps))(api)
        outcome['selected'] = selected
        return outcome, commands
    return planner


def insert_port(api, txn, bridge, name, interface_external_ids=None):
    """A new port `name` on `bridge` in `txn`, with one interface of that name: an existing
    NIC is bridged in (as kube-ovn-cni does with a physical one), otherwise OVS makes an
    internal port. Returns the Port row."""
    port = txn.insert(api.tables['Port'])
    port.name = name
    iface = txn.insert(api.tables['Interface'])
    iface.name = name
    iface.type = '' if os.path.exists('/sys/class/net/%s' % name) else 'internal'
    if interface_external_ids:
        iface.external_ids = interface_external_ids
    port.interfaces = [iface]
    bridge.addvalue('ports', port)
    return port
