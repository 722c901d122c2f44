"""module_utils.capture on pcaps written by Scapy: GRE keys and ERSPAN session ids grouped per
mirror, conversations counted, a cut file reported, silent mirrors named; lport copies
(unencapsulated) counted per receiver port."""

import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import capture

scapy_all = pytest.importorskip('scapy.all')
from scapy.contrib.erspan import ERSPAN_II  # noqa: E402
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP  # noqa: E402
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


# ---- lport copies (OVN >= 25.09): the frames themselves, at the receiver's port -------------

PORT = 'mirror-receiver.default'
LPORT_MIRRORS = MIRRORS + [
    dict(name='tap1', type='lport', index=0, sink=PORT, filter='both', rules=[]),
    dict(name='elsewhere', type='lport', index=0, sink='other-receiver.tools')]


def lport_capture(path):
    """What the receiver's eth0 sees: copies of web-0's pings both ways and of a UDP flow,
    and one GRE copy (a GRE mirror whose sink is the receiver's pod address)."""
    wrpcap(path, [inner('10.16.0.10', '10.16.0.11', type=8)] * 3 +
           [inner('10.16.0.11', '10.16.0.10', type=0)] * 3 +
           [Ether() / IP(src='10.16.0.10', dst='10.16.0.12') / UDP(sport=5000, dport=4369)] * 2 +
           [gre(99, inner('10.66.0.10', '10.66.0.11'))])


def report_of(path, mirrors, port=None, expect=(), top=5):
    params = dict(path=path, mirrors=mirrors, expect_packets=list(expect), top=top, port=port)
    return capture.report(params, capture.check_report_params(params))


def test_unencapsulated_packets_count_for_the_lport_mirror_of_the_capture_port(tmp_path):
    path = str(tmp_path / 'c.pcap')
    lport_capture(path)
    report = report_of(path, LPORT_MIRRORS, port=PORT, expect=['tap1', 'web0-egress'])
    assert (report['packets'], report['other_packets']) == (9, 0)
    by_name = dict((m['name'], m) for m in report['mirrors'])
    tap = by_name['tap1']
    assert (tap['type'], tap['port'], tap['names'], tap['packets']) == (
        'lport', PORT, ['tap1'], 8)
    assert tap['bytes'] == 6 * 42 + 2 * 42     # whole frames: Ether + IP + ICMP/UDP(8)
    assert tap['conversations'][0] == dict(src='10.16.0.10', dst='10.16.0.11', protocol='icmp',
                                           packets=3, bytes=3 * 42)
    assert dict(src='10.16.0.10', dst='10.16.0.12', protocol='udp', packets=2,
                bytes=2 * 42) in tap['conversations']
    # GRE counting is unchanged, and the lport mirror of another port is not reported here
    assert by_name['web0-egress']['packets'] == 1
    tunnel_names = [m['name'] for m in report['mirrors'] if m['type'] != 'lport']
    assert 'elsewhere' not in by_name and 'tap1' not in tunnel_names


def test_without_the_port_lport_copies_are_other_packets(tmp_path):
    path = str(tmp_path / 'c.pcap')
    lport_capture(path)
    report = report_of(path, LPORT_MIRRORS)
    assert report['other_packets'] == 8
    assert [m for m in report['mirrors'] if m['type'] == 'lport'] == []


def test_lport_mirrors_sharing_a_port_are_reported_together(tmp_path):
    path = str(tmp_path / 'c.pcap')
    lport_capture(path)
    shared = LPORT_MIRRORS + [dict(name='icmp-only', type='lport', sink=PORT)]
    report = report_of(path, shared, port=PORT, expect=['tap1', 'icmp-only'])
    lport = [m for m in report['mirrors'] if m['type'] == 'lport']
    assert len(lport) == 1, lport
    assert (lport[0]['name'], lport[0]['names'], lport[0]['packets']) == (
        'icmp-only+tap1', ['icmp-only', 'tap1'], 8)
    assert capture.silent_mirrors(report, ['tap1', 'icmp-only']) == []


def test_a_silent_lport_mirror_is_named_with_where_its_copies_go(tmp_path):
    path = str(tmp_path / 'c.pcap')
    wrpcap(path, [gre(99, inner('10.66.0.10', '10.66.0.11'))])
    with pytest.raises(capture.ModuleFailure) as failure:
        report_of(path, LPORT_MIRRORS, port=PORT, expect=['tap1', 'elsewhere'])
    message = str(failure.value)
    assert message.startswith('no packets from mirrors tap1, elsewhere in the capture '), message
    assert 'elsewhere (sink other-receiver.tools)' in message and 'tap1 (sink' not in message
    lport = [m for m in failure.value.details['mirrors'] if m['type'] == 'lport']
    assert [(m['name'], m['packets']) for m in lport] == [('tap1', 0)]


def test_an_empty_capture_reports_the_lport_mirror_with_nothing(tmp_path):
    path = str(tmp_path / 'c.pcap')
    wrpcap(path, [])
    report = report_of(path, LPORT_MIRRORS, port=PORT)
    assert [(m['name'], m['packets']) for m in report['mirrors'] if m['type'] == 'lport'] == [
        ('tap1', 0)]


@pytest.mark.parametrize('mirrors,fragment', [
    ([dict(name='a', type='lport', index=0)], "has no sink"),
    ([dict(name='a', type='lport', sink='')], "has no sink"),
])
def test_an_lport_mirror_needs_its_sink(mirrors, fragment):
    checked, problem = capture.check_mirrors(mirrors)
    assert checked is None and fragment in problem, problem


def test_an_lport_mirror_needs_no_index():
    checked, problem = capture.check_mirrors([dict(name='a', type='lport', sink=PORT)])
    assert problem is None and checked == [dict(name='a', type='lport', index=None, sink=PORT)]


def test_an_empty_port_is_refused(tmp_path):
    params = dict(path='x', mirrors=[], expect_packets=[], top=5, port=' ')
    with pytest.raises(ValueError, match='port must name'):
        capture.check_report_params(params)


def test_tcp_conversations_of_lport_copies(tmp_path):
    path = str(tmp_path / 'c.pcap')
    wrpcap(path, [Ether() / IP(src='10.16.0.10', dst='10.16.0.11') / TCP()] * 4)
    report = report_of(path, LPORT_MIRRORS, port=PORT, top=1)
    tap = [m for m in report['mirrors'] if m['type'] == 'lport'][0]
    assert tap['conversations'] == [dict(src='10.16.0.10', dst='10.16.0.11', protocol='tcp',
                                         packets=4, bytes=4 * 54)]
