"""gretap_receiver with the real iproute2 and kernel, inside a network namespace the test
creates. This kernel may lack ip_gre: then the module's clear failure is what is tested and
the create/replace/remove path is skipped with the probe's reason."""

import json
import subprocess
import uuid

import pytest

from lab.ansible import run_module


def ip(*args, check=True):
    return subprocess.run(['ip'] + list(args), capture_output=True, text=True, check=check)


@pytest.fixture(scope='module')
def kernel_gretap():
    """None when this kernel can create gretap links, else the reason it cannot."""
    netns = 'kml-probe-' + uuid.uuid4().hex[:6]
    ip('netns', 'add', netns)
    try:
        probe = ip('-n', netns, 'link', 'add', 'probe0', 'type', 'gretap', check=False)
        return None if probe.returncode == 0 else probe.stderr.strip()
    finally:
        ip('netns', 'del', netns, check=False)


@pytest.fixture
def netns(tmp_path):
    name = 'kml-gt-' + uuid.uuid4().hex[:6]
    ip('netns', 'add', name)
    ip('-n', name, 'link', 'add', 'net1', 'type', 'veth', 'peer', 'name', 'net1p')
    ip('-n', name, 'addr', 'add', '172.19.0.21/16', 'dev', 'net1')
    ip('-n', name, 'link', 'set', 'net1', 'up')
    yield name
    ip('netns', 'del', name, check=False)


def link(netns, name):
    out = ip('-n', netns, '-details', '-json', 'link', 'show', 'dev', name, check=False)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


GRE = dict(name='mirror1', type='gretap', local='172.19.0.21', key=99, dev='net1')


def run(netns, tmp_path, args, **options):
    return run_module('gretap_receiver', dict(args, netns=netns), tmp_path, **options)


def test_check_mode_lists_the_commands_and_creates_nothing(netns, tmp_path):
    result = run(netns, tmp_path, GRE, check=True, diff=True)
    assert result['changed'] is True, result
    assert ['link', 'add', 'mirror1', 'type', 'gretap'] == result['commands'][0][3:8]
    assert link(netns, 'mirror1') is None
    assert result['diff']['before'] == {} and result['diff']['after']['key'] == 99


@pytest.mark.parametrize('args,fragment', [
    (dict(GRE, local='2001:db8::21'), '2001:db8::21'),
    (dict(GRE, type='ip6gretap'), '172.19.0.21'),
    (dict(GRE, key=2 ** 32), str(2 ** 32)),
    (dict(GRE, type='erspan'), 'erspan_index'),
    (dict(GRE, type='erspan', erspan_index=2 ** 20), str(2 ** 20)),
    (dict(GRE, name='a-name-longer-than-15'), 'a-name-longer-than-15'),
    (dict(GRE, mtu=20), '20'),
], ids=['ipv6-local-on-gretap', 'ipv4-local-on-ip6gretap', 'key', 'erspan-without-index',
        'erspan-index', 'long-name', 'mtu'])
def test_bad_input_names_the_value_and_changes_nothing(netns, tmp_path, args, fragment):
    result = run(netns, tmp_path, args)
    assert result.get('failed') and fragment in result['msg'], result
    assert link(netns, args['name']) is None


@pytest.mark.parametrize('link_type,hint', [
    ('gretap', 'ip_gre'), ('erspan', '4.14'), ('ip6gretap', 'ip6_gre'), ('ip6erspan', '4.16')])
def test_kernel_without_gre_fails_with_a_clear_message(netns, tmp_path, kernel_gretap,
                                                       link_type, hint):
    if kernel_gretap is None:
        pytest.skip('this kernel creates gretap links; the failure path cannot be shown')
    args = dict(GRE, type=link_type, erspan_index=7)
    if link_type.startswith('ip6'):
        args['local'] = 'fd00::21'
    result = run(netns, tmp_path, args)
    assert result.get('failed'), result
    assert 'cannot create %s links' % link_type in result['msg'] and hint in result['msg'], \
        result['msg']


def test_create_rerun_replace_remove(netns, tmp_path, kernel_gretap):
    if kernel_gretap is not None:
        pytest.skip('kernel cannot create gretap links here (probe: %s)' % kernel_gretap)
    assert run(netns, tmp_path, GRE)['changed'] is True
    created = link(netns, 'mirror1')
    assert created['linkinfo']['info_kind'] == 'gretap' and 'UP' in created['flags']
    assert run(netns, tmp_path, GRE)['changed'] is False
    replaced = run(netns, tmp_path, dict(GRE, key=100))
    assert replaced['changed'] is True and replaced['link']['key'] == 100
    assert run(netns, tmp_path, dict(GRE, state='absent'))['changed'] is True
    assert link(netns, 'mirror1') is None
