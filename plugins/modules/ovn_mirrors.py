#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_mirrors
short_description: Converge OVN Northbound mirrors to a declared list (GitOps)
version_added: 0.1.0
description:
  - Takes the whole list of mirrors you want, each with its ports or pods, and makes the
    Northbound database match it in one transaction. Every listed mirror gets exactly its
    settings and exactly its ports. After the commit the ports having a mirror are read
    again, and a port someone else attached to a listed mirror meanwhile is detached (a second,
    verified transaction) and the mirror is reported in RV(updated).
  - Each mirror it writes carries the marker C(external_ids:kubeovn.mirror/owner=<owner>).
    With O(purge=true), mirrors carrying the same owner's marker that are no longer listed
    are deleted. Mirrors without that marker (made by hand, by another owner, or by other
    tools) are never deleted by purge.
  - A listed mirror that already exists without the marker is taken over; it is updated to
    the declared settings and gets the marker.
  - If any listed port does not exist, the task fails naming every missing port and
    nothing is written. The role M(kubeovn.mirror.mirrors) wraps this module.
extends_documentation_fragment:
  - kubeovn.mirror.attributes
  - kubeovn.mirror.attributes.actiongroup_ovn
  - kubeovn.mirror.ovn_nb
  - kubeovn.mirror.k8s_auth
