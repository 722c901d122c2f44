"""Underlay checks: each bad value is named; a sound definition has no problems."""

import copy

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils.underlay import underlay_problems

PN = {'name': 'net1', 'defaultInterface': 'eth1'}
VLAN = {'name': 'vlan1', 'id': 0, 'provider': 'net1'}
SUBNET = {'protocol': 'IPv4', 'cidrBlock': '172.19.0.0/16', 'gateway': '172.19.0.1',
          'excludeIps': ['172.19.0.2..172.19.0.20'], 'vlan': 'vlan1',
          'provider': 'attachnet.default.ovn'}


def problems(pn=None, vlan=None, subnet=None, provider='attachnet.default.ovn'):
    args = [copy.deepcopy(PN), copy.deepcopy(VLAN), copy.deepcopy(SUBNET)]
    for target, change in zip(args, (pn, vlan, subnet)):
        target.update(change or {})
    return underlay_problems(args[0], args[1], args[2], provider)


def test_the_documented_example_is_sound():
    assert problems() == []


def test_dual_stack():
    assert problems(subnet={'protocol': 'Dual', 'cidrBlock': '172.19.0.0/16,fd00:19::/64',
                            'gateway': '172.19.0.1,fd00:19::1',
                            'excludeIps': ['fd00:19::2..fd00:19::9']}) == []


@pytest.mark.parametrize('change,fragment', [
    (dict(subnet={'provider': 'other.default.ovn'}), "'other.default.ovn'"),
    (dict(subnet={'gateway': '10.0.0.1'}), '10.0.0.1'),
    (dict(vlan={'id': 4096}), '4096'),
    (dict(vlan={'id': -1}), '-1'),
    (dict(vlan={'provider': 'net2'}), "'net2'"),
    (dict(subnet={'vlan': 'vlan9'}), "'vlan9'"),
    (dict(subnet={'cidrBlock': '172.19.0.0/33'}), '172.19.0.0/33'),
    (dict(subnet={'protocol': 'IPv6'}), '172.19.0.0/16'),
    (dict(subnet={'protocol': 'IPX'}), "'IPX'"),
    (dict(subnet={'excludeIps': ['172.19.0.20..172.19.0.2']}), '172.19.0.20..172.19.0.2'),
    (dict(subnet={'excludeIps': ['172.20.0.1']}), '172.20.0.1'),
    (dict(subnet={'excludeIps': ['nope']}), "'nope'"),
    (dict(pn={'defaultInterface': 'a-very-long-nic-name'}), 'a-very-long-nic-name'),
    (dict(pn={'name': 'a-name-too-long'}), 'a-name-too-long'),
], ids=['provider-mismatch', 'gateway-outside', 'vlan-4096', 'vlan-negative', 'vlan-provider',
        'subnet-vlan', 'bad-cidr', 'protocol-mismatch', 'bad-protocol', 'reversed-range',
        'exclude-outside', 'exclude-garbage', 'long-nic', 'long-pn-name'])
def test_each_problem_names_the_value(change, fragment):
    found = problems(**change)
    assert found and any(fragment in problem for problem in found), found


# Names: Kubernetes' rules for cluster-scoped objects and Kube-OVN v1.14's CRD rules.

@pytest.mark.parametrize('change,fragment', [
    ({'subnet': {'name': '1net'}}, "Subnet name '1net' must not start with a digit"),
    ({'subnet': {'name': 'Net'}}, "Subnet name 'Net' is not a valid Kubernetes name"),
    ({'subnet': {'name': 'net-'}}, "Subnet name 'net-' is not a valid Kubernetes name"),
    ({'subnet': {'name': 'n' * 254}}, 'is not a valid Kubernetes name'),
    ({'subnet': {'name': ''}}, "Subnet name '' must be a non-empty string"),
    ({'vlan': {'name': 'vlan_1'}, 'subnet': {'name': 'attachnet', 'vlan': 'vlan_1'}},
     "Vlan name 'vlan_1' is not a valid Kubernetes name"),
    ({'pn': {'name': 'int'}, 'vlan': {'provider': 'int'}, 'subnet': {'name': 'attachnet'}},
     "ProviderNetwork name 'int' is reserved by Kube-OVN"),
    ({'pn': {'name': 'Net1'}, 'vlan': {'provider': 'Net1'}, 'subnet': {'name': 'attachnet'}},
     "ProviderNetwork name 'Net1' is not a valid Kubernetes name"),
])
def test_names_kube_ovn_and_kubernetes_refuse_are_named(change, fragment):
    found = problems(change.get('pn'), change.get('vlan'), change.get('subnet'))
    assert any(fragment in problem for problem in found), found


def test_sound_names_and_dotted_names_pass():
    assert problems(subnet={'name': 'attach.net-2'}) == []
    assert problems(subnet={'name': 'a'}) == []


def test_names_are_checked_only_when_the_subnet_name_is_given():
    """Callers of the 0.1.0 signature (no subnet name) see no new problems."""
    assert problems(pn={'name': 'int'}, vlan={'provider': 'int'}) == []
