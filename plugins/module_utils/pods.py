# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pods count for a mirror: the pods that have, or are about to get, a Kube-OVN logical
switch port they keep. The modules' `selectors` (selectors.py) and the event source
kubeovn.mirror.pod_events both decide it here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Pod phases whose LSP Kube-OVN has released (or is about to).
FINISHED_PHASES = ('Succeeded', 'Failed')


def counts_for_mirrors(pod):
    """Whether a mirror follows `pod` (a kubernetes client V1Pod, as listed or watched): not
    when it is being deleted (its LSP goes with it), runs on the host network (it has no OVN
    port) or has finished (Succeeded, Failed)."""
    if pod.metadata.deletion_timestamp is not None:
        return False
    if pod.spec is not None and pod.spec.host_network:
        return False
    if pod.status is not None and pod.status.phase in FINISHED_PHASES:
        return False
    return True
