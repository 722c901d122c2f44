"""kube-ovn-cni's mirror code, as the `cni-server` container of the test cluster's DaemonSet
kube-system/kube-ovn-cni (lab/cluster.py): host network, the node's /run/openvswitch, upstream's
args. Runs with the tools image's python3, python3-kubernetes and ovs-vsctl; imports nothing
from this repository.

What it copies from Kube-OVN (kubeovn/kube-ovn, read at commit 1533681d7a6b):
- At start, `InitMirror` (pkg/daemon/init.go), retried 5 times 1 s apart, exiting on failure
  (cmd/daemon/cniserver.go): `configureGlobalMirror` with --enable-mirror, else
  `configureEmptyMirror` (pkg/daemon/ovs.go), one ovs-vsctl transaction verbatim, then
  `configureMirrorLink` (pkg/daemon/ovs_linux.go): the mirror NIC set up, nothing else.
- `ConfigInterfaceMirror` (pkg/ovs/ovs-vsctl.go), verbatim: nothing with global mirroring on;
  else the pod's port found by `external-ids:iface-id=<pod>.<namespace>` goes into (annotation
  "true") or out of (anything else) `select_dst_port` of m0. Kube-OVN calls it from the CNI
  ADD (pkg/daemon/handler.go handleAdd) and when a pod of its node (not host network) changes
  its `ovn.kubernetes.io/mirror` annotation (pkg/daemon/controller.go enqueueUpdatePod,
  controller_linux.go handleUpdatePod). Here the lab's CNI plugin (lab/cni.py) does not know
  the daemon's flags, so the daemon plays the ADD's call when a new pod's port appears.
  Like Kube-OVN it does not look at pods that were already there when it started (its
  informer has no add handler): after a restart, their mirroring comes back only with a
  change of the annotation.
Pods are listed every second instead of watched: the lab's few pods do not need an informer.
"""

import argparse
import os
import subprocess
import sys
import time

MIRROR = 'm0'                                   # util.MirrorDefaultName
ANNOTATION = 'ovn.kubernetes.io/mirror'         # util.MirrorControlAnnotation
RETRIES, RETRY_INTERVAL = 5, 1                  # util.MirrorsRetryMaxTimes / Interval
READY_FILE = '/tmp/kube-ovn-cni-ready'


def log(text):
    print('%s %s' % (time.strftime('%H:%M:%S'), text), flush=True)


def vsctl(*args):
    """ovs.Exec: ovs-vsctl with --timeout=30 first."""
    proc = subprocess.run(['ovs-vsctl', '--timeout=30'] + list(args), capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError('ovs-vsctl %s: %s' % (' '.join(args), proc.stderr.strip()))
    return proc.stdout.strip()


def link_exists(name):
    return subprocess.run(['ip', 'link', 'show', name], capture_output=True,
                          check=False).returncode == 0


def init_mirror(enable_mirror, port_name):
    """InitMirror: configureGlobalMirror / configureEmptyMirror, then configureMirrorLink."""
    select_all = ['select_all=true'] if enable_mirror else []
    if link_exists(port_name):
        vsctl('--may-exist', 'add-port', 'br-int', port_name, '--',
              'clear', 'bridge', 'br-int', 'mirrors', '--',
              '--id=@mirror0', 'get', 'port', port_name, '--',
              '--id=@m', 'create', 'mirror', 'name=' + MIRROR, *select_all,
              'output_port=@mirror0', '--', 'add', 'bridge', 'br-int', 'mirrors', '@m')
    else:
        vsctl('--may-exist', 'add-port', 'br-int', port_name, '--',
              'set', 'interface', port_name, 'type=internal', '--',
              'clear', 'bridge', 'br-int', 'mirrors', '--',
              '--id=@mirror0', 'get', 'port', port_name, '--',
              '--id=@m', 'create', 'mirror', 'name=' + MIRROR, *select_all,
              'output_port=@mirror0', '--', 'add', 'bridge', 'br-int', 'mirrors', '@m')
    # configureMirrorLink: the NIC up if it is not (the MTU is not set, IPv6 left alone)
    subprocess.run(['ip', 'link', 'set', port_name, 'up'], check=True, capture_output=True)


def config_interface_mirror(global_mirror, open_value, iface):
    """ConfigInterfaceMirror, verbatim."""
    if global_mirror:
        return
    interfaces = vsctl('--no-heading', '--columns=name', 'find', 'interface',
                       'external-ids:iface-id=' + iface).split()
    for if_name in interfaces:
        port_uuids = vsctl('--no-heading', '--columns=_uuid', 'find', 'port',
                           'name=' + if_name.strip('"')).split()
        if len(port_uuids) != 1:
            raise RuntimeError('find port failed, %s' % if_name)
        port_id = port_uuids[0]
        if open_value == 'true':
            vsctl('add', 'mirror', MIRROR, 'select_dst_port', port_id)
            log('port %s (%s) added to %s select_dst_port' % (if_name, iface, MIRROR))
        else:
            found = vsctl('--no-heading', '--columns=select_dst_port', 'find', 'mirror',
                          'name=' + MIRROR).splitlines()
            if len(found) != 1:
                raise RuntimeError('find mirror %s failed, got %d results'
                                   % (MIRROR, len(found)))
            if port_id in found[0]:
                vsctl('remove', 'mirror', MIRROR, 'select_dst_port', port_id)
                log('port %s (%s) removed from %s select_dst_port' % (if_name, iface, MIRROR))


def api():
    from kubernetes import client, config
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)
    # The lab's apiserver serves a self-signed certificate whose names this address may not
    # carry; the token still authenticates the pod's service account.
    configuration.verify_ssl = False
    import urllib3
    urllib3.disable_warnings()
    return client.CoreV1Api(client.ApiClient(configuration))


