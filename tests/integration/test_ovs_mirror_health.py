"""ovs_mirror_health: kube-ovn-cni's InitMirror transaction, run verbatim on the lab's OVS
while a remote mirror is active, breaks mirroring and pod set-up; the module reports it and
its repair restores both. The test plays Kube-OVN's part with ovs-vsctl and reads the truth
with ovs-vsctl, tcpdump and ovn-controller's log, independently of the module.

The fast cases (what is never deleted, bad input) run on a bare ovsdb-server."""

import time

import pytest

from lab.ansible import run_collection_playbook, run_playbook, task
from lab.daemons import wait_until
from lab.kube_ovn import INIT_MIRROR, WEB1_IP, bridge_state, copies, undo_kube_ovn_cni
from lab.ovn import SINK_IP

NEW_POD = ('web-2', 'web-2.default', '02:00:00:66:00:12', '10.66.0.12')
# What the node-side python of Kube-OVN's ovs-ovn image has: python3 + python3-openvswitch,
# no ovsdbapp. Debian's /usr/bin/python3 with python3-openvswitch is the same situation.
NODE_PYTHON = '/usr/bin/python3'


def health(lab, workdir, check=False, diff=False, python=None, **args):
    args.setdefault('ovs_connection', lab.ovs_db)
    play = {'vars': {'ansible_python_interpreter': python}} if python else None
    return run_playbook([task('ovs_mirror_health', args)], workdir, check=check, diff=diff,
                        play=play)[0]


def port_uuid(lab, name):
    """The Port row's UUID, read with ovs-vsctl ('' when there is none)."""
    return lab.vsctl('--bare', '--columns=_uuid', 'find', 'Port', 'name=' + name)


def ovn_installed(lab, port):
    return lab.vsctl('--if-exists', 'get', 'Interface', port,
                     'external_ids:ovn-installed').strip('"') == 'true'


def appears_within(seconds, condition):
    """Whether `condition()` holds at some moment within `seconds` (polled, returning as soon
    as it does)."""
    try:
        wait_until(condition, seconds, 'the condition', interval=0.2)
    except TimeoutError:
        return False
    return True


class Scenario:
    """What the phases of one scenario share; `passed` lists the phases that passed."""

    def __init__(self, lab, workdir):
        self.lab, self.workdir = lab, workdir
        self.passed = []


@pytest.fixture(scope='class')
def hm1(lab, tmp_path_factory):
    """A remote mirror hm1 of web-0's traffic, realised and warmed up; afterwards the pod the
    scenario added and what kube-ovn-cni added are removed, and hm1 with them."""
    lab.nbctl('mirror-add', 'hm1', 'gre', '99', 'from-lport', SINK_IP)
    lab.nbctl('lsp-attach-mirror', 'web-0.default', 'hm1')
    try:
        lab.wait_tunnel('hm1')
        lab.wait_mirror_realised('hm1', src=True, dst=False)
        lab.ping('web-0', WEB1_IP, count=2)           # warm-up: tunnel neighbour and flows
        yield Scenario(lab, tmp_path_factory.mktemp('health'))
    finally:
        lab.nbctl('--if-exists', 'lsp-del', NEW_POD[1])
        undo_kube_ovn_cni(lab, 'hm1')