options:
  mirrors:
    description: The declared mirrors. Names must be unique.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the mirror.
        type: str
        required: true
      state:
        description: C(absent) deletes the mirror (whoever made it).
        type: str
        choices: [present, absent]
        default: present
      type:
        description: As in M(kubeovn.mirror.ovn_mirror). Required to create a mirror.
        type: str
        choices: [gre, erspan, local, lport]
      index:
        description: GRE key or ERSPAN index, as in M(kubeovn.mirror.ovn_mirror).
        type: int
      filter:
        description: Direction, as in M(kubeovn.mirror.ovn_mirror).
        type: str
        choices: [from-lport, to-lport, both]
      sink:
        description: Receiver address (or local/lport target), as in M(kubeovn.mirror.ovn_mirror).
        type: str
      sink_pod:
        description: The sink of an C(lport) mirror as a pod, as in M(kubeovn.mirror.ovn_mirror).
        type: dict
        suboptions:
          name: {description: The pod's name., type: str, required: true}
          namespace: {description: The pod's namespace., type: str, default: default}
          provider: {description: The provider of the pod's NIC on an attachment., type: str}
      rules:
        description:
          - The rules of an C(lport) mirror, as in M(kubeovn.mirror.ovn_mirror); exactly
            these. Left out on a server that has mirror rules (OVN >= 25.09), the mirror has
            none, as a declared mirror is exact.
        type: list
        elements: dict
        suboptions:
          priority: {description: 0 to 32767; the highest matching one decides., type: int, required: true}
          match: {description: An OVN match expression; C(1) matches every packet., type: str, required: true}
          action: {description: Copy or skip what the rule matches., type: str, choices: [mirror, skip], default: mirror}
      external_ids:
        description: Extra C(external_ids); the owner marker is added to them.
        type: dict
        default: {}
      expires:
        description:
          - When this mirror expires, as O(kubeovn.mirror.ovn_mirror#module:expires) (a duration,
            an ISO 8601 timestamp, or C(never)).
          - A declared mirror whose expiry has passed is deleted, and one whose O(mirrors[].expires)
            is a timestamp that has passed is not created again (both listed in RV(expired)).
            A duration starts again once its mirror is gone, so a GitOps inventory should
            give timestamps.
        type: str
      ports:
        description: Logical switch ports to mirror. Together with O(mirrors[].pods), exactly
          these are attached; any other port is detached from this mirror.
        type: list
        elements: str
        default: []
      pods:
        description:
          - Pods to mirror, as the C(pods) of M(kubeovn.mirror.ovn_lsp_mirror); Kube-OVN
            names their ports C(<name>.<namespace>[.<provider>]).
        type: list
        elements: dict
        default: []
        suboptions:
          name: {description: Pod name., type: str, required: true}
          namespace: {description: Pod namespace., type: str, default: default}
          provider: {description: 'Provider of an attachment network, to mirror that NIC.', type: str}
      selectors:
        description:
          - Pods chosen by labels, as C(selectors) of M(kubeovn.mirror.ovn_lsp_mirror); the
            mirror is exact, their LSPs join O(mirrors[].ports) and O(mirrors[].pods), and a
            matching pod without an LSP yet is in RV(pending), not an error.
        type: list
        elements: dict
        default: []
        suboptions:
          namespace: {description: Namespace of the pods; not set means every namespace., type: str}
          label_selectors: {description: 'Label selectors (C(app=web), C(env in (prod,stage))); all must match.', type: list, elements: str, default: []}
          provider: {description: 'Provider of an attachment network, to mirror that NIC.', type: str}
      require_match:
        description: Fail, writing nothing, when this mirror's O(mirrors[].selectors) match no pod.
        type: bool
        default: false
  owner:
    description:
      - Who owns this set of mirrors; the value of the C(kubeovn.mirror/owner) marker.
        Use one owner per inventory or team so their purges never touch each other.
    type: str
    default: kubeovn.mirror
  purge:
    description:
      - Delete mirrors carrying this owner's marker that are not in O(mirrors).
    type: bool
    default: false
seealso:
  - module: kubeovn.mirror.ovn_mirror
  - module: kubeovn.mirror.ovn_lsp_mirror
  - module: kubeovn.mirror.ovn_mirror_info
'''

EXAMPLES = r'''
- name: Exactly these mirrors for team netops; delete netops mirrors no longer listed
  kubeovn.mirror.ovn_mirrors:
    owner: netops
    purge: true
    mirrors:
      - name: web-egress
        type: gre
        index: 99
        filter: from-lport
        sink: 172.19.0.21
        pods:
          - {name: web-0, namespace: shop}
      - name: db-ingress
        type: erspan
        index: 7
        filter: to-lport
        sink: 172.19.0.21
        ports: [db-0.shop]

- name: Mirror the pods labelled app=web in shop, whatever their names are today
  kubeovn.mirror.ovn_mirrors:
    mirrors:
      - name: web-egress
        selectors:
          - namespace: shop
            label_selectors: [app=web]
        require_match: true     # fail (writing nothing) when no pod matches
        type: gre
        sink: 172.19.0.21
        index: 99
        filter: from-lport
'''

RETURN = r'''
created:
  description: Mirrors created (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [web-egress]
updated:
  description: Existing mirrors whose settings or ports changed.
  returned: always
  type: list
  elements: str
  sample: []
expired:
  description: Declared mirrors whose expiry has passed (deleted, or not created).
  returned: always
  type: list
  elements: str
  sample: [web0-debug]
deleted:
  description: Mirrors deleted (state=absent, expired or purged).
  returned: always
  type: list
  elements: str
  sample: [old-mirror]
mirrors:
  description: The declared present mirrors after the task, sorted by name, each as
    M(kubeovn.mirror.ovn_mirror) returns it (name, type, index, filter, sink,
    external_ids, ports).
  returned: always
  type: list
  elements: dict
  sample: [{name: web-egress, type: gre, index: 99, filter: from-lport, sink: 172.19.0.21,
            external_ids: {kubeovn.mirror/owner: netops}, ports: [web-0.shop]}]
selected:
  description: Per mirror with selectors, the pods matched now, their LSP and whether it exists yet.
  returned: always
  type: dict
  sample: {web-egress: [{namespace: shop, name: web-7d4b9-x2x5q, lsp: web-7d4b9-x2x5q.shop, pending: false}]}
pending:
  description: Per mirror, LSPs of matched pods that do not exist yet (the next run attaches them).
  returned: always
  type: dict
  sample: {}
diff:
  description: The affected mirrors before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: [], after: [{name: web-egress, ports: [web-0.shop]}]}
'''

from ansible_collections.kubeovn.mirror.plugins.module_utils import options, runner, runs_ovn

MIRROR_OPTIONS = options.argument_spec(
    options.MIRROR_OPTIONS, options.SELECTION_OPTIONS,
    external_ids=dict(type='dict', default={}),
    ports=dict(type='list', elements='str', default=[]),
    pods=dict(type='list', elements='dict', default=[], options=options.POD_OPTIONS),
)


def main():
    runner.run_module(options.argument_spec(
        options.NB_OPTIONS,
        mirrors=dict(type='list', elements='dict', required=True, options=MIRROR_OPTIONS),
        owner=dict(type='str', default='kubeovn.mirror'),
        purge=dict(type='bool', default=False),
    ), runs_ovn.OvnMirrors())


if __name__ == '__main__':
    main()
