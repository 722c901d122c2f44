# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-ovn-cni's mirror flags in a container's args list.

kube-ovn-cni's args are `--flag=value` strings, one per list item. We change only
`--enable-mirror` and `--mirror-iface`: each is set where it already stands (the first
occurrence; later duplicates are dropped), or appended when absent; every other arg keeps
its place, so an unchanged desired state yields the identical list (no rollout).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import check_iface_name

ENABLE_MIRROR = '--enable-mirror'
MIRROR_IFACE = '--mirror-iface'
DEFAULT_MIRROR_IFACE = 'mirror0'


def _flag_of(arg):
    return arg.split('=', 1)[0] if isinstance(arg, str) else None


def set_flag(args, flag, value):
    """`args` with `flag` set to `value` (None removes it), order of the rest preserved."""
    result, placed = [], False
    for arg in args:
        if _flag_of(arg) != flag:
            result.append(arg)
        elif not placed and value is not None:
            result.append('%s=%s' % (flag, value))
            placed = True
    if not placed and value is not None:
        result.append('%s=%s' % (flag, value))
    return result


def mirror_args(args, enable_mirror=None, mirror_iface=None):
    """kube-ovn-cni args with the mirror flags as asked.

    enable_mirror: True/False sets `--enable-mirror=true|false`; None leaves it as it is.
    mirror_iface: a NIC name sets `--mirror-iface=<name>`; '' removes the flag (kube-ovn-cni
    then uses mirror0); None leaves it as it is.
    """
    args = list(args or [])
    if mirror_iface is not None:
        mirror_iface = str(mirror_iface)
        if mirror_iface:
            check_iface_name('mirror_iface', mirror_iface)
    if enable_mirror is not None:
        args = set_flag(args, ENABLE_MIRROR, 'true' if enable_mirror else 'false')
    if mirror_iface is not None:
        args = set_flag(args, MIRROR_IFACE, mirror_iface or None)
    return args
