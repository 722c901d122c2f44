# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the node-side modules read of a node's Open_vSwitch database, with python-ovs rows
alone (ovs_health runs where ovsdbapp is not installed): the schema's name, who owns a
mirror, a mirror as a record, checks at commit of what was read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

OVS_SCHEMA = 'Open_vSwitch'
KUBE_OVN_MIRROR = 'm0'       # created and rewritten by kube-ovn-cni
OVN_OWNED_KEY = 'ovn-owned'  # ovn-controller's mark on the mirrors it makes


def mirror_record(mirror):
    """The fields every reader of an OVS Mirror row reports."""
    return dict(
        name=mirror.name,
        select_all=bool(mirror.select_all),
        select_src_port=sorted(port.name for port in mirror.select_src_port),
        select_dst_port=sorted(port.name for port in mirror.select_dst_port),
        output_port=mirror.output_port[0].name if mirror.output_port else None,
        output_vlan=mirror.output_vlan[0] if mirror.output_vlan else None,
    )


def port_of_interface(bridge, iface_id):
    """The port of `bridge` whose interface has external_ids:iface-id=`iface_id`, or None."""
    for port in bridge.ports:
        for iface in port.interfaces:
            if iface.external_ids.get('iface-id') == iface_id:
                return port
    return None


def check_unchanged(txn, table, row, columns):
    """Have the server refuse python-ovs transaction `txn` (TRY_AGAIN, so the caller plans
    again from fresh rows) if a column of `columns` of `row` (reference sets) changed since
    it was read. For rows `txn` does not otherwise write, whose Row.verify() python-ovs
    never sends: a `wait` operation (Transaction.add_op, python-ovs >= 3.4), else verify()
    and the columns written back as read, which makes python-ovs send it.
    """
    add_op = getattr(txn, 'add_op', None)
    if add_op is None:
        for column in columns:
            row.verify(column)
        for column in columns:
            setattr(row, column, list(getattr(row, column)))
        return
    add_op({'op': 'wait', 'table': table, 'timeout': 0,
            'where': [['_uuid', '==', ['uuid', str(row.uuid)]]],
            'until': '==', 'columns': list(columns),
            'rows': [dict((column, ['set', [['uuid', str(ref.uuid)]
                                            for ref in getattr(row, column)]])
                          for column in columns)]})
