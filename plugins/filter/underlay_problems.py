# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: underlay_problems
short_description: Problems of an underlay network definition, before anything is written
version_added: 0.1.0
description:
  - Checks a ProviderNetwork, Vlan and Subnet together (names, interface names, VLAN id range,
    provider chain, CIDR/protocol, gateway inside the CIDR, excluded ranges) and returns every
    problem found, each naming the offending value. An empty list means the definition is sound.
author:
  - kubeovn.mirror developers (@kubeovn)
options:
  _input:
    description: The ProviderNetwork (C(name), C(defaultInterface), C(customInterfaces)).
    type: dict
    required: true
  vlan:
    description: The Vlan (C(name), C(id), C(provider)).
    type: dict
    required: true
  subnet:
    description: The Subnet (C(protocol), C(cidrBlock), C(gateway), C(excludeIps), C(vlan), C(provider)).
    type: dict
    required: true
  attachment_provider:
    description: The attachment network's provider, which the subnet's provider must equal.
    type: str
'''

EXAMPLES = r'''
- name: Refuse an unsound underlay
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ pn | kubeovn.mirror.underlay_problems(vlan, subnet, 'attachnet.default.ovn') }}"
'''

RETURN = r'''
_value:
  description: The problems, empty when none.
  type: list
  elements: str
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils.underlay import underlay_problems


class FilterModule(object):
    def filters(self):
        return {'underlay_problems': underlay_problems}
