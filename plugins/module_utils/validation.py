# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a value we write may hold: names, text OVSDB accepts, interface names, Kubernetes
(DNS-1123) names, and the numeric limits of tunnel keys and ERSPAN indexes.

Every check raises ValueError naming what is checked and the offending value; the module
runner turns it into the module's failure, before anything is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# A GRE key is 32 bits (an OVN gre mirror's index, a gretap link's key).
GRE_KEY_MAX = 2 ** 32 - 1
# An OVN erspan mirror's index: ovn-controller writes it as the tunnel key and erspan_idx,
# and OVS's userspace ERSPAN encapsulation refuses session ids above 10 bits.
ERSPAN_SESSION_ID_MAX = 2 ** 10 - 1
# An erspan link's index (ip link ... erspan N): the 20-bit index field of ERSPAN type II.
ERSPAN_LINK_INDEX_MAX = 2 ** 20 - 1
# A Linux interface name: IFNAMSIZ (16) minus the terminating NUL.
MAX_IFACE_NAME = 15

# Kubernetes names (k8s.io/apimachinery validation): a namespace is a DNS-1123 label; a pod
# and a cluster-scoped custom resource, a DNS-1123 subdomain.
DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
MAX_DNS1123_SUBDOMAIN = 253

_CONTROL_CHARACTER = re.compile('[\x00-\x1f\x7f]')


def check_text(what, value):
    """OVSDB refuses control characters (a NUL makes ovsdb-server drop the connection)."""
    if _CONTROL_CHARACTER.search(str(value)):
        raise ValueError('%s %r contains a control character' % (what, value))


def check_name(kind, name):
    """A non-empty name without surrounding white space or control characters."""
    if name is None or not str(name).strip():
        raise ValueError('%s name must not be empty, got %r' % (kind, name))
    if str(name) != str(name).strip():
        raise ValueError('%s name %r has leading or trailing white space' % (kind, name))
    check_text('%s name' % kind, name)


def check_external_ids(external_ids):
    """Every key and value of an external_ids option is text OVSDB accepts."""
    for key, value in (external_ids or {}).items():
        check_text('external_ids key', key)
        check_text('external_ids value', value)


def check_iface_name(what, name):
    """A Linux interface name: 1 to 15 characters, no "/", no white space, no control
    character."""
    text = '' if name is None else str(name)
    if not text or len(text) > MAX_IFACE_NAME or '/' in text or \
            any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7f for char in text):
        raise ValueError('%s %r is not a valid interface name (1 to %d characters, no "/", '
                         'no white space)' % (what, name, MAX_IFACE_NAME))


def kubernetes_name_problem(kind, name, label=False):
    """Why the API refuses `name` for a `kind` (a DNS-1123 subdomain; with `label`, a
    DNS-1123 label, as a namespace), or None."""
    if not isinstance(name, str) or not name:
        return '%s name %r must be a non-empty string' % (kind, name)
    if label:
        if not DNS1123_LABEL.match(name):
            return ('%s name %r is not a valid Kubernetes name (lower-case letters, digits and '
                    '"-", starting and ending with a letter or digit, at most 63 characters)'
                    % (kind, name))
        return None
    if len(name) > MAX_DNS1123_SUBDOMAIN or not DNS1123_SUBDOMAIN.match(name):
        return ('%s name %r is not a valid Kubernetes name (lower-case letters, digits, "-" and '
                '".", starting and ending with a letter or digit, at most %d characters)'
                % (kind, name, MAX_DNS1123_SUBDOMAIN))
    return None


def string_map(mapping):
    """An OVSDB string map from an option's dict (values such as 5 or True as text)."""
    return dict((str(key), str(value)) for key, value in (mapping or {}).items())
