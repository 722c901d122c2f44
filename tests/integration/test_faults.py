"""The OVN modules when the database fails: a clustered NB losing its leader mid-run, a
server stopped mid-run, a port or the mirror deleted by someone else between plan and commit.

In every case the database holds all or none of the run's transaction. (NB unreachable
before the run, a server that never answers, and an untrusted CA are in test_ovn_mirror.py.)
"""

import os
import subprocess
import threading
import time

import pytest

from lab.ansible import run_module
from lab.daemons import NbCluster, OvsdbServer, wait_until

PORTS = ['pod-%03d.load' % index for index in range(200)]
# When the leader is killed, as a fraction of the module process's lifetime measured on an
# undisturbed run just before: from while it imports and connects to when it commits.
KILL_POINTS = [0.5, 0.7, 0.85, 0.95, 1.0]
MODULE_PROCESS = b'AnsiballZ_ovn_lsp_mirror'


def module_tmp(workdir):
    """Ansible's remote tmp for this test's runs: the module's command line then names the
    test's own directory, so other ansible runs on the machine are not mistaken for it."""
    return os.path.join(str(workdir), 'ansible-tmp')


def module_running(workdir):
    """Whether this test's module process (Ansible's AnsiballZ wrapper) runs now."""
    mine = module_tmp(workdir).encode()
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            if MODULE_PROCESS in cmdline and mine in cmdline:
                return True
    return False


def wait_for_module_process(workdir, timeout=30):
    wait_until(lambda: module_running(workdir), timeout, 'the module process', interval=0.005)


def run_lsp_mirror(args, workdir):
    return run_module('ovn_lsp_mirror', args, workdir,
                      env={'ANSIBLE_REMOTE_TMP': module_tmp(workdir)})


def module_lifetime(connection, workdir):
    """Seconds the module process lives for a 200-port request that changes nothing."""
    thread = threading.Thread(target=lambda: run_lsp_mirror(
        dict(mirror='mirror1', ports=PORTS, state='absent', nb_connection=connection), workdir))
    thread.start()
    wait_for_module_process(workdir)
    started = time.monotonic()
    wait_until(lambda: not module_running(workdir), 30, 'the module to finish', interval=0.005)
    thread.join(30)
    return time.monotonic() - started