class TestInitMirrorBreaksRemoteMirroringAndRepairRestoresIt:
    """One scenario, a test per phase, in order: a phase runs only after the earlier ones
    passed (else it is skipped, naming them)."""

    @pytest.fixture(autouse=True)
    def in_order(self, request, hm1):
        phases = [name for name in vars(type(self)) if name.startswith('test_')]
        earlier = phases[:phases.index(request.function.__name__)]
        missing = [name for name in earlier if name not in hm1.passed]
        if missing:
            pytest.skip('needs the earlier phase(s) %s, which did not pass' % ', '.join(missing))
        failures = request.session.testsfailed
        yield
        if request.session.testsfailed == failures:
            hm1.passed.append(request.function.__name__)

    def test_a_healthy_node_has_nothing_to_repair(self, hm1):
        hm1.before = copies(hm1.lab)
        assert len(hm1.before) >= 3, hm1.before
        healthy = health(hm1.lab, hm1.workdir, repair=True)
        assert healthy['changed'] is False and healthy['stale_ports'] == [], healthy
        mirror = [m for m in healthy['mirrors'] if m['name'] == 'hm1']
        assert mirror and mirror[0]['ovn_owned'], healthy
        assert mirror[0]['output_port'] == 'ovn-hm1', healthy
        assert mirror[0]['select_src_port'] == ['kmlweb0h'], healthy
        assert 'tx_packets' in mirror[0]['statistics'], healthy

    def test_init_mirror_wipes_the_mirror_and_its_copies(self, hm1):
        """Kube-OVN's part: kube-ovn-cni restarts (e.g. the cni_mirror role rolled it out)."""
        lab = hm1.lab
        log_size = len(open(lab.path('ovn-controller.log')).read())
        lab.vsctl(*INIT_MIRROR)
        assert bridge_state(lab)[1] == ['m0']
        assert 'ovn-hm1' in bridge_state(lab)[0]
        wait_until(lambda: 'constraint violation' in
                   open(lab.path('ovn-controller.log')).read()[log_size:], 15,
                   'ovn-controller failing on the stale port')
        lab.appctl('ovs-vswitchd.ctl', 'revalidator/purge')
        hm1.wiped = copies(lab)
        assert hm1.wiped == [], 'no copies after the wipe: %s' % hm1.wiped

    def test_a_pod_started_after_the_wipe_gets_no_ovn_installed(self, hm1):
        lab = hm1.lab
        name, lsp, mac, ip = NEW_POD
        lab.nbctl('lsp-add', 'ovn-default', lsp, '--', 'lsp-set-addresses', lsp,
                  '%s %s' % (mac, ip))
        hm1.port = lab.add_namespace(name, 'br-int', mac, ip + '/24')
        lab.vsctl('set', 'Interface', hm1.port, 'external_ids:iface-id=' + lsp)
        # Kube-OVN's CNI gives up after 30 s; 8 s is four of its failed retries.
        assert not appears_within(8, lambda: ovn_installed(lab, hm1.port))

    def test_report_only_names_the_stale_port_and_the_waiting_pod(self, hm1):
        lab = hm1.lab
        hm1.state = bridge_state(lab)
        report = health(lab, hm1.workdir, diff=True, python=NODE_PYTHON)
        assert report['changed'] is False and report['removed'] == [], report
        assert [p['name'] for p in report['stale_ports']] == ['ovn-hm1'], report
        stale = report['stale_ports'][0]
        assert stale['remote_ip'] == SINK_IP and stale['key'] == '99', stale
        assert stale['type'] == 'gre', stale
        assert hm1.port in [w['port'] for w in report['ports_waiting']], report
        assert [m['name'] for m in report['mirrors']] == ['m0'], report
        assert report['diff']['before'] == report['diff']['after'], report
        assert bridge_state(lab) == hm1.state

    def test_check_mode_says_what_it_would_delete_and_deletes_nothing(self, hm1):
        dry = health(hm1.lab, hm1.workdir, repair=True, check=True, diff=True)
        assert dry['changed'] is True and dry['removed'] == ['ovn-hm1'], dry
        assert dry['diff'] == {'before': {'stale_ports': ['ovn-hm1']},
                               'after': {'stale_ports': []}}, dry
        assert bridge_state(hm1.lab) == hm1.state

    def test_the_repair_on_a_node_deletes_only_the_stale_port(self, hm1):
        """Run as on a node: only python-ovs."""
        lab, state = hm1.lab, hm1.state
        stale_uuid = port_uuid(lab, 'ovn-hm1')
        assert stale_uuid, 'InitMirror left no ovn-hm1 port to repair'
        hm1.repaired_at = time.monotonic()
        fixed = health(lab, hm1.workdir, repair=True, python=NODE_PYTHON)
        assert fixed['changed'] is True and fixed['removed'] == ['ovn-hm1'], fixed
        # The stale row is gone; ovn-controller may already have made a new ovn-hm1.
        assert port_uuid(lab, 'ovn-hm1') != stale_uuid
        assert set(bridge_state(lab)[0]) - {'ovn-hm1'} == set(state[0]) - {'ovn-hm1'}
        assert 'mirror0' in bridge_state(lab)[0] and 'm0' in bridge_state(lab)[1]

    def test_ovn_controller_then_restores_the_mirror_and_the_new_pod(self, hm1):
        lab, port = hm1.lab, hm1.port
        wait_until(lambda: ovn_installed(lab, port), 15, 'ovn-installed on %s' % port,
                   interval=0.1)
        installed_seconds = time.monotonic() - hm1.repaired_at
        lab.wait_tunnel('hm1')
        lab.wait_mirror_realised('hm1', src=True, dst=False)
        mirror_seconds = time.monotonic() - hm1.repaired_at
        lab.ping('web-0', WEB1_IP, count=2)
        after = copies(lab)
        assert len(after) >= 3, after
        print('copies before %d, after wipe %d, after repair %d; mirror back after %.1f s, '
              'ovn-installed after %.1f s' % (len(hm1.before), len(hm1.wiped), len(after),
                                              mirror_seconds, installed_seconds))

    def test_a_second_repair_has_nothing_to_do(self, hm1):
        again = health(hm1.lab, hm1.workdir, repair=True, diff=True)
        assert again['changed'] is False and again['stale_ports'] == [], again
        assert again['removed'] == [] and not [w for w in again['ports_waiting']
                                               if w['port'] == hm1.port], again
        assert sorted(m['name'] for m in again['mirrors']) == ['hm1', 'm0'], again


