# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's OVS mirror logic (ovs_local_mirror): a Mirror on a bridge of the
Open_vSwitch database, read, compared, planned and applied, and the output port it creates
made ready to capture on.

A Mirror is not a root table: Bridge.mirrors holds it, so it is created and added to the
bridge in one transaction, and dropping it from the bridge deletes it.

Every mirror this module writes carries the collection's marker (external_ids
OWNER_KEY=OWNER); that is how it tells its own mirrors from kube-ovn-cni's `m0` and
ovn-controller's, which it refuses to touch unless forced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import (
    OWNER_KEY, check_external_ids, check_iface_name, check_name, pod_lsp_names, string_map)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb import find_row

try:
    from ovsdbapp.backend.ovs_idl import transaction as ovsdbapp_transaction
    from ovsdbapp.schema.open_vswitch import impl_idl as ovs_impl_idl
except ImportError:  # pragma: no cover - reported through ovsdb.require_ovsdbapp
    ovsdbapp_transaction = ovs_impl_idl = None

OVS_SCHEMA = 'Open_vSwitch'
KUBE_OVN_MIRROR = 'm0'       # created and rewritten by kube-ovn-cni
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


def open_ovs(module):
    ovsdb.require_ovsdbapp(module)
    params = module.params
    api_class = ovs_impl_idl.OvsdbIdl if params['wait'] else NoWaitOvsdbIdl
    views = [ovsdb.TableView(table, columns) for table, columns in OVS_VIEWS]
    settings = ovsdb.ConnectionSettings(params['ovs_connection'], params['timeout'])
    try:
        return ovsdb.open_session(api_class, OVS_SCHEMA, settings, views)
    except (ValueError, ovsdb.OvsdbError) as exc:
        module.fail_json(msg=str(exc), ovs_connection=params['ovs_connection'])


def mirror_record(bridge, mirror):
    output = mirror.output_port[0].name if mirror.output_port else None
    return dict(
        name=mirror.name,
        bridge=bridge.name,
        select_all=bool(mirror.select_all),
        select_src_port=sorted(port.name for port in mirror.select_src_port),
        select_dst_port=sorted(port.name for port in mirror.select_dst_port),
        output_port=output,
        output_vlan=mirror.output_vlan[0] if mirror.output_vlan else None,
        snaplen=mirror.snaplen[0] if mirror.snaplen else None,
        external_ids=dict(mirror.external_ids),
    )


def owner_of(mirror):
    """Who else manages this mirror, or None (ours, or nobody's).

    ovn-controller's mark wins over ours; an `m0` without our marker is kube-ovn-cni's
    (which, when it starts, clears the bridge's mirrors and makes its own `m0`).
    """
    if mirror.external_ids.get('ovn-owned') == 'true':
        return 'ovn-controller (external_ids:ovn-owned=true)'
    if mirror.name == KUBE_OVN_MIRROR and mirror.external_ids.get(OWNER_KEY) != OWNER:
        return 'kube-ovn-cni (its mirror m0)'
    return None


def check_params(params):
    """Every check of the module's input that needs no database, done once before
    connecting (the planner trusts it); ValueError names the offending value."""
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


def port_of_interface(bridge, iface_id):
    for port in bridge.ports:
        for iface in port.interfaces:
            if iface.external_ids.get('iface-id') == iface_id:
                return port
    return None


def bridge_row(api, name):
    bridge = find_row(api, 'Bridge', name)
    if bridge is None:
        raise LookupError('bridge %r does not exist' % name)
    return bridge


