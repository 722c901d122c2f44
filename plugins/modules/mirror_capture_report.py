#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: mirror_capture_report
short_description: What a capture at the mirror receiver holds, per OVN mirror
version_added: 0.1.0
description:
  - Reads a pcap file taken at the receiver's attachment (for example by the
    C(kubeovn.mirror.mirror_capture) role) and reports, per OVN mirror, the mirrored packets,
    their bytes and the top inner conversations.
  - GRE copies are matched to a mirror by their key, ERSPAN type II copies by their session id;
    both equal the OVN mirror's C(index). Decoding is done by Scapy.
  - With O(expect_packets), fails naming every listed mirror that delivered nothing.
  - Reads only; runs where the file is (usually the controller).
extends_documentation_fragment:
  - kubeovn.mirror.attributes.info_module
  - kubeovn.mirror.attributes
options:
  path:
    description: The pcap file.
    type: path
    required: true
  mirrors:
    description:
      - The OVN mirrors to name the copies by, each a dict with at least C(name), C(type)
        (C(gre) or C(erspan)) and C(index) (the GRE key or ERSPAN session id); other keys are
        ignored, so the C(mirrors) that M(kubeovn.mirror.ovn_mirror_info) returns can be given
        as they are. Copies of other keys are reported without a name; mirrors of other types
        (C(local), C(lport)) never reach a receiver and are left out.
    type: list
    elements: dict
    default: []
  expect_packets:
    description: Names of mirrors (from O(mirrors)) that must have delivered at least one packet.
    type: list
    elements: str
    default: []
  top:
    description: How many inner conversations to report per mirror, most packets first.
    type: int
    default: 5
requirements:
  - scapy >= 2.5 on the host that runs it
'''

EXAMPLES = r'''
- name: Read the mirrors
  kubeovn.mirror.ovn_mirror_info:
  register: mirror_info

- name: What the capture saw, per mirror; fail when web0-egress sent nothing
  kubeovn.mirror.mirror_capture_report:
    path: /tmp/captures/mirror-receiver.pcap
    mirrors: "{{ mirror_info.mirrors }}"
    expect_packets: [web0-egress]
'''

RETURN = r'''
path:
  description: The file read.
  returned: always
  type: str
packets:
  description: Packets in the file.
  returned: always
  type: int
other_packets:
  description: Packets that are not a GRE or ERSPAN copy.
  returned: always
  type: int
truncated:
  description: Whether the file ended inside a packet (a capture cut at its byte limit).
  returned: always
  type: bool
mirrors:
  description: Per mirror seen (or named in O(mirrors)), ordered by name; C(name) is null for a key no given mirror has.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: web0-egress, type: gre, index: 99, packets: 3, bytes: 294,
       conversations: [{src: 10.66.0.10, dst: 10.66.0.11, protocol: icmp, packets: 3, bytes: 294}]}
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import runner, runs


def main():
    runner.run_module(dict(
        path=dict(type='path', required=True),
        mirrors=dict(type='list', elements='dict', default=[]),
        expect_packets=dict(type='list', elements='str', default=[]),
        top=dict(type='int', default=5),
    ), runs.MirrorCaptureReport())


if __name__ == '__main__':
    main()
