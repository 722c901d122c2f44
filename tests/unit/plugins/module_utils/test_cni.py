"""kube-ovn-cni args editing: only the two mirror flags change, nothing else moves."""

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils.cni import mirror_args

INSTALL_SH = ['--enable-mirror=false', '--encap-checksum=true',
              '--service-cluster-ip-range=10.96.0.0/12', '--iface=', '--network-type=geneve',
              '--logtostderr=false', '--alsologtostderr=true']


def test_enable_in_place_and_append_iface():
    assert mirror_args(INSTALL_SH, True, 'mirror0') == \
        ['--enable-mirror=true'] + INSTALL_SH[1:] + ['--mirror-iface=mirror0']


def test_same_desired_state_gives_the_identical_list():
    once = mirror_args(INSTALL_SH, True, 'mirror0')
    assert mirror_args(once, True, 'mirror0') == once


def test_stale_iface_is_replaced_in_place_and_duplicates_dropped():
    args = ['--a=1', '--mirror-iface=foo', '--b=2', '--enable-mirror=true', '--mirror-iface=bar']
    assert mirror_args(args, True, 'mirror0') == \
        ['--a=1', '--mirror-iface=mirror0', '--b=2', '--enable-mirror=true']


def test_none_leaves_flags_alone_and_empty_iface_removes():
    args = ['--mirror-iface=foo', '--x=1']
    assert mirror_args(args, None, None) == args
    assert mirror_args(args, False, '') == ['--x=1', '--enable-mirror=false']


def test_bare_flag_counts_as_the_flag():
    assert mirror_args(['--enable-mirror', '--x'], True, None) == ['--enable-mirror=true', '--x']


def test_flags_with_similar_prefixes_are_untouched():
    args = ['--enable-mirror-extra=1', '--mirror-ifaces=2']
    assert mirror_args(args, True, 'm0') == args + ['--enable-mirror=true', '--mirror-iface=m0']


@pytest.mark.parametrize('name', ['a' * 16, 'eth/0', 'eth 0'])
def test_bad_interface_names(name):
    with pytest.raises(ValueError) as err:
        mirror_args([], True, name)
    assert repr(name) in str(err.value)
