"""The rulebook kubeovn.mirror.follow_mirrors following new pods: the lag from a pod's LSP
appearing in the NB to the declared mirror being on it, over N trials.

A real kube-apiserver and NB ovsdb-server; Kube-OVN's controller is played by lab/standin.py
(LSP, then the `allocated` annotation, as Kube-OVN's controller writes them); the rulebook runs
under ansible-rulebook with an inventory declaring one mirror by label. Each trial creates a pod
and waits (bounded) until its port carries the mirror, then deletes it and waits until the
port is gone. Then a Deployment of 50 replicas (kube-controller-manager creates the pods at
once) is rolled out: the time from each pod's LSP appearing to the mirror being on it, and how
many converges the rollout caused, until the NB holds the mirror on exactly the 50 ports.
"""

import os
import statistics
import subprocess
import time

from lab.daemons import OvsdbServer, wait_until
from lab.eda import Rulebook, write_inventory
from lab.kube import ControlPlane
from lab.ovn import lsp_mirrors
from lab.standin import LAB_SWITCH, ClusterStandIn

NODE = 'bench-node'


class Nb:
    """ovn-nbctl on the bench's NB (what the stand-in needs of a lab)."""

    def __init__(self, server):
        self.unix = server.unix

    def nbctl(self, *args):
        return subprocess.run(['ovn-nbctl', '--db=' + self.unix] + list(args), check=True,
                              capture_output=True, text=True, timeout=60).stdout.strip()

    def port(self, name):
        """(uuid, mirror uuids) of an LSP, or None."""
        return lsp_mirrors(self.nbctl, name)


def wait_quiet(rulebook, quiet=5, timeout=120):
    """Until the rulebook's playbooks have ended and its log was quiet for `quiet` seconds
    (more than the source's longest hold, 4 s): no converge is left to come."""
    seen = dict(size=-1, since=time.monotonic())

    def idle():
        log = rulebook.log_text()
        if len(log) != seen['size']:
            seen.update(size=len(log), since=time.monotonic())
        return log.count('PLAY [') == log.count('PLAY RECAP') and \
            time.monotonic() - seen['since'] >= quiet
    wait_until(idle, timeout, 'the rulebook idle', interval=0.2)


def rollout(plane, nb, rulebook, mirror, replicas=50):
    """A Deployment of `replicas` pods under the selector: {pods, lags (LSP -> attached, per
    pod), last (the largest lag), exact (the mirror on exactly the rollout's ports, from the NB),
    converges (the rulebook's runs it caused), seconds (creation to all attached)}."""
    from kubernetes import client, config
    apps = client.AppsV1Api(config.new_client_from_config(plane.kubeconfig))
    wait_quiet(rulebook)
    before = rulebook.runs()
    labels = {'app': 'bench', 'rollout': 'r1'}
    apps.create_namespaced_deployment('default', {
        'metadata': {'name': 'rollout'},
        'spec': {'replicas': replicas, 'selector': {'matchLabels': labels},
                 'template': {'metadata': {'labels': labels}, 'spec': {
                     'nodeName': NODE, 'automountServiceAccountToken': False,
                     'containers': [{'name': 'c', 'image': 'busybox'}]}}}})
    created = time.monotonic()
    appeared, attached = {}, {}

    def all_attached():
        rows = nb.nbctl('--format=csv', '--data=bare', '--no-headings',
                        '--columns=name,mirror_rules', 'list', 'Logical_Switch_Port')
        now = time.monotonic()
        for line in rows.splitlines():
            name, dummy, rules = line.partition(',')
            if not name.startswith('rollout-'):
                continue
            appeared.setdefault(name, now)
            if mirror in rules.split():
                attached.setdefault(name, now)
        return len(attached) == replicas and set(attached) == set(appeared)
    wait_until(all_attached, 180, 'the %d pods of the rollout attached' % replicas,
               interval=0.1)
    seconds = time.monotonic() - created
    wait_quiet(rulebook)
    ports = set(nb.nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                         'mirror_rules{>=}' + mirror).split())
    lags = dict((name, attached[name] - appeared[name]) for name in attached)
    result = dict(pods=len(attached), lags=lags, last=max(lags.values()),
                  exact=ports == set(attached) and len(ports) == replicas,
                  converges=rulebook.runs() - before, seconds=seconds)
    apps.delete_namespaced_deployment('rollout', 'default')
    return result


