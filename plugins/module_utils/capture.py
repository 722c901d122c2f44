# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a capture at the receiver holds, per OVN mirror.

OVN sends a mirror's copies as GRE (Transparent Ethernet Bridging, key = the mirror's index)
or ERSPAN type II (session id = the mirror's index) to the sink. Decoding is Scapy's (its GRE
layer and scapy.contrib.erspan), not ours: this only groups what Scapy read.
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
    """([{name, type, index}], None), or (None, a message naming the bad entry)."""
    checked = []
    for position, mirror in enumerate(mirrors):
        missing = [key for key in ('name', 'type', 'index') if mirror.get(key) in (None, '')]
        if missing:
            return None, 'mirrors[%d] (%r) has no %s' % (position, mirror, ', '.join(missing))
        try:
            index = int(mirror['index'])
        except (TypeError, ValueError):
            return None, 'mirrors[%d]: index %r is not a number' % (position, mirror['index'])
        checked.append(dict(name=str(mirror['name']), type=str(mirror['type']), index=index))
    return checked, None


def summarize(path, mirrors=(), top=5):
    """Per mirror (matched on type and index with `mirrors`, dicts of name/type/index):
    packets, bytes of the mirrored frames, and the `top` inner conversations."""
    # Only GRE and ERSPAN mirrors send to a receiver (local and lport ones stay on the node).
    names = dict(((m['type'], int(m['index'])), m['name']) for m in mirrors
                 if m['type'] in ('gre', 'erspan'))
    counts = collections.OrderedDict()
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
            if copy is None:
                other += 1
                continue
            kind, key, inner = copy
            entry = counts.setdefault((kind, key), dict(
                name=names.get((kind, key)), type=kind, index=key, packets=0, bytes=0,
                conversations=collections.Counter(), sizes=collections.Counter()))
            size = len(inner)
            entry['packets'] += 1
            entry['bytes'] += size
            conversation = _conversation(inner)
            entry['conversations'][conversation] += 1
            entry['sizes'][conversation] += size
    finally:
        reader.close()
    for (kind, key), name in sorted(names.items(), key=lambda item: item[1]):
        counts.setdefault((kind, key), dict(name=name, type=kind, index=key, packets=0,
                                            bytes=0, conversations=collections.Counter(),
                                            sizes=collections.Counter()))
    report = []
    for entry in counts.values():
        sizes = entry.pop('sizes')
        entry['conversations'] = [
            dict(src=src, dst=dst, protocol=protocol, packets=packets,
                 bytes=sizes[(src, dst, protocol)])
            for (src, dst, protocol), packets in entry['conversations'].most_common(top)]
        report.append(entry)
    report.sort(key=lambda entry: (entry['name'] is None, entry['name'] or '', entry['type'],
                                   entry['index']))
    return dict(packets=total, other_packets=other, truncated=truncated, mirrors=report)


def silent_mirrors(report, expected):
    """The names in `expected` whose mirror delivered nothing (or is not in the report)."""
    delivered = dict((entry['name'], entry['packets']) for entry in report['mirrors']
                     if entry['name'])
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
    return mirrors


def report(params, mirrors):
    """The report of the capture at params['path']; ModuleFailure, with the report, when a
    mirror in params['expect_packets'] delivered nothing."""
    path = params['path']
    try:
        result = summarize(path, mirrors, params['top'])
    except (IOError, OSError) as exc:
        raise ModuleFailure('cannot read the capture %s: %s' % (path, exc))
    result['path'] = path
    silent = silent_mirrors(result, params['expect_packets'])
    if silent:
        raise ModuleFailure('no packets from mirror%s %s in the capture %s'
                            % ('s' if len(silent) > 1 else '', ', '.join(silent), path),
                            **result)
    return result
