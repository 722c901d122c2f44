"""Local mirroring in the lab: ovs_local_mirror against the real ovs-vswitchd (userspace
datapath); copies read with tcpdump on the mirror's output tap."""

import json
import struct
import subprocess

from lab.ansible import run_module
from lab.daemons import wait_until
from lab.ovn import MIRROR_TAP, PODS

# An OVS mirror alone, no OVN in its path, on the lab's default OVS 3.1 (OVN 23.03); on OVS
# 3.5 (what Kube-OVN 1.15+ ships) the demo runs ovs_local_mirror on node-b and shows its copies.
WEB0, WEB1, DB0 = (PODS[pod][2] for pod in ('web-0', 'web-1', 'db-0'))


def mirror(lab, workdir, **args):
    args.setdefault('name', 'local1')
    args.update(ovs_connection=lab.ovs_db, output_port=MIRROR_TAP, create_output=True)
    result = run_module('ovs_local_mirror', args, workdir)
    assert not result.get('failed'), result
    # No prepare_tap(): the module brings up the output port it creates (issue 11).
    lab.appctl('ovs-vswitchd.ctl', 'revalidator/purge')
    return result


def link_state(name):
    """(UP flag set, IPv6 disabled) of a host interface, read with ip and /proc."""
    link = json.loads(subprocess.run(['ip', '-j', 'link', 'show', 'dev', name], check=True,
                                     capture_output=True, text=True).stdout)[0]
    with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name) as handle:
        return 'UP' in link['flags'], handle.read().strip() == '1'


def traffic(lab):
    lab.ping('web-0', WEB1, count=2)
    lab.ping('web-1', DB0, count=2)


def frame_lengths(pcap):
    """(captured, original) lengths of every frame in a pcap file."""
    with open(pcap, 'rb') as handle:
        data = handle.read()
    offset, lengths = 24, []
    while offset + 16 <= len(data):
        caplen, origlen = struct.unpack('<II', data[offset + 8:offset + 16])
        lengths.append((caplen, origlen))
        offset += 16 + caplen
    return lengths


def test_one_pod_then_all_then_truncated_with_growing_statistics(lab, tmp_path):
    result = mirror(lab, tmp_path, pods=[{'name': 'web-0', 'namespace': 'default'}])
    assert result['changed'] is True
    assert [command[1:] for command in result['commands']] == [
        ['link', 'set', 'dev', MIRROR_TAP, 'up']], result
    # Right after the task, as a user following docs/local_mirroring.md would capture.
    assert link_state(MIRROR_TAP) == (True, True)
    lines, dummy = lab.capture_host(MIRROR_TAP, lambda: traffic(lab))
    assert [l for l in lines if '%s > %s: ICMP echo request' % (WEB0, WEB1) in l], lines
    assert [l for l in lines if '%s > %s: ICMP echo reply' % (WEB1, WEB0) in l], lines
    assert not [l for l in lines if DB0 in l], 'only web-0 is mirrored: %s' % lines

    assert mirror(lab, tmp_path, pods=[{'name': 'web-0', 'namespace': 'default'}])[
        'changed'] is False

    mirror(lab, tmp_path, select_all=True)
    lines, dummy = lab.capture_host(MIRROR_TAP, lambda: traffic(lab))
    assert [l for l in lines if '%s > %s: ICMP echo request' % (WEB1, DB0) in l], lines
    assert [l for l in lines if '%s > %s: ICMP echo request' % (WEB0, WEB1) in l], lines

    mirror(lab, tmp_path, select_all=True, snaplen=60)
    dummy, pcap = lab.capture_host(MIRROR_TAP, lambda: traffic(lab))
    lengths = frame_lengths(pcap)
    assert lengths and all(orig <= 60 for dummy_cap, orig in lengths), lengths

    def counted():
        out = lab.vsctl('--bare', '--columns=statistics', 'find', 'Mirror', 'name=local1')
        return 'tx_packets=' in out and int(out.split('tx_packets=')[1].split()[0]) > 0
    traffic(lab)
    wait_until(counted, 10, 'mirror statistics counting', interval=0.5)
    first = mirror(lab, tmp_path, select_all=True, snaplen=60)['statistics']['tx_packets']
    traffic(lab)
    wait_until(lambda: mirror(lab, tmp_path, select_all=True, snaplen=60)[
        'statistics']['tx_packets'] > first, 12, 'statistics growing', interval=1)

    gone = run_module('ovs_local_mirror', {'name': 'local1', 'state': 'absent',
                                           'ovs_connection': lab.ovs_db}, tmp_path)
    assert gone['changed'] is True
    assert lab.vsctl('--bare', '--columns=name', 'find', 'Mirror', 'name=local1') == ''