def node_pods(core, node):
    """{uid: (iface-id, mirror annotation)} of the node's pods, as Kube-OVN's informer selects
    them (spec.nodeName=<node>, spec.hostNetwork=false: this apiserver, v1.20, has no field
    selector on hostNetwork, so that part is applied here)."""
    pods = core.list_pod_for_all_namespaces(field_selector='spec.nodeName=' + node).items
    return dict((pod.metadata.uid, ('%s.%s' % (pod.metadata.name, pod.metadata.namespace),
                                    (pod.metadata.annotations or {}).get(ANNOTATION)))
                for pod in pods if not pod.spec.host_network)


def has_port(iface):
    return bool(vsctl('--no-heading', '--columns=name', 'find', 'interface',
                      'external-ids:iface-id=' + iface))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--enable-mirror', default='false')
    parser.add_argument('--mirror-iface', default='mirror0')
    options, ignored = parser.parse_known_args(argv)
    enable_mirror = options.enable_mirror.lower() == 'true'
    node = os.environ['NODE_NAME']
    log('kube-ovn-cni (lab) on %s: --enable-mirror=%s --mirror-iface=%s; other args %s'
        % (node, enable_mirror, options.mirror_iface, ' '.join(ignored)))
    for attempt in range(1, RETRIES + 1):
        try:
            init_mirror(enable_mirror, options.mirror_iface)
            break
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            log('failed to initialize ovs mirror (attempt %d): %s' % (attempt, exc))
            if attempt == RETRIES:
                return 1
            time.sleep(RETRY_INTERVAL)
    log('InitMirror done: %s on br-int, mirror %s' % (options.mirror_iface, MIRROR))
    with open(READY_FILE, 'w') as handle:     # the readiness probe's: ready after InitMirror
        handle.write('ready\n')
    core = api()
    known = node_pods(core, node)      # the informer's first list: no handler runs for it
    while True:
        time.sleep(1)
        try:
            pods = node_pods(core, node)
        except Exception as exc:  # noqa: BLE001 - the API may restart; list again next time
            log('listing pods failed: %r' % exc)
            continue
        for uid, (iface, value) in pods.items():
            if uid in known:
                if known[uid][1] == value:
                    continue                     # enqueueUpdatePod: only a changed value
            elif not has_port(iface):
                continue                         # handleAdd's call, once its port is there
            try:
                config_interface_mirror(enable_mirror, value, iface)
            except RuntimeError as exc:
                log('mirror of %s failed, retried: %s' % (iface, exc))
                continue
            known[uid] = (iface, value)
        for uid in set(known) - set(pods):
            del known[uid]


if __name__ == '__main__':
    sys.exit(main())
