# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks of a remote mirror, run before anything is written: what the server
accepts, the index range, the expiry, the sink against the receiver's subnet, the copies'
size against the underlay MTU, and OVS's limit of mirrors per bridge."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kubeovn.mirror.plugins.module_utils import expiry
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovn_mirror_plan import check_index

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
    """Every problem of `mirror` (name, type, index, filter, sink, expires), each naming the
    offending value; empty when it can be written. `supports`: ovn_mirror_info's; `mirrors`:
    the names of the NB's mirrors now; `cidr`: the receiver's subnet."""
    problems = []
    name, kind = mirror.get('name'), mirror.get('type')
    supports = supports or {}
    for key in ('type', 'filter'):
        accepted = supports.get(key + 's')
        if accepted is not None and mirror.get(key) not in accepted:
            problems.append('%s %r is not accepted by this OVN Northbound (schema %s takes %s)'
                            % (key, mirror.get(key), supports.get('schema_version', '?'),
                               ', '.join(accepted)))
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
