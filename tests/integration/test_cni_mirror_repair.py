"""cni_mirror toggling kube-ovn-cni's flag on a cluster with an active OVN remote mirror.

The stand-in plays the DaemonSet controller and kube-ovn-cni: when the DaemonSet's new
generation rolls out it runs Kube-OVN's InitMirror transaction verbatim on the lab's OVS (what
every kube-ovn-cni start does), then reports the new pods ready. The copies are read at the
receiver with tcpdump, the OVS state with ovs-vsctl."""

import time

import pytest

from lab.ansible import run_playbook
from lab.daemons import wait_until
from lab.ovn import SINK_IP
from lab.standin import ClusterStandIn
from lab.kube_ovn import WEB1_IP, bridge_state, copies, kube_ovn_cni_start, undo_kube_ovn_cni

pytestmark = pytest.mark.kube


def role(variables):
    return {'name': 'cni_mirror', 'ansible.builtin.include_role': {
        'name': 'kubeovn.mirror.cni_mirror'}, 'vars': variables}


def test_cni_mirror_rollout_leaves_remote_mirroring_working(lab, kube, cni_daemonset, tmp_path):
    restarts = []

    def kube_ovn_cni_starts(ds):
        if ds.metadata.name == 'kube-ovn-cni':
            kube_ovn_cni_start(lab)
            restarts.append(ds.metadata.generation)

    lab.nbctl('mirror-add', 'cm1', 'gre', '99', 'from-lport', SINK_IP)
    lab.nbctl('lsp-attach-mirror', 'web-0.default', 'cm1')
    standin = ClusterStandIn(kube.kubeconfig, on_rollout=kube_ovn_cni_starts).start()
    try:
        wait_until(lambda: kube.apps.read_namespaced_daemon_set(
            'kube-ovn-cni', 'kube-system').status.observed_generation == 1, 20,
            'the stand-in saw the DaemonSet', interval=0.2)
        lab.wait_tunnel('cm1')
        lab.wait_mirror_realised('cm1', src=True, dst=False)
        lab.ping('web-0', WEB1_IP, count=2)
        before = copies(lab)
        assert len(before) >= 3, before

        env = {'K8S_AUTH_KUBECONFIG': kube.kubeconfig}
        nodes = {'mirror_repair_via': 'hosts', 'mirror_repair_hosts': ['localhost'],
                 'mirror_repair_ovs_connection': lab.ovs_db}

        # Without the repair (the role's behaviour before): the restart breaks mirroring.
        broken = run_playbook([role({'cni_mirror_enable': True, 'cni_mirror_repair': False,
                                     'cni_mirror_wait': True, 'cni_mirror_wait_timeout': 30})],
                              tmp_path, env=env)
        assert not [r for r in broken if r.get('failed')], broken
        wait_until(lambda: restarts, 10, 'kube-ovn-cni restarted')
        assert 'cm1' not in bridge_state(lab)[1] and 'ovn-cm1' in bridge_state(lab)[0]
        time.sleep(2)
        lab.appctl('ovs-vswitchd.ctl', 'revalidator/purge')
        wiped = copies(lab)
        assert wiped == [], wiped

        # Toggling the flag back, with the default repair: no manual step afterwards.
        results = run_playbook([role(dict(nodes, cni_mirror_enable=False,
                                          cni_mirror_wait_timeout=30))], tmp_path, env=env)
        assert not [r for r in results if r.get('failed')], results
        assert len(restarts) == 2, restarts
        health = [r for r in results
                  if r.get('results') and 'stale_ports' in r['results'][0]]
        assert health and health[0]['results'][0]['removed'] == ['ovn-cm1'], results
        lab.wait_tunnel('cm1')
        lab.wait_mirror_realised('cm1', src=True, dst=False)
        lab.ping('web-0', WEB1_IP, count=2)
        after = copies(lab)
        assert len(after) >= 3, after
        print('copies before %d, after the unrepaired rollout %d, after the rollout with '
              'repair %d' % (len(before), len(wiped), len(after)))
    finally:
        standin.stop()
        undo_kube_ovn_cni(lab, 'cm1')
