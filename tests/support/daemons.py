"""Starting and stopping real OVS/OVN daemons for tests, always by the pid we started."""

import os
import signal
import socket
import subprocess
import time

NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'
VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError('%s did not happen within %ss' % (what, timeout))


def stop_processes(processes, timeout=10):
    """SIGTERM every process at once (each takes a while to exit), then SIGKILL stragglers."""
    alive = [proc for proc in processes if proc is not None and proc.poll() is None]
    for proc in alive:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in alive:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class OvsdbServer:
    """An ovsdb-server on a fresh database file, listening on a unix socket and optionally
    on tcp:127.0.0.1 and ssl:127.0.0.1 (free ports)."""

    def __init__(self, workdir, schema=NB_SCHEMA, name='nb', tcp=False, pki=None,
                 db_file=None):
        self.workdir = str(workdir)
        self.name = name
        self.schema = schema
        self.db = db_file or os.path.join(self.workdir, name + '.db')
        self.sock = os.path.join(self.workdir, name + '.sock')
        self.ctl = os.path.join(self.workdir, name + '.ctl')
        self.log = os.path.join(self.workdir, name + '.log')
        self.pki = pki
        self.tcp_port = free_port() if tcp else None
        self.ssl_port = free_port() if pki else None
        self.proc = None

    @property
    def unix(self):
        return 'unix:' + self.sock

    @property
    def tcp(self):
        return 'tcp:127.0.0.1:%d' % self.tcp_port

    @property
    def ssl(self):
        return 'ssl:127.0.0.1:%d' % self.ssl_port

    def start(self):
        if not os.path.exists(self.db):
            subprocess.run(['ovsdb-tool', 'create', self.db, self.schema], check=True)
        cmd = ['ovsdb-server', self.db, '--remote=punix:' + self.sock,
               '--unixctl=' + self.ctl, '--log-file=' + self.log]
        if self.tcp_port:
            cmd.append('--remote=ptcp:%d:127.0.0.1' % self.tcp_port)
        if self.pki:
            cmd += ['--remote=pssl:%d:127.0.0.1' % self.ssl_port,
                    '--private-key=' + self.pki.server_key,
                    '--certificate=' + self.pki.server_cert,
                    '--ca-cert=' + self.pki.ca_cert]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10,
                   'ovsdb-server socket %s' % self.sock)
        if self.proc.poll() is not None:
            raise RuntimeError('ovsdb-server exited; see %s' % self.log)
        return self

    def stop(self):
        stop_processes([self.proc])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Pki:
    """A throw-away CA with server and client certificates, and a second, unrelated CA."""

    def __init__(self, workdir):
        self.dir = str(workdir)

        def path(name):
            return os.path.join(self.dir, name)

        self.ca_key, self.ca_cert = path('ca.key'), path('ca.crt')
        self.server_key, self.server_cert = path('server.key'), path('server.crt')
        self.client_key, self.client_cert = path('client.key'), path('client.crt')
        self.other_ca_key, self.other_ca_cert = path('other-ca.key'), path('other-ca.crt')

    def create(self):
        self._self_signed(self.ca_key, self.ca_cert, 'kubeovn-mirror-test-ca')
        self._self_signed(self.other_ca_key, self.other_ca_cert, 'untrusted-ca')
        self._signed(self.server_key, self.server_cert, 'ovn-nb')
        self._signed(self.client_key, self.client_cert, 'kubeovn-mirror-client')
        return self

    @staticmethod
    def _openssl(*args):
        subprocess.run(['openssl'] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _self_signed(self, key, cert, cn):
        self._openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                      '-out', cert, '-days', '2', '-subj', '/CN=' + cn)

    def _signed(self, key, cert, cn):
        csr = cert + '.csr'
        self._openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr,
                      '-subj', '/CN=' + cn)
        self._openssl('x509', '-req', '-in', csr, '-CA', self.ca_cert, '-CAkey', self.ca_key,
                      '-CAcreateserial', '-out', cert, '-days', '2')
