# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and limits: how Kube-OVN names things (LSPs, providers), the `pods` option every
module shares, and what a name or key we write may hold."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# A GRE key is 32 bits (an OVN gre mirror's index, a gretap link's key).
GRE_KEY_MAX = 2 ** 32 - 1
# external_ids key marking what this collection wrote; its value names the owner (for
# ovn_mirrors the declared set's owner, for ovs_local_mirror the module).
OWNER_KEY = 'kubeovn.mirror/owner'
# external_ids of a mirror the remote_mirror role made: the receiver pod it made for it
# (<namespace>/<name>; playbooks/expire.yml deletes it with the mirror) and when the mirror was
# first created (UTC, kept by every later run; the evidence report's "since").
RECEIVER_KEY = 'kubeovn.mirror/receiver'
SINCE_KEY = 'kubeovn.mirror/since'
# A Linux interface name: IFNAMSIZ (16) minus the terminating NUL.
MAX_IFACE_NAME = 15

# Argument spec of a `pods` entry (documented once, doc fragment kubeovn.mirror.pods).
POD_OPTIONS = dict(
    name=dict(type='str', required=True),
    namespace=dict(type='str', default='default'),
    provider=dict(type='str'),
)


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


def unique(names):
    """`names` without repeats, first occurrence kept."""
    seen = set()
    return [name for name in names if not (name in seen or seen.add(name))]


def attachment_provider(nad_name, nad_namespace):
    """The provider of a kube-ovn NetworkAttachmentDefinition: `<name>.<namespace>.ovn`."""
    return '%s.%s.ovn' % (nad_name, nad_namespace)


def check_name(kind, name):
    if name is None or not str(name).strip():
        raise ValueError('%s name must not be empty, got %r' % (kind, name))
    if str(name) != str(name).strip():
        raise ValueError('%s name %r has leading or trailing white space' % (kind, name))
    check_text('%s name' % kind, name)


_CONTROL_CHARACTER = re.compile('[\x00-\x1f\x7f]')


def check_text(what, value):
    """OVSDB refuses control characters (a NUL makes ovsdb-server drop the connection)."""
    if _CONTROL_CHARACTER.search(str(value)):
        raise ValueError('%s %r contains a control character' % (what, value))


def check_external_ids(external_ids):
    """Every key and value of an external_ids option is text OVSDB accepts."""
    for key, value in (external_ids or {}).items():
        check_text('external_ids key', key)
        check_text('external_ids value', value)


def string_map(mapping):
    """An OVSDB string map from an option's dict (values such as 5 or True as text)."""
    return dict((str(key), str(value)) for key, value in (mapping or {}).items())


def check_iface_name(what, name):
    """A Linux interface name: 1 to 15 characters, no "/", no white space, no control
    character. ValueError names `what` and the value."""
    text = '' if name is None else str(name)
    if not text or len(text) > MAX_IFACE_NAME or '/' in text or \
            any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7f for char in text):
        raise ValueError('%s %r is not a valid interface name (1 to %d characters, no "/", '
                         'no white space)' % (what, name, MAX_IFACE_NAME))


def checked_params(module, check):
    """`check(module.params)`'s value; a ValueError fails the module with its message, before
    anything is read or written (every module checks its input once, this way)."""
    try:
        return check(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
