"""The rulebook kubeovn.mirror.follow_mirrors following new pods: the lag from a pod's LSP
appearing in the NB to the declared mirror being on it, over N trials.

A real kube-apiserver and NB ovsdb-server; Kube-OVN's controller is played by lab/standin.py
(LSP, then the `allocated` annotation, as Kube-OVN's controller writes them); the rulebook runs
under ansible-rulebook with an inventory declaring one mirror by label. Each trial creates a pod
and waits (bounded) until its port carries the mirror, then deletes it and waits until the
port is gone.
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


def follow_lags(workdir, trials=20):
    """Seconds from LSP to mirror attached, one per trial, and the rulebook's playbook runs."""
    from kubernetes import client, config
    plane = ControlPlane(os.path.join(workdir, 'kube-follow'))
    os.makedirs(plane.workdir)
    standin = rulebook = None
    lags = []
    try:
        plane.start()
        core = client.CoreV1Api(config.new_client_from_config(plane.kubeconfig))
        core.create_namespaced_service_account('default', {'metadata': {'name': 'default'}})
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
                # past the deletion's coalescing window (3 s) and its converge (about 3 s):
                # each trial starts from a quiet rulebook
                time.sleep(8)
            runs = rulebook.runs()
    finally:
        if rulebook is not None:
            rulebook.stop()
        if standin is not None:
            standin.stop()
        plane.stop()
    return lags, runs


def follow_row(lags, runs):
    ordered = sorted(lags)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * len(ordered))) - 1)]
    return dict(trials=len(lags), median=statistics.median(lags), p90=p90, max=ordered[-1],
                min=ordered[0], runs=runs)


if __name__ == '__main__':
    import argparse
    import sys
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tools.collection import ensure_collection_link
    ensure_collection_link()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=20)
    options = parser.parse_args()
    row = follow_row(*follow_lags(tempfile.mkdtemp(prefix='bench-follow-'), options.trials))
    print('rulebook lag over %(trials)d trials: median %(median).1f s, p90 %(p90).1f s, '
          'min %(min).1f s, max %(max).1f s; %(runs)d converges' % row)
