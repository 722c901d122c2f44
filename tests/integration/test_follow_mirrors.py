"""Mirrors that follow the cluster: the event source kubeovn.mirror.pod_events against the real
kube-apiserver, and the rulebook kubeovn.mirror.follow_mirrors run by ansible-rulebook with the
declared mirrors on a real NB.

The test plays Kube-OVN's controller (lab/standin.py, as on the real node): a scheduled pod
gets its LSP in the NB, then the `ovn.kubernetes.io/allocated` annotation; a deleted pod's LSP
goes. The NB is read back with ovn-nbctl."""

import time

import pytest

from lab.daemons import wait_until
from lab.eda import Following, Rulebook, Sourcing, write_inventory
from lab.standin import LAB_SWITCH, ClusterStandIn

# serial: the rulebook's lag and its Java process are timed against bounds.
pytestmark = [pytest.mark.kube, pytest.mark.serial]

SINK = '172.19.0.21'
NODE = 'follow-node'


def make_pod(kube, namespace, name, labels, node=None, annotations=None):
    spec = {'containers': [{'name': 'c', 'image': 'docker.io/library/busybox'}],
            'automountServiceAccountToken': False}
    if node:
        spec['nodeName'] = node       # as the scheduler binds it; no kubelet runs it here
    kube.core.create_namespaced_pod(namespace, {
        'metadata': {'name': name, 'labels': labels, 'annotations': annotations or {}},
        'spec': spec})


