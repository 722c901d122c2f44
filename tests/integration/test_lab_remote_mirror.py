"""Remote mirroring end to end in the lab: the collection's modules through ansible-playbook
configure the NB; ovn-controller builds the tunnel; the receiver namespace sees the copies.

On the lab of OVN 23.03 / OVS 3.1 (Kube-OVN 1.12's line, the lab's default): the same GRE and
ERSPAN mirrors on 25.03, what Kube-OVN ships, are tested on the two-node cluster
(test_cluster.py: copies counted at the receiver pod) and in the demo."""

from lab.ansible import run_playbook, task
from lab.ovn import PODS, SINK_IP, decode_mirrored

WEB0_IP, WEB1_IP = PODS['web-0'][2], PODS['web-1'][2]


def converge(lab, workdir, mirror, pods, state='present'):
    defaults = {'module_defaults': {'group/kubeovn.mirror.ovn': {'nb_connection': lab.nb}}}
    results = run_playbook([
        task('ovn_mirror', mirror),
        task('ovn_lsp_mirror', {'mirror': mirror['name'], 'pods': pods, 'state': state}),
    ], workdir, play=defaults)
    assert not [r for r in results if r.get('failed')], results
    return results


def erspan_session_ids(pcap):
    return [copy['key'] for copy in decode_mirrored(pcap) if copy['tunnel'] == 'erspan']


def test_gre_from_lport_carries_only_what_the_pod_sends(lab, tmp_path):
    converge(lab, tmp_path, {'name': 'gre1', 'type': 'gre', 'index': 99, 'filter': 'from-lport',
                             'sink': SINK_IP}, [{'name': 'web-0', 'namespace': 'default'}])
    lab.wait_tunnel('gre1')
    lab.wait_mirror_realised('gre1', src=True, dst=False)
    lab.ping('web-0', WEB1_IP, count=2)  # warm-up: tunnel neighbour and flows
    lines, dummy = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=3))
    requests = [l for l in lines if 'key=0x63' in l and
                '%s > %s: ICMP echo request' % (WEB0_IP, WEB1_IP) in l]
    assert len(requests) >= 3, lines
    assert not [l for l in lines if 'echo reply' in l], lines

    converge(lab, tmp_path, {'name': 'gre1', 'filter': 'to-lport'},
             [{'name': 'web-0', 'namespace': 'default'}])
    lab.wait_mirror_realised('gre1', src=False, dst=True)
    lab.ping('web-0', WEB1_IP, count=1)
    lines, dummy = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=3))
    replies = [l for l in lines if '%s > %s: ICMP echo reply' % (WEB1_IP, WEB0_IP) in l]
    assert len(replies) >= 3 and not [l for l in lines if 'echo request' in l], lines

    converge(lab, tmp_path, {'name': 'gre1'}, [{'name': 'web-0', 'namespace': 'default'}],
             state='absent')
    lab.wait_mirror_realised('gre1', src=False, dst=False)
    lines, dummy = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=3), seconds=3)
    assert lines == [], 'copies must stop once the port is detached: %s' % lines


def test_erspan_to_lport_carries_the_session_index(lab, tmp_path):
    converge(lab, tmp_path, {'name': 'span1', 'type': 'erspan', 'index': 7, 'filter': 'to-lport',
                             'sink': SINK_IP}, [{'name': 'web-1', 'namespace': 'default'}])
    lab.wait_tunnel('span1')
    lab.wait_mirror_realised('span1', src=False, dst=True)
    lab.ping('web-0', WEB1_IP, count=2)
    lines, pcap = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=3))
    sessions = erspan_session_ids(pcap)
    assert len(sessions) >= 3 and set(sessions) == {7}, (sessions, lines)
    converge(lab, tmp_path, {'name': 'span1', 'state': 'absent'}, [], state='absent')
