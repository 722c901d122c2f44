# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of an underlay network (ProviderNetwork + Vlan + Subnet) before anything is written.

Returns every problem found, each naming the offending value, so a role can fail once with
all of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    check_iface_name, kubernetes_name_problem)

PROTOCOLS = {'IPv4': (4,), 'IPv6': (6,), 'Dual': (4, 6)}
# Kube-OVN names the OVS bridge br-<provider network>, and a NIC name has at most 15 bytes.
MAX_PROVIDER_NETWORK_NAME = 12
# Kube-OVN v1.14's CRDs (dist/images/install.sh): Subnet metadata.name `^[^0-9]`,
# ProviderNetwork metadata.name maxLength 12 and not `int` (its controller reserves the name).
RESERVED_PROVIDER_NETWORK_NAMES = ('int',)


def name_problems(provider_network_name, vlan_name, subnet_name):
    """Every Kubernetes and Kube-OVN rule the three names break, before anything is written."""
    problems = []
    for kind, name in (('ProviderNetwork', provider_network_name), ('Vlan', vlan_name),
                       ('Subnet', subnet_name)):
        problem = kubernetes_name_problem(kind, name)
        if problem:
            problems.append(problem)
    if isinstance(provider_network_name, str) and \
            provider_network_name in RESERVED_PROVIDER_NETWORK_NAMES:
        problems.append('ProviderNetwork name %r is reserved by Kube-OVN' % provider_network_name)
    if isinstance(subnet_name, str) and subnet_name[:1].isdigit():
        problems.append('Subnet name %r must not start with a digit (Kube-OVN\'s Subnet CRD: '
                        'pattern ^[^0-9])' % subnet_name)
    return problems


def _iface_problem(what, name):
    try:
        check_iface_name(what, name)
    except ValueError as exc:
        return str(exc)
    return None


def _networks(cidr_block, protocol, problems):
    """The subnet's networks by IP version, per the protocol."""
    versions = PROTOCOLS.get(protocol)
    if versions is None:
        problems.append('protocol %r must be one of IPv4, IPv6, Dual' % (protocol,))
        return {}
    parts = [part.strip() for part in str(cidr_block or '').split(',') if part.strip()]
    networks = {}
    for part in parts:
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            problems.append('cidrBlock %r is not a valid CIDR' % part)
            continue
        networks[network.version] = network
    if parts and len(parts) == len(networks) and sorted(networks) != sorted(versions):
        problems.append('cidrBlock %r does not match protocol %s' % (cidr_block, protocol))
    if not parts:
        problems.append('cidrBlock is empty')
    return networks


def _address_in(text, networks, what, problems):
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        problems.append('%s %r is not an IP address' % (what, text))
        return None
    network = networks.get(address.version)
    if network is not None and address not in network:
        problems.append('%s %s is not inside cidrBlock %s' % (what, address, network))
    return address


def underlay_problems(provider_network, vlan, subnet, attachment_provider=None):
    """Every problem of the three specs (dicts shaped like the CRs' spec + name)."""
    problems = []
    pn_name = provider_network.get('name') or ''
    if 'name' in subnet:
        problems.extend(name_problems(provider_network.get('name'), vlan.get('name'),
                                      subnet.get('name')))
    if not pn_name or len(pn_name) > MAX_PROVIDER_NETWORK_NAME:
        problems.append('provider network name %r must have 1 to %d characters (Kube-OVN '
                        'names its bridge br-<name>)' % (pn_name, MAX_PROVIDER_NETWORK_NAME))
    problem = _iface_problem('defaultInterface', provider_network.get('defaultInterface'))
    if problem:
        problems.append(problem)
    for custom in provider_network.get('customInterfaces') or []:
        problem = _iface_problem('customInterfaces interface', custom.get('interface'))
        if problem:
            problems.append(problem)

    vlan_id = vlan.get('id')
    if isinstance(vlan_id, bool) or not isinstance(vlan_id, int) or not 0 <= vlan_id <= 4095:
        problems.append('vlan id %r must be an integer within 0..4095' % (vlan_id,))
    if vlan.get('provider') != pn_name:
        problems.append('vlan provider %r must be the provider network %r'
                        % (vlan.get('provider'), pn_name))

    if subnet.get('vlan') != vlan.get('name'):
        problems.append('subnet vlan %r must be the vlan %r'
                        % (subnet.get('vlan'), vlan.get('name')))
    if attachment_provider is not None and subnet.get('provider') != attachment_provider:
        problems.append('subnet provider %r must equal the attachment network provider %r'
                        % (subnet.get('provider'), attachment_provider))
    networks = _networks(subnet.get('cidrBlock'), subnet.get('protocol'), problems)
    gateways = [part for part in str(subnet.get('gateway') or '').split(',') if part.strip()]
    if not gateways:
        problems.append('gateway is empty')
    for gateway in gateways:
        _address_in(gateway, networks, 'gateway', problems)
    for entry in subnet.get('excludeIps') or []:
        bounds = str(entry).split('..')
        if len(bounds) > 2:
            problems.append('excludeIps entry %r must be an IP or a range IP1..IP2' % entry)
            continue
        addresses = [_address_in(bound, networks, 'excludeIps entry %r:' % entry, problems)
                     for bound in bounds]
        if len(addresses) == 2 and None not in addresses:
            if addresses[0].version != addresses[1].version or addresses[0] > addresses[1]:
                problems.append('excludeIps range %r must go from a lower to a higher address '
                                'of one IP version' % entry)
    return problems