def test_source_emits_only_what_can_change_a_mirror(kube, namespace):
    follow = Following(kube.kubeconfig, [{'namespace': namespace, 'label_selectors': ['app=web']}],
                       cni_namespace=namespace).start()
    try:
        make_pod(kube, namespace, 'web-a', {'app': 'web'}, node=NODE)
        make_pod(kube, namespace, 'db-a', {'app': 'db'}, node=NODE)      # not selected
        added = follow.wait_for(name='web-a', change='added')
        assert added == dict(type='pod', change='added', selector=0, namespace=namespace,
                             name='web-a', lsp='web-a.%s' % namespace, labels={'app': 'web'},
                             node=NODE, ready=False, addressed=False)
        # An annotation no mirror depends on is no event; Kube-OVN's `allocated` is.
        kube.core.patch_namespaced_pod('web-a', namespace,
                                       {'metadata': {'annotations': {'note': 'x'}}})
        kube.core.patch_namespaced_pod('web-a', namespace, {'metadata': {'annotations': {
            'ovn.kubernetes.io/allocated': 'true'}}})
        follow.wait_for(name='web-a', change='changed', addressed=True)
        kube.core.patch_namespaced_pod_status('web-a', namespace, {'status': {
            'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}]}})
        follow.wait_for(name='web-a', ready=True)
        # a label change that leaves the selector is a deletion for this selector
        kube.core.patch_namespaced_pod('web-a', namespace,
                                       {'metadata': {'labels': {'app': 'other'}}})
        follow.wait_for(name='web-a', change='deleted')
        assert follow.changes('web-a') == [('added', False, False), ('changed', True, False),
                                           ('changed', True, True), ('deleted', False, False)]
        assert follow.changes('db-a') == []

        # a kube-ovn-cni pod: events only when it becomes ready (or not), or goes
        # (in the test's namespace, as its kube-system: cni_namespace)
        cni = 'kube-ovn-cni-x7k2p'
        make_pod(kube, namespace, cni, {'app': 'kube-ovn-cni'}, node=NODE)
        kube.core.patch_namespaced_pod_status(cni, namespace, {'status': {
            'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}]}})
        assert follow.wait_for(type='cni', change='ready') == dict(
            type='cni', change='ready', namespace=namespace, name=cni, node=NODE)
        kube.core.delete_namespaced_pod(cni, namespace, grace_period_seconds=0)
        follow.wait_for(type='cni', change='deleted')
        assert [e['change'] for e in follow.events if e['type'] == 'cni'] == ['ready', 'deleted']
    finally:
        follow.close()


ALLOCATED = {'ovn.kubernetes.io/allocated': 'true'}


def test_source_converges_a_lone_change_at_once_and_a_burst_in_few(kube, namespace):
    """main()'s converge events: a lone addressed pod's right after its pod event (no
    window to wait for), then 30 pods created in a burst covered by few, none left out."""
    source = Sourcing(kube.kubeconfig, [{'namespace': namespace, 'label_selectors': ['app=web']}],
                      coalesce_quiet=1, coalesce_max_hold=4).start()
    try:
        make_pod(kube, namespace, 'lone', {'app': 'web'}, node=NODE, annotations=ALLOCATED)
        make_pod(kube, namespace, 'db', {'app': 'db'}, node=NODE, annotations=ALLOCATED)
        wait_until(lambda: source.of_type('converge'), 30, 'a converge event', interval=0.05)
        (changed_at, changed), = source.of_type('pod')
        (converge_at, converge), = source.of_type('converge')
        assert changed['name'] == 'lone' and changed['addressed']
        assert converge == dict(type='converge', edge='leading', count=1, selectors=[0],
                                pods=['%s/lone' % namespace])
        assert converge_at - changed_at < 0.5, converge_at - changed_at

        time.sleep(1.5)         # quiet: the burst's first change converges at once
        names = ['burst-%02d' % index for index in range(30)]
        for name in names:
            make_pod(kube, namespace, name, {'app': 'web'}, node=NODE, annotations=ALLOCATED)
        burst = ['%s/%s' % (namespace, name) for name in names]

        def covered():
            return sorted(pod for dummy, event in source.of_type('converge')[1:]
                          for pod in event['pods'])
        wait_until(lambda: covered() == burst, 30, 'converge events covering the burst',
                   interval=0.1)
        converges = [event for dummy, event in source.of_type('converge')[1:]]
        print('30 pods: %d converge events %r' % (
            len(converges), [(event['edge'], event['count']) for event in converges]))
        assert converges[0]['edge'] == 'leading' and len(converges) <= 3, converges
        assert all(event['edge'] == 'trailing' for event in converges[1:])
        time.sleep(1.5)         # nothing more comes
        assert len(source.of_type('converge')) == 1 + len(converges)
        assert len(source.of_type('resync')) == 1
    finally:
        source.close()


@pytest.fixture(scope='module')
def compacting(tmp_path_factory):
    """A control plane of its own whose etcd history is compacted every second and read
    without the watch cache: a watch resuming from an old resourceVersion gets 410 Gone, as
    one does on any cluster after a compaction (every 5 minutes by default)."""
    from lab.kube import ControlPlane
    from kubernetes import client, config
    plane = ControlPlane(tmp_path_factory.mktemp('kube-compacting'), extra_apiserver_args=[
        '--watch-cache=false', '--etcd-compaction-interval=1s']).start()
    try:
        plane.core = client.CoreV1Api(config.new_client_from_config(plane.kubeconfig))
        plane.core.create_namespaced_service_account('default',
                                                     {'metadata': {'name': 'default'}})
        yield plane
    finally:
        plane.stop()


def compacted(core, version):
    """Whether a watch from `version` gets 410 Gone now."""
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException
    try:
        for dummy in watch.Watch().stream(core.list_namespaced_pod, 'default',
                                          resource_version=version, timeout_seconds=1):
            pass
    except ApiException as exc:
        return exc.status == 410
    return False


def test_source_lists_again_after_410_gone_and_loses_nothing(compacting):
    core = compacting.core
    follow = Following(compacting.kubeconfig, [{'namespace': 'default'}], cni=False)
    follower = follow.followers[0]
    make_pod(compacting, 'default', 'before', {'app': 'web'})
    follower._list()                        # the first list, as run() starts with
    listed_at = follower.version
    make_pod(compacting, 'default', 'meanwhile', {'app': 'web'})
    core.delete_namespaced_pod('before', 'default', grace_period_seconds=0)
    wait_until(lambda: compacted(core, listed_at), 60, 'resourceVersion %s compacted'
               % listed_at, interval=0.5)
    follow.start(listed=False)              # its watch resumes from the compacted version
    try:
        follow.wait_for(name='meanwhile', change='added')
        follow.wait_for(name='before', change='deleted')
        assert follower.relists == 1 and follower.reconnects == 0
        make_pod(compacting, 'default', 'after', {'app': 'web'})     # and the watch goes on
        follow.wait_for(name='after', change='added')
        assert [(e['name'], e['change']) for e in follow.events] == [
            ('before', 'deleted'), ('meanwhile', 'added'), ('after', 'added')]
    finally:
        follow.close()
        for name in ('meanwhile', 'after'):
            core.delete_namespaced_pod(name, 'default', grace_period_seconds=0)


@pytest.mark.parametrize('variables, message', [
    ({}, 'pod_events: selectors is undefined: set the rulebook variable'),
    ({'follow_mirrors_selectors': [{'label_selectors': ['app in ()']}]},
     "selectors[0]: label selector 'app in ()': in () needs at least one value"),
    ({'follow_mirrors_selectors': [{'namespace': 'default'}],
      'follow_mirrors_resync_interval': 'often'},
     "resync_interval must be a number of seconds >= 0, got 'often'"),
])
def test_bad_rulebook_variables_fail_at_start(tmp_path, kube, variables, message):
    inventory = write_inventory(tmp_path, {'kubeovn_mirrors': []})
    rulebook = Rulebook(tmp_path, inventory, dict(variables,
                                                  follow_mirrors_kubeconfig=kube.kubeconfig))
    try:
        status = rulebook.wait(120)
    finally:
        left = rulebook.stop()
    assert status != 0 and message in rulebook.output(), rulebook.output()
    assert rulebook.runs() == 0 and left == []


class Followed:
    """The rulebook's scenario: mirror follow1 declared in an inventory over the pods labelled
    app=follow, the NB's pod switch, the stand-in playing Kube-OVN's controller and
    ansible-rulebook running kubeovn.mirror.follow_mirrors; stop() stops the last two."""

    NAMESPACE = 'default'

    def __init__(self, workdir, kube, nb):
        self.kube, self.nb = kube, nb
        nb.nbctl('ls-add', LAB_SWITCH)
        mirror = dict(name='follow1', type='gre', index=7, filter='from-lport', sink=SINK,
                      selectors=[{'namespace': self.NAMESPACE, 'label_selectors': ['app=follow']}])
        inventory = write_inventory(workdir, {'mirrors_nb_connection': nb.connection,
                                              'mirrors_kubeconfig': kube.kubeconfig,
                                              'kubeovn_mirrors': [mirror]})
        self.standin = ClusterStandIn(kube.kubeconfig, node=nb, interval=0.2).start()
        self.rulebook = Rulebook(workdir, inventory, {
            'follow_mirrors_selectors': mirror['selectors'],
            'follow_mirrors_kubeconfig': kube.kubeconfig, 'follow_mirrors_repair': False})

    def port(self, name):
        return '%s.%s' % (name, self.NAMESPACE)

    def attached(self):
        return self.nb.ports_of('follow1')

    def lsps(self):
        return set(row['name'] for row in self.nb.rows('Logical_Switch_Port', ['name']))

    def make_pods(self, names, labels=None):
        for name in names:
            make_pod(self.kube, self.NAMESPACE, name, labels or {'app': 'follow'}, node=NODE)

    def delete_pods(self, names):
        for name in names:
            self.kube.core.delete_namespaced_pod(name, self.NAMESPACE, grace_period_seconds=0)

    def wait_idle(self, quiet=5, timeout=60):
        """Until every playbook the rulebook started has ended and its log has been quiet for
        `quiet` seconds, more than the source's longest hold (4 s) after a converge started:
        no converge is left to come."""
        seen = dict(size=-1, since=time.monotonic())

        def idle():
            log = self.rulebook.log_text()
            if len(log) != seen['size']:
                seen.update(size=len(log), since=time.monotonic())
            ended = log.count('PLAY [') == log.count('PLAY RECAP')
            return ended and time.monotonic() - seen['since'] >= quiet
        wait_until(idle, timeout, 'the rulebook idle for %s s' % quiet, interval=0.2)

    def stop(self):
        """Stop the rulebook and the stand-in; the pids of the rulebook's process group still
        alive (none expected)."""
        try:
            return self.rulebook.stop()
        finally:
            self.standin.stop()


def startup_converge_creates_the_mirror(followed):
    """Returns how many converges the rulebook ran at start."""
    wait_until(lambda: followed.nb.mirror('follow1'), 120,
               'the start-up converge created the mirror', interval=0.5)
    started = followed.rulebook.runs()
    assert started >= 1     # the log counts the converges the rulebook ran
    return started


def a_new_pod_is_attached_then_detached_once_deleted(followed):
    followed.make_pods(['web-0'])
    followed.make_pods(['db-0'], {'app': 'db'})         # not selected
    wait_until(lambda: followed.port('web-0') in followed.lsps(), 30,
               'the stand-in made the LSP', interval=0.1)
    appeared = time.monotonic()
    wait_until(lambda: followed.attached() == [followed.port('web-0')], 60,
               'the rulebook attached web-0', interval=0.2)
    print('lag from LSP to mirror attached: %.1f s' % (time.monotonic() - appeared))
    followed.wait_idle(quiet=2)
    followed.delete_pods(['web-0'])
    wait_until(lambda: followed.attached() == [], 60, 'the rulebook detached web-0',
               interval=0.2)


def a_change_during_a_converge_is_not_lost(followed):
    """A pod created while the converge of another runs is attached by the converge after it:
    two converges in all."""
    rulebook = followed.rulebook
    followed.wait_idle(quiet=2)
    before = rulebook.runs()
    followed.make_pods(['during-0'])
    wait_until(lambda: rulebook.runs() > before, 60, 'the converge of during-0 started',
               interval=0.05)
    followed.make_pods(['during-1'])
    log = rulebook.log_text()
    running = log.count('PLAY RECAP') < log.count('PLAY [')
    wanted = [followed.port('during-0'), followed.port('during-1')]
    wait_until(lambda: followed.attached() == wanted, 60, 'both attached', interval=0.2)
    followed.wait_idle()
    assert running                      # during-1 came while during-0's converge ran
    assert followed.attached() == wanted and rulebook.runs() - before == 2, rulebook.runs()
    followed.delete_pods(['during-0', 'during-1'])
    wait_until(lambda: followed.attached() == [], 60, 'both detached', interval=0.2)
    followed.wait_idle()


def a_rollout_of_50_pods_ends_exact_after_few_converges(followed, started):
    """50 pods, then all 50 recreated in one go (as a rollout of a 50-replica set does): the
    mirror ends exact after a few coalesced converges."""
    nb, rulebook = followed.nb, followed.rulebook
    names = ['web-%d' % i for i in range(1, 51)]
    wanted = sorted(followed.port(name) for name in names)
    followed.make_pods(names)
    wait_until(lambda: followed.attached() == wanted, 180, 'all 50 attached', interval=0.5)
    old = set(nb.nbctl('--bare', '--columns=_uuid', 'find', 'Logical_Switch_Port',
                       'name!=x').split())
    before = rulebook.runs()
    followed.delete_pods(names)
    followed.make_pods(names)
    recreated = time.monotonic()

    def new_ports_attached():
        rows = nb.rows('Logical_Switch_Port', ['_uuid', 'name', 'mirror_rules'])
        fresh = [row['name'] for row in rows if row['_uuid'][1] not in old
                 and row['mirror_rules'] != ['set', []]]
        return sorted(fresh) == wanted and followed.attached() == wanted
    wait_until(new_ports_attached, 180, 'the 50 recreated pods\' new ports attached',
               interval=0.5)
    settled = time.monotonic() - recreated
    followed.wait_idle()        # any coalescing window still open closes, its converge ends
    caused = rulebook.runs() - before
    print('50 pods recreated: mirror exact after %.1f s, %d converge(s) (%d at start)'
          % (settled, caused, started))
    assert followed.attached() == wanted
    assert caused <= 5, caused


def a_pod_is_followed_after_an_apiserver_restart(followed):
    """The API server restarts under the running rulebook: the source reconnects, lists
    again (its resourceVersion was compacted meanwhile) and the next pod is followed."""
    kube, rulebook = followed.kube, followed.rulebook
    kube.stop_apiserver()
    wait_until(lambda: 'watch failed' in rulebook.output(), 60,
               'the source noticing the API server was gone', interval=0.2)
    kube.start_apiserver()
    followed.make_pods(['after-restart'])
    wait_until(lambda: followed.port('after-restart') in followed.attached(), 120,
               'the rulebook following a pod after the restart', interval=0.5)
    assert rulebook.proc.poll() is None     # it never stopped


def test_rulebook_follows_rollouts_and_an_apiserver_restart(tmp_path, compacting, nb):
    """ansible-rulebook runs the rulebook (on the compacting control plane, so that the watch
    it resumes after the API server's restart has been compacted: 410 Gone, listed again)."""
    followed = Followed(tmp_path, compacting, nb)
    try:
        started = startup_converge_creates_the_mirror(followed)
        a_new_pod_is_attached_then_detached_once_deleted(followed)
        a_change_during_a_converge_is_not_lost(followed)
        a_rollout_of_50_pods_ends_exact_after_few_converges(followed, started)
        a_pod_is_followed_after_an_apiserver_restart(followed)
    finally:
        left = followed.stop()
    assert left == [], left
    assert 'Traceback' not in followed.rulebook.output(), followed.rulebook.output()
