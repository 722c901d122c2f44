"""Fixtures giving each test a real OVN Northbound ovsdb-server and an independent reader."""

import shutil
import subprocess

import pytest

from tests.support.ansible import run_module, run_playbook
from tests.support.daemons import OvsdbServer, Pki

for tool in ('ovsdb-server', 'ovn-nbctl', 'ovsdb-client', 'openssl'):
    if shutil.which(tool) is None:
        raise RuntimeError('%s is not installed: run `make deps` (see README)' % tool)


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp('pki')).create()


@pytest.fixture
def nb(tmp_path, pki):
    """A fresh NB database served on unix, tcp and ssl; stopped by pid afterwards."""
    server = OvsdbServer(tmp_path, tcp=True, pki=pki).start()
    yield Nb(server, pki, tmp_path)
    server.stop()


class Nb:
    """The NB under test, read and seeded through ovn-nbctl / ovsdb-client, not our code."""

    def __init__(self, server, pki, workdir):
        self.server = server
        self.pki = pki
        self.workdir = workdir

    @property
    def connection(self):
        return self.server.unix

    def nbctl(self, *args):
        return subprocess.run(['ovn-nbctl', '--db=' + self.server.unix] + list(args),
                              check=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def nbctl_batch(self, commands):
        """Several ovn-nbctl commands in one call (one transaction)."""
        args = []
        for command in commands:
            args += ['--'] + list(command)
        return self.nbctl(*args[1:]) if args else ''

    def add_ports(self, names, switch='sw0'):
        self.nbctl('--may-exist', 'ls-add', switch)
        self.nbctl_batch([('lsp-add', switch, name) for name in names])

    def dump(self):
        return subprocess.run(['ovsdb-client', 'dump', self.server.unix, 'OVN_Northbound'],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def mirror(self, name):
        """The mirror row as ovn-nbctl sees it, or None."""
        out = subprocess.run(
            ['ovn-nbctl', '--db=' + self.server.unix, '--format=json', '--columns=name,type,'
             'index,filter,sink,external_ids', 'find', 'Mirror', 'name="%s"' % name],
            check=True, capture_output=True, text=True, timeout=60).stdout
        import json
        data = json.loads(out)
        if not data['data']:
            return None
        row = dict(zip(data['headings'], data['data'][0]))
        row['external_ids'] = dict(row['external_ids'][1])
        return row

    def mirror_uuid(self, name):
        return self.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name="%s"' % name)

    def ports_of(self, mirror_name):
        """LSP names whose mirror_rules hold the mirror, read with ovn-nbctl."""
        uuid = self.mirror_uuid(mirror_name)
        if not uuid:
            return []
        out = self.nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                         'mirror_rules{>=}%s' % uuid)
        return sorted(line for line in out.splitlines() if line)

    def run(self, module, args, **options):
        args = dict(args)
        args.setdefault('nb_connection', self.connection)
        return run_module(module, args, self.workdir, **options)

    def play(self, tasks, **options):
        return run_playbook(tasks, self.workdir, **options)
