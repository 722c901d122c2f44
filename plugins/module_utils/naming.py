# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: how Kube-OVN names things (LSPs, providers) and what a name we write may hold."""

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


def attachment_provider(nad_name, nad_namespace):
    """The provider of a kube-ovn NetworkAttachmentDefinition: `<name>.<namespace>.ovn`."""
    return '%s.%s.ovn' % (nad_name, nad_namespace)


def check_name(kind, name):
    if name is None or not str(name).strip():
        raise ValueError('%s name must not be empty, got %r' % (kind, name))
    if str(name) != str(name).strip():
        raise ValueError('%s name %r has leading or trailing white space' % (kind, name))
    check_text('%s name' % kind, name)


def check_text(what, value):
    """OVSDB refuses control characters (a NUL makes ovsdb-server drop the connection)."""
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in str(value)):
        raise ValueError('%s %r contains a control character' % (what, value))
