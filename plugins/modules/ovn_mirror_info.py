#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_mirror_info
short_description: Read OVN Northbound mirrors and the ports they are attached to
version_added: 0.1.0
description:
  - Returns every mirror of the OVN Northbound database, or the one named, with the logical
    switch ports it is attached to, and which mirror types and filters the server accepts.
extends_documentation_fragment:
  - kubeovn.mirror.attributes.info_module
  - kubeovn.mirror.attributes
  - kubeovn.mirror.attributes.actiongroup_ovn
  - kubeovn.mirror.ovn_nb
  - kubeovn.mirror.k8s_auth
options:
  name:
    description: Only this mirror. An unknown name returns an empty list.
    type: str
seealso:
  - module: kubeovn.mirror.ovn_mirror
  - module: kubeovn.mirror.ovn_lsp_mirror
'''

EXAMPLES = r'''
- name: Read every mirror
  kubeovn.mirror.ovn_mirror_info:
  register: nb_mirrors

- name: Does the server take ERSPAN and both directions?
  ansible.builtin.debug:
    msg: "{{ 'erspan' in nb_mirrors.supports.types and 'both' in nb_mirrors.supports.filters }}"
'''

RETURN = r'''
mirrors:
  description:
    - Mirrors, sorted by name, in the same form as M(kubeovn.mirror.ovn_mirror) returns, with
      the expiry set by O(kubeovn.mirror.ovn_mirror#module:expires) and the time left.
  returned: always
  type: list
  elements: dict
  contains:
    rules:
      description: An lport mirror's rules, highest priority first (only lport mirrors have them; OVN >= 25.09).
      type: list
      elements: dict
      sample: [{priority: 300, match: icmp4, action: mirror}, {priority: 200, match: "1", action: skip}]
    expires:
      description: When the mirror expires (UTC), or null.
      type: str
      sample: '2026-12-31T18:00:00Z'
    expires_in:
      description: Seconds left until then (negative once passed), or null.
      type: int
      sample: 7190
    expired:
      description: Whether the expiry has passed.
      type: bool
      sample: false
  sample:
    - name: mirror1
      type: gre
      index: 99
      filter: from-lport
      sink: 172.19.0.21
      external_ids: {kubeovn.mirror/expires: '2026-12-31T18:00:00Z'}
      ports: [coredns-787d4945fb-gpnkb.kube-system]
      expires: '2026-12-31T18:00:00Z'
      expires_in: 7190
      expired: false
supports:
  description: What the connected Northbound database accepts.
  returned: always
  type: dict
  contains:
    types:
      description: Accepted mirror types.
      type: list
      elements: str
      sample: [erspan, gre]
    filters:
      description: Accepted filters.
      type: list
      elements: str
      sample: [from-lport, to-lport]
    schema_version:
      description: Version of the server's OVN_Northbound schema.
      type: str
      sample: 7.0.0
    mirror_rules:
      description: Whether the server has mirror rules (OVN >= 25.09).
      type: bool
      sample: false
    matches:
      description: The OVN and Kube-OVN releases whose mirror features the server has.
      type: str
      sample: 'OVN 22.12/23.03, as in Kube-OVN 1.12: types gre and erspan, filters from-lport and to-lport'
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_ovn


def main():
    runner.run_module(options.argument_spec(options.NB_OPTIONS, name=dict(type='str')), runs_ovn.OvnMirrorInfo())


if __name__ == '__main__':
    main()
