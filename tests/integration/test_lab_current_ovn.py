"""What OVN 25.03 (Kube-OVN 1.15+) adds, end to end in a lab of that version: a `both` GRE
mirror carries both directions of a pod's traffic; an OVN `local` mirror delivers both
directions to the node's port carrying the matching `external_ids:mirror-id`, and keeps doing
so after Kube-OVN's InitMirror transaction (no tunnel port is left to block ovn-controller)."""

import pytest

from lab.ansible import run_playbook, task
from lab.daemons import wait_until
from lab.kube_ovn import INIT_MIRROR, WEB0_IP, WEB1_IP, undo_kube_ovn_cni
from lab.ovn import SINK_IP
from lab.ovn_versions import CURRENT_VERSION

pytestmark = pytest.mark.parametrize('lab', [CURRENT_VERSION], indirect=True, scope='module',
                                     ids=['ovn' + CURRENT_VERSION])


def converge(lab, workdir, tasks):
    defaults = {'module_defaults': {'group/kubeovn.mirror.ovn': {'nb_connection': lab.nb}}}
    results = run_playbook(tasks, workdir, play=defaults)
    assert not [r for r in results if r.get('failed')], results
    return results


def directions(lines, key=None):
    """(requests web-0 -> web-1, replies web-1 -> web-0) among tcpdump lines."""
    lines = [line for line in lines if key is None or 'key=%s' % key in line]
    return (len([l for l in lines if '%s > %s: ICMP echo request' % (WEB0_IP, WEB1_IP) in l]),
            len([l for l in lines if '%s > %s: ICMP echo reply' % (WEB1_IP, WEB0_IP) in l]))


def test_a_both_gre_mirror_carries_both_directions(lab, tmp_path):
    converge(lab, tmp_path, [
        task('ovn_mirror', {'name': 'both1', 'type': 'gre', 'index': 99, 'filter': 'both',
                            'sink': SINK_IP}),
        task('ovn_lsp_mirror', {'mirror': 'both1', 'pods': [{'name': 'web-0'}]})])
    try:
        lab.wait_tunnel('both1')
        lab.wait_mirror_realised('both1', src=True, dst=True)
        lab.ping('web-0', WEB1_IP, count=2)     # warm-up: tunnel neighbour and flows
        lines, dummy = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=3))
        requests, replies = directions(lines, '0x63')
        assert requests >= 3 and replies >= 3, lines
    finally:
        lab.tool('ovn-nbctl', '--db=' + lab.nb, 'mirror-del', 'both1', check=False)


def test_a_local_mirror_delivers_both_directions_and_survives_init_mirror(lab, tmp_path):
    """The NB declares it once; the node's port comes from ovs_mirror_port (made ready to
    capture on); Kube-OVN's InitMirror, run verbatim, does not stop it."""
    converge(lab, tmp_path, [
        task('ovn_mirror', {'name': 'loc1', 'type': 'local', 'filter': 'both',
                            'sink': 'mon0'}),
        task('ovn_lsp_mirror', {'mirror': 'loc1', 'pods': [{'name': 'web-0'}]}),
        task('ovs_mirror_port', {'name': 'mon0', 'ovs_connection': lab.ovs_db})])
    try:
        assert 'ovn-loc1' not in lab.vsctl('list-ports', 'br-int').split()  # no tunnel port
        lab.wait_mirror_realised('loc1', src=True, dst=True)
        lab.ping('web-0', WEB1_IP, count=2)
        lines, dummy = lab.capture_host('mon0', lambda: lab.ping('web-0', WEB1_IP, count=3))
        requests, replies = directions(lines)
        assert requests >= 3 and replies >= 3, lines

        lab.vsctl(*INIT_MIRROR)         # kube-ovn-cni starts: clears every mirror on br-int
        assert 'm0' in lab.vsctl('--bare', '--columns=name', 'list', 'Mirror').split()
        lab.wait_mirror_realised('loc1', src=True, dst=True)   # ovn-controller puts it back
        lines, dummy = lab.capture_host('mon0', lambda: lab.ping('web-0', WEB1_IP, count=3))
        requests, replies = directions(lines)
        assert requests >= 3 and replies >= 3, lines
        again = converge(lab, tmp_path, [
            task('ovs_mirror_port', {'name': 'mon0', 'ovs_connection': lab.ovs_db})])
        assert again[0]['changed'] is False, again
    finally:
        undo_kube_ovn_cni(lab)
        lab.tool('ovn-nbctl', '--db=' + lab.nb, 'mirror-del', 'loc1', check=False)
        converge(lab, tmp_path, [task('ovs_mirror_port', {
            'name': 'mon0', 'state': 'absent', 'ovs_connection': lab.ovs_db})])
        wait_until(lambda: 'mon0' not in lab.vsctl('list-ports', 'br-int').split(), 10,
                   'mon0 removed')
