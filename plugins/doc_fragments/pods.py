# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The `pods` option (argument spec: options.POD_OPTIONS).
    DOCUMENTATION = r'''
options:
  pods:
    description:
      - Pods whose logical switch ports to use. Kube-OVN names a pod's primary port
        C(<name>.<namespace>) and the port of an attachment network
        C(<name>.<namespace>.<provider>); on a node, the pod's OVS interface carries that name
        as C(external_ids:iface-id).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Pod name.
        type: str
        required: true
      namespace:
        description: Pod namespace.
        type: str
        default: default
      provider:
        description:
          - Provider of an attachment network (C(<nad>.<nad namespace>.ovn)) to use that NIC
            instead of the primary one.
        type: str
'''
