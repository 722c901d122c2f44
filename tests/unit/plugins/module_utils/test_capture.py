"""module_utils.capture on pcaps written by Scapy: GRE keys and ERSPAN session ids grouped per
mirror, conversations counted, a cut file reported, silent mirrors named."""

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import capture

scapy_all = pytest.importorskip('scapy.all')
from scapy.contrib.erspan import ERSPAN_II  # noqa: E402
from scapy.layers.inet import GRE, ICMP, IP, UDP  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.utils import wrpcap  # noqa: E402

OUTER = Ether() / IP(src='172.31.0.1', dst='172.31.0.21')
MIRRORS = [dict(name='web0-egress', type='gre', index=99, sink='172.31.0.21'),
           dict(name='db-ingress', type='erspan', index=7),
           dict(name='idle', type='gre', index=5), dict(name='on-node', type='local', index=0,
                                                        sink='mon0')]


def inner(src, dst, **kwargs):
    return Ether() / IP(src=src, dst=dst) / ICMP(**kwargs)


def gre(key, frame):
    return OUTER / GRE(key_present=1, key=key, proto=0x6558) / frame


def erspan(session, frame):
    return OUTER / GRE(seqnum_present=1, proto=0x88be) / ERSPAN_II(session_id=session) / frame


def test_copies_are_counted_per_mirror_with_their_conversations(tmp_path):
    path = str(tmp_path / 'c.pcap')
    wrpcap(path, [gre(99, inner('10.66.0.10', '10.66.0.11'))] * 3 +
           [gre(99, Ether() / ARP())] +
           [erspan(7, inner('10.66.0.11', '10.66.0.20'))] * 2 +
           [gre(42, inner('10.0.0.1', '10.0.0.2'))] +
           [OUTER / UDP(sport=1, dport=2)])
    report = capture.summarize(path, capture.check_mirrors(MIRRORS)[0], top=5)
    assert (report['packets'], report['other_packets'], report['truncated']) == (8, 1, False)
    by_name = dict((m['name'], m) for m in report['mirrors'])
    web = by_name['web0-egress']
    assert (web['type'], web['index'], web['packets']) == ('gre', 99, 4)
    assert web['conversations'][0] == dict(src='10.66.0.10', dst='10.66.0.11', protocol='icmp',
                                           packets=3, bytes=3 * 42)
    assert web['conversations'][1]['protocol'] == 'ethertype 0x0806'
    assert (by_name['db-ingress']['packets'], by_name['db-ingress']['bytes']) == (2, 84)
    assert by_name['idle']['packets'] == 0 and by_name['idle']['conversations'] == []
    assert by_name[None]['index'] == 42 and 'on-node' not in by_name
    assert capture.silent_mirrors(report, ['web0-egress', 'idle', 'db-ingress']) == ['idle']


def test_a_file_cut_at_its_byte_limit_is_read_up_to_the_cut(tmp_path):
    path = tmp_path / 'c.pcap'
    wrpcap(str(path), [gre(99, inner('10.66.0.10', '10.66.0.11'))] * 3)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    report = capture.summarize(str(path), [])
    assert report['truncated'] is True and report['packets'] == 2, report


@pytest.mark.parametrize('mirrors,fragment', [
    ([dict(name='a', type='gre')], "mirrors[0] ({'name': 'a', 'type': 'gre'}) has no index"),
    ([dict(name='a', type='gre', index='x')], "mirrors[0]: index 'x' is not a number"),
])
def test_bad_mirror_entries_are_named(mirrors, fragment):
    assert capture.check_mirrors(mirrors) == (None, fragment)
