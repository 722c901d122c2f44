# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cni_mirror_args
short_description: Set kube-ovn-cni's mirror flags in a container args list
version_added: 0.1.0
description:
  - Returns the args list with C(--enable-mirror) and C(--mirror-iface) set as asked, each where
    it already stands (duplicates dropped) or appended, every other arg kept in its place.
author:
  - kubeovn.mirror developers (@kubeovn)
options:
  _input:
    description: The container's args.
    type: list
    elements: str
    required: true
  enable_mirror:
    description: C(true)/C(false) sets C(--enable-mirror); omitted leaves it alone.
    type: bool
  mirror_iface:
    description: Sets C(--mirror-iface); an empty string removes it; omitted leaves it alone.
    type: str
'''

EXAMPLES = r'''
- name: Mirror all pod traffic to mirror0
  ansible.builtin.set_fact:
    new_args: "{{ container.args | kubeovn.mirror.cni_mirror_args(enable_mirror=true, mirror_iface='mirror0') }}"
'''

RETURN = r'''
_value:
  description: The new args list.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.mirror.plugins.module_utils.cni import mirror_args


def cni_mirror_args(args, enable_mirror=None, mirror_iface=None):
    try:
        return mirror_args(args, enable_mirror, mirror_iface)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'cni_mirror_args': cni_mirror_args}
