# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The `selectors` and `require_match` options (argument spec: options.SELECTION_OPTIONS).
    DOCUMENTATION = r'''
options:
  selectors:
    description:
      - Pods chosen by labels, resolved through the Kubernetes API at each run (O(host) and
        O(api_key), O(kubeconfig) and O(context), else the in-cluster service account or the
        default kubeconfig; see there).
      - The mirror is exact while selectors are given (O(state=present)); its ports are those
        of the pods that match now, plus the ones named in O(ports) and O(pods), and every
        other port is dropped. So a recreated pod is re-attached and a Deployment's renamed
        pod followed by the next run.
      - A matching pod whose port does not exist yet is reported (not attached) and is not an
        error. Terminating, finished and host-network pods are skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the pods; not set means every namespace.
        type: str
      label_selectors:
        description:
          - Label selectors in kubernetes.core's form (C(app=web), C(tier!=db), C(canary),
            C(!canary), C(env in (prod,stage))); a pod must match all of them.
        type: list
        elements: str
        default: []
      provider:
        description: Mirror the NIC of this attachment network (C(<nad>.<nad namespace>.ovn)) instead of the primary one.
        type: str
  require_match:
    description:
      - Fail, writing nothing, when O(selectors) match no pod (on a node, no pod with a port on
        the bridge).
    type: bool
    default: false
'''
