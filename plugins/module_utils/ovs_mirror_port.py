# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node side of an OVN `local` mirror (OVN >= 23.06): a port on br-int whose interface
carries `external_ids:mirror-id=<the NB mirror's sink>`. ovn-controller uses that port as the
mirror's output on each node (controller/mirror.c); no tunnel port is made, so kube-ovn-cni's
InitMirror leaves nothing behind that could block ovn-controller.

The module creates the port (an internal port, or an existing NIC bridged in) or adopts an
existing one by setting the key. A port it created carries the collection's marker on the
Port row, so `absent` deletes only such a port and merely removes the key from an adopted one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.markers import OWNER_KEY
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    check_iface_name, check_name)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovs_mirror import (
    bridge_row, insert_port)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovs_rows import check_unchanged

MIRROR_ID_KEY = 'mirror-id'
OWNER = 'kubeovn.mirror.ovs_mirror_port'


def check_params(params):
    """The module's input, before connecting; ValueError names the offending value.
    Returns the mirror-id (default: the port's name)."""
    check_iface_name('name', params['name'])
    check_name('bridge', params['bridge'])
    mirror_id = params.get('mirror_id') or params['name']
    check_name('mirror_id', mirror_id)
    return mirror_id


def port_record(bridge, port):
    iface = port.interfaces[0] if len(port.interfaces) == 1 else None
    return dict(name=port.name, bridge=bridge.name,
                mirror_id=iface.external_ids.get(MIRROR_ID_KEY) if iface is not None else None,
                created=port.external_ids.get(OWNER_KEY) == OWNER)


def plan_mirror_port(params, mirror_id):
    """A planner (see ovsdb.run_planned) converging the port's mirror-id."""
    name, state = params['name'], params['state']

    def planner(api):
        bridge = bridge_row(api, params['bridge'])
        port = next((p for p in bridge.ports if p.name == name), None)
        before = port_record(bridge, port) if port is not None else {}
        if port is not None and len(port.interfaces) != 1:
            raise ValueError('port %r on %s is a bond of %d interfaces; a mirror-id port needs '
                             'exactly one' % (name, bridge.name, len(port.interfaces)))
        outcome = dict(changed=False, before=before, after=before, created=None)
        if state == 'absent':
            if port is None or (before['mirror_id'] is None and not before['created']):
                return outcome, []
            outcome.update(changed=True, after={})
            if not before['created']:
                outcome['after'] = dict(before, mirror_id=None)

            def remove(txn):
                if before['created']:
                    bridge.verify('ports')
                    bridge.delvalue('ports', port)
                else:
                    check_unchanged(txn, 'Bridge', bridge, ['ports'])
                    port.interfaces[0].delkey('external_ids', MIRROR_ID_KEY)
            return outcome, [ovsdb.CallbackCommand(api, remove)]

        others = [p.name for p in bridge.ports if p is not port for i in p.interfaces
                  if i.external_ids.get(MIRROR_ID_KEY) == mirror_id]
        if others:
            raise ValueError('mirror-id %r is already on port %s of %s; ovn-controller would '
                             'pick one of them' % (mirror_id, others[0], bridge.name))
        if port is not None and before['mirror_id'] == mirror_id:
            return outcome, []
        after = dict(name=name, bridge=bridge.name, mirror_id=mirror_id,
                     created=before.get('created', True))
        outcome.update(changed=True, after=after, created=name if port is None else None)

        def apply(txn):
            # A port added or removed meanwhile makes the server refuse the commit; ovsdbapp
            # retries and we plan again. (python-ovs sends verify() only for a row the
            # transaction writes: check_unchanged when the bridge is not.)
            if port is None:
                bridge.verify('ports')
                row = insert_port(api, txn, bridge, name, {MIRROR_ID_KEY: mirror_id})
                row.external_ids = {OWNER_KEY: OWNER}
            else:
                check_unchanged(txn, 'Bridge', bridge, ['ports'])
                port.interfaces[0].setkey('external_ids', MIRROR_ID_KEY, mirror_id)
        return outcome, [ovsdb.CallbackCommand(api, apply)]

    return planner
