# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks of a remote mirror, run before anything is written: what the server
accepts, the rules, the index, the expiry, the sink against the receiver's subnet, the copies'
size against the underlay MTU, OVS's 32 mirrors a bridge.

A value the server lacks is named with the OVN version that added it.

An `lport` mirror (OVN >= 25.09) has no index, no tunnel and no underlay: its copies go to a
logical switch port through OVN's logical flows, and ovn-controller makes no OVS mirror for it,
so only the server's support, its rules and the expiry are checked."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_mirror_plan import (
    check_index, checked_rules)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_nb import (
    FIRST_OVN_WITH, FIRST_OVN_WITH_RULES)

# Bytes a copy grows by: the copied frame's Ethernet header (the pod MTU counts from IP), the
# outer IP header, GRE with a key (GRE) or with a sequence number plus the ERSPAN type II
# header (ERSPAN).
INNER_ETHERNET, OUTER_IPV4, OUTER_IPV6 = 14, 20, 40
TUNNEL_HEADERS = {'gre': 8, 'erspan': 8 + 8}
# OVS bridges take at most 32 mirrors (MAX_MIRRORS in ofproto); every OVN mirror with a port
# on a node becomes one on that node's br-int.
OVS_MAX_MIRRORS = 32


def copy_overhead(mirror_type, ipv6=False):
    return INNER_ETHERNET + (OUTER_IPV6 if ipv6 else OUTER_IPV4) + TUNNEL_HEADERS[mirror_type]


def mirror_problems(mirror, supports=None, mirrors=(), cidr=None, pod_mtu=None,
                    underlay_mtu=None):
    """Every problem of `mirror` (name, type, index, filter, sink, expires, rules), each naming
    the offending value; empty when it can be written. `supports`: ovn_mirror_info's;
    `mirrors`: the names of the NB's mirrors now (those OVS holds: an lport mirror need not be
    counted); `cidr`: the receiver's subnet. For an lport mirror the index, the sink's subnet,
    the MTU and the count are not checked: it has no tunnel and no OVS mirror."""
    problems = []
    name, kind = mirror.get('name'), mirror.get('type')
    supports = supports or {}
    for key in ('type', 'filter'):
        accepted = supports.get(key + 's')
        if accepted is not None and mirror.get(key) not in accepted:
            since = FIRST_OVN_WITH.get((key, mirror.get(key)))
            problems.append('%s %r is not accepted by this OVN Northbound (schema %s takes %s)%s'
                            % (key, mirror.get(key), supports.get('schema_version', '?'),
                               ', '.join(accepted),
                               '; it needs OVN >= %s' % since if since else ''))
    problems.extend(_rule_problems(mirror, supports))
    if kind in TUNNEL_HEADERS:
        try:
            check_index(kind, int(mirror.get('index')))
        except (TypeError, ValueError) as exc:
            problems.append(str(exc))
    try:
        expiry.check_expires(mirror.get('expires'))
        if expiry.has_passed(mirror.get('expires')):
            problems.append('expires %r has already passed' % (mirror['expires'],))
    except ValueError as exc:
        problems.append(str(exc))
    if kind == 'lport':
        return problems
    network = None
    if cidr:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            problems.append('receiver subnet %r is not a CIDR' % (cidr,))
    if network is not None and mirror.get('sink'):
        try:
            sink = ipaddress.ip_address(str(mirror['sink']))
        except ValueError:
            problems.append('sink %r is not an IP address' % (mirror['sink'],))
        else:
            if sink not in network:
                problems.append('sink %s is not in the receiver subnet %s' % (sink, network))
    if kind in TUNNEL_HEADERS and pod_mtu and underlay_mtu:
        overhead = copy_overhead(kind, network is not None and network.version == 6)
        size, limit = int(pod_mtu) + overhead, int(underlay_mtu)
        if size > limit:
            problems.append(
                'a copy of a full-size packet (pod MTU %d + %d bytes of %s encapsulation = %d) '
                'exceeds the underlay MTU %d: raise the underlay MTU to %d or lower the pods\' '
                'MTU to %d' % (int(pod_mtu), overhead, kind.upper(), size, limit, size,
                               limit - overhead))
    others = [other for other in mirrors if other != name]
    if len(others) + 1 > OVS_MAX_MIRRORS:
        problems.append('mirror %r would make %d mirrors: OVS takes at most %d per bridge'
                        % (name, len(others) + 1, OVS_MAX_MIRRORS))
    return problems


def _rule_problems(mirror, supports):
    """The problems of the mirror's `rules` (none, or an empty list, has none): a server
    without mirror rules, rules on another type than lport, a bad rule."""
    rules = mirror.get('rules')
    if not rules:
        return []
    problems = []
    if supports and not supports.get('mirror_rules'):
        problems.append('rules are not supported by this OVN Northbound (schema %s has no '
                        'Mirror_Rule table): mirror rules need OVN >= %s'
                        % (supports.get('schema_version', '?'), FIRST_OVN_WITH_RULES))
    if mirror.get('type') != 'lport':
        problems.append('rules apply only to lport mirrors; mirror %r is of type %s'
                        % (mirror.get('name'), mirror.get('type')))
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, dict) for r in rules):
        problems.append('rules must be a list of {priority, match, action}, got %r' % (rules,))
        return problems
    try:
        checked_rules([dict(dict(action='mirror'), **rule) for rule in rules])
    except ValueError as exc:
        problems.append(str(exc))
    return problems
