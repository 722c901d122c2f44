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
        if os.path.exists(self.sock):   # left by a killed server: wait for the new one's
            os.unlink(self.sock)
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


class NbCluster:
    """A 3-member clustered (RAFT) OVN NB, every member on 127.0.0.1, each a separate
    ovsdb-server started and stopped by its own pid."""

    def __init__(self, workdir, size=3, schema=NB_SCHEMA):
        self.workdir = str(workdir)
        self.schema = schema
        self.members = []
        for index in range(size):
            name = 'nb%d' % (index + 1)
            self.members.append(dict(
                name=name, db=os.path.join(self.workdir, name + '.db'),
                ctl=os.path.join(self.workdir, name + '.ctl'),
                log=os.path.join(self.workdir, name + '.log'),
                raft='tcp:127.0.0.1:%d' % free_port(), port=free_port(), proc=None))

    @property
    def connection(self):
        """Every member's client remote, comma-separated (what the modules are given)."""
        return ','.join('tcp:127.0.0.1:%d' % m['port'] for m in self.members)

    def start(self):
        first = self.members[0]
        subprocess.run(['ovsdb-tool', 'create-cluster', first['db'], self.schema,
                        first['raft']], check=True)
        for member in self.members[1:]:
            subprocess.run(['ovsdb-tool', 'join-cluster', member['db'], 'OVN_Northbound',
                            member['raft'], first['raft']], check=True)
        for member in self.members:
            self._start(member)
        wait_until(lambda: self.leader() is not None and all(
            'Status: cluster member' in self.status(m) for m in self.members), 30,
            'NB cluster formed')
        return self

    def _start(self, member):
        member['proc'] = subprocess.Popen(
            ['ovsdb-server', member['db'], '--remote=ptcp:%d:127.0.0.1' % member['port'],
             '--unixctl=' + member['ctl'], '--log-file=' + member['log']],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(member['ctl']), 10, member['name'] + ' control socket')

    def status(self, member):
        if member['proc'] is None or member['proc'].poll() is not None:
            return ''
        return subprocess.run(['ovs-appctl', '-t', member['ctl'], 'cluster/status',
                               'OVN_Northbound'], capture_output=True, text=True,
                              timeout=10, check=False).stdout

    def leader(self):
        """The member that is leader now, or None."""
        for member in self.members:
            if 'Role: leader' in self.status(member):
                return member
        return None

    def kill(self, member):
        """SIGKILL: the member dies as in a crash (no clean leadership transfer)."""
        member['proc'].kill()
        member['proc'].wait(10)

    def stop(self):
        stop_processes([m['proc'] for m in self.members])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
