#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_local_mirror
short_description: Manage an Open vSwitch mirror on a node's bridge (local mirroring)
version_added: 0.1.0
description:
  - Creates, updates in place or deletes an OVS C(Mirror) on a bridge (default C(br-int)) of the
    node the task runs on, that is which ports' traffic is copied, and to which output port or VLAN.
  - Ports are selected by OVS port name, by logical switch port (the interface's
    C(external_ids:iface-id)) or as Kube-OVN pods (C(<name>.<namespace>), or
    C(<name>.<namespace>.<provider>) for an attachment network's NIC).
  - Everything is written in one transaction, after checking that every selected port exists.
  - For ad-hoc sessions. For persistent mirroring in Kube-OVN use the C(kubeovn.mirror.cni_mirror)
    and C(kubeovn.mirror.pod_mirror) roles; kube-ovn-cni clears every mirror on br-int when it
    starts with mirroring configured, including mirrors made by this module.
  - Never fights its owners. The mirror C(m0) belongs to kube-ovn-cni (unless it carries this
    collection's marker, see O(external_ids)), and mirrors with
    C(external_ids:ovn-owned=true) belong to ovn-controller; both rewrite them. The module
    refuses to change or delete them unless O(force=true), and a forced change leaves them
    without the marker, still theirs.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.pods
  - kubeovn.mirror.selectors
  - kubeovn.mirror.k8s_auth
  - kubeovn.mirror.ovs_node
options:
  name:
    description: Mirror name (unique on the bridge).
    type: str
    required: true
  bridge:
    description: Bridge holding the mirror.
    type: str
    default: br-int
  output_port:
    description:
      - Port that receives the copies. Ignored when O(output_vlan) is set.
    type: str
    default: mirror0
  create_output:
    description:
      - When O(output_port) is not on the bridge, add it in the same transaction. An existing
        network interface of that name is bridged in, as kube-ovn-cni does with a physical NIC;
        otherwise an OVS internal port of that name is created.
      - The port it adds is then made ready to capture on, as kube-ovn-cni does with its
        C(mirror0) - IPv6 off on the interface (else ovs-vswitchd logs drops of the packets
        the host sends on a port reserved for mirroring), and the link set up - after
        waiting (at most O(timeout) seconds) for ovs-vswitchd to create the interface. That
        needs O(wait=true) and a C(unix:) O(ovs_connection) (ovs-vswitchd on the host the
        task runs on); otherwise bring it up yourself
        (C(sysctl -w net.ipv6.conf.<port>.disable_ipv6=1; ip link set <port> up)).
    type: bool
    default: false
  output_vlan:
    description: Send the copies to this VLAN (1 to 4095) instead of a port.
    type: int
  select_all:
    description: Mirror every packet on the bridge (ignores O(ports), O(lsps), O(pods)).
    type: bool
    default: false
  ports:
    description: OVS port names to mirror.
    type: list
    elements: str
    default: []
  lsps:
    description: Logical switch port names; the ports whose interface has that C(external_ids:iface-id).
    type: list
    elements: str
    default: []
  direction:
    description:
      - Seen from the pod. C(egress) is what it sends (OVS C(select_src_port)), C(ingress) what
        it receives (C(select_dst_port)), C(both) both.
    type: str
    choices: [both, ingress, egress]
    default: both
  snaplen:
    description: Truncate each copied packet to this many bytes (14 to 65535), to keep mirroring cheap.
    type: int
  external_ids:
    description:
      - The mirror's external_ids; when given it replaces the whole map, except the
        collection's marker C(kubeovn.mirror/owner=kubeovn.mirror.ovs_local_mirror), which
        every mirror the module creates or updates carries. It is how the module tells its own
        mirrors (even one named C(m0)) from kube-ovn-cni's and ovn-controller's.
    type: dict
  force:
    description: Allow changing or deleting mirrors owned by kube-ovn-cni (C(m0)) or ovn-controller.
    type: bool
    default: false
  state:
    description: C(present) creates the mirror or updates it in place; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - ovsdbapp >= 2.18 (Python, on the node)
  - iproute2 (C(ip)) on the node, to bring up an output port made with O(create_output)
seealso:
  - module: kubeovn.mirror.ovn_mirror
'''

EXAMPLES = r'''
- name: Copy what pod web-0 sends and receives to mirror0 (created as an internal port)
  kubeovn.mirror.ovs_local_mirror:
    name: debug-web-0
    pods:
      - {name: web-0, namespace: shop}
    create_output: true

- name: Only the first 128 bytes of everything, to keep it cheap
  kubeovn.mirror.ovs_local_mirror:
    name: everything
    select_all: true
    snaplen: 128

- name: Copy what the app=web pods on this node send and receive (re-run to follow them)
  kubeovn.mirror.ovs_local_mirror:
    name: debug-web
    selectors:
      - {namespace: shop, label_selectors: [app=web]}

- name: End the session
  kubeovn.mirror.ovs_local_mirror:
    name: debug-web-0
    state: absent
'''

RETURN = r'''
mirror:
  description: The bridge's OVS mirror after the task (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  sample:
    name: debug-web-0
    bridge: br-int
    select_all: false
    select_src_port: [1a2b3c4d5e6f_h]
    select_dst_port: [1a2b3c4d5e6f_h]
    output_port: mirror0
    output_vlan: null
    snaplen: null
    external_ids: {kubeovn.mirror/owner: kubeovn.mirror.ovs_local_mirror}
commands:
  description: The C(ip) command that brought up the output port this task created (see O(create_output)).
  returned: when the task created the output port and made it ready
  type: list
  elements: list
  sample: [[/usr/sbin/ip, link, set, dev, mirror0, up]]
statistics:
  description: The mirror's counters (C(tx_packets), C(tx_bytes)) as ovs-vswitchd last reported them.
  returned: when the mirror existed before the task
  type: dict
  sample: {tx_packets: 42, tx_bytes: 4116}
selected:
  description: Pods matched by O(selectors), with their LSP and OVS port on this bridge (null when not here).
  returned: always
  type: list
  elements: dict
  sample: [{namespace: shop, name: web-7d4b9-x2x5q, lsp: web-7d4b9-x2x5q.shop, port: 1a2b3c4d5e6f_h}]
diff:
  description: The mirror before and after, in diff mode.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    options, ovs_mirror, runner, runs_node)


def main():
    runner.run_module(options.argument_spec(
        options.OVS_NODE_OPTIONS, options.KUBE_OPTIONS, options.SELECTION_OPTIONS,
        name=dict(type='str', required=True),
        output_port=dict(type='str', default='mirror0'),
        create_output=dict(type='bool', default=False),
        output_vlan=dict(type='int'),
        select_all=dict(type='bool', default=False),
        ports=dict(type='list', elements='str', default=[]),
        lsps=dict(type='list', elements='str', default=[]),
        pods=dict(type='list', elements='dict', default=[], options=options.POD_OPTIONS),
        direction=dict(type='str', choices=list(ovs_mirror.DIRECTION_COLUMNS), default='both'),
        snaplen=dict(type='int'),
        external_ids=dict(type='dict'),
        force=dict(type='bool', default=False),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), runs_node.OvsLocalMirror())


if __name__ == '__main__':
    main()
