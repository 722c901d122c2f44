# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks the roles make before anything is written, each returning what is wrong (nothing when
all is well): a remote mirror, an underlay network, a Kubernetes name. The checks themselves live
in module_utils (preflight, underlay, validation), where the modules use them too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter is documented in its sidecar file (mirror_problems.yml, underlay_problems.yml,
# kubernetes_name_problem.yml).

from ansible_collections.kubeovn.mirror.plugins.module_utils.preflight import mirror_problems
from ansible_collections.kubeovn.mirror.plugins.module_utils.underlay import underlay_problems
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    kubernetes_name_problem as _kubernetes_name_problem)


def kubernetes_name_problem(name, kind, label=False):
    """Why the API would refuse `name` for a `kind` (a DNS-1123 subdomain; with `label`, a
    DNS-1123 label, as a namespace's name), or None."""
    return _kubernetes_name_problem(kind, name, label=label)


class FilterModule(object):
    def filters(self):
        return {'mirror_problems': mirror_problems,
                'underlay_problems': underlay_problems,
                'kubernetes_name_problem': kubernetes_name_problem}