def nbctl(connection, *args):
    return subprocess.run(['ovn-nbctl', '--db=' + connection, '--timeout=30'] + list(args),
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def seed(connection):
    commands = ['ls-add', 'sw0']
    for port in PORTS:
        commands += ['--', 'lsp-add', 'sw0', port]
    commands += ['--', 'mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21']
    nbctl(connection, *commands)


def attached(connection):
    uuid = nbctl(connection, '--bare', '--columns=_uuid', 'find', 'Mirror', 'name=mirror1')
    return len(nbctl(connection, '--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                     'mirror_rules{>=}' + uuid).split())


def attach_in_background(connection, workdir, timeout=20):
    """ansible-playbook attaching all PORTS, in a thread; the result lands in box[0]."""
    box = []
    thread = threading.Thread(target=lambda: box.append(run_lsp_mirror(
        dict(mirror='mirror1', ports=PORTS, nb_connection=connection, timeout=timeout),
        workdir)))
    thread.start()
    return thread, box


@pytest.mark.parametrize('point', KILL_POINTS)
def test_leader_killed_during_a_200_port_run_gives_all_or_none(tmp_path, point):
    with NbCluster(tmp_path) as cluster:
        seed(cluster.connection)
        assert attached(cluster.connection) == 0
        lifetime = module_lifetime(cluster.connection, tmp_path)
        delay = point * lifetime
        leader = cluster.leader()
        thread, box = attach_in_background(cluster.connection, tmp_path)
        wait_for_module_process(tmp_path)
        started = time.monotonic()
        time.sleep(delay)
        cluster.kill(leader)
        killed_at = time.monotonic() - started
        thread.join(90)
        assert box, 'the run did not finish'
        result = box[0]
        wait_until(lambda: cluster.leader() is not None, 30, 'a new leader')
        count = attached(cluster.connection)
        outcome = 'failed: %s' % result.get('msg') if result.get('failed') else \
            'succeeded (changed=%s)' % result.get('changed')
        print('leader %s killed %.2f s into the module (lives %.2f s); run %s; new leader %s; %d of 200 attached'
              % (leader['name'], killed_at, lifetime, outcome, cluster.leader()['name'], count))
        assert count in (0, 200), count
        if result.get('failed'):
            assert result['msg'] and 'Traceback' not in result['msg'], result
        else:
            assert count == 200 and sorted(result['ports']) == sorted(PORTS), result


@pytest.mark.parametrize('point', [0.6, 0.9])
def test_server_stopped_mid_run_fails_clearly_and_writes_all_or_nothing(tmp_path, point):
    server = OvsdbServer(tmp_path, tcp=True).start()
    remote = server.tcp
    try:
        seed(server.unix)
        delay = point * module_lifetime(server.tcp, tmp_path)
        thread, box = attach_in_background(server.tcp, tmp_path, timeout=5)
        wait_for_module_process(tmp_path)
        started = time.monotonic()
        time.sleep(delay)
        server.proc.kill()
        thread.join(60)
        took = time.monotonic() - started
    finally:
        server.stop()
    result = box[0]
    server = OvsdbServer(tmp_path, tcp=True, db_file=server.db).start()
    try:
        count = attached(server.unix)
    finally:
        server.stop()
    print('server killed %.2f s into the module; run %s %.1f s later; %d of 200 attached'
          % (delay, 'failed: %s' % result.get('msg') if result.get('failed') else 'succeeded',
             took, count))
    assert count in (0, 200)
    if result.get('failed'):
        assert 'module_stdout' not in result, result
        assert remote.split(':')[-1] in result['msg'] or 'timeout' in result['msg'] \
            or 'connect' in result['msg'], result['msg']
    assert took < 60


# How attachments reach the server (ovn_attachments.attachment_commands): raw operations
# or through the IDL, as the write_path fixture (conftest.py) chooses.


def _open_nb_session(nb):
    from ansible_collections.kubeovn.mirror.plugins.module_utils import (
        ovn_nb, ovsdb, ovsdb_remotes)
    from ovsdbapp.schema.ovn_northbound import impl_idl
    return ovsdb.open_session(
        impl_idl.OvnNbApiIdlImpl, 'OVN_Northbound',
        ovsdb_remotes.ConnectionSettings(nb.connection, 10),
        [ovsdb.TableView('Mirror', ovn_nb.MIRROR_COLUMNS),
         ovsdb.TableView('Logical_Switch_Port', ovn_nb.LSP_COLUMNS)])


def _plan_then(planner, meanwhile):
    """`planner`, and `meanwhile` run by someone else after its first plan, before its
    commit reaches the server. Returns the planner and the list of its plans."""
    plans = []

    def planning(api):
        plans.append('planning')
        outcome = planner(api)
        plans[-1] = outcome[0]
        if len(plans) == 1:
            meanwhile()
        return outcome
    return planning, plans


def test_port_deleted_between_plan_and_commit_is_replanned(nb, write_path):
    """ovsdbapp re-runs a transaction the server refuses as stale (TRY_AGAIN); our planner
    runs inside it, so the retry plans again from fresh rows and sees the port is gone."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovn_attachments, ovsdb
    nb.add_ports(['web-0.default', 'web-1.default'])
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')
    names = ['web-0.default', 'web-1.default']
    planner, plans = _plan_then(
        ovn_attachments.plan_lsp_attachments('mirror1', names, 'present', False),
        lambda: nb.nbctl('lsp-del', 'web-1.default'))
    before = nb.dump()
    with _open_nb_session(nb) as session:
        with pytest.raises(LookupError) as error:
            ovsdb.run_planned(session.api, planner)
    # Planned twice: the first plan's commit was refused, the second saw the port gone.
    assert len(plans) == 2 and plans[0]['attached'] == names and plans[1] == 'planning', plans
    assert "logical switch port 'web-1.default'" in str(error.value)
    assert nb.ports_of('mirror1') == []     # web-0 not attached either: all or nothing
    assert 'web-1.default' in before and 'web-1.default' not in nb.dump()


def test_mirror_deleted_between_plan_and_commit_is_replanned(nb):
    """The raw operations check the mirror too (python-ovs sends no check for a row it
    does not write, so before 3.4 only the second transaction after the commit notices
    this)."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovn_attachments, ovsdb
    nb.add_ports(['web-0.default'])
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')
    planner, plans = _plan_then(
        ovn_attachments.plan_lsp_attachments('mirror1', ['web-0.default'], 'present', False),
        lambda: nb.nbctl('mirror-del', 'mirror1'))
    with _open_nb_session(nb) as session:
        with pytest.raises(LookupError) as error:
            ovsdb.run_planned(session.api, planner)
    assert len(plans) == 2 and plans[1] == 'planning', plans
    assert "mirror 'mirror1'" in str(error.value)
    assert 'mirror1' not in nb.dump()


def test_both_write_paths_attach_and_detach_only_this_mirror(nb, write_path):
    """Attaching and detaching (exclusive) leave the port's other mirror alone, by either
    path; the IDL path is also what a mirror created in the same transaction takes."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovn_attachments, ovsdb
    nb.add_ports(['web-0.default', 'web-1.default', 'db-0.shop'])
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')
    nb.nbctl('mirror-add', 'other', 'gre', '98', 'to-lport', '172.19.0.22')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'mirror1')
    nb.nbctl('lsp-attach-mirror', 'web-1.default', 'other')
    nb.nbctl('lsp-attach-mirror', 'web-0.default', 'other')
    with _open_nb_session(nb) as session:
        outcome = ovsdb.run_planned(session.api, ovn_attachments.plan_lsp_attachments(
            'mirror1', ['web-0.default', 'db-0.shop'], 'present', True))
    assert outcome['attached'] == ['web-0.default', 'db-0.shop'], outcome
    assert outcome['detached'] == ['web-1.default'], outcome
    assert nb.ports_of('mirror1') == ['db-0.shop', 'web-0.default']
    assert nb.ports_of('other') == ['web-0.default', 'web-1.default']


@pytest.mark.parametrize('exclusive', [True, False], ids=['exclusive', 'additive'])
def test_a_port_attached_by_someone_else_after_the_read_is_counted(nb, exclusive):
    """The read before a commit monitors only the ports asked for and those having a mirror
    (ovn_nb.open_nb). A port someone attaches after it is invisible to the plan; the
    second transaction after the commit finds it: reported, and detached when the mirror is
    exclusive."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovn_attachments, ovn_nb
    nb.add_ports(['web-0.default', 'web-1.default', 'db-0.shop'])
    nb.nbctl('mirror-add', 'mirror1', 'gre', '99', 'from-lport', '172.19.0.21')
    params = dict(nb_connection=nb.connection, timeout=10, ssl_key=None, ssl_cert=None,
                  ssl_ca_cert=None, kubeconfig=None, context=None)
    session = ovn_nb.open_nb(params, lsp_names=['web-0.default'])
    with session:
        nb.nbctl('lsp-attach-mirror', 'db-0.shop', 'mirror1')
        outcome = session.run(ovn_attachments.plan_lsp_attachments(
            'mirror1', ['web-0.default'], 'present', exclusive))
        # The plan could not see db-0 ...
        assert outcome['after']['ports'] == ['web-0.default'], outcome
        assert nb.ports_of('mirror1') == ['db-0.shop', 'web-0.default']
        # ... the second transaction does.
        final, extra = ovn_attachments.reread_and_trim_attachments(
            session, {'mirror1': outcome['after']['ports']},
            ['mirror1'] if exclusive else [])
    if exclusive:
        assert extra == {'mirror1': ['db-0.shop']} and final == {'mirror1': ['web-0.default']}
        assert nb.ports_of('mirror1') == ['web-0.default']
    else:
        assert extra == {} and final == {'mirror1': ['db-0.shop', 'web-0.default']}
        assert nb.ports_of('mirror1') == ['db-0.shop', 'web-0.default']
