# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching an OVSDB server with python-ovs alone: parsing remotes (unix/tcp/ssl, several for
a RAFT cluster), TLS set-up, and the schema fetch bounded by the caller's timeout.

python-ovs alone is what Kube-OVN's ovs-ovn image has, so this holds what ovs_health (which
runs there) and ovsdb (ovsdbapp sessions, for every other module) share.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubeovn.mirror.plugins.module_utils import json_framing
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import (
    MissingLibrary, OvsdbError)

try:
    from ovs import jsonrpc as ovs_jsonrpc
    from ovs import poller as ovs_poller
    from ovs import stream as ovs_stream
    PYTHON_OVS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by require_python_ovs
    PYTHON_OVS_IMPORT_ERROR = exc
    ovs_jsonrpc = ovs_poller = ovs_stream = None

REMOTE_KINDS = ('unix', 'tcp', 'ssl')
TLS_OPTIONS = ('ssl_key', 'ssl_cert', 'ssl_ca_cert')

# Errors of a TLS remote that mean the handshake failed rather than the socket.
_TLS_HANDSHAKE_ERRNOS = (errno.EPERM, errno.EPROTO, errno.ECONNRESET)


def require_python_ovs():
    """MissingLibrary saying how to install python-ovs when it cannot be imported."""
    if PYTHON_OVS_IMPORT_ERROR is not None:
        raise MissingLibrary(missing_required_lib('ovs (python3-openvswitch)'),
                             exception=str(PYTHON_OVS_IMPORT_ERROR))


class ConnectionSettings(object):
    """How to reach one database: the remote(s), the timeout and, for ssl:, the TLS files."""

    def __init__(self, connection, timeout, ssl_key=None, ssl_cert=None, ssl_ca_cert=None):
        self.connection = connection
        self.timeout = timeout
        self.ssl_key = ssl_key
        self.ssl_cert = ssl_cert
        self.ssl_ca_cert = ssl_ca_cert


def parse_remotes(connection):
    """Split an OVSDB connection string into its remotes and check each one's form.

    Raises ValueError naming the offending remote.
    """
    if not connection or not connection.strip():
        raise ValueError('the connection string is empty')
    remotes = [part.strip() for part in connection.split(',')]
    for remote in remotes:
        kind, sep, rest = remote.partition(':')
        if not sep or kind not in REMOTE_KINDS or not rest:
            raise ValueError(
                "remote %r is not of the form unix:PATH, tcp:IP:PORT or ssl:IP:PORT" % remote)
        if kind == 'unix':
            continue
        host, sep, port = rest.rpartition(':')
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("remote %r needs an address and a port from 1 to 65535" % remote)
    return remotes


def configure_tls(remotes, ssl_key=None, ssl_cert=None, ssl_ca_cert=None):
    """Give python-ovs the key, certificate and CA when any remote is ssl:."""
    if not any(remote.startswith('ssl:') for remote in remotes):
        return
    paths = {'ssl_key': ssl_key, 'ssl_cert': ssl_cert, 'ssl_ca_cert': ssl_ca_cert}
    missing = [name for name in TLS_OPTIONS if not paths[name]]
    if missing:
        raise ValueError('an ssl: remote needs %s' % ', '.join(missing))
    for name in TLS_OPTIONS:
        if not os.access(paths[name], os.R_OK):
            raise ValueError('%s %r is not a readable file' % (name, paths[name]))
    ovs_stream.Stream.ssl_set_private_key_file(ssl_key)
    ovs_stream.Stream.ssl_set_certificate_file(ssl_cert)
    ovs_stream.Stream.ssl_set_ca_cert_file(ssl_ca_cert)


def _describe_error(remote, error):
    reason = os.strerror(error)
    if remote.startswith('ssl:') and error in _TLS_HANDSHAKE_ERRNOS:
        reason = ('TLS handshake failed (%s): is the server certificate signed by '
                  'ssl_ca_cert, and are ssl_key/ssl_cert accepted by the server?' % reason)
    return '%s: %s' % (remote, reason)


def remaining_ms(deadline):
    return max(0, int((deadline - time.time()) * 1000))


def _get_schema_from(remote, schema_name, deadline):
    """Ask one remote for a schema; returns (schema_json, None) or (None, reason)."""
    error, stream = ovs_stream.Stream.open_block(
        ovs_stream.Stream.open(remote), remaining_ms(deadline))
    if error:
        return None, _describe_error(remote, error)
    rpc = ovs_jsonrpc.Connection(stream)
    try:
        request = ovs_jsonrpc.Message.create_request('get_schema', [schema_name])
        error = rpc.send(request)
        # python-ovs's transact_block() has no deadline; this is the same loop, bounded.
        while not error:
            rpc.run()
            error, reply = rpc.recv()
            if error == errno.EAGAIN:
                if time.time() >= deadline:
                    return None, '%s: no answer within the timeout' % remote
                wait = ovs_poller.Poller()
                rpc.wait(wait)
                rpc.recv_wait(wait)
                wait.timer_wait(remaining_ms(deadline))
                wait.block()
                error = 0
                continue
            if error:
                break
            if reply.id != request.id:
                continue
            if reply.type == ovs_jsonrpc.Message.T_ERROR:
                return None, '%s: the server has no %s database (%s)' % (
                    remote, schema_name, reply.error)
            return reply.result, None
        return None, _describe_error(remote, error)
    finally:
        rpc.close()


def fetch_schema(remotes, schema_name, deadline):
    """The schema JSON from the first remote that answers, or OvsdbError with every reason."""
    json_framing.install()
    reasons = []
    for remote in remotes:
        if time.time() >= deadline:
            reasons.append('%s: not tried, the timeout ran out' % remote)
            continue
        schema, reason = _get_schema_from(remote, schema_name, deadline)
        if schema is not None:
            return schema
        reasons.append(reason)
    raise OvsdbError('cannot connect to the %s database: %s' % (schema_name, '; '.join(reasons)))
