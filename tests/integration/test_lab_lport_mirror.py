"""lport mirrors and mirror rules on the data path (OVN 26.03's lab: ovn-controller and the OVS
userspace datapath of Debian sid): copies reach the receiver's own port unencapsulated, and
the rules decide which packets are copied. Written with the collection's modules; the truth
is the packets captured at the receiver."""

import subprocess

import pytest

from lab.ansible import run_playbook, task
from lab.ovn import PODS
from lab.ovn_versions import NEXT_VERSION

pytestmark = pytest.mark.parametrize('lab', [NEXT_VERSION], indirect=True,
                                     ids=['ovn' + NEXT_VERSION])

WEB0_IP, WEB1_IP = PODS['web-0'][2], PODS['web-1'][2]
RECEIVER = 'db-0'                    # its port is the mirror's sink
MIRROR = dict(name='tap1', type='lport', filter='both', sink_pod={'name': RECEIVER})
SKIP_ALL = {'priority': 200, 'match': '1', 'action': 'skip'}
ICMP = {'priority': 300, 'match': 'icmp4', 'action': 'mirror'}
# What the receiver sees of web-0 and web-1 talking: nothing is addressed to it, so whatever it
# captures between them is a copy.
BETWEEN_WEB = 'host %s and host %s' % (WEB0_IP, WEB1_IP)
UDP_PORT = 4369


def converge(lab, workdir, rules):
    defaults = {'module_defaults': {'group/kubeovn.mirror.ovn': {'nb_connection': lab.nb}}}
    results = run_playbook([
        task('ovn_mirror', dict(MIRROR, rules=rules)),
        task('ovn_lsp_mirror', {'mirror': 'tap1', 'pods': [{'name': 'web-0'}],
                                'exclusive': True}),
    ], workdir, play=defaults)
    assert not [r for r in results if r.get('failed')], results
    # lport mirrors are logical flows, not OVS mirrors: wait until every ovn-controller has
    # applied the NB (ovn-nbctl --wait=hv), then flush the datapath's cached flows.
    lab.nbctl('--wait=hv', 'sync')
    lab.appctl('ovs-vswitchd.ctl', 'revalidator/purge')


def traffic(lab):
    """A ping from web-0 to web-1 and, at the same time, UDP datagrams between them (to a
    port nothing listens on: web-1 answers with ICMP port unreachable, which is ICMP)."""
    def send():
        udp = subprocess.Popen(['ip', 'netns', 'exec', lab.netns_of('web-0'), 'python3', '-c', (
            'import socket, time\n'
            's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
            'for _ in range(8):\n'
            '    s.sendto(b"probe", ("%s", %d)); time.sleep(0.2)' % (WEB1_IP, UDP_PORT))])
        try:
            lab.ping('web-0', WEB1_IP, count=5)
        finally:
            udp.wait(10)
    return send


def seen(lines):
    """(ICMP echo lines, lines of the UDP datagrams themselves)."""
    icmp = [line for line in lines if 'ICMP echo' in line]
    udp = [line for line in lines if '.%d: UDP' % UDP_PORT in line]
    return icmp, udp


def test_lport_copies_reach_the_receivers_port_unencapsulated(lab, tmp_path):
    converge(lab, tmp_path, [])
    lab.ping('web-0', WEB1_IP, count=2)           # warm-up: neighbours and flows
    lines, dummy = lab.capture(RECEIVER, traffic(lab), bpf=BETWEEN_WEB, seconds=6, count=200)
    icmp, udp = seen(lines)
    requests = [line for line in icmp if 'request' in line]
    replies = [line for line in icmp if 'reply' in line]
    assert requests and replies and udp, lines    # both directions, every protocol: no rules


def test_a_skip_all_rule_stops_every_copy(lab, tmp_path):
    converge(lab, tmp_path, [SKIP_ALL])
    lines, dummy = lab.capture(RECEIVER, traffic(lab), bpf=BETWEEN_WEB, seconds=6, count=200)
    assert lines == [], lines


def test_an_icmp_rule_above_it_brings_back_only_icmp(lab, tmp_path):
    converge(lab, tmp_path, [SKIP_ALL, ICMP])
    lines, dummy = lab.capture(RECEIVER, traffic(lab), bpf=BETWEEN_WEB, seconds=6, count=200)
    icmp, udp = seen(lines)
    assert icmp and not udp, lines