def plan_local_mirror(params):
    """A planner (see ovsdb.run_planned) converging one OVS mirror on a bridge."""
    name, state = params['name'], params['state']

    def planner(api):
        bridge = bridge_row(api, params['bridge'])
        mirror = next((m for m in bridge.mirrors if m.name == name), None)
        before = mirror_record(bridge, mirror) if mirror is not None else {}
        if mirror is not None and owner_of(mirror) and not params['force']:
            raise ValueError('mirror %r on %s belongs to %s; it rewrites that mirror itself. '
                             'Set force=true to change it anyway.'
                             % (name, bridge.name, owner_of(mirror)))
        if state == 'absent':
            if mirror is None:
                return dict(changed=False, before=before, after={}, statistics={},
                            created_output=None), []

            def drop(txn):
                bridge.verify('mirrors')   # gone meanwhile: the server refuses, we re-plan
                bridge.delvalue('mirrors', mirror)
            return (dict(changed=True, before=before, after={}, statistics={},
                         created_output=None),
                    [ovsdb.CallbackCommand(api, drop)])

        ports_by_name = dict((port.name, port) for port in bridge.ports)
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

        output_port, create_output = None, None
        if params.get('output_vlan') is None:
            output_name = params['output_port']
            output_port = ports_by_name.get(output_name)
            if output_port is None:
                if params['create_output']:
                    create_output = output_name
                else:
                    missing.append('output port %r (set create_output=true to create it)'
                                   % output_name)
        if missing:
            raise LookupError('nothing was changed because these are not on bridge %s: %s'
                              % (bridge.name, ', '.join(missing)))
        if mirror is None and len(bridge.mirrors) >= MAX_MIRRORS_PER_BRIDGE:
            raise ValueError('bridge %s already has %d mirrors, the most OVS allows'
                             % (bridge.name, MAX_MIRRORS_PER_BRIDGE))

        select_all = bool(params['select_all'])
        selected_names = sorted(set(port.name for port in selected))
        columns = DIRECTION_COLUMNS[params['direction']]
        after = dict(
            name=name, bridge=bridge.name, select_all=select_all,
            select_src_port=[] if select_all or 'select_src_port' not in columns
            else selected_names,
            select_dst_port=[] if select_all or 'select_dst_port' not in columns
            else selected_names,
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
        changed = after != before
        statistics = dict(mirror.statistics) if mirror is not None else {}
        if not changed:
            return dict(changed=False, before=before, after=after, statistics=statistics,
                        created_output=None), []

        by_name = dict((port.name, port) for port in selected)

        def apply(txn):
            # The plan read the bridge's mirrors and ports: if either changed meanwhile (a
            # selected port removed, the mirror deleted) the server refuses the commit,
            # ovsdbapp retries and the planner plans again from fresh rows.
            bridge.verify('mirrors')
            bridge.verify('ports')
            out = output_port
            if create_output is not None:
                out = insert_port(api, txn, bridge, create_output)
            row = mirror
            if row is None:
                row = txn.insert(api.tables['Mirror'])
                row.name = name
                bridge.addvalue('mirrors', row)
            row.select_all = select_all
            row.select_src_port = [by_name[n] for n in after['select_src_port']]
            row.select_dst_port = [by_name[n] for n in after['select_dst_port']]
            row.output_port = [out] if out is not None else []
            row.output_vlan = [after['output_vlan']] if after['output_vlan'] else []
            row.snaplen = [after['snaplen']] if after['snaplen'] else []
            row.external_ids = after['external_ids']

        return (dict(changed=True, before=before, after=after, statistics=statistics,
                     created_output=create_output),
                [ovsdb.CallbackCommand(api, apply)])

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


def output_readiness_applies(params):
    """Whether the module makes a port it creates ready: only when ovs-vswitchd has applied
    the change (wait=true) and runs on this host (a unix: socket), as its interface is then
    one of this host's."""
    return bool(params['wait']) and all(
        remote.startswith('unix:') for remote in ovsdb.parse_remotes(params['ovs_connection']))


def make_output_ready(module, name, timeout):
    """Bring the output port's interface `name` up with IPv6 off (else nothing can be
    captured on it, and vswitchd logs drops of the IPv6 packets the host sends on it),
    waiting at most `timeout` seconds for ovs-vswitchd to create it. Returns the `ip`
    command run; fails the module saying what is left to do when the interface does not
    appear."""
    deadline = time.monotonic() + timeout
    while not os.path.exists('/sys/class/net/%s' % name):
        if time.monotonic() >= deadline:
            module.fail_json(msg='the mirror was written, but ovs-vswitchd did not create the '
                                 'output port %s within %s s; once it exists, run: '
                                 'sysctl -w net.ipv6.conf.%s.disable_ipv6=1; '
                                 'ip link set %s up' % (name, timeout, name, name))
        time.sleep(0.05)
    ipv6 = '/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name
    if os.path.exists(ipv6):
        with open(ipv6, 'w') as handle:
            handle.write('1\n')
    command = [module.get_bin_path('ip', required=True), 'link', 'set', 'dev', name, 'up']
    rc, dummy, err = module.run_command(command)
    if rc != 0:
        module.fail_json(msg='the mirror was written, but bringing its output port up failed: '
                             '%s: %s' % (' '.join(command), err.strip()), rc=rc, stderr=err)
    return command
