#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_mirror
short_description: Manage an OVN Northbound mirror (remote port mirroring in Kube-OVN)
version_added: 0.1.0
description:
  - Creates, updates in place or deletes a row of the OVN Northbound C(Mirror) table, which
    says where mirrored packets go (a GRE or ERSPAN tunnel to O(sink)), with which key or
    index, and in which direction.
  - Which logical switch ports are mirrored is managed by M(kubeovn.mirror.ovn_lsp_mirror).
  - The mirror's identity is its O(name). An existing mirror whose fields differ is updated
    in place, so the ports attached to it stay attached. Renaming is deleting one mirror
    and creating another.
  - The values accepted for O(type) and O(filter) are read from the connected server's
    schema; a value the server does not know fails with the OVN version that added it.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.attributes.actiongroup_ovn
  - kubeovn.mirror.ovn_nb
  - kubeovn.mirror.k8s_auth
options:
  name:
    description:
      - Name of the mirror (the unique index of the C(Mirror) table).
      - ovn-controller names the tunnel port it creates on each chassis C(ovn-<name>).
    type: str
    required: true
  type:
    description:
      - C(gre) or C(erspan) tunnel to O(sink). C(local) (OVN >= 23.06) mirrors to an OVS
        interface whose C(external_ids:mirror-id) equals O(sink); C(lport) (OVN >= 25.09)
        mirrors to the logical switch port named O(sink).
      - Required to create a mirror; left out, an existing mirror keeps its type.
    type: str
    choices: [gre, erspan, local, lport]
  index:
    description:
      - The GRE key (0 to 4294967295) for C(gre), the ERSPAN session index (0 to 1023) for
        C(erspan). Ignored by OVN for C(local) and C(lport).
      - Required to create a C(gre) or C(erspan) mirror.
    type: int
  filter:
    description:
      - Direction seen from the mirrored port. C(from-lport) mirrors what the pod sends,
        C(to-lport) what it receives, C(both) (OVN >= 23.06) both.
      - Required to create a mirror.
    type: str
    choices: [from-lport, to-lport, both]
  sink:
    description:
      - For C(gre)/C(erspan) the IPv4 or IPv6 address of the receiver (in Kube-OVN, the
        receiver pod's address on the underlay attachment network). The node running the
        mirrored pod must be able to reach it.
      - For C(local) an interface's C(external_ids:mirror-id); for C(lport) the name of an
        existing logical switch port (or give O(sink_pod)).
      - Required to create a mirror (this or O(sink_pod)).
    type: str
  sink_pod:
    description:
      - The sink of an C(lport) mirror given as a Kube-OVN pod, whose logical switch port is
        C(<name>.<namespace>) (C(<name>.<namespace>.<provider>) for an attachment's NIC).
      - Mutually exclusive with O(sink).
    type: dict
    suboptions:
      name:
        description: The pod's name.
        type: str
        required: true
      namespace:
        description: The pod's namespace.
        type: str
        default: default
      provider:
        description: The provider of the pod's NIC, for a NIC of an attachment network.
        type: str
  rules:
    description:
      - The rules of an C(lport) mirror (OVN >= 25.09, the C(Mirror_Rule) table), exactly
        these; V([]) removes them all. Left out, the mirror's rules are kept.
      - Without rules a mirror copies every packet its O(filter) selects. With rules, the
        matching rule of the highest priority decides, for each packet the filter selects,
        whether it is copied (C(mirror)) or not (C(skip)).
      - A server without mirror rules refuses the task, naming the OVN version they need;
        rules on another type than C(lport) are refused too.
    type: list
    elements: dict
    suboptions:
      priority:
        description: 0 to 32767; the matching rule of the highest priority decides.
        type: int
        required: true
      match:
        description: An OVN match expression, such as C(icmp4) or C(udp.dst == 4369); C(1) matches every packet.
        type: str
        required: true
      action:
        description: Copy the packets the rule matches, or skip them.
        type: str
        choices: [mirror, skip]
        default: mirror
  external_ids:
    description:
      - The mirror's C(external_ids) map. When given it replaces the whole map (except the
        expiry, which O(expires) manages); left out, the map is not touched.
    type: dict
  expires:
    description:
      - When the mirror stops being wanted, stored as a UTC timestamp in C(external_ids)
        (key C(kubeovn.mirror/expires)) and shown by M(kubeovn.mirror.ovn_mirror_info) with the
        time left. C(playbooks/expire.yml) (and the C(kubeovn.mirror.mirrors) role) delete
        mirrors of this collection whose time has passed.
      - A duration (C(90s), C(30m), C(2h), C(1d), C(1w), or combined as C(1h30m)) counts from the
        run that first sets it; later runs with a duration keep the stored time, so a re-run
        neither changes nor extends it. An ISO 8601 timestamp (C(2026-12-31T18:00:00Z); no
        offset means UTC) sets it exactly and must lie in the future unless it is the stored
        one. C(never) removes it. Left out, the stored expiry is kept.
      - OVN itself ignores it; nothing expires until something deletes the mirror.
    type: str
  state:
    description:
      - C(present) creates or updates the mirror; C(absent) deletes it, which also
        detaches it from every logical switch port.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: kubeovn.mirror.ovn_lsp_mirror
  - module: kubeovn.mirror.ovn_mirror_info
'''

EXAMPLES = r'''
- name: GRE mirror to the receiver pod at 172.19.0.21, key 99, what the pods send
  kubeovn.mirror.ovn_mirror:
    name: mirror1
    type: gre
    index: 99
    filter: from-lport
    sink: 172.19.0.21
    nb_connection: tcp:192.168.0.10:6641

- name: Change only the direction; the attached ports stay attached
  kubeovn.mirror.ovn_mirror:
    name: mirror1
    filter: to-lport

- name: ERSPAN mirror over TLS to a clustered Northbound database
  kubeovn.mirror.ovn_mirror:
    name: span1
    type: erspan
    index: 7
    filter: to-lport
    sink: 172.19.0.21
    external_ids:
      owner: netops
    nb_connection: ssl:10.0.0.1:6641,ssl:10.0.0.2:6641,ssl:10.0.0.3:6641
    ssl_key: /etc/ovn/key.pem
    ssl_cert: /etc/ovn/cert.pem
    ssl_ca_cert: /etc/ovn/cacert.pem

- name: Copy straight to the receiver pod's port (OVN >= 25.09), only ICMP
  kubeovn.mirror.ovn_mirror:
    name: icmp-to-sniffer
    type: lport
    filter: both
    sink_pod: {name: sniffer, namespace: tools}
    rules:
      - {priority: 300, match: icmp4, action: mirror}
      - {priority: 200, match: "1", action: skip}

- name: Remove the mirror (and every attachment of it)
  kubeovn.mirror.ovn_mirror:
    name: mirror1
    state: absent
'''

RETURN = r'''
mirror:
  description: The Northbound mirror after the task (as it would be, in check mode), with its ports; empty when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the mirror.
      type: str
      sample: mirror1
    type:
      description: Mirror type.
      type: str
      sample: gre
    index:
      description: GRE key or ERSPAN index.
      type: int
      sample: 99
    filter:
      description: Direction.
      type: str
      sample: from-lport
    sink:
      description: Receiver address (canonical form) or local/lport target.
      type: str
      sample: 172.19.0.21
    external_ids:
      description: The mirror's external_ids.
      type: dict
      sample: {owner: netops}
    ports:
      description: Names of the logical switch ports the mirror is attached to.
      type: list
      elements: str
      sample: [web-0.default]
    rules:
      description: The mirror's rules, highest priority first (only from a server that has mirror rules, OVN >= 25.09).
      type: list
      elements: dict
      sample: [{priority: 300, match: icmp4, action: mirror}, {priority: 200, match: "1", action: skip}]
diff:
  description: The mirror before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {}, after: {name: mirror1, type: gre, index: 99}}
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_ovn


def main():
    runner.run_module(options.argument_spec(
        options.NB_OPTIONS, options.MIRROR_OPTIONS,
        external_ids=dict(type='dict'),
    ), runs_ovn.OvnMirror())


if __name__ == '__main__':
    main()
