"""`make soak`: faults at once on the two-node cluster while the rulebook follows the declared
mirrors, and after each burst the invariants, each read on its own (docs/soak.md).

Declared: the remote mirror the remote_mirror role makes (GRE, pod `anchor`, and the receiver
pod at the sink), and in a GitOps inventory remote GRE and ERSPAN mirrors and an OVN local
mirror over the pods of two Deployments (`web`, `api`, whose pods also ask for pod-level
mirroring), plus mirrors the soak adds, removes and lets expire. The rulebook
kubeovn.mirror.follow_mirrors follows `app in (web, api)` and repairs nodes.

A seeded random sequence of bursts, each of 3-6 faults (FAULTS), fired a few seconds apart;
then the soak waits for quiet (rollouts done, the NB with a leader and three members, the API
answering), does what a schedule would (the GitOps apply if it failed, playbooks/expire.yml
once an expiry passed), and measures the time until the NB holds exactly what is declared and
the remote mirrors deliver; then it checks every invariant:
- nb_exact: the NB holds exactly the declared mirrors, each on exactly the selected ports;
- delivery: a ping from a `web` pod to an `api` pod is copied to the receiver by each remote
  mirror that selects either end (tcpdump inside the receiver pod);
- nodes_start_pods: a new pod on each node becomes Running with `ovn-installed` on its port;
- no_stale_ports: no `ovn-<name>` mirror port on a node for a mirror the NB no longer has;
- no_leaks: no ansible-playbook, tcpdump or kubectl process of the soak's (but the running
  rulebook's) and no temporary file of its Ansible runs seen at two checks in a row.
The report (JSON, and a summary printed): faults injected by kind, checks passed and failed
(each failure with seed, burst, step and evidence), time to true after each burst (from
quiet) and the time each burst took to settle.
"""

import argparse
import collections
import datetime
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import traceback

import yaml

from lab import images
from lab.ansible import REPO, run_collection_playbook
from lab.cluster import SINK_IP, Cluster
from lab.daemons import command_lines, descendants, wait_until
from lab.eda import Rulebook, write_inventory
from lab.node import MARKER
from lab.ovn import SINK_MAC, decode_mirrored

REMOTE_VARS = os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')
NODES = ('node-a', 'node-b')
RECEIVER_NODE, ANCHOR_NODE = 'node-a', 'node-b'
ANCHOR = 'anchor'
ROLE_MIRROR = 'anchor-egress'
DEPLOYMENTS = {'web': 3, 'api': 2}
SELECTORS = [{'namespace': 'default', 'label_selectors': ['app in (web, api)']}]
BASE_MIRRORS = [
    dict(name='soak-gre', type='gre', index=101, filter='from-lport', sink=SINK_IP,
         selectors=[{'namespace': 'default', 'label_selectors': ['app=web']}]),
    dict(name='soak-erspan', type='erspan', index=102, filter='to-lport', sink=SINK_IP,
         selectors=[{'namespace': 'default', 'label_selectors': ['app=api']}]),
    dict(name='soak-local', type='local', index=0, filter='both', sink='soakmon0',
         selectors=[{'namespace': 'default', 'label_selectors': ['app=web']}]),
]
FAULTS = ('rollout', 'scale', 'pod_delete', 'pod_move', 'cni_restart', 'cni_flip',
          'nb_leader_kill', 'apiserver_restart', 'rulebook_restart', 'manual_playbook',
          'mirror_add', 'mirror_remove', 'mirror_expire')
LEAK_PROCESSES = ('ansible-playbook', 'tcpdump', 'kubectl')
INVARIANTS = ('nb_exact', 'delivery', 'nodes_start_pods', 'no_stale_ports', 'no_leaks')
TRUE_WITHIN = 240       # seconds after quiet: not true by then is a `time_to_true` failure


