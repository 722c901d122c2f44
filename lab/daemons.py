"""Starting and stopping real OVS/OVN daemons for tests, always by the pid we started.

Two rules every harness object here (and in lab/kube.py, lab/ovn.py) follows:
- Ports cannot collide: a daemon that can bind port 0 does, and the port is read back from
  its log; ports that must be known before a daemon starts (RAFT addresses, etcd,
  kube-apiserver) come from `reserve_ports`, all chosen while their sockets are held open, and
  a start that finds one taken meanwhile ("Address already in use") starts again with new
  ports, a bounded number of times (`start_with_fresh_ports`).
- A start that fails stops every process it had started, by pid, and raises `DaemonError`
  naming the daemon and showing the tail of its log.
"""

import collections
import os
import re
import signal
import socket
import subprocess
import time

from lab import ovn_versions

NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'
VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'

ADDRESS_IN_USE = 'Address already in use'
PORT_ATTEMPTS = 3


class DaemonError(RuntimeError):
    """A daemon did not start; the message names it and ends with the tail of its log."""

    def __init__(self, name, problem, logs=()):
        self.name = name
        self.address_in_use = any(ADDRESS_IN_USE.lower() in log_tail(path, 200).lower()
                                  for path in logs)
        text = '%s %s' % (name, problem)
        for path in logs:
            text += '\n--- last lines of %s ---\n%s' % (path, log_tail(path) or '(empty)')
        super().__init__(text)


def log_tail(path, lines=15):
    try:
        with open(path, errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:]).rstrip()
    except OSError:
        return '(no log at %s)' % path


