# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirror health of a node's bridge: read, find what is broken, repair it in one transaction.

Written against python-ovs alone (``ovs.db.idl``), not ovsdbapp: Kube-OVN's ``ovs-ovn`` image
has ``python3`` and ``python3-openvswitch`` and nothing else, and this is the module users run
there (through ``kubectl exec``, e.g. the ``kubernetes.core.kubectl`` connection) right after a
kube-ovn-cni restart. Every wait is bounded by the caller's timeout.

What a kube-ovn-cni start does (``InitMirror``: ``clear bridge br-int mirrors``) is delete
ovn-controller's Mirror rows and leave their output ports ``ovn-<mirror>``; ovn-controller's
next transaction, which recreates the port, then fails on the duplicate name, and with it
every later change it makes on the node (no copies, no ``ovn-installed`` on new pod ports).
Such an orphaned port is what `stale_ports` reports and `repair` deletes; nothing else is
ever deleted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb_remotes
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import OvsdbError
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovs_rows import (
    KUBE_OVN_MIRROR, OVN_OWNED_KEY, OVS_SCHEMA, check_unchanged,
    mirror_record as ovs_mirror_record)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb_remotes import (
    ovs_poller, remaining_ms)
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import check_name

# The interface types ovn-controller gives a mirror's tunnel port (controller/mirror.c).
MIRROR_TUNNEL_TYPES = ('gre', 'erspan', 'ip6gre', 'ip6erspan')
MIRROR_PORT_PREFIX = 'ovn-'
CHASSIS_TUNNEL_KEY = 'ovn-chassis-id'   # ovn-controller's chassis-to-chassis tunnels

try:
    from ovs.db import idl as ovs_idl
except ImportError:  # pragma: no cover - reported by OvsHealthSession (require_python_ovs)
    ovs_idl = None

HEALTH_VIEWS = [
    ('Open_vSwitch', ['next_cfg', 'cur_cfg']),
    ('Bridge', ['name', 'mirrors', 'ports']),
    ('Port', ['name', 'interfaces', 'external_ids']),
    ('Interface', ['name', 'type', 'options', 'external_ids', 'ofport']),
    ('Mirror', ['name', 'select_all', 'select_src_port', 'select_dst_port', 'output_port',
                'output_vlan', 'statistics', 'external_ids']),
]


def check_params(params):
    """The module's input, before connecting; ValueError names the offending value."""
    check_name('bridge', params['bridge'])
    if params['timeout'] <= 0:
        raise ValueError('timeout %r must be more than 0 seconds' % params['timeout'])


class OvsHealthSession(object):
    """One python-ovs IDL connection to a node's Open_vSwitch database."""

    def __init__(self, connection, timeout, wait=True):
        ovsdb_remotes.require_python_ovs()
        self.timeout = timeout
        self.wait = wait
        try:
            self.remotes = ovsdb_remotes.parse_remotes(connection)
        except ValueError as exc:
            raise OvsdbError(str(exc), ovs_connection=connection)
        deadline = time.time() + timeout
        try:
            schema = ovsdb_remotes.fetch_schema(self.remotes, OVS_SCHEMA, deadline)
        except OvsdbError as exc:
            raise OvsdbError(exc.msg, ovs_connection=connection)
        helper = ovs_idl.SchemaHelper(schema_json=schema)
        for table, columns in HEALTH_VIEWS:
            helper.register_columns(table, columns)
        self.idl = ovs_idl.Idl(','.join(self.remotes), helper)
        self._run_until(lambda: self.idl.has_ever_connected() and self.idl.change_seqno > 0,
                        deadline, 'no initial data from %s' % ','.join(self.remotes))

    def run(self, planner, check_mode=False):
        """`planner(session) -> (outcome, write)`; `write(txn) -> {outcome updates}` is
        committed (commit) unless in check mode or None."""
        outcome, write = planner(self)
        if write is not None and not check_mode:
            outcome.update(self.commit(write, self.wait))
        return outcome

    def close(self):
        self.idl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _run_until(self, done, deadline, what, txn=None):
        while True:
            self.idl.run()
            if done():
                return
            if time.time() >= deadline:
                raise OvsdbError('%s within %s s' % (what, self.timeout))
            poller = ovs_poller.Poller()
            self.idl.wait(poller)
            if txn is not None:
                txn.wait(poller)
            poller.timer_wait(min(remaining_ms(deadline), 500))
            poller.block()

    def rows(self, table):
        return list(self.idl.tables[table].rows.values())

    def bridge(self, name):
        for row in self.rows('Bridge'):
            if row.name == name:
                return row
        raise LookupError('bridge %r does not exist on this node' % name)

    def commit(self, write, wait):
        """Run `write(txn) -> outcome` in one transaction until it commits (re-planning from
        fresh rows on TRY_AGAIN); with `wait`, until ovs-vswitchd has applied it."""
        deadline = time.time() + self.timeout
        while True:
            # The baseline for TRY_AGAIN: the update that made our reads stale may arrive
            # before the server's answer (python-ovs: take change_seqno before committing).
            seqno = self.idl.change_seqno
            txn = ovs_idl.Transaction(self.idl)
            outcome = write(txn)
            root = self.rows('Open_vSwitch')
            if wait and root:
                root[0].increment('next_cfg')
            status = [txn.commit()]

            def committed():
                if status[0] == ovs_idl.Transaction.INCOMPLETE:
                    status[0] = txn.commit()
                return status[0] != ovs_idl.Transaction.INCOMPLETE
            self._run_until(committed, deadline,
                            'the Open_vSwitch database did not answer the transaction', txn)
            if status[0] in (ovs_idl.Transaction.SUCCESS, ovs_idl.Transaction.UNCHANGED):
                break
            if status[0] == ovs_idl.Transaction.TRY_AGAIN:
                # Someone changed what we read; wait for the update and plan again.
                self._run_until(lambda: self.idl.change_seqno != seqno, deadline,
                                'no update after a refused transaction')
                continue
            raise OvsdbError('the transaction failed (%s): %s'
                             % (status[0], txn.get_error() or 'no detail'))
        if wait and root and status[0] == ovs_idl.Transaction.SUCCESS:
            target = txn.get_increment_new_value()
            self._run_until(lambda: root[0].cur_cfg >= target, deadline,
                            'ovs-vswitchd did not apply the change (cur_cfg %s)' % target)
        return outcome


