#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_mirror_health
short_description: Report, and repair, the mirrors of a node's Open vSwitch bridge
version_added: 0.1.0
description:
  - Reads the mirrors on a bridge (default C(br-int)) of the node the task runs on and reports
    what keeps mirroring from working.
  - C(stale_ports) are ovn-controller's mirror tunnel ports (C(ovn-<mirror>), type gre, erspan,
    ip6gre or ip6erspan, not a chassis tunnel) that no mirror uses as its output. kube-ovn-cni
    leaves them behind at every start (its C(InitMirror) transaction runs
    C(clear bridge br-int mirrors)); ovn-controller then fails every transaction on the node
    with a duplicate-name error, so remote mirrors deliver nothing and new pod ports never get
    C(external_ids:ovn-installed), which makes the pods' network set-up fail.
  - C(ports_waiting) are interfaces with an C(external_ids:iface-id) but no
    C(ovn-installed=true), that is pod ports ovn-controller has not (yet) set up.
  - With O(repair=true) deletes the stale ports in one transaction; ovn-controller then
    recreates the mirrors and their ports, and finishes the waiting pod ports. No other port is
    ever deleted.
  - Needs only python-ovs (C(python3-openvswitch)) on the target, not ovsdbapp, so it runs
    unchanged inside Kube-OVN's C(ovs-ovn) pod, through the C(kubernetes.core.kubectl)
    connection (see the node access page in the collection's docs), or on a node host.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.ovs_node
attributes:
  check_mode:
    support: full
    details: Reports in C(removed) the ports it would delete, and deletes nothing.
options:
  bridge:
    description: Bridge to check.
    type: str
    default: br-int
  repair:
    description: Delete the stale ports (C(stale_ports)).
    type: bool
    default: false
requirements:
  - python-ovs (C(ovs) on PyPI, C(python3-openvswitch) in Debian and Kube-OVN's images) on the node
notes:
  - Run it after anything that restarts kube-ovn-cni (the C(kubeovn.mirror.cni_mirror) role does
    it for its own rollouts), and on a schedule; see the page on keeping mirrors true.
seealso:
  - module: kubeovn.mirror.ovs_local_mirror
  - module: kubeovn.mirror.ovn_mirror
'''

EXAMPLES = r'''
- name: What is wrong with mirroring on this node?
  kubeovn.mirror.ovs_mirror_health:
  register: health

- name: Delete the tunnel ports kube-ovn-cni's restart left behind
  kubeovn.mirror.ovs_mirror_health:
    repair: true

- name: Inside Kube-OVN's ovs-ovn pod, without SSH to the node
  kubeovn.mirror.ovs_mirror_health:
    repair: true
  vars:
    ansible_connection: kubernetes.core.kubectl
    ansible_kubectl_namespace: kube-system
    ansible_kubectl_pod: ovs-ovn-7xk2p
    ansible_python_interpreter: /usr/bin/python3
'''

RETURN = r'''
mirrors:
  description: Every mirror on the bridge (after the repair), sorted by name.
  returned: always
  type: list
  elements: dict
  sample:
    - name: mirror1
      ovn_owned: true
      kube_ovn: false
      select_all: false
      select_src_port: [1a2b3c4d5e6f_h]
      select_dst_port: []
      output_port: ovn-mirror1
      output_vlan: null
      statistics: {tx_packets: 42, tx_bytes: 4116}
stale_ports:
  description: ovn-controller mirror ports that no mirror uses (found before any repair).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: ovn-mirror1, mirror: mirror1, type: gre, remote_ip: 172.19.0.21, key: '99'}
ports_waiting:
  description: Interfaces with an C(iface-id) but no C(ovn-installed=true).
  returned: always
  type: list
  elements: dict
  sample:
    - {port: 9f8e7d6c5b4a_h, interface: 9f8e7d6c5b4a_h, iface_id: web-1.shop}
removed:
  description: Ports deleted (in check mode, that would be deleted).
  returned: always
  type: list
  elements: str
  sample: [ovn-mirror1]
diff:
  description: The stale ports before and after, in diff mode.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_node


def main():
    runner.run_module(options.argument_spec(
        options.OVS_NODE_OPTIONS,
        repair=dict(type='bool', default=False),
    ), runs_node.OvsMirrorHealth())


if __name__ == '__main__':
    main()
