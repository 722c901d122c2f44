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
  - Reads a pcap file taken at the receiver (for example by the
    C(kubeovn.mirror.mirror_capture) role) and reports, per OVN mirror, the mirrored packets,
    their bytes and the top inner conversations.
  - GRE copies are matched to a mirror by their key, ERSPAN type II copies by their session id;
    both equal the OVN mirror's C(index). Decoding is done by Scapy.
  - C(lport) copies (OVN >= 25.09) arrive at the receiver's logical switch port as they are,
    unencapsulated, with nothing naming their mirror. Given O(port), the port the capture was
    taken at, every packet that is not a GRE/ERSPAN copy counts for the C(lport) mirrors of
    O(mirrors) whose C(sink) is that port. Several C(lport) mirrors sharing that port are
    reported together, in one entry named C(<name>+<name>) that lists them in C(names) - their
    copies cannot be told apart. Whatever else the port receives counts too (capture inbound
    only, as the role does, and filter out what is not a copy).
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
        as they are. Copies of other keys are reported without a name; C(local) mirrors never
        reach a receiver and are left out.
      - An C(lport) mirror needs C(name), C(type) and C(sink) (the logical switch port its
        copies go to), no index; it is reported only when its sink is O(port).
    type: list
    elements: dict
    default: []
  expect_packets:
    description:
      - Names of mirrors (from O(mirrors)) that must have delivered at least one packet.
      - An C(lport) mirror sharing its port with others delivered when their common entry has
        packets.
    type: list
    elements: str
    default: []
  port:
    description:
      - The logical switch port the capture was taken at, for C(lport) copies - the receiver
        pod's C(<pod>.<namespace>) (its primary NIC on the pod network). Left out, no packet is
        counted for an C(lport) mirror.
    type: str
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

- name: What the receiver pod's own port received from the lport mirror web0-tap
  kubeovn.mirror.mirror_capture_report:
    path: /tmp/captures/default-mirror-receiver.pcap
    mirrors: "{{ mirror_info.mirrors }}"
    port: mirror-receiver.default
    expect_packets: [web0-tap]
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
  description: Packets that are not a GRE or ERSPAN copy (nor, with O(port), an C(lport) copy).
  returned: always
  type: int
truncated:
  description: Whether the file ended inside a packet (a capture cut at its byte limit).
  returned: always
  type: bool
mirrors:
  description:
    - Per mirror seen (or named in O(mirrors)), ordered by name; C(name) is null for a key no
      given mirror has.
    - C(names) lists the mirrors an entry stands for (one, or none for an unknown key; the
      C(lport) mirrors sharing O(port)).
    - An C(lport) entry has C(index) null and C(port) the port; its bytes are whole frames.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: web0-egress, names: [web0-egress], type: gre, index: 99, packets: 3, bytes: 294,
       conversations: [{src: 10.66.0.10, dst: 10.66.0.11, protocol: icmp, packets: 3, bytes: 294}]}
    - {name: web0-tap, names: [web0-tap], type: lport, index: null, port: mirror-receiver.default,
       packets: 6, bytes: 588,
       conversations: [{src: 10.16.0.10, dst: 10.16.0.11, protocol: icmp, packets: 3, bytes: 294}]}
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import runner, runs_receiver


def main():
    runner.run_module(dict(
        path=dict(type='path', required=True),
        mirrors=dict(type='list', elements='dict', default=[]),
        expect_packets=dict(type='list', elements='str', default=[]),
        top=dict(type='int', default=5),
        port=dict(type='str'),
    ), runs_receiver.MirrorCaptureReport())


if __name__ == '__main__':
    main()