def reserve_ports(count):
    """`count` distinct TCP ports on 127.0.0.1, each free when chosen: every socket stays
    bound until all are chosen, so one call never hands out the same port twice."""
    sockets = []
    try:
        for dummy in range(count):
            sock = socket.socket()
            sock.bind(('127.0.0.1', 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_with_fresh_ports(start, attempts=PORT_ATTEMPTS):
    """Call `start()` (which reserves its own ports and cleans up after itself on failure)
    again while it fails only because a port was taken in between; at most `attempts` times."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except DaemonError as exc:
            if not exc.address_in_use or attempt == attempts:
                raise


def wait_until(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError('%s did not happen within %ss' % (what, timeout))


def wait_for_daemon(name, proc, ready, timeout, logs):
    """Wait (bounded) until `ready()`; a daemon that exits or never gets ready raises
    DaemonError with its log tail. The caller stops what it started."""
    try:
        wait_until(lambda: proc.poll() is not None or ready(), timeout, name + ' ready')
    except TimeoutError:
        raise DaemonError(name, 'was not ready within %ss' % timeout, logs)
    if proc.poll() is not None:
        raise DaemonError(name, 'exited with status %s while starting' % proc.returncode, logs)


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


def running(pid):
    """The process exists and is not a zombie (one killed while its parent, say a test run
    that is still stopping, has not reaped it yet)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def descendants(pid):
    """The pids of `pid`'s children, theirs, and so on (from /proc/*/stat's ppid)."""
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    children[int(handle.read().rsplit(')', 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_lines():
    """(pid, argv) of every process this machine shows in /proc."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                argv = handle.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        yield int(entry), argv


def spawn(cmd, output_path, env=None):
    """Popen with stdout and stderr appended to `output_path` (shown by DaemonError)."""
    with open(output_path, 'a') as output:
        return subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, env=env)


LISTENING = re.compile(r'\|INFO\|0:127\.0\.0\.1: listening on port (\d+)$', re.M)


def listening_ports(log_path):
    """The ports an OVS daemon bound for `p*:0:127.0.0.1` remotes, in the order it bound
    them (OVS logs `0:127.0.0.1: listening on port N` when the kernel chose the port)."""
    try:
        with open(log_path, errors='replace') as handle:
            return [int(port) for port in LISTENING.findall(handle.read())]
    except OSError:
        return []


class OvsdbServer:
    """An ovsdb-server on a fresh database file, listening on a unix socket and optionally
    on tcp:127.0.0.1 and ssl:127.0.0.1, on ports the server chose itself (port 0, read back
    from its log), so they cannot collide with anyone's."""

    def __init__(self, workdir, schema=None, name='nb', tcp=False, pki=None,
                 db_file=None, ovn=None):
        self.workdir = str(workdir)
        self.name = name
        self.ovn = ovn or ovn_versions.ovn()     # whose ovsdb-server, and NB schema by default
        self.schema = schema or self.ovn.nb_schema
        self.db = db_file or os.path.join(self.workdir, name + '.db')
        self.sock = os.path.join(self.workdir, name + '.sock')
        self.ctl = os.path.join(self.workdir, name + '.ctl')
        self.log = os.path.join(self.workdir, name + '.log')
        self.out = os.path.join(self.workdir, name + '.out')
        self.pki = pki
        self.with_tcp = tcp
        self.tcp_port = self.ssl_port = None
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
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        if not os.path.exists(self.db):
            subprocess.run(self.ovn.cmd('ovsdb-tool') + ['create', self.db, self.schema],
                           check=True)
        for stale in (self.sock, self.ctl):   # left by a killed server: wait for the new one's
            if os.path.exists(stale):
                os.unlink(stale)
        cmd = self.ovn.cmd('ovsdb-server') + [
            self.db, '--remote=punix:' + self.sock, '--unixctl=' + self.ctl,
            '--log-file=' + self.log]
        if self.pki:
            cmd += ['--private-key=' + self.pki.server_key,
                    '--certificate=' + self.pki.server_cert,
                    '--ca-cert=' + self.pki.ca_cert]
        self.proc = spawn(cmd, self.out)
        # Both sockets: the database's, and the control socket `_listen` talks to.
        wait_for_daemon('ovsdb-server %s' % self.name, self.proc,
                        lambda: os.path.exists(self.sock) and os.path.exists(self.ctl), 10,
                        [self.log, self.out])
        # One remote at a time, so each "listening on port" line in the log is known.
        if self.with_tcp:
            self.tcp_port = self._listen('ptcp')
        if self.pki:
            self.ssl_port = self._listen('pssl')

    def _listen(self, kind):
        before = len(listening_ports(self.log))
        command = ['-t', self.ctl, 'ovsdb-server/add-remote', '%s:0:127.0.0.1' % kind]
        added = subprocess.run(self.ovn.cmd('ovs-appctl') + command, capture_output=True,
                               text=True, timeout=10, check=False)
        if added.returncode != 0:
            raise DaemonError('ovsdb-server %s' % self.name, 'refused the %s remote: %s'
                              % (kind, added.stderr.strip()), [self.log])
        wait_for_daemon('ovsdb-server %s (%s remote)' % (self.name, kind), self.proc,
                        lambda: len(listening_ports(self.log)) > before, 10, [self.log])
        return listening_ports(self.log)[before]

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
    ovsdb-server started and stopped by its own pid.

    RAFT addresses are written into the database files before any member starts, so they
    come from `reserve_ports`; client remotes use port 0. Each start attempt works in its own
    directory; `extra_args` ({member name: [arguments]}) lets a test break one member.
    """

    def __init__(self, workdir, size=3, schema=NB_SCHEMA, extra_args=None):
        self.workdir = str(workdir)
        self.size = size
        self.schema = schema
        self.extra_args = dict(extra_args or {})
        self.members = []
        self.attempts = 0

    @property
    def connection(self):
        """Every member's client remote, comma-separated (what the modules are given)."""
        return ','.join('tcp:127.0.0.1:%d' % m['port'] for m in self.members)

    def start(self):
        return start_with_fresh_ports(self._start_once)

    def _start_once(self):
        self.attempts += 1
        directory = os.path.join(self.workdir, 'attempt-%d' % self.attempts)
        os.makedirs(directory)
        self.members = []
        for index, raft_port in enumerate(reserve_ports(self.size)):
            name = 'nb%d' % (index + 1)

            def path(suffix, name=name):
                return os.path.join(directory, name + suffix)
            self.members.append(dict(
                name=name, db=path('.db'), ctl=path('.ctl'), log=path('.log'), out=path('.out'),
                raft='tcp:127.0.0.1:%d' % raft_port, port=None, proc=None))
        try:
            first = self.members[0]
            subprocess.run(['ovsdb-tool', 'create-cluster', first['db'], self.schema,
                            first['raft']], check=True)
            for member in self.members[1:]:
                subprocess.run(['ovsdb-tool', 'join-cluster', member['db'], 'OVN_Northbound',
                                member['raft'], first['raft']], check=True)
            for member in self.members:
                self._start(member)
            try:
                wait_until(self._formed, 30, 'NB cluster formed')
            except TimeoutError:
                raise DaemonError('NB cluster', 'did not form within 30s',
                                  [m['log'] for m in self.members])
        except BaseException:
            self.stop()
            raise
        return self

    def _formed(self):
        for member in self.members:
            if ADDRESS_IN_USE.lower() in log_tail(member['log'], 200).lower():
                raise DaemonError(member['name'], 'could not listen on %s' % member['raft'],
                                  [member['log']])
        return self.leader() is not None and all(
            'Status: cluster member' in self.status(m) for m in self.members)

    def _start(self, member):
        member['proc'] = spawn(
            ['ovsdb-server', member['db'], '--remote=ptcp:0:127.0.0.1',
             '--unixctl=' + member['ctl'], '--log-file=' + member['log']]
            + self.extra_args.get(member['name'], []), member['out'])
        wait_for_daemon(member['name'], member['proc'],
                        lambda: os.path.exists(member['ctl']) and listening_ports(member['log']),
                        10, [member['log'], member['out']])
        member['port'] = listening_ports(member['log'])[0]

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
