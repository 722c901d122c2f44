# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a capture at the receiver holds, per OVN mirror.

OVN sends a mirror's copies as GRE (Transparent Ethernet Bridging, key = the mirror's index)
or ERSPAN type II (session id = the mirror's index) to the sink. Decoding is Scapy's (its GRE
layer and scapy.contrib.erspan), not ours: this only groups what Scapy read.

An `lport` mirror (OVN >= 25.09) delivers its copies to a logical switch port as they are,
unencapsulated, with nothing in them that names the mirror. A capture taken at that port
(`port`) counts every packet that is not a GRE/ERSPAN copy for the lport mirrors whose sink is
that port: one entry per receiver port, naming together the mirrors that share it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import (
    MissingLibrary, ModuleFailure)

SCAPY_IMPORT_ERROR = None
try:
    from scapy.contrib.erspan import ERSPAN_II
    from scapy.error import Scapy_Exception
    from scapy.layers.inet import GRE, IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import RawPcapReader
except ImportError:
    SCAPY_IMPORT_ERROR = traceback.format_exc()

GRE_TEB = 0x6558
PROTOCOLS = {1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6'}


def _copy_of(packet):
    """(tunnel type, key or session id, inner Ethernet frame) of a mirrored copy, or None."""
    if GRE not in packet:
        return None
    gre = packet[GRE]
    if ERSPAN_II in packet:
        return 'erspan', packet[ERSPAN_II].session_id, packet[ERSPAN_II].payload
    if gre.proto == GRE_TEB and gre.key_present:
        return 'gre', gre.key, gre.payload
    return None


def _conversation(inner):
    """(source, destination, protocol) of the mirrored frame."""
    for layer in (IP, IPv6):
        if layer in inner:
            ip = inner[layer]
            number = ip.proto if layer is IP else ip.nh
            return ip.src, ip.dst, PROTOCOLS.get(number, str(number))
    if Ether in inner:
        return inner[Ether].src, inner[Ether].dst, 'ethertype 0x%04x' % inner[Ether].type
    return '?', '?', 'unknown'


def check_mirrors(mirrors):
    """([{name, type, index, sink}], None), or (None, a message naming the bad entry). An
    lport mirror needs its sink (the port its copies go to) instead of an index."""
    checked = []
    for position, mirror in enumerate(mirrors):
        needed = ('name', 'type', 'sink') if mirror.get('type') == 'lport' else \
            ('name', 'type', 'index')
        missing = [key for key in needed if mirror.get(key) in (None, '')]
        if missing:
            return None, 'mirrors[%d] (%r) has no %s' % (position, mirror, ', '.join(missing))
        index = mirror.get('index')
        try:
            index = int(index) if index not in (None, '') else None
        except (TypeError, ValueError):
            return None, 'mirrors[%d]: index %r is not a number' % (position, mirror['index'])
        sink = mirror.get('sink')
        checked.append(dict(name=str(mirror['name']), type=str(mirror['type']), index=index,
                            sink=str(sink) if sink is not None else None))
    return checked, None


def lport_name(names):
    """The report's name of the lport mirrors sharing a receiver port: their names joined
    with '+', since their copies cannot be told apart."""
    return '+'.join(sorted(names)) if names else None


def _entry(name, kind, index, names, port=None):
    entry = dict(name=name, names=list(names), type=kind, index=index, packets=0, bytes=0,
                 conversations=collections.Counter(), sizes=collections.Counter())
    if kind == 'lport':
        entry['port'] = port
    return entry


def summarize(path, mirrors=(), top=5, port=None):
    """Per mirror (matched on type and index with `mirrors`, dicts of name/type/index/sink):
    packets, bytes of the mirrored frames, and the `top` inner conversations. With `port`
    (the logical switch port the capture was taken at), the packets that are not GRE/ERSPAN
    copies count for the lport mirrors whose sink is `port`, together in one entry."""
    # GRE and ERSPAN copies name their mirror by key; local mirrors never reach a receiver;
    # lport copies reach their sink port, and only a capture at that port can count them.
    names = dict(((m['type'], int(m['index'])), m['name']) for m in mirrors
                 if m['type'] in ('gre', 'erspan'))
    at_port = sorted(m['name'] for m in mirrors
                     if m['type'] == 'lport' and port and m.get('sink') == port)
    counts = collections.OrderedDict()
    lport = _entry(lport_name(at_port), 'lport', None, at_port, port) if at_port else None
    total = other = 0
    truncated = False
    reader = RawPcapReader(path)
    try:
        records = iter(reader)
        while True:
            try:
                data, meta = next(records)
            except StopIteration:
                break
            except (Scapy_Exception, ValueError):
                truncated = True
                break
            if len(data) < meta.caplen:   # a capture cut at its byte limit ends mid-record
                truncated = True
                break
            total += 1
            packet = Ether(data)
            copy = _copy_of(packet)
            if copy is None and lport is None:
                other += 1
                continue
            if copy is None:
                entry, inner = lport, packet     # an lport copy is the frame itself
            else:
                kind, key, inner = copy
                name = names.get((kind, key))
                entry = counts.setdefault((kind, key), _entry(
                    name, kind, key, [name] if name else []))
            size = len(inner)
            entry['packets'] += 1
            entry['bytes'] += size
            conversation = _conversation(inner)
            entry['conversations'][conversation] += 1
            entry['sizes'][conversation] += size
    finally:
        reader.close()
    for (kind, key), name in sorted(names.items(), key=lambda item: item[1]):
        counts.setdefault((kind, key), _entry(name, kind, key, [name]))
    if lport is not None:
        counts[('lport', port)] = lport
    report = []
    for entry in counts.values():
        sizes = entry.pop('sizes')
        entry['conversations'] = [
            dict(src=src, dst=dst, protocol=protocol, packets=packets,
                 bytes=sizes[(src, dst, protocol)])
            for (src, dst, protocol), packets in entry['conversations'].most_common(top)]
        report.append(entry)
    report.sort(key=lambda entry: (entry['name'] is None, entry['name'] or '', entry['type'],
                                   -1 if entry['index'] is None else entry['index']))
    return dict(packets=total, other_packets=other, truncated=truncated, mirrors=report)


def silent_mirrors(report, expected):
    """The names in `expected` whose mirror delivered nothing (or is not in the report). An
    lport mirror sharing its port with others counts as delivering when their entry has
    packets (the copies cannot be told apart)."""
    delivered = {}
    for entry in report['mirrors']:
        for name in entry.get('names') or ([entry['name']] if entry['name'] else []):
            delivered[name] = delivered.get(name, 0) + entry['packets']
    return [name for name in expected if not delivered.get(name)]


def check_report_params(params):
    """mirror_capture_report's input, before the capture is read: the mirrors as
    check_mirrors gives them; ValueError names the offending value."""
    if SCAPY_IMPORT_ERROR:
        raise MissingLibrary(missing_required_lib('scapy'), exception=SCAPY_IMPORT_ERROR)
    mirrors, problem = check_mirrors(params['mirrors'])
    if problem:
        raise ValueError(problem)
    known = set(mirror['name'] for mirror in mirrors)
    unknown = [name for name in params['expect_packets'] if name not in known]
    if unknown:
        raise ValueError('expect_packets names mirrors not given in mirrors: %s'
                         % ', '.join(unknown))
    if params['top'] < 0:
        raise ValueError('top must be 0 or more, got %d' % params['top'])
    port = params.get('port')
    if port is not None and not str(port).strip():
        raise ValueError('port must name the logical switch port the capture was taken at, '
                         'got %r' % (port,))
    return mirrors


def report(params, mirrors):
    """The report of the capture at params['path']; ModuleFailure, with the report, when a
    mirror in params['expect_packets'] delivered nothing."""
    path = params['path']
    try:
        result = summarize(path, mirrors, params['top'], params.get('port'))
    except (IOError, OSError) as exc:
        raise ModuleFailure('cannot read the capture %s: %s' % (path, exc))
    result['path'] = path
    silent = silent_mirrors(result, params['expect_packets'])
    if silent:
        elsewhere = ['%s (sink %s)' % (m['name'], m['sink']) for m in mirrors
                     if m['name'] in silent and m['type'] == 'lport'
                     and m['sink'] != params.get('port')]
        hint = ('; lport copies are counted only in a capture at the mirror\'s sink port, '
                'given as port (this capture: %s): %s'
                % (params.get('port') or 'no port given', ', '.join(elsewhere))) \
            if elsewhere else ''
        raise ModuleFailure('no packets from mirror%s %s in the capture %s%s'
                            % ('s' if len(silent) > 1 else '', ', '.join(silent), path, hint),
                            **result)
    return result
