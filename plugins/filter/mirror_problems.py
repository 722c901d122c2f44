# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: mirror_problems
short_description: Problems of a remote mirror definition, before anything is written
version_added: 0.1.0
description:
  - Pre-flight checks of an OVN remote mirror and returns every problem found, each naming the
    offending value; an empty list means it can be written.
  - Checks the type and filter against what the Northbound accepts (O(supports), from
    M(kubeovn.mirror.ovn_mirror_info)), the index (GRE key 0..4294967295, ERSPAN index
    0..1023), C(expires), the sink against the receiver's subnet (O(cidr)), the size of a copy of
    a full-size packet (O(pod_mtu) plus the encapsulation, 42 bytes for GRE and 50 for ERSPAN
    over IPv4, 20 more over IPv6) against O(underlay_mtu), and that the bridges would not hold
    more than 32 mirrors (OVS's limit), counting O(mirrors).
author:
  - kubeovn.mirror developers (@kubeovn)
options:
  _input:
    description: The mirror (C(name), C(type), C(index), C(filter), optional C(sink), C(expires)).
    type: dict
    required: true
  supports:
    description: The C(supports) of M(kubeovn.mirror.ovn_mirror_info).
    type: dict
  mirrors:
    description: Names of the mirrors the Northbound holds now.
    type: list
    elements: str
  cidr:
    description: The receiver's subnet.
    type: str
  pod_mtu:
    description: MTU of the mirrored pods.
    type: int
  underlay_mtu:
    description: MTU of the underlay the copies cross.
    type: int
'''

EXAMPLES = r'''
- name: Refuse a mirror whose copies would not fit the underlay
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: >-
      {{ {'name': 'm1', 'type': 'gre', 'index': 99, 'filter': 'from-lport'}
         | kubeovn.mirror.mirror_problems(info.supports, info.mirrors | map(attribute='name'),
                                          '172.19.0.0/16', 1400, 1500) }}
'''

RETURN = r'''
_value:
  description: The problems, empty when none.
  type: list
  elements: str
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils.preflight import mirror_problems


class FilterModule(object):
    def filters(self):
        return {'mirror_problems': mirror_problems}
