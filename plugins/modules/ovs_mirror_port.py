#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_mirror_port
short_description: The node's output port of an OVN local mirror (external_ids:mirror-id)
version_added: 0.1.0
description:
  - An OVN C(local) mirror (M(kubeovn.mirror.ovn_mirror) with
    O(kubeovn.mirror.ovn_mirror#module:type=local), OVN >= 23.06, Kube-OVN 1.13+) names no
    address. Its C(sink) is a name, and on each node ovn-controller sends the copies to the
    br-int port whose interface carries C(external_ids:mirror-id=<sink>). This module makes
    that port on the node it runs on.
  - Creates the port (an internal port, or an existing NIC of that name bridged in) with the
    key, or adopts an existing port by setting the key. One transaction.
  - A port it created is marked (C(external_ids:kubeovn.mirror/owner) on the Port); O(state=absent)
    deletes only such a port and only removes the key from an adopted one.
  - Unlike remote mirrors, nothing a kube-ovn-cni restart leaves behind blocks ovn-controller (no
    tunnel port), and mirroring resumes by itself; unlike kube-ovn-cni's own C(mirror0), both
    directions are mirrored when the NB mirror's filter is C(both), and kube-ovn-cni needs no
    change.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.ovs_node
options:
  name:
    description: The port (and interface) name; a Linux interface name.
    type: str
    default: mirror0
  bridge:
    description: The integration bridge.
    type: str
    default: br-int
  mirror_id:
    description: The C(sink) of the NB local mirror(s) to deliver here; default O(name).
    type: str
  state:
    description: C(present) sets the key (creating the port if needed); C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - ovsdbapp (and python-ovs) where the module runs
notes:
  - A port it creates is brought up with IPv6 off, ready for C(tcpdump -i <name>), when
    O(wait=true) and O(ovs_connection) is a C(unix:) socket of this host.
seealso:
  - module: kubeovn.mirror.ovn_mirror
  - module: kubeovn.mirror.ovs_local_mirror
'''

EXAMPLES = r'''
- name: The NB side, once for the cluster
  kubeovn.mirror.ovn_mirror:
    name: web-local
    type: local
    filter: both
    sink: mon0

- name: On each node, the port that receives the copies
  kubeovn.mirror.ovs_mirror_port:
    name: mon0
'''

RETURN = r'''
port:
  description:
    - The port after the task (as it would be, in check mode); empty when deleted.
    - C(created) says whether this module made it (and so O(state=absent) deletes it).
  returned: always
  type: dict
  sample: {name: mon0, bridge: br-int, mirror_id: mon0, created: true}
commands:
  description: The C(ip) command that brought up the port this task created.
  returned: when the task created the port and made it ready
  type: list
  elements: list
  sample: [[/usr/sbin/ip, link, set, dev, mon0, up]]
diff:
  description: The port before and after, in diff mode.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_node


def main():
    runner.run_module(options.argument_spec(
        options.OVS_NODE_OPTIONS,
        name=dict(type='str', default='mirror0'),
        mirror_id=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), runs_node.OvsMirrorPort())


if __name__ == '__main__':
    main()