def test_repair_playbook_on_the_nodes_of_an_inventory(lab, tmp_path):
    """playbooks/repair.yml with mirror_repair_via=hosts (here the lab machine is the node)."""
    lab.nbctl('mirror-add', 'hm2', 'gre', '98', 'to-lport', SINK_IP)
    lab.nbctl('lsp-attach-mirror', 'web-1.default', 'hm2')
    try:
        lab.wait_tunnel('hm2')
        lab.wait_mirror_realised('hm2', src=False, dst=True)
        lab.vsctl(*INIT_MIRROR)
        assert 'hm2' not in bridge_state(lab)[1] and 'ovn-hm2' in bridge_state(lab)[0]
        extra = {'mirror_repair_via': 'hosts', 'mirror_repair_hosts': ['localhost'],
                 'mirror_repair_ovs_connection': lab.ovs_db,
                 'ansible_python_interpreter': NODE_PYTHON}
        state = bridge_state(lab)
        dry = run_collection_playbook('playbooks/repair.yml', extra_vars=extra, check=True,
                                      diff=True)
        assert dry.rc == 0 and not dry.failures, (dry.failures, dry.stderr[-2000:])
        checked = dry.result('Check, and repair, the mirrors on each node')['results'][0]
        assert checked['removed'] == ['ovn-hm2'] and bridge_state(lab) == state, checked
        run = run_collection_playbook('playbooks/repair.yml', extra_vars=extra)
        assert run.rc == 0 and not run.failures, (run.failures, run.stderr[-2000:])
        result = run.result('Check, and repair, the mirrors on each node')['results'][0]
        assert result['changed'] is True and result['removed'] == ['ovn-hm2'], result
        lab.wait_tunnel('hm2')
        lab.wait_mirror_realised('hm2', src=False, dst=True)
        again = run_collection_playbook('playbooks/repair.yml', extra_vars=extra)
        assert again.rc == 0 and again.changed == 0, again.tasks
    finally:
        undo_kube_ovn_cni(lab, 'hm2')


@pytest.fixture
def ovs(ovs_node):
    return ovs_node('ovs_mirror_health')


def test_only_orphaned_ovn_mirror_ports_are_deleted(ovs):
    add = ovs.vsctl
    # A chassis tunnel (gre encap), a user's gre port, a live OVN mirror, an orphan.
    add('add-port', 'br-int', 'ovn-lab2-0', '--', 'set', 'Interface', 'ovn-lab2-0', 'type=gre',
        'options:remote_ip=10.0.0.2', '--', 'set', 'Port', 'ovn-lab2-0',
        'external_ids:ovn-chassis-id=lab2@10.0.0.2')
    add('add-port', 'br-int', 'gre-user', '--', 'set', 'Interface', 'gre-user', 'type=gre',
        'options:remote_ip=10.0.0.3')
    add('add-port', 'br-int', 'ovn-geneve', '--', 'set', 'Interface', 'ovn-geneve',
        'type=geneve', 'options:remote_ip=10.0.0.4')
    for name in ('ovn-live', 'ovn-gone'):
        add('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=erspan',
            'options:remote_ip=10.0.0.9', 'options:key=7')
    add('--', '--id=@p', 'get', 'Port', 'ovn-live', '--', '--id=@m', 'create', 'Mirror',
        'name=live', 'output_port=@p', 'external_ids:ovn-owned=true', '--', 'add', 'Bridge',
        'br-int', 'mirrors', '@m')
    report = ovs.run({'repair': True}, diff=True)
    assert report['changed'] is True and report['removed'] == ['ovn-gone'], report
    assert report['stale_ports'] == [{'name': 'ovn-gone', 'mirror': 'gone', 'type': 'erspan',
                                      'remote_ip': '10.0.0.9', 'key': '7'}], report
    assert sorted(ovs.vsctl('list-ports', 'br-int').split()) == [
        'gre-user', 'ovn-geneve', 'ovn-lab2-0', 'ovn-live']
    before = ovs.dump()
    again = ovs.run({'repair': True})
    assert again['changed'] is False and again['removed'] == [] and ovs.dump() == before


