"""The harness itself (lab/): ports that cannot collide, and set-ups that fail leave nothing
running. Each test reads the truth from /proc: no process whose command line names the
test's own directory may outlive a failed start."""

import os
import socket
import subprocess

import pytest

import lab.daemons
from lab.daemons import DaemonError, NbCluster, OvsdbServer, reserve_ports


def processes_naming(directory):
    """pid -> command line of every live process whose arguments mention `directory`."""
    found = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read().replace(b'\0', b' ').decode(errors='replace')
            with open('/proc/%s/stat' % pid) as handle:
                zombie = handle.read().rsplit(')', 1)[1].split()[0] == 'Z'
        except OSError:
            continue
        if str(directory) in cmdline and not zombie:
            found[int(pid)] = cmdline
    return found


@pytest.fixture
def taken_port():
    """A port some other process holds (a listening socket of this test)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        yield sock.getsockname()[1]


def first_reservation_includes(monkeypatch, port, module=lab.daemons):
    """The next reserve_ports() call hands out `port` first; later calls are the real thing."""
    real = lab.daemons.reserve_ports
    calls = []

    def reserve(count):
        calls.append(count)
        ports = real(count)
        return [port] + ports[1:] if len(calls) == 1 else ports
    monkeypatch.setattr(module, 'reserve_ports', reserve)
    return calls


def test_one_reservation_never_hands_out_a_port_twice():
    for dummy in range(20):
        ports = reserve_ports(12)
        assert len(set(ports)) == 12, ports


def test_tcp_and_ssl_remotes_are_ports_the_server_chose(tmp_path, pki):
    with OvsdbServer(tmp_path, tcp=True, pki=pki) as server:
        assert server.tcp_port != server.ssl_port
        for port in (server.tcp_port, server.ssl_port):
            with socket.create_connection(('127.0.0.1', port), timeout=5):
                pass
    assert processes_naming(tmp_path) == {}


def test_an_ovsdb_server_that_cannot_start_names_itself_and_shows_its_log(tmp_path):
    broken = tmp_path / 'broken.db'
    broken.write_text('not a database\n')
    with pytest.raises(DaemonError) as failure:
        OvsdbServer(tmp_path, db_file=str(broken)).start()
    message = str(failure.value)
    assert message.startswith('ovsdb-server nb exited'), message
    assert '--- last lines of' in message and 'broken.db' in message, message
    assert processes_naming(tmp_path) == {}


def test_a_cluster_member_that_cannot_start_stops_the_others(tmp_path):
    cluster = NbCluster(tmp_path, extra_args={'nb3': ['--no-such-option']})
    with pytest.raises(DaemonError) as failure:
        cluster.start()
    message = str(failure.value)
    assert message.startswith('nb3 exited'), message
    assert 'no-such-option' in message, message
    started = [m for m in cluster.members if m['proc'] is not None]
    assert [m['name'] for m in started] == ['nb1', 'nb2', 'nb3']
    assert all(m['proc'].poll() is not None for m in started)
    assert processes_naming(tmp_path) == {}


def test_a_raft_port_taken_meanwhile_starts_the_cluster_again_on_new_ports(
        tmp_path, monkeypatch, taken_port):
    calls = first_reservation_includes(monkeypatch, taken_port)
    with NbCluster(tmp_path) as cluster:
        assert cluster.attempts == 2 and calls == [3, 3]
        assert cluster.leader() is not None
        rafts = [m['raft'] for m in cluster.members]
        assert 'tcp:127.0.0.1:%d' % taken_port not in rafts
        assert len(set(rafts + [cluster.connection])) == 4
        first_log = tmp_path / 'attempt-1' / 'nb1.log'
        assert 'Address already in use' in first_log.read_text()
    assert processes_naming(tmp_path) == {}


def test_a_cluster_that_keeps_losing_its_port_gives_up_after_bounded_attempts(
        tmp_path, monkeypatch, taken_port):
    real = lab.daemons.reserve_ports
    monkeypatch.setattr(lab.daemons, 'reserve_ports',
                        lambda count: [taken_port] + real(count)[1:])
    cluster = NbCluster(tmp_path)
    with pytest.raises(DaemonError) as failure:
        cluster.start()
    assert cluster.attempts == lab.daemons.PORT_ATTEMPTS
    assert 'nb1 could not listen on tcp:127.0.0.1:%d' % taken_port in str(failure.value)
    assert processes_naming(tmp_path) == {}


def test_the_lab_stops_the_daemons_it_had_started_when_a_later_one_fails(
        tmp_path, monkeypatch):
    import lab.ovn
    import lab.ovn_versions

    class MissingSbSchema(lab.ovn_versions.Ovn):
        sb_schema = str(tmp_path / 'missing.ovsschema')
    monkeypatch.setattr(lab.ovn, 'ovn', MissingSbSchema)
    rundir = tmp_path / 'run'
    with pytest.raises(subprocess.CalledProcessError):   # ovsdb-tool create, for the SB
        lab.ovn.Lab(rundir).up()   # ovsdb-server, ovs-vswitchd and the NB were running
    assert processes_naming(tmp_path) == {}
    assert not any(name.startswith(lab.ovn.PREFIX + '-') for name in
                   lab.ovn.run('ip', 'netns', 'list', check=False).split())
    assert not rundir.exists()


def test_a_lab_left_running_elsewhere_is_stopped_by_the_next_lab(tmp_path):
    """A killed test run or a forgotten `make lab-up` leaves daemons holding br-phy and the
    underlay address; the next lab (another run directory) must still come up."""
    import lab.ovn
    forgotten = lab.ovn.Lab(tmp_path / 'old' / 'run').up()
    forgotten.procs = {}            # as if its owner had died without calling down()
    assert processes_naming(tmp_path / 'old')
    fresh = lab.ovn.Lab(tmp_path / 'new' / 'run')
    try:
        fresh.up()
        assert processes_naming(tmp_path / 'old') == {}
        assert lab.ovn.UNDERLAY_IP in lab.ovn.run('ip', '-br', 'addr', 'show', 'br-phy')
    finally:
        fresh.down()
    assert processes_naming(tmp_path) == {}
    links = lab.ovn.run('ip', '-br', 'link').split()
    assert [tap for tap in lab.ovn.LAB_TAPS if tap in links] == []


@pytest.mark.kube
def test_a_kube_apiserver_that_cannot_start_stops_etcd_and_shows_its_log(tmp_path):
    from lab.kube import ControlPlane
    plane = ControlPlane(tmp_path, extra_apiserver_args=['--no-such-flag'])
    with pytest.raises(DaemonError) as failure:
        plane.start()
    message = str(failure.value)
    assert message.startswith('kube-apiserver exited'), message
    assert 'no-such-flag' in message, message
    assert processes_naming(tmp_path) == {}


@pytest.mark.kube
def test_an_apiserver_port_taken_meanwhile_starts_the_control_plane_again(
        tmp_path, monkeypatch, taken_port):
    import lab.kube
    calls = first_reservation_includes(monkeypatch, taken_port, module=lab.kube)
    plane = lab.kube.ControlPlane(tmp_path)
    try:
        # The first reservation gives etcd's client port away: etcd cannot bind it.
        plane.start()
        assert calls == [3, 3]
        assert str(taken_port) not in plane.server
        assert plane.ready()
    finally:
        plane.stop()
    assert processes_naming(tmp_path) == {}
