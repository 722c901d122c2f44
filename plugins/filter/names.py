# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names the roles share, computed in one place: the attachment provider, the owner marker and
the remote_mirror role's markers (its receiver pod, since when)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter is documented in its sidecar file (attachment_provider.yml, owner_marker.yml,
# marked_owner.yml, owner_marker_key.yml, remote_markers.yml, marked_receiver.yml,
# marked_since.yml, pod_refs.yml).

import re


from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.mirror.plugins.module_utils import kube_ovn_names
from ansible_collections.kubeovn.mirror.plugins.module_utils.markers import (
    OWNER_KEY, RECEIVER_KEY, SINCE_KEY)
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    kubernetes_name_problem)

_POD_REF_SEPARATORS = re.compile(r'[\s,]+')


def attachment_provider(nad, namespace='default'):
    try:
        return kube_ovn_names.attachment_provider(nad, namespace)
    except ValueError as exc:
        raise AnsibleFilterError('attachment_provider: %s' % exc)


def owner_marker(owner):
    """external_ids marking a mirror as written for `owner`."""
    return {OWNER_KEY: str(owner)}


def marked_owner(external_ids):
    """The owner a mirror's external_ids name, or None."""
    return (external_ids or {}).get(OWNER_KEY)


def owner_marker_key(dummy=None):
    """The marker's key, for messages."""
    return OWNER_KEY


def remote_markers(owner, receiver, since, current=None):
    """external_ids of a remote_mirror mirror: the owner marker, its receiver pod, and since
    when it exists (the `current` external_ids' value when there is one, else `since`)."""
    if not receiver or '/' not in str(receiver):
        raise AnsibleFilterError('remote_markers needs the receiver as <namespace>/<name> '
                                 '(got %r)' % (receiver,))
    kept = (current or {}).get(SINCE_KEY)
    return {OWNER_KEY: str(owner), RECEIVER_KEY: str(receiver), SINCE_KEY: kept or str(since)}


def marked_receiver(external_ids):
    """{namespace, name} of the receiver pod a mirror's external_ids name, or None."""
    receiver = (external_ids or {}).get(RECEIVER_KEY)
    if not receiver or '/' not in receiver:
        return None
    namespace, name = receiver.split('/', 1)
    return {'namespace': namespace, 'name': name}


def marked_since(external_ids):
    """Since when the mirror exists, as the remote_mirror role recorded it, or None."""
    return (external_ids or {}).get(SINCE_KEY)


def pod_refs(refs, namespace='default'):
    """[{name, namespace}] of pods written `namespace/name` (or `name`): a list, or one
    string separated by commas, spaces or new lines, as an AWX survey answer is."""
    if refs is None:
        return []
    if isinstance(refs, str):
        refs = _POD_REF_SEPARATORS.split(refs.strip())
    pods = []
    for ref in refs:
        if not ref:
            continue
        pod_namespace, dummy, name = str(ref).rpartition('/')
        pod_namespace = pod_namespace or namespace
        problem = (kubernetes_name_problem('namespace', pod_namespace, label=True)
                   or kubernetes_name_problem('pod', name))
        if problem:
            raise AnsibleFilterError('pod_refs: %r: %s' % (ref, problem))
        pods.append({'name': name, 'namespace': pod_namespace})
    return pods


class FilterModule(object):
    def filters(self):
        return {'attachment_provider': attachment_provider, 'owner_marker': owner_marker,
                'marked_owner': marked_owner, 'owner_marker_key': owner_marker_key,
                'remote_markers': remote_markers, 'marked_receiver': marked_receiver,
                'marked_since': marked_since, 'pod_refs': pod_refs}