@pytest.mark.parametrize('args, message', [
    ({'bridge': 'br-nope'}, "bridge 'br-nope' does not exist"),
    ({'bridge': ''}, 'bridge name must not be empty'),
    ({'bridge': 'br\x01int'}, 'control character'),
    ({'timeout': 0}, 'timeout 0.0 must be more than 0'),
    ({'ovs_connection': 'db.sock'}, "remote 'db.sock' is not of the form"),
    ({'ovs_connection': 'unix:/nonexistent/db.sock'}, 'cannot connect'),
])
def test_bad_input_fails_clearly_and_writes_nothing(ovs, args, message):
    before = ovs.dump()
    result = ovs.run(dict({'repair': True}, **args))
    assert result.get('failed') and message in result['msg'], result
    assert ovs.dump() == before


def repaired_twice(ovs, meanwhile):
    """ovs_mirror_health's repair through module_utils, `meanwhile()` (another client's
    change) run after its first write is planned, before the commit: (the writes planned,
    the report)."""
    from ansible_collections.kubeovn.mirror.plugins.module_utils import ovs_health
    writes = []
    planner = ovs_health.plan_health('br-int', repair=True)

    def planning(session):
        report, write = planner(session)

        def writing(txn):
            writes.append(write(txn))
            if len(writes) == 1:
                meanwhile()
            return writes[-1]
        return report, writing if write is not None else None
    with ovs_health.OvsHealthSession(ovs.server.unix, 10, wait=False) as session:
        return writes, session.run(planning)


def two_erspan_ports_one_a_mirror_output(ovs):
    for name in ('ovn-live', 'ovn-gone'):
        ovs.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=erspan',
                  'options:remote_ip=10.0.0.9', 'options:key=7')
    ovs.vsctl('--', '--id=@p', 'get', 'Port', 'ovn-live', '--', '--id=@m', 'create', 'Mirror',
              'name=live', 'output_port=@p', 'external_ids:ovn-owned=true', '--', 'add',
              'Bridge', 'br-int', 'mirrors', '@m')


def test_a_stale_port_made_a_mirror_output_before_the_repair_commits_is_kept(ovs, write_path):
    """The repair writes the bridge, not the mirrors: the check that each mirror's
    output_port is as read is a `wait` operation (or, without add_op, the mirror written
    back as read). Without it the port would be deleted and the mirror lose its output."""
    two_erspan_ports_one_a_mirror_output(ovs)
    writes, report = repaired_twice(ovs, lambda: ovs.vsctl(
        '--', '--id=@p', 'get', 'Port', 'ovn-gone', '--', 'set', 'Mirror', 'live',
        'output_port=@p'))
    assert [write['removed'] for write in writes] == [['ovn-gone'], ['ovn-live']], writes
    assert report['removed'] == ['ovn-live'], report
    assert ovs.vsctl('list-ports', 'br-int').split() == ['ovn-gone']
    assert ovs.vsctl('get', 'Port', ovs.vsctl('get', 'Mirror', 'live', 'output_port'),
                     'name') == 'ovn-gone'


def test_a_mirror_output_port_deleted_before_the_repair_commits_is_noticed(ovs, write_path):
    """Someone deletes the live mirror's output port meanwhile: the bridge's ports changed,
    the server refuses the repair and it plans again (then both ports are gone)."""
    two_erspan_ports_one_a_mirror_output(ovs)
    writes, report = repaired_twice(ovs, lambda: ovs.vsctl('del-port', 'br-int', 'ovn-live'))
    assert [write['removed'] for write in writes] == [['ovn-gone'], ['ovn-gone']], writes
    assert report['removed'] == ['ovn-gone'], report
    assert ovs.vsctl('list-ports', 'br-int') == ''
    assert ovs.get('live', 'output_port') == ''