class Soak:
    """`Soak(workdir, seed, minutes).start()`, then `run()` gives the report; `stop()` takes
    the cluster and the rulebook down."""

    def __init__(self, workdir, seed, minutes, say=print):
        self.workdir = os.path.abspath(workdir)
        self.seed, self.minutes, self.say = seed, minutes, say
        self.plan = random.Random(seed)       # the bursts: their sizes and kinds
        self.random = random.Random(seed)     # the faults' details (they read the cluster)
        self.faults = collections.Counter()
        self.checks = collections.Counter()
        self.failures = []
        self.times_to_true = []
        self.log = []
        self.extra = {}            # mirrors the soak added: name -> declaration
        self.next_index = 110
        self.threads = []
        self.apply_failed = False
        self.burst = 0
        self.cluster = self.rulebook = None
        self.seen_leaks = set()
        self.started = time.monotonic()
        self.killed_leftovers = 0
        self.expire_ran_at = ''     # UTC timestamp of the last scheduled expire.yml check
        self.killed_tmp = []        # the temporary directories of the rulebooks killed
        self.apply_lock = threading.Lock()
        self.apiserver_up = threading.Event()
        self.apiserver_up.set()
        self.settle_times = []

    # ---- set-up ---------------------------------------------------------------------------
    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.cluster = Cluster(os.path.join(self.workdir, 'cluster'), nodes=2, nb_members=3)
        # the stand-in for Kube-OVN's controller lives as long as the soak may (its bursts go on
        # past the end until every kind of fault was injected, at most 10 minutes)
        self.cluster.start().start_kube_ovn(receiver_mac=SINK_MAC,
                                            lifetime=self.minutes * 60 + 3600)
        # every temporary file of the soak's Ansible runs (ansible-rulebook's private data
        # directories, module payloads, Ansible's local temporary directories) goes here
        self.tmp = os.path.join(self.workdir, 'tmp')
        os.makedirs(self.tmp, exist_ok=True)
        self.env = {'TMPDIR': self.tmp, 'ANSIBLE_LOCAL_TEMP': self.tmp,
                    'ANSIBLE_REMOTE_TEMP': self.tmp,
                    'K8S_AUTH_KUBECONFIG': self.cluster.kubeconfig, 'OVN_NB_DB': self.cluster.nb,
                    'PATH': self.cluster.bindir + os.pathsep + os.environ['PATH']}
        self.cluster.pod(ANCHOR, ANCHOR_NODE)
        with open(REMOTE_VARS) as handle:
            remote = yaml.safe_load(handle)
        remote.update(remote_mirror_name=ROLE_MIRROR, remote_mirror_index=100,
                      remote_mirror_pods=[{'name': ANCHOR, 'namespace': 'default'}],
                      mirror_receiver_image=images.TOOLS_IMAGE,
                      mirror_receiver_node=RECEIVER_NODE)
        self.remote_vars = os.path.join(self.workdir, 'remote_mirror.yml')
        with open(self.remote_vars, 'w') as handle:
            yaml.safe_dump(remote, handle)
        run = run_collection_playbook('playbooks/remote_mirror.yml', env=self.env,
                                      var_files=[self.remote_vars])
        if run.failures:
            raise RuntimeError('remote_mirror.yml failed: %s' % (run.failures,))
        for name, replicas in DEPLOYMENTS.items():
            self.cluster.apps.create_namespaced_deployment('default', deployment(name, replicas))
        self.inventory = write_inventory(os.path.join(self.workdir, 'gitops'),
                                         self.group_vars())
        self.start_rulebook()
        wait_until(self.quiet, 300, 'the Deployments rolled out', interval=1)
        outcome = run_collection_playbook('playbooks/mirrors.yml', env=self.env,
                                          inventory=self.inventory)
        if outcome.rc:
            raise RuntimeError('mirrors.yml failed: %s' % (outcome.failures,))
        return self

    def group_vars(self):
        return {'mirrors_nb_connection': self.cluster.nb, 'mirrors_purge': True,
                'mirrors_owner': 'soak-gitops',
                'mirrors_kubeconfig': self.cluster.kubeconfig,
                'mirror_repair_kubeconfig': self.cluster.kubeconfig,
                'kubeovn_mirrors': BASE_MIRRORS + list(self.extra.values())}

    def write_inventory(self):
        path = os.path.join(self.inventory, 'group_vars', 'kubeovn', 'mirrors.yml')
        with open(path + '.new', 'w') as handle:
            yaml.safe_dump(self.group_vars(), handle)
        os.rename(path + '.new', path)      # the rulebook's runs read it whole or not at all

    def start_rulebook(self):
        """The rulebook, with a temporary directory of its own (what a killed one leaves
        there is told apart from the other runs' leaks)."""
        workdir = os.path.join(self.workdir, 'rulebook-%d' % time.monotonic_ns())
        self.rulebook_tmp = os.path.join(self.tmp, os.path.basename(workdir))
        os.makedirs(workdir)
        os.makedirs(self.rulebook_tmp)
        self.rulebook = Rulebook(workdir, self.inventory, {
            'follow_mirrors_selectors': SELECTORS,
            'follow_mirrors_kubeconfig': self.cluster.kubeconfig}, env=dict(
                self.env, TMPDIR=self.rulebook_tmp, ANSIBLE_LOCAL_TEMP=self.rulebook_tmp,
                ANSIBLE_REMOTE_TEMP=self.rulebook_tmp))

    def stop(self):
        for thread in self.threads:
            thread.join(600)
        if self.rulebook is not None:
            self.rulebook.stop()
        if self.cluster is not None:
            self.cluster.stop()

    # ---- the run ------------------------------------------------------------------------
    def run(self):
        end = time.monotonic() + self.minutes * 60
        # every kind first (in seeded order), then at random; bursts go on past the end until
        # every kind has been injected once
        pending = list(FAULTS)
        self.plan.shuffle(pending)
        while time.monotonic() < end or (set(FAULTS) - set(self.faults) and
                                         time.monotonic() < end + 600):
            self.burst += 1
            size = self.plan.randint(3, 6)
            kinds = [pending.pop() if pending else self.plan.choice(FAULTS)
                     for dummy in range(size)]
            self.note('burst %d: %s' % (self.burst, ', '.join(kinds)))
            for kind in kinds:
                try:
                    if getattr(self, 'fault_' + kind)() is not False:
                        self.faults[kind] += 1
                    elif kind not in self.faults:
                        pending.insert(0, kind)     # nothing to do now: try again later
                except Exception as exc:  # noqa: BLE001 - a fault that could not be made
                    self.note('  %s could not be injected: %r' % (kind, exc))
                time.sleep(self.random.uniform(0, 3))
            self.settle()
        return self.report()

    def note(self, text):
        stamp = '%7.1f' % (time.monotonic() - self.started)
        self.log.append(stamp + ' ' + text)
        self.say('[soak %s] %s' % (stamp, text))

    def background(self, name, action):
        def run():
            try:
                action()
            except Exception:  # noqa: BLE001 - recorded in the log
                self.note('  %s failed: %s' % (name, traceback.format_exc().splitlines()[-1]))
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    # ---- faults -------------------------------------------------------------------------
    def pick_deployment(self):
        return self.random.choice(sorted(DEPLOYMENTS))

    def fault_rollout(self):
        name = self.pick_deployment()
        self.api(lambda: self.cluster.apps.patch_namespaced_deployment(name, 'default', {
            'spec': {'template': {'metadata': {'annotations': {
                'lab.kubeovn.mirror/revision': str(time.monotonic_ns())}}}}}))
        self.note('  rollout of %s' % name)

    def fault_scale(self):
        name, replicas = self.pick_deployment(), self.random.randint(1, 5)
        self.api(lambda: self.cluster.apps.patch_namespaced_deployment_scale(
            name, 'default', {'spec': {'replicas': replicas}}))
        self.note('  %s scaled to %d' % (name, replicas))

    def fault_pod_delete(self):
        pods = self.api(lambda: self.cluster.core.list_namespaced_pod(
            'default', label_selector='app in (web, api)').items)
        if not pods:
            return False
        pod = self.random.choice(sorted(p.metadata.name for p in pods))
        self.api(lambda: self.cluster.core.delete_namespaced_pod(pod, 'default'))
        self.note('  pod %s deleted' % pod)

    def fault_pod_move(self):
        name, node = self.pick_deployment(), self.random.choice(NODES)
        self.api(lambda: self.cluster.apps.patch_namespaced_deployment(name, 'default', {
            'spec': {'template': {'spec': {'nodeName': node}}}}))
        self.note('  %s\'s pods moved to %s' % (name, node))

    def fault_cni_restart(self):
        node = self.random.choice(NODES)
        pod = self.api(lambda: self.cluster.daemon_pod('kube-ovn-cni', node))
        if pod is None:
            return False
        self.api(lambda: self.cluster.core.delete_namespaced_pod(pod.metadata.name,
                                                                 'kube-system'))
        self.note('  kube-ovn-cni on %s deleted (the DaemonSet recreates it)' % node)

    def fault_cni_flip(self):
        ds = self.api(lambda: self.cluster.apps.read_namespaced_daemon_set('kube-ovn-cni',
                                                                           'kube-system'))
        container = next(c for c in ds.spec.template.spec.containers if c.name == 'cni-server')
        enabled = '--enable-mirror=true' in container.args
        args = ['--enable-mirror=%s' % str(not enabled).lower()] + [
            arg for arg in container.args if not arg.startswith('--enable-mirror=')]
        self.api(lambda: self.cluster.apps.patch_namespaced_daemon_set(
            'kube-ovn-cni', 'kube-system', {'spec': {'template': {'spec': {'containers': [
                {'name': 'cni-server', 'args': args}]}}}}))
        self.note('  kube-ovn-cni --enable-mirror=%s' % str(not enabled).lower())

    def fault_nb_leader_kill(self):
        leader = self.cluster.nb_leader()
        if leader is None:
            return False
        self.cluster.kill_nb_member(leader)
        self.note('  NB leader %s killed' % leader)
        delay = self.random.uniform(2, 10)

        def back():
            time.sleep(delay)
            self.cluster.start_nb_member(leader)
        self.background('restart ' + leader, back)

    def fault_apiserver_restart(self):
        if not self.apiserver_up.is_set():
            return False            # stopped by this burst already
        self.apiserver_up.clear()
        self.cluster.plane.stop_apiserver()
        self.note('  kube-apiserver stopped')
        delay = self.random.uniform(1, 6)

        def back():
            try:
                time.sleep(delay)
                self.cluster.plane.start_apiserver()
            finally:
                self.apiserver_up.set()
        self.background('kube-apiserver', back)

    def fault_rulebook_restart(self):
        """SIGKILL to ansible-rulebook and every process it started (ansible-runner starts
        each playbook in a session of its own), as when its container or unit is killed."""
        pids = [self.rulebook.proc.pid] + descendants(self.rulebook.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self.rulebook.proc.wait(30)
        wait_until(lambda: not any(os.path.exists('/proc/%d' % pid) for pid in pids[1:]), 30,
                   'the killed rulebook\'s processes gone', interval=0.5)
        self.killed_tmp.append(self.rulebook_tmp)
        self.note('  rulebook and its %d processes killed (SIGKILL); started again'
                  % (len(pids) - 1))
        self.start_rulebook()

    def fault_manual_playbook(self):
        self.note('  playbooks/mirrors.yml run by hand')

        def run():
            outcome = run_collection_playbook('playbooks/mirrors.yml', env=self.env,
                                              inventory=self.inventory)
            self.note('  the manual run ended: rc=%d%s' % (
                outcome.rc, ' %s' % (outcome.failures,) if outcome.rc else ''))
        self.background('manual playbook', run)

    def apply_in_background(self, why):
        """What a GitOps controller does after a commit: the inventory's playbook."""
        self.write_inventory()
        self.apply_failed = True

        def run():
            with self.apply_lock:       # one at a time, each reading the newest inventory
                outcome = run_collection_playbook('playbooks/mirrors.yml', env=self.env,
                                                  inventory=self.inventory)
                self.apply_failed = outcome.rc != 0
            self.note('  GitOps apply (%s): rc=%d' % (why, outcome.rc))
        self.background('apply', run)

    def fault_mirror_add(self):
        name, index = 'soak-x%d' % self.next_index, self.next_index
        self.next_index += 1
        kind = self.random.choice(('gre', 'erspan'))
        self.extra[name] = dict(name=name, type=kind, index=index, sink=SINK_IP,
                                filter=self.random.choice(('from-lport', 'to-lport', 'both')),
                                selectors=[{'namespace': 'default', 'label_selectors': [
                                    'app=%s' % self.pick_deployment()]}])
        self.note('  mirror %s (%s) added to the inventory' % (name, kind))
        self.apply_in_background('add ' + name)

    def fault_mirror_remove(self):
        wanted, either = self.declared()
        names = sorted(name for name in self.extra if name in wanted and name not in either)
        if not names:
            return False
        name = self.random.choice(names)
        del self.extra[name]
        self.note('  mirror %s removed from the inventory' % name)
        self.apply_in_background('remove ' + name)

    def fault_mirror_expire(self):
        name, index = 'soak-e%d' % self.next_index, self.next_index
        self.next_index += 1
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=self.random.randint(10, 40))
        self.extra[name] = dict(name=name, type='gre', index=index, sink=SINK_IP,
                                filter='from-lport', expires=expires.strftime(
                                    '%Y-%m-%dT%H:%M:%SZ'),
                                selectors=[{'namespace': 'default',
                                            'label_selectors': ['app=web']}])
        self.note('  mirror %s added, expiring at %s' % (name, self.extra[name]['expires']))
        self.apply_in_background('add ' + name)

    # ---- quiet, time to true, invariants -------------------------------------------------
    def api(self, call, timeout=90, tolerate=None):
        """`call()` once the API answers (an API server restart may be under way); an
        answer of status `tolerate` (a retried create that had been done: 409) is None."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
        result = {}

        def attempt():
            try:
                result['value'] = call()
                return True
            except (ApiException, HTTPError, OSError) as exc:
                if isinstance(exc, ApiException) and exc.status == tolerate:
                    return True
                if isinstance(exc, ApiException) and exc.status not in (None, 0, 500, 503):
                    raise
                return False
        wait_until(attempt, timeout, 'the API', interval=1)
        return result.get('value')

    def quiet(self):
        """Rollouts done (every pod Running, none terminating), kube-ovn-cni rolled out,
        the NB with a leader and all members, no background fault still running."""
        if any(thread.is_alive() for thread in self.threads):
            return False
        try:
            if self.cluster.nb_leader() is None or any(
                    not self.cluster.nb_member_status(member)
                    for member in self.cluster.nb_members):
                return False
            if not self.cluster.plane.ready():
                return False
            for name in DEPLOYMENTS:
                d = self.cluster.apps.read_namespaced_deployment(name, 'default')
                if (d.status.observed_generation or 0) < d.metadata.generation or \
                        d.status.updated_replicas != d.spec.replicas or \
                        d.status.ready_replicas != d.spec.replicas or \
                        (d.status.replicas or 0) != d.spec.replicas:
                    return False
            pods = self.cluster.core.list_namespaced_pod('default').items
            if any(p.metadata.deletion_timestamp or p.status.phase != 'Running' for p in pods):
                return False
            ds = self.cluster.apps.read_namespaced_daemon_set('kube-ovn-cni', 'kube-system')
            return (ds.status.observed_generation or 0) >= ds.metadata.generation and \
                ds.status.updated_number_scheduled == ds.status.number_ready == len(NODES)
        except Exception:  # noqa: BLE001 - the API restarting: not quiet yet
            return False

    def settle(self):
        burst_end = time.monotonic()
        try:
            wait_until(self.quiet, 600, 'quiet after burst %d' % self.burst, interval=1)
        except TimeoutError as exc:
            self.fail('quiet', str(exc), self.cluster.kubectl('get', 'pods', '-A', '-o', 'wide',
                                                              check=False))
            return
        self.threads = []
        quiet = time.monotonic()
        self.settle_times.append(quiet - burst_end)
        if self.rulebook.proc.poll() is not None:
            self.fail('rulebook', 'ansible-rulebook exited (%s)' % self.rulebook.proc.returncode,
                      self.rulebook.output()[-2000:])
            self.killed_tmp.append(self.rulebook_tmp)
            self.start_rulebook()
        if self.apply_failed:       # a GitOps controller retries a failed apply
            self.apply_in_background('retry')
            for thread in self.threads:
                thread.join(600)
            self.threads = []
        errors = []

        def true_again():
            try:
                return self.expire() and not self.nb_differences() and \
                    self.delivery_misses() == []
            except Exception:  # noqa: BLE001 - a read that failed: not true yet, and why
                errors.append(traceback.format_exc().splitlines()[-1])
                return False
        try:
            wait_until(true_again, TRUE_WITHIN, 'true again', interval=1)
            self.times_to_true.append(time.monotonic() - quiet)
            self.note('  quiet %.1f s after the burst, true %.1f s later'
                      % (self.settle_times[-1], self.times_to_true[-1]))
        except TimeoutError:
            self.times_to_true.append(float('inf'))
            self.fail('time_to_true', 'not true within %d s of quiet' % TRUE_WITHIN,
                      errors[-3:])
        self.check('nb_exact', self.nb_differences)
        self.check('delivery', self.delivery_misses)
        self.check('nodes_start_pods', self.nodes_that_cannot_start_pods)
        self.check('no_stale_ports', self.stale_ports)
        self.check('no_leaks', self.leaks)

    def check(self, name, read):
        try:
            evidence = read()
        except Exception:  # noqa: BLE001 - a check that cannot read fails with the reason
            evidence = traceback.format_exc().splitlines()[-3:]
        if evidence:
            self.fail(name, 'invariant does not hold', evidence)
        else:
            self.checks[name, 'passed'] += 1

    def fail(self, name, what, evidence):
        self.checks[name, 'failed'] += 1
        failure = dict(seed=self.seed, burst=self.burst, step=name, what=what,
                       evidence=evidence, log=self.log[-12:])
        self.failures.append(failure)
        self.note('  FAILED %s: %s: %s' % (name, what, json.dumps(evidence)[:600]))

    def declared(self):
        """({mirror name: declaration, None for the role's} that must be in the NB, {names
        that may be there or not}): a mirror whose expiry passed before the last scheduled
        expire.yml must be gone; one whose expiry passed since may still be there (or be gone:
        a converge deletes it too)."""
        now = utc_now()
        wanted, either = {ROLE_MIRROR: None}, set()
        for mirror in BASE_MIRRORS + list(self.extra.values()):
            expires = mirror.get('expires')
            if expires and expires <= self.expire_ran_at:
                continue
            if expires and expires <= now:
                either.add(mirror['name'])
            wanted[mirror['name']] = mirror
        return wanted, either

    def expire(self):
        """What the schedule of playbooks/expire.yml does once an expiry has passed."""
        self.expire_ran_at = utc_now()
        if self.expired_present():
            outcome = run_collection_playbook('playbooks/expire.yml', env=self.env,
                                              inventory=self.inventory)
            self.note('  expire.yml (as scheduled): rc=%d' % outcome.rc)
        return True

    def expired_present(self):
        names = set(nb_mirrors(self.cluster))
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        return any(m.get('expires') and m['expires'] <= now and m['name'] in names
                   for m in self.extra.values())

    def selected_ports(self, mirror, lsps):
        if mirror is None:
            wanted = {'%s.default' % ANCHOR}
        else:
            label = mirror['selectors'][0]['label_selectors'][0]
            wanted = set('%s.default' % pod.metadata.name for pod in self.cluster.core
                         .list_namespaced_pod('default', label_selector=label).items)
        return sorted(wanted & set(lsps))

    def nb_differences(self):
        mirrors, lsps = nb_mirrors(self.cluster), nb_ports(self.cluster)
        differences = []
        wanted, either = self.declared()
        if sorted(set(mirrors) - either) != sorted(set(wanted) - either):
            differences.append({'mirrors': sorted(mirrors), 'declared': sorted(wanted),
                                'expired since the last expire.yml': sorted(either)})
        for name, mirror in wanted.items():
            if name not in mirrors or name in either:
                continue
            if mirror is not None:
                row = mirrors[name]
                expected = dict(type=mirror['type'], index=mirror['index'],
                                filter=mirror['filter'], sink=mirror['sink'])
                if dict((key, row[key]) for key in expected) != expected:
                    differences.append({name: row, 'declared': expected})
            ports = sorted(port for port, names in lsps.items() if name in names)
            selected = self.selected_ports(mirror, lsps)
            if ports != selected:
                differences.append({name: ports, 'selected': selected})
        return differences

    def delivery_misses(self):
        """A 3-echo ping from a web pod to an api pod: each remote mirror declared on either
        end must copy all three echo requests to the receiver."""
        pods = dict((app, sorted(self.cluster.core.list_namespaced_pod(
            'default', label_selector='app=' + app).items, key=lambda p: p.metadata.name))
            for app in DEPLOYMENTS)
        if not pods['web'] or not pods['api']:
            return []
        source, target = pods['web'][0], pods['api'][0]
        expected = {}
        wanted, either = self.declared()
        for name, mirror in wanted.items():
            if mirror is None or name in either or mirror['type'] not in ('gre', 'erspan'):
                continue
            app = mirror['selectors'][0]['label_selectors'][0].split('=')[1]
            if app == 'web' and mirror['filter'] in ('from-lport', 'both'):
                expected[(mirror['type'], mirror['index'])] = ('src', source.status.pod_ip)
            if app == 'api' and mirror['filter'] in ('to-lport', 'both'):
                expected[(mirror['type'], mirror['index'])] = ('dst', target.status.pod_ip)
        pcap = self.cluster.capture_in_pod('mirror-receiver', 'net1', lambda: self.cluster.ping(
            source.metadata.name, target.status.pod_ip, count=3), seconds=4)
        copies = decode_mirrored(pcap)
        os.unlink(pcap)
        misses = []
        for (tunnel, key), (end, address) in sorted(expected.items()):
            seen = [c for c in copies if c['tunnel'] == tunnel and c['key'] == key and
                    c[end] == address and c.get('icmp_type') == 8]
            if len(seen) < 3:
                misses.append('%s %d: %d of 3 echo requests %s %s'
                              % (tunnel, key, len(seen), end, address))
        return misses

    def nodes_that_cannot_start_pods(self):
        """A new pod on each node (both at once): Running, its OVS interface `ovn-installed`
        on that node; then deleted."""
        names = dict((node.name, 'probe-%s-%d' % (node.name, self.burst))
                     for node in self.cluster.nodes)
        missing = []
        try:
            for node, name in names.items():
                self.api(lambda: self.cluster.core.create_namespaced_pod('default', {
                    'metadata': {'name': name}, 'spec': probe_spec(node)}), tolerate=409)
            for node in self.cluster.nodes:
                name = names[node.name]
                try:
                    self.cluster.wait_running(name)
                    wait_until(lambda: 'ovn-installed=true' in node.vsctl(
                        '--bare', '--columns=external_ids', 'find', 'Interface',
                        'external_ids:iface-id=%s.default' % name).split(), 60,
                        'ovn-installed on %s' % name, interval=0.5)
                except Exception as exc:  # noqa: BLE001 - the evidence
                    missing.append('%s: %r' % (node.name, exc))
        finally:
            for name in names.values():
                self.api(lambda: self.cluster.core.delete_namespaced_pod(
                    name, 'default', grace_period_seconds=0), tolerate=404)
        wait_until(lambda: not [p for p in self.cluster.core.list_namespaced_pod('default').items
                                if p.metadata.name.startswith('probe-')], 120,
                   'the probe pods gone', interval=1)
        return missing

    def stale_ports(self):
        names = set(nb_mirrors(self.cluster))
        stale = []
        for node in self.cluster.nodes:
            rows = json.loads(node.vsctl('--format=json', '--columns=name,type', 'list',
                                         'Interface'))['data']
            stale += ['%s: %s' % (node.name, name) for name, kind in rows
                      if name.startswith('ovn-') and kind in ('gre', 'erspan')
                      and name[4:] not in names]
        return stale

    def leaks(self):
        """The soak's processes (outside the running rulebook) and temporary files seen at
        this check and the one before. The files a
        SIGKILLed rulebook could not remove (its private data directory, its playbooks' module
        payloads) are counted apart (`killed_leftovers`), then removed."""
        rulebook = set(descendants(self.rulebook.proc.pid))
        now = set()
        for pid, argv in command_lines():
            if any(os.path.basename(arg).startswith(LEAK_PROCESSES) for arg in argv[:2]) \
                    and pid not in rulebook and self.owns(pid, argv):
                now.add('pid %d: %s' % (pid, ' '.join(argv)[:120]))
        for directory in self.killed_tmp:
            self.killed_leftovers += len(os.listdir(directory))
            shutil.rmtree(directory, ignore_errors=True)
        self.killed_tmp = []
        now |= set('file ' + path for path in self.temporary_files() if not owner_alive(path))
        leaked = sorted(now & self.seen_leaks)
        self.seen_leaks = now
        return leaked

    def owns(self, pid, argv):
        """A process of this soak: its command line names the soak's directory (kubectl's
        kubeconfig, a playbook's inventory), or it runs in a pod of the cluster."""
        if any(self.workdir in arg for arg in argv):
            return True
        try:
            with open('/proc/%d/cgroup' % pid) as handle:
                return MARKER in handle.read()
        except OSError:
            return False

    def temporary_files(self):
        """What the soak's Ansible runs have in their temporary directories (the running
        rulebook's included), but kubernetes.core's discovery cache (k8srcp-<hash of the
        API>.json), which it keeps on purpose."""
        found = set()
        for directory in (self.tmp, self.rulebook_tmp):
            found |= set(os.path.join(directory, entry) for entry in os.listdir(directory)
                         if not entry.startswith(('k8srcp-', 'rulebook-')))
        return found

    def report(self):
        finite = sorted(t for t in self.times_to_true if t != float('inf'))
        report = dict(
            seed=self.seed, minutes=self.minutes, bursts=self.burst,
            faults=dict(self.faults), faults_total=sum(self.faults.values()),
            checks_passed=sum(n for (c, state), n in self.checks.items() if state == 'passed'),
            checks_failed=sum(n for (c, state), n in self.checks.items() if state == 'failed'),
            checks=dict(('%s/%s' % key, n) for key, n in self.checks.items()),
            failures=self.failures,
            time_to_true=dict(
                bursts=len(self.times_to_true), never=self.times_to_true.count(float('inf')),
                median=statistics.median(finite) if finite else None,
                p99=percentile(finite, 0.99), max=finite[-1] if finite else None),
            settle=dict(median=statistics.median(self.settle_times) if self.settle_times
                        else None, max=max(self.settle_times) if self.settle_times else None),
            killed_leftovers=self.killed_leftovers)
        return report


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def percentile(ordered, fraction):
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def deployment(name, replicas):
    labels = {'app': name}
    annotations = {'ovn.kubernetes.io/mirror': 'true'} if name == 'api' else {}
    return {'metadata': {'name': name}, 'spec': {
        'replicas': replicas, 'selector': {'matchLabels': labels},
        'template': {'metadata': {'labels': labels, 'annotations': annotations}, 'spec': {
            'terminationGracePeriodSeconds': 1, 'automountServiceAccountToken': False,
            'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                            'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity']}]}}}}


def probe_spec(node):
    return {'nodeName': node, 'terminationGracePeriodSeconds': 0,
            'automountServiceAccountToken': False,
            'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                            'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity']}]}


def nb_mirrors(cluster):
    """{name: {type, index, filter, sink}} of the NB's Mirror rows."""
    out = json.loads(cluster.nbctl('--format=json', '--columns=name,type,index,filter,sink',
                                   'list', 'Mirror'))
    return dict((name, dict(type=kind, index=index, filter=direction, sink=sink))
                for name, kind, index, direction, sink in out['data'])


def nb_ports(cluster):
    """{LSP name: [mirror names]} of the NB."""
    mirrors = json.loads(cluster.nbctl('--format=json', '--columns=_uuid,name', 'list',
                                       'Mirror'))['data']
    names = dict((uuid, name) for (dummy, uuid), name in mirrors)
    ports = json.loads(cluster.nbctl('--format=json', '--columns=name,mirror_rules', 'list',
                                     'Logical_Switch_Port'))['data']
    result = {}
    for name, rules in ports:
        refs = rules[1] if rules[0] == 'set' else [rules]
        result[name] = sorted(names.get(ref[1], ref[1]) for ref in refs)
    return result


def owner_alive(path):
    """Whether `path` is Ansible's local temporary directory (ansible-local-<pid><8 random
    characters>) of a process still running (ansible-rulebook holds one all its life)."""
    name = os.path.basename(path)
    if not name.startswith('ansible-local-'):
        return False
    pid = name[len('ansible-local-'):-8]
    return pid.isdigit() and os.path.exists('/proc/' + pid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workdir')
    parser.add_argument('--minutes', type=float, default=60)
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--report', default=None)
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else random.SystemRandom().randint(1, 10**6)
    soak = Soak(options.workdir, seed, options.minutes)
    report = None
    print('soak: seed %d, %.0f minutes (replay: make soak SOAK_SEED=%d)' % (
        seed, options.minutes, seed))
    try:
        soak.start()
        soak.note('set up in %.0f s' % (time.monotonic() - soak.started))
        try:
            report = soak.run()
        except BaseException:
            report = soak.report()       # what was found so far is not lost
            report['aborted'] = traceback.format_exc().splitlines()[-1]
            raise
        finally:
            if report is not None:
                write_report(options, report)
    finally:
        soak.stop()
    print(summary(report))
    return 0 if not report['failures'] else 1


def write_report(options, report):
    path = options.report or os.path.join(options.workdir, 'soak-report.json')
    with open(path, 'w') as handle:
        json.dump(report, handle, indent=1, default=str)
    print('report: %s' % path)


def summary(report):
    ttt = report['time_to_true']
    lines = ['soak: seed %(seed)d, %(bursts)d bursts, %(faults_total)d faults' % report,
             '  faults: ' + ', '.join('%s %d' % item for item in sorted(report['faults'].items())),
             '  checks: %(checks_passed)d passed, %(checks_failed)d failed' % report,
             '  time to true: median %s s, p99 %s s, max %s s, never %d' % (
                 fmt(ttt['median']), fmt(ttt['p99']), fmt(ttt['max']), ttt['never'])]
    for failure in report['failures']:
        lines.append('  FAILED burst %(burst)d %(step)s: %(what)s' % failure)
        lines.append('    evidence: %s' % json.dumps(failure['evidence'])[:800])
    return '\n'.join(lines)


def fmt(value):
    return '-' if value is None else '%.1f' % value


if __name__ == '__main__':
    sys.exit(main())
