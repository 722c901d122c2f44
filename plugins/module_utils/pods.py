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
    """Whether a mirror follows `pod` (a kubernetes client V1Pod, as watched, or the API's
    JSON of a pod, as k8s.CoreApi.list_pods gives it): not when it is being deleted (its LSP
    goes with it), runs on the host network (it has no OVN port) or has finished (Succeeded,
    Failed)."""
    if isinstance(pod, dict):
        deleting = (pod.get('metadata') or {}).get('deletionTimestamp')
        host_network = (pod.get('spec') or {}).get('hostNetwork')
        phase = (pod.get('status') or {}).get('phase')
    else:
        deleting = pod.metadata.deletion_timestamp
        host_network = pod.spec.host_network if pod.spec is not None else None
        phase = pod.status.phase if pod.status is not None else None
    return deleting is None and not host_network and phase not in FINISHED_PHASES
