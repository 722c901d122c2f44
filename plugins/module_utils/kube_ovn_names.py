# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Kube-OVN names what it makes for a pod: the logical switch port of each NIC, and the
provider of a kube-ovn NetworkAttachmentDefinition."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def lsp_name(pod, namespace, provider=None):
    """The logical switch port of a pod's NIC.

    Kube-OVN names the primary NIC's LSP `<pod>.<namespace>` and an attachment's
    `<pod>.<namespace>.<provider>`.
    """
    for label, value in (('name', pod), ('namespace', namespace)):
        if not value or not str(value).strip():
            raise ValueError('a pod needs a non-empty %s, got %r' % (label, value))
    name = '%s.%s' % (pod, namespace)
    if provider:
        name = '%s.%s' % (name, provider)
    return name


def pod_lsp_names(pods):
    """LSP names of `pods` entries ({name, namespace, provider}), Kube-OVN's way."""
    return [lsp_name(pod.get('name'), pod.get('namespace'), pod.get('provider'))
            for pod in pods or []]


def attachment_provider(nad_name, nad_namespace):
    """The provider of a kube-ovn NetworkAttachmentDefinition: `<name>.<namespace>.ovn`."""
    if not nad_name or not nad_namespace:
        raise ValueError('an attachment provider needs a NetworkAttachmentDefinition name and '
                         'namespace (got %r, %r)' % (nad_name, nad_namespace))
    return '%s.%s.ovn' % (nad_name, nad_namespace)


def unique(names):
    """`names` without repeats, first occurrence kept."""
    seen = set()
    return [name for name in names if not (name in seen or seen.add(name))]
