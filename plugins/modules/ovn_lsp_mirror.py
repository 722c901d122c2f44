#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_lsp_mirror
short_description: Attach an OVN mirror to logical switch ports (pods) or detach it
version_added: 0.1.0
description:
  - Adds the mirror to (or removes it from) the C(mirror_rules) of logical switch ports,
    given by name or as Kube-OVN pods.
  - All attachments and detachments of one task are one transaction. With O(state=present),
    if the mirror or any listed port does not exist, the task fails naming every missing one
    and nothing is changed.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.attributes.actiongroup_ovn
  - kubeovn.mirror.ovn_nb
  - kubeovn.mirror.k8s_auth
  - kubeovn.mirror.pods
  - kubeovn.mirror.selectors
options:
  mirror:
    description: Name of the mirror (see M(kubeovn.mirror.ovn_mirror)).
    type: str
    required: true
  ports:
    description: Names of logical switch ports.
    type: list
    elements: str
    default: []
  state:
    description:
      - C(present) attaches the mirror to every listed port; C(absent) detaches it from them
        (ports or a mirror that no longer exist count as detached).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also detach the mirror from every port not listed, so the
        listed ports are exactly the mirrored ones. An empty list then detaches all.
      - A port someone else attaches while the task runs is found by the read after the
        commit and detached too (in RV(detached)).
    type: bool
    default: false
seealso:
  - module: kubeovn.mirror.ovn_mirror
  - module: kubeovn.mirror.ovn_mirror_info
'''

EXAMPLES = r'''
- name: Mirror CoreDNS's pod and a port named directly
  kubeovn.mirror.ovn_lsp_mirror:
    mirror: mirror1
    pods:
      - name: coredns-787d4945fb-gpnkb
        namespace: kube-system
    ports:
      - web-0.default

- name: Mirror exactly these two pods; detach every other port
  kubeovn.mirror.ovn_lsp_mirror:
    mirror: mirror1
    pods:
      - {name: web-0, namespace: shop}
      - {name: web-1, namespace: shop}
    exclusive: true

- name: Mirror whatever pods are labelled app=web in shop now (exact; re-run to follow them)
  kubeovn.mirror.ovn_lsp_mirror:
    mirror: mirror1
    selectors:
      - namespace: shop
        label_selectors: [app=web]
  register: web

- name: Stop mirroring one pod
  kubeovn.mirror.ovn_lsp_mirror:
    mirror: mirror1
    pods:
      - {name: web-1, namespace: shop}
    state: absent
'''

RETURN = r'''
attached:
  description: Ports this task attached the mirror to (would attach, in check mode).
  returned: always
  type: list
  elements: str
  sample: [web-0.shop]
detached:
  description: Ports this task detached the mirror from.
  returned: always
  type: list
  elements: str
  sample: []
ports:
  description:
    - Every port the mirror is attached to after the task, sorted, read from the NB after the
      commit (so it includes ports someone else attached meanwhile); in check mode, the plan.
  returned: always
  type: list
  elements: str
  sample: [web-0.shop, web-1.shop]
selected:
  description: The pods O(selectors) matched, with their LSP and whether it exists yet.
  returned: always
  type: list
  elements: dict
  sample: [{namespace: shop, name: web-7d4b9-x2x5q, lsp: web-7d4b9-x2x5q.shop, pending: false}]
pending:
  description: LSPs of matched pods that do not exist yet (not attached; the next run attaches them).
  returned: always
  type: list
  elements: str
  sample: []
diff:
  description: The mirror's ports before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {mirror: mirror1, ports: []}, after: {mirror: mirror1, ports: [web-0.shop]}}
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_ovn


def main():
    runner.run_module(options.argument_spec(
        options.NB_OPTIONS, options.SELECTION_OPTIONS,
        mirror=dict(type='str', required=True),
        ports=dict(type='list', elements='str', default=[]),
        pods=dict(type='list', elements='dict', default=[], options=options.POD_OPTIONS),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        exclusive=dict(type='bool', default=False),
    ), runs_ovn.OvnLspMirror())


if __name__ == '__main__':
    main()
