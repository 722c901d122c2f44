#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: gretap_receiver
short_description: A GRE or ERSPAN link that decapsulates mirrored traffic in the receiver
version_added: 0.1.0
description:
  - Creates, replaces or removes a C(gretap), C(ip6gretap), C(erspan) or C(ip6erspan) link with
    iproute2, so that C(tcpdump -i <name>) in the receiver shows the mirrored frames.
  - Reads the link with C(ip -details -json link show). A link with the same tunnel parameters is
    left alone (only C(mtu) and C(up) are adjusted in place); one with other parameters is
    deleted and created again.
  - On a kernel without GRE/ERSPAN support it fails saying which kernel module or version is
    missing rather than with the raw C(ip) error.
  - In Kube-OVN, run it inside the receiver pod (for example with the C(kubernetes.core.kubectl)
    connection plugin), on the attachment NIC (C(net1)), with O(local) the receiver's attachment
    address (the OVN mirror's sink) and O(key) the mirror's index.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
options:
  name:
    description: Link name (at most 15 characters).
    type: str
    required: true
  type:
    description: Link type; C(ip6*) for an IPv6 underlay. ERSPAN needs Linux >= 4.14 (>= 4.16 over IPv6).
    type: str
    choices: [gretap, ip6gretap, erspan, ip6erspan]
    default: gretap
  local:
    description: Local tunnel address (the mirror's sink).
    type: str
  remote:
    description: Remote tunnel address; left out, packets from any node are accepted.
    type: str
  key:
    description: GRE key (the OVN mirror's index for C(gre)). For ERSPAN it defaults to O(erspan_index).
    type: int
  erspan_index:
    description: ERSPAN index (the OVN mirror's index for C(erspan)). Required for ERSPAN types.
    type: int
  erspan_version:
    description: ERSPAN version; OVN sends version 1 (type II).
    type: int
    choices: [1, 2]
    default: 1
  dev:
    description: Underlying device (in Kube-OVN, the attachment NIC such as C(net1)).
    type: str
  mtu:
    description: MTU of the link.
    type: int
  up:
    description: Whether the link is set up.
    type: bool
    default: true
  netns:
    description: Network namespace to act in (C(ip -n NETNS)).
    type: str
  state:
    description: C(present) creates the link or converges it; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - iproute2 with JSON output (C(ip -json)) on the target
'''

EXAMPLES = r'''
- name: Receive OVN mirror "mirror1" (gre, index 99, sink 172.19.0.21) on net1
  kubeovn.mirror.gretap_receiver:
    name: mirror1
    type: gretap
    local: 172.19.0.21
    key: 99
    dev: net1

- name: ERSPAN mirror with index 7
  kubeovn.mirror.gretap_receiver:
    name: span1
    type: erspan
    local: 172.19.0.21
    erspan_index: 7
    dev: net1
'''

RETURN = r'''
link:
  description: The link after the task (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  sample: {name: mirror1, type: gretap, local: 172.19.0.21, remote: null, key: 99, dev: net1, mtu: 1462, up: true}
commands:
  description: The C(ip) commands run (would run, in check mode).
  returned: always
  type: list
  elements: list
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import gretap, runner, runs_receiver


def main():
    runner.run_module(dict(
        name=dict(type='str', required=True),
        type=dict(type='str', choices=list(gretap.LINK_TYPES), default='gretap'),
        local=dict(type='str'),
        remote=dict(type='str'),
        key=dict(type='int', no_log=False),
        erspan_index=dict(type='int'),
        erspan_version=dict(type='int', choices=[1, 2], default=1),
        dev=dict(type='str'),
        mtu=dict(type='int'),
        up=dict(type='bool', default=True),
        netns=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), runs_receiver.GretapReceiver())


if __name__ == '__main__':
    main()