def follow_lags(workdir, trials=20, replicas=50):
    """Seconds from LSP to mirror attached, one per trial, the rulebook's playbook runs, and
    the rollout of a Deployment of `replicas` pods (rollout(); None with replicas=0)."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    plane = ControlPlane(os.path.join(workdir, 'kube-follow'), controllers=bool(replicas))
    os.makedirs(plane.workdir)
    standin = rulebook = None
    lags = []
    rolled = None
    try:
        plane.start()
        core = client.CoreV1Api(config.new_client_from_config(plane.kubeconfig))
        try:    # with the controllers, kube-controller-manager may have made it already
            core.create_namespaced_service_account('default', {'metadata': {'name': 'default'}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        os.makedirs(os.path.join(workdir, 'nb-follow'))
        with OvsdbServer(os.path.join(workdir, 'nb-follow')) as server:
            nb = Nb(server)
            nb.nbctl('ls-add', LAB_SWITCH)
            selectors = [{'namespace': 'default', 'label_selectors': ['app=bench']}]
            inventory = write_inventory(workdir, {
                'mirrors_nb_connection': server.unix, 'mirrors_kubeconfig': plane.kubeconfig,
                'kubeovn_mirrors': [dict(name='follow', type='gre', index=7,
                                         filter='from-lport', sink='172.19.0.21',
                                         selectors=selectors)]})
            standin = ClusterStandIn(plane.kubeconfig, node=nb, interval=0.2).start()
            rulebook = Rulebook(workdir, inventory, {
                'follow_mirrors_selectors': selectors,
                'follow_mirrors_kubeconfig': plane.kubeconfig, 'follow_mirrors_repair': False})
            wait_until(lambda: nb.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror',
                                        'name=follow'), 180, 'the start-up converge',
                       interval=0.5)
            mirror = nb.nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=follow')
            for trial in range(trials):
                name = 'bench-%d' % trial
                core.create_namespaced_pod('default', {
                    'metadata': {'name': name, 'labels': {'app': 'bench'}},
                    'spec': {'nodeName': NODE, 'automountServiceAccountToken': False,
                             'containers': [{'name': 'c', 'image': 'busybox'}]}})
                lsp = name + '.default'
                wait_until(lambda: nb.port(lsp), 60, 'the LSP of ' + name, interval=0.05)
                appeared = time.monotonic()
                wait_until(lambda: mirror in nb.port(lsp)[1], 120,
                           'the rulebook attaching ' + lsp, interval=0.05)
                lags.append(time.monotonic() - appeared)
                core.delete_namespaced_pod(name, 'default', grace_period_seconds=0)
                wait_until(lambda: nb.port(lsp) is None, 60, lsp + ' gone', interval=0.1)
                # past the deletion's converge (about 1.5 s, started at once) and the source's
                # quiet second: each trial starts from a quiet rulebook
                time.sleep(3)
            runs = rulebook.runs()
            if replicas:
                rolled = rollout(plane, nb, rulebook, mirror, replicas)
    finally:
        if rulebook is not None:
            rulebook.stop()
        if standin is not None:
            standin.stop()
        plane.stop()
    return lags, runs, rolled


def follow_row(lags, runs, rolled=None):
    ordered = sorted(lags)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * len(ordered))) - 1)]
    row = dict(trials=len(lags), median=statistics.median(lags), p90=p90, max=ordered[-1],
               min=ordered[0], runs=runs, lags=lags)
    if rolled:
        row.update(rollout_pods=rolled['pods'], rollout_last=rolled['last'],
                   rollout_median=statistics.median(rolled['lags'].values()),
                   rollout_converges=rolled['converges'], rollout_exact=rolled['exact'],
                   rollout_seconds=rolled['seconds'])
    return row


if __name__ == '__main__':
    import argparse
    import sys
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tools.collection import ensure_collection_link
    ensure_collection_link()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=20)
    parser.add_argument('--replicas', type=int, default=50,
                        help='pods of the Deployment rolled out (0: no rollout)')
    options = parser.parse_args()
    row = follow_row(*follow_lags(tempfile.mkdtemp(prefix='bench-follow-'), options.trials,
                                  options.replicas))
    print('rulebook lag over %(trials)d trials: median %(median).1f s, p90 %(p90).1f s, '
          'min %(min).1f s, max %(max).1f s; %(runs)d converges' % row)
    print('lags: ' + ' '.join('%.1f' % lag for lag in row['lags']))
    if options.replicas:
        print('rollout of %(rollout_pods)d pods: all attached %(rollout_seconds).1f s after the '
              'Deployment was created, %(rollout_converges)d converges, exact: %(rollout_exact)s; '
              'LSP to mirror median %(rollout_median).1f s, last %(rollout_last).1f s' % row)