def _interface(port):
    return port.interfaces[0] if len(port.interfaces) == 1 else None


def mirror_record(mirror):
    return dict(ovs_mirror_record(mirror),
                ovn_owned=mirror.external_ids.get(OVN_OWNED_KEY) == 'true',
                kube_ovn=mirror.name == KUBE_OVN_MIRROR,
                statistics=dict((key, int(value)) for key, value in mirror.statistics.items()))


def is_ovn_mirror_port(port):
    """A port as ovn-controller makes it for a NB mirror: ``ovn-<mirror>``, one tunnel
    interface of a mirror type, and not one of its chassis tunnels (``ovn-chassis-id``)."""
    iface = _interface(port)
    return (port.name.startswith(MIRROR_PORT_PREFIX) and iface is not None
            and iface.type in MIRROR_TUNNEL_TYPES
            and CHASSIS_TUNNEL_KEY not in port.external_ids
            and CHASSIS_TUNNEL_KEY not in iface.external_ids)


def stale_port_record(port):
    iface = _interface(port)
    return dict(name=port.name, type=iface.type, mirror=port.name[len(MIRROR_PORT_PREFIX):],
                remote_ip=iface.options.get('remote_ip'), key=iface.options.get('key'))


def read_health(bridge):
    """(mirrors, stale port rows, waiting interfaces) of one bridge."""
    mirrors = sorted((mirror_record(m) for m in bridge.mirrors), key=lambda m: m['name'])
    outputs = set()
    for mirror in bridge.mirrors:
        for port in mirror.output_port:
            outputs.add(port.uuid)
    stale = sorted((port for port in bridge.ports
                    if is_ovn_mirror_port(port) and port.uuid not in outputs),
                   key=lambda port: port.name)
    waiting = []
    for port in bridge.ports:
        for iface in port.interfaces:
            if iface.external_ids.get('iface-id') and \
                    iface.external_ids.get('ovn-installed') != 'true':
                waiting.append(dict(port=port.name, interface=iface.name,
                                    iface_id=iface.external_ids['iface-id']))
    waiting.sort(key=lambda item: item['port'])
    return mirrors, stale, waiting


def plan_health(bridge_name, repair):
    """A planner for OvsHealthSession.run: the health report and, with `repair` and stale
    ports, the write deleting them (the report's `removed`)."""
    def planner(session):
        bridge = session.bridge(bridge_name)
        mirrors, stale, waiting = read_health(bridge)
        report = dict(mirrors=mirrors, stale_ports=[stale_port_record(p) for p in stale],
                      ports_waiting=waiting, removed=[], changed=False)
        if not repair or not stale:
            return report, None
        report['removed'] = [port.name for port in stale]
        report['changed'] = True

        def delete_stale(txn):
            fresh = session.bridge(bridge_name)
            dummy, now_stale, dummy = read_health(fresh)
            if not now_stale:
                return dict(removed=[], changed=False)
            # At commit the server checks that nobody changed the bridge's ports or mirrors,
            # or a mirror's output, since we read them; if they did, we plan again from
            # fresh rows. The bridge is written (python-ovs sends its verify()), the mirrors
            # are not (check_unchanged).
            fresh.verify('ports')
            fresh.verify('mirrors')
            for mirror in fresh.mirrors:
                check_unchanged(txn, 'Mirror', mirror, ['output_port'])
            for port in now_stale:
                fresh.delvalue('ports', port)
            removed = [port.name for port in now_stale]
            return dict(removed=removed, changed=bool(removed))
        return report, delete_stale
    return planner


def reread_after_repair(session, bridge_name, report):
    """The report's mirrors and waiting ports as they are after the repair."""
    report['mirrors'], dummy, report['ports_waiting'] = read_health(session.bridge(bridge_name))


def report_diff(report):
    """Diff mode's view of a report: the stale ports before and after the task."""
    stale = [port['name'] for port in report['stale_ports']]
    return dict(before=dict(stale_ports=stale),
                after=dict(stale_ports=[name for name in stale if name not in report['removed']]))
