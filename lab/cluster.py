"""A test cluster that behaves like users' clusters: a control plane with its controllers, one
OVN central, and N nodes, each with its own network, OVS, ovn-controller, containerd and
kubelet; Kube-OVN's kube-ovn-cni and ovs-ovn as DaemonSets.

On the host:
- bridge `kmlnodes`, the node network, 198.51.100.1/24 on the host: kube-apiserver listens
  there and reaches each kubelet at its node IP (documentation addresses; a start refuses to
  run when the host already routes them or the underlay);
- bridge `kmlunder`, the underlay (no host address): every node's `br-phy` is plugged into it,
  so Geneve between nodes and the mirrored copies to a sink cross it;
- etcd, kube-apiserver, kube-scheduler, kube-controller-manager (lab/kube.py);
- OVN central: NB, SB, ovn-northd, of the chosen OVN version.

Each node (`node-a`, `node-b`, ...) has its own network and mount namespaces, OVS,
ovn-controller, containerd and kubelet (lab/node.py).

Kube-OVN's controller is played by lab/standin.py (addresses, LSPs); kube-ovn-cni's mirror
code runs as the DaemonSet `kube-system/kube-ovn-cni` (lab/kube_ovn_cni.py, upstream's
manifest with the lab's image), and the CNI plugin (lab/cni.py) wires each pod onto its own
node's br-int. The underlay's sink address 172.31.0.21 is the receiver pod's attachment.
"""

import copy
import hashlib
import json
import os
import re
import shutil
import sys
import time

import yaml

from lab import images
from lab.daemons import DaemonError, command_lines, reserve_ports, running, spawn, \
    stop_processes, wait_for_daemon, wait_until
from lab.kube import ControlPlane, kube_binaries
from lab.node import (MARKER, NODE_BRIDGE, NODE_NETWORK_PREFIX, UNDERLAY_BRIDGE,
                      UNDERLAY_PREFIX, Node, capture_in_pod, node_names, node_pki,
                      node_user, cgroup_hierarchies, remove_cgroup_root)
from lab.ovn import POD_SWITCH, run
from lab.ovn_versions import CURRENT_VERSION, ovn

NODE_NETWORK = '198.51.100.0/24'
HOST_IP = '198.51.100.1'            # the host on the node network: kube-apiserver
UNDERLAY = '172.31.0.0/24'
SINK_IP = UNDERLAY_PREFIX + '21'    # the receiver pod's attachment (the mirrors' sink)
KUBE_OVN_LAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kube')


class Cluster:
    """`Cluster(workdir, nodes=2).start()`: everything above; `stop()` takes it all down by
    pid. A start that fails stops what it had started and says which daemon failed."""

    def __init__(self, workdir, nodes=2, version=CURRENT_VERSION, users=(), nb_members=1):
        """`nb_members`: 1, a standalone NB; 3, a clustered (RAFT) NB whose members
        `kill_nb_member` and `start_nb_member` crash and bring back (`nb` names them all)."""
        self.nb_members = ['nb%d' % (index + 1) for index in range(nb_members)] \
            if nb_members > 1 else []
        self.dir = os.path.join(os.path.abspath(str(workdir)), MARKER)
        self.sockdir = os.path.join('/run', MARKER,
                                    hashlib.sha256(self.dir.encode()).hexdigest()[:8])
        self.ovn = ovn(version)
        self.nodes = [Node(self, name, index)
                      for index, name in enumerate(node_names(nodes))]
        self.users = list(users)
        self.central = {}
        self.plane = self.pki = self.binaries = self.standin = None
        self._core = self._apps = None
        self.env = dict(os.environ, OVS_RUNDIR=self.central_dir, OVN_RUNDIR=self.central_dir,
                        OVS_LOGDIR=self.central_dir, OVN_LOGDIR=self.central_dir)

    @property
    def central_dir(self):
        return os.path.join(self.dir, 'central')

    @property
    def nb(self):
        if self.nb_members:
            return ','.join('unix:' + self._nb_path(name, '.sock') for name in self.nb_members)
        return 'unix:' + os.path.join(self.central_dir, 'ovnnb_db.sock')

    def _nb_path(self, member, suffix):
        return os.path.join(self.central_dir, member + suffix)

    @property
    def sb(self):
        return 'unix:' + os.path.join(self.central_dir, 'ovnsb_db.sock')

    def node(self, name):
        return next(node for node in self.nodes if node.name == name)

    @property
    def kubeconfig(self):
        return self.plane.kubeconfig

    @property
    def bindir(self):
        """Holds `kubectl` (v1.20.2, built with the apiserver): put it first on PATH."""
        return os.path.join(self.dir, 'bin')

    def nbctl(self, *args):
        return run(*self.ovn.cmd('ovn-nbctl') + ['--db=' + self.nb, '--timeout=20'] +
                   list(args), env=self.env)

    def sbctl(self, *args):
        return run(*self.ovn.cmd('ovn-sbctl') + ['--db=' + self.sb, '--timeout=20'] +
                   list(args), env=self.env)

    def kubectl(self, *args, check=True, timeout=60):
        return run(os.path.join(self.bindir, 'kubectl'), '--kubeconfig=' + self.kubeconfig,
                   *args, check=check, timeout=timeout)

    def _clients(self):
        if self._core is None:
            from kubernetes import client, config
            api = config.new_client_from_config(self.kubeconfig)
            self._core, self._apps = client.CoreV1Api(api), client.AppsV1Api(api)
        return self._core, self._apps

    @property
    def core(self):
        return self._clients()[0]

    @property
    def apps(self):
        return self._clients()[1]

    # ---- start ------------------------------------------------------------------------
    def start(self):
        started = time.monotonic()
        self.stop_leftovers()
        os.makedirs(self.dir)
        try:
            self._start()
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                exc = DaemonError('test cluster', str(exc), [path for node in self.nodes for
                                                             path in (node.path('kubelet.log'),
                                                                      node.path('cni.log'))])
            self.stop()
            raise exc
        self.start_seconds = time.monotonic() - started
        return self

    def _start(self):
        check_networks_free()
        self.binaries = kube_binaries()
        archives = list(images.build_all().values())
        os.makedirs(self.bindir)
        os.symlink(self.binaries['kubectl'], os.path.join(self.bindir, 'kubectl'))
        os.makedirs(self.sockdir)
        # The socket directory holds the nodes' mount namespace files: it must not be a
        # shared mount (or the namespace would hold a reference to itself).
        run('mount', '--bind', self.sockdir, self.sockdir)
        run('mount', '--make-private', self.sockdir)
        for bridge, address in ((NODE_BRIDGE, HOST_IP), (UNDERLAY_BRIDGE, None)):
            run('ip', 'link', 'add', bridge, 'type', 'bridge')
            if address:
                run('ip', 'addr', 'add', '%s/%d' % (address, NODE_NETWORK_PREFIX), 'dev', bridge)
            run('ip', 'link', 'set', bridge, 'up')
        for node in self.nodes:
            node.start_network()
        self._start_central()
        for node in self.nodes:
            node.start_ovs()
        self.pki, apiserver_args = node_pki(os.path.join(self.dir, 'pki'))
        self.plane = ControlPlane(
            os.path.join(self.dir, 'kube'), users=[node_user(node.name, node.index) for node in
                                                   self.nodes] + self.users,
            extra_apiserver_args=apiserver_args, bind_address=HOST_IP, controllers=True)
        os.makedirs(self.plane.workdir)
        self.plane.start()
        self.plane.kubectl_apply(os.path.join(KUBE_OVN_LAB, 'kube-ovn-lab-rbac.yaml'))
        for node in self.nodes:
            node.start_kubelet(archives)
        wait_until(self._nodes_ready, 180, 'nodes %s Ready and untainted'
                   % ', '.join(node.name for node in self.nodes), interval=0.5)
        wait_until(lambda: all(self.sbctl('--bare', '--columns=name', 'find', 'Chassis',
                                          'name=' + node.name) for node in self.nodes),
                   30, 'every node\'s chassis in the SB', interval=0.2)

    def _start_central(self):
        tools, directory = self.ovn, self.central_dir
        os.makedirs(directory)
        if self.nb_members:
            self._create_nb_cluster()
        for name, schema, sock in (('nb', tools.nb_schema, 'ovnnb_db.sock'),
                                   ('sb', tools.sb_schema, 'ovnsb_db.sock')):
            if name == 'nb' and self.nb_members:
                continue
            db = os.path.join(directory, name + '.db')
            run(*tools.cmd('ovsdb-tool') + ['create', db, schema], env=self.env)
            self._central(name, tools.cmd('ovsdb-server') + [
                db, '--remote=punix:' + os.path.join(directory, sock),
                '--unixctl=' + os.path.join(directory, name + '.ctl'),
                '--pidfile=' + os.path.join(directory, name + '.pid'),
                '--log-file=' + os.path.join(directory, name + '.log')],
                lambda sock=sock: os.path.exists(os.path.join(directory, sock)))
        self._central('ovn-northd', tools.cmd('ovn-northd') + [
            '--ovnnb-db=' + self.nb, '--ovnsb-db=' + self.sb,
            '--unixctl=' + os.path.join(directory, 'ovn-northd.ctl'),
            '--pidfile=' + os.path.join(directory, 'ovn-northd.pid'),
            '--log-file=' + os.path.join(directory, 'ovn-northd.log')],
            lambda: os.path.exists(os.path.join(directory, 'ovn-northd.ctl')))
        self.nbctl('ls-add', POD_SWITCH)

    def _create_nb_cluster(self):
        """The NB as a RAFT cluster of `nb_members` on 127.0.0.1 (RAFT) and unix sockets
        (clients), formed before ovn-northd starts."""
        tool = self.ovn.cmd('ovsdb-tool')
        rafts = ['tcp:127.0.0.1:%d' % port for port in reserve_ports(len(self.nb_members))]
        self.nb_rafts = dict(zip(self.nb_members, rafts))
        first = self.nb_members[0]
        run(*tool + ['create-cluster', self._nb_path(first, '.db'), self.ovn.nb_schema,
                     rafts[0]], env=self.env)
        for member in self.nb_members[1:]:
            run(*tool + ['join-cluster', self._nb_path(member, '.db'), 'OVN_Northbound',
                         self.nb_rafts[member], rafts[0]], env=self.env)
        for member in self.nb_members:
            self.start_nb_member(member, wait_for_leader=False)
        wait_until(self.nb_leader, 30, 'the NB cluster\'s leader', interval=0.2)

    def start_nb_member(self, member, wait_for_leader=True):
        """(Re)start NB member `member` on its database file."""
        for suffix in ('.sock', '.ctl'):
            if os.path.exists(self._nb_path(member, suffix)):
                os.unlink(self._nb_path(member, suffix))
        self._central(member, self.ovn.cmd('ovsdb-server') + [
            self._nb_path(member, '.db'), '--remote=punix:' + self._nb_path(member, '.sock'),
            '--unixctl=' + self._nb_path(member, '.ctl'),
            '--pidfile=' + self._nb_path(member, '.pid'),
            '--log-file=' + self._nb_path(member, '.log')],
            lambda: all(os.path.exists(self._nb_path(member, suffix))
                        for suffix in ('.sock', '.ctl')))
        if wait_for_leader:
            wait_until(self.nb_leader, 30, 'the NB cluster\'s leader', interval=0.2)

    def nb_member_status(self, member):
        proc = self.central.get(member)
        if proc is None or proc.poll() is not None:
            return ''
        return run(*self.ovn.cmd('ovs-appctl') + ['-t', self._nb_path(member, '.ctl'),
                                                  'cluster/status', 'OVN_Northbound'],
                   env=self.env, check=False, timeout=10)

    def nb_leader(self):
        """The NB member that is leader now, or None."""
        return next((member for member in self.nb_members
                     if 'Role: leader' in self.nb_member_status(member)), None)

    def kill_nb_member(self, member):
        """SIGKILL, as a crash: no clean leadership transfer."""
        self.central[member].kill()
        self.central[member].wait(10)

    def _central(self, name, cmd, ready):
        path = os.path.join(self.central_dir, name)
        self.central[name] = spawn(cmd, path + '.out', env=self.env)
        wait_for_daemon(name, self.central[name], ready, 20, [path + '.log', path + '.out'])

    def _nodes_ready(self):
        """Every node Ready and without the not-ready taint (the node lifecycle controller
        removes it)."""
        from kubernetes.client.exceptions import ApiException
        for node in self.nodes:
            for name in ('containerd', 'kubelet'):
                node.alive(name)
            try:
                status = self.core.read_node(node.name)
            except ApiException:
                return False
            if not any(c.type == 'Ready' and c.status == 'True'
                       for c in status.status.conditions or []):
                return False
            if any(t.key.startswith('node.kubernetes.io/') for t in status.spec.taints or []):
                return False
        return True

    # ---- pods ---------------------------------------------------------------------------
    def pod(self, name, node=None, namespace='default', labels=None, annotations=None,
            command=('sleep', 'infinity')):
        """A pod of the tools image, on `node` when given; returns it once Running."""
        spec = {'terminationGracePeriodSeconds': 1, 'automountServiceAccountToken': False,
                'containers': [{'name': 'app', 'image': images.TOOLS_IMAGE,
                                'imagePullPolicy': 'Never', 'command': list(command)}]}
        if node:
            spec['nodeName'] = node
        self.core.create_namespaced_pod(namespace, {'metadata': {
            'name': name, 'labels': labels or {}, 'annotations': annotations or {}},
            'spec': spec})
        return self.wait_running(name, namespace)

    def wait_running(self, name, namespace='default', timeout=120):
        def running():
            pod = self.core.read_namespaced_pod(name, namespace)
            return pod.status.phase == 'Running'
        wait_until(running, timeout, 'pod %s/%s Running' % (namespace, name), interval=0.5)
        return self.core.read_namespaced_pod(name, namespace)

    def exec(self, pod, *cmd, namespace='default', check=True, timeout=60):
        return self.kubectl('-n', namespace, 'exec', pod, '--', *cmd, check=check,
                            timeout=timeout)

    def ping(self, pod, address, count=3, namespace='default'):
        """A bounded ping from `pod`; ping's output."""
        return self.exec(pod, 'ping', '-c', str(count), '-i', '0.2', '-W', '1', address,
                         namespace=namespace, check=False)

    def capture_in_pod(self, pod, interface, action, bpf='ip proto 47', seconds=6, count=200,
                       namespace='default'):
        """tcpdump inside `pod` while `action()` runs; the pcap's path."""
        pcap = os.path.join(self.dir, 'capture-%s-%d.pcap' % (pod, time.monotonic_ns()))
        return capture_in_pod([os.path.join(self.bindir, 'kubectl'),
                               '--kubeconfig=' + self.kubeconfig], pod, interface, action, pcap,
                              bpf, seconds, count, namespace)

    # ---- Kube-OVN -----------------------------------------------------------------------
    def start_kube_ovn(self, receiver_mac=None, lifetime=900):
        """Kube-OVN's part: its controller played by lab/standin.py (the receiver pod
        `default/mirror-receiver` gets the sink address on its attachment, and `receiver_mac`
        there when given) for at most `lifetime` seconds, stopped with the cluster; then its
        DaemonSets."""
        from lab.standin import ClusterStandIn
        receiver = ('default', 'mirror-receiver')
        self.standin = ClusterStandIn(
            self.kubeconfig, node=self, daemonsets=False,
            nodes=[node.name for node in self.nodes], addresses={receiver: SINK_IP},
            macs={receiver: receiver_mac} if receiver_mac else None, lifetime=lifetime).start()
        self.kube_ovn_daemonsets()
        return self

    def kube_ovn_daemonsets(self, enable_mirror=False):
        """kube-system/kube-ovn-cni (upstream's manifest, lab/kube/kube-ovn-cni-installsh.yaml,
        running lab/kube_ovn_cni.py in the tools image with upstream's args) and
        kube-system/ovs-ovn; returns once both run on every node."""
        with open(os.path.join(KUBE_OVN_LAB, 'kube-ovn-cni-installsh.yaml')) as handle:
            cni = yaml.safe_load(handle)
        cni = kube_ovn_cni_daemonset(cni, self.plane, enable_mirror)
        self.apps.create_namespaced_daemon_set('kube-system', cni)
        self.apps.create_namespaced_daemon_set('kube-system', ovs_ovn_daemonset())
        self.wait_daemonset('kube-ovn-cni')
        self.wait_daemonset('ovs-ovn')

    def wait_daemonset(self, name, namespace='kube-system', timeout=180):
        """Until the DaemonSet's current generation is Ready on every node."""
        def rolled_out():
            ds = self.apps.read_namespaced_daemon_set(name, namespace)
            status = ds.status
            return ((status.observed_generation or 0) >= ds.metadata.generation and
                    status.desired_number_scheduled == len(self.nodes) and
                    status.updated_number_scheduled == len(self.nodes) and
                    status.number_ready == len(self.nodes))
        wait_until(rolled_out, timeout, 'DaemonSet %s/%s rolled out' % (namespace, name),
                   interval=0.5)

    def daemon_pod(self, app, node):
        """The pod of DaemonSet `app` (label app=...) on `node`, or None."""
        pods = self.core.list_namespaced_pod(
            'kube-system', label_selector='app=' + app,
            field_selector='spec.nodeName=' + node).items
        pods = [pod for pod in pods if pod.metadata.deletion_timestamp is None]
        return pods[0] if pods else None

    # ---- stop ---------------------------------------------------------------------------
    def stop(self):
        """Pods deleted (the kubelets stop them, CNI DEL), then every daemon by pid, the
        namespaces, links and directories."""
        if self.standin is not None:
            self.standin.stop()
        if self.plane is not None and self.plane.procs:
            try:
                self._drain(90)
            except Exception as exc:  # noqa: BLE001 - the daemons are stopped regardless
                print('cluster: pods not drained: %r' % exc, file=sys.stderr)
        for node in self.nodes:
            node.stop()
        if self.plane is not None:
            self.plane.stop()
        stop_processes(list(self.central.values()))
        self.central = {}
        self.stop_leftovers()

    def _drain(self, timeout):
        """Every workload and pod deleted at once; the kubelets stop them (sandboxes last,
        CNI DEL); no container task left on any node is what is waited for."""
        from kubernetes.client.exceptions import ApiException
        for namespace in ('default', 'kube-system'):
            for kind in ('deployment', 'daemon_set', 'stateful_set', 'replica_set'):
                try:
                    getattr(self.apps, 'delete_collection_namespaced_' + kind)(namespace)
                except ApiException:
                    pass
        for pod in self.core.list_pod_for_all_namespaces().items:
            self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                            grace_period_seconds=0)

        def stopped():
            return not any(run('ctr', '--address', node.socket, '-n', 'k8s.io', 'tasks',
                               'list', '-q', check=False)
                           for node in self.nodes if os.path.exists(node.socket))
        wait_until(stopped, timeout, 'pod sandboxes stopped', interval=0.5)

    def stop_leftovers(self):
        """What a cluster (this one or a crashed run's) left: processes whose command line
        names a cluster directory, the nodes' cgroup roots, mounts, links, namespaces."""
        pids = [pid for pid, argv in command_lines() if any(
            '/%s/' % MARKER in arg or arg.endswith('/' + MARKER) for arg in argv)]
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        wait_until(lambda: not any(running(pid) for pid in pids), 10,
                   'cluster processes gone', interval=0.1)
        for hierarchy in cgroup_hierarchies():
            for entry in os.listdir(hierarchy):
                if entry.startswith(MARKER):
                    remove_cgroup_root('/' + entry)
        with open('/proc/self/mounts') as handle:
            mounts = [line.split()[1] for line in handle]
        for mount in sorted((m for m in mounts if '/%s/' % MARKER in m or
                             m.endswith('/' + MARKER)), reverse=True):
            run('umount', '-l', mount, check=False)
        for line in run('ip', 'netns', 'list', check=False).splitlines():
            name = line.split()[0] if line.split() else ''
            if name.startswith('kml-node-'):
                run('ip', 'netns', 'del', name, check=False)
        for link in json.loads(run('ip', '-j', 'link', 'show', check=False) or '[]'):
            name = link['ifname']
            if name in (NODE_BRIDGE, UNDERLAY_BRIDGE) or re.match(r'kmlnode[a-z][mu]$', name):
                run('ip', 'link', 'del', name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


def check_networks_free():
    """The node network and the underlay must be the cluster's alone: refuse to start where
    the host already has a route into either (its own network, another lab)."""
    import ipaddress
    wanted = [ipaddress.ip_network(NODE_NETWORK), ipaddress.ip_network(UNDERLAY)]
    for route in json.loads(run('ip', '-j', '-4', 'route', 'show', 'table', 'all') or '[]'):
        if route.get('dst') in (None, 'default') or route.get('type') not in (None, 'unicast'):
            continue
        network = ipaddress.ip_network(route['dst'], strict=False)
        for mine in wanted:
            if network.overlaps(mine) and network.prefixlen > 0:
                raise DaemonError('test cluster', 'cannot use %s: the host already routes %s '
                                  'on %s' % (mine, network, route.get('dev')))


def kube_ovn_cni_daemonset(upstream, plane, enable_mirror):
    """Upstream's kube-ovn-cni DaemonSet with what this lab changes: the tools image running
    lab/kube_ovn_cni.py (mounted from this checkout) with upstream's own args, the node's
    /run/openvswitch mounted as upstream does, NODE_NAME as upstream sets it, and the API's
    address (no kube-proxy here makes the `kubernetes` Service reachable). Init containers
    (they install Kube-OVN's CNI binary; this lab has its own) are left out."""
    ds = copy.deepcopy(upstream)
    spec = ds['spec']['template']['spec']
    spec.pop('initContainers', None)
    spec['terminationGracePeriodSeconds'] = 1
    container = next(c for c in spec['containers'] if c['name'] == 'cni-server')
    container['args'] = ['--enable-mirror=%s' % str(bool(enable_mirror)).lower()] + [
        arg for arg in container['args'] if not arg.startswith('--enable-mirror=')]
    host, port = plane.server.split('//')[1].rsplit(':', 1)
    container.update(image=images.TOOLS_IMAGE, imagePullPolicy='Never',
                     command=['python3', '/kube-ovn-lab/kube_ovn_cni.py'],
                     # Ready once InitMirror is done, as upstream's /readyz probe would say
                     readinessProbe={'exec': {'command': ['test', '-f',
                                                          '/tmp/kube-ovn-cni-ready']},
                                     'periodSeconds': 1},
                     env=[{'name': 'NODE_NAME',
                           'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName'}}},
                          {'name': 'KUBERNETES_SERVICE_HOST', 'value': host},
                          {'name': 'KUBERNETES_SERVICE_PORT', 'value': port}],
                     volumeMounts=[{'name': 'host-run-ovs', 'mountPath': '/run/openvswitch',
                                    'mountPropagation': 'HostToContainer'},
                                   {'name': 'kube-ovn-lab', 'mountPath': '/kube-ovn-lab',
                                    'readOnly': True}])
    spec['volumes'] = [{'name': 'host-run-ovs', 'hostPath': {'path': '/run/openvswitch'}},
                       {'name': 'kube-ovn-lab', 'hostPath': {
                           'path': os.path.dirname(os.path.abspath(__file__))}}]
    return ds


def ovs_ovn_daemonset():
    """kube-system/ovs-ovn as Kube-OVN's install script labels and mounts it (app=ovs,
    container openvswitch, host network and pid, the node's /run/openvswitch at
    /var/run/openvswitch), running the tools image (python3-openvswitch, ovs-appctl) instead
    of OVS itself: the node's OVS is the lab's."""
    labels = {'app': 'ovs', 'component': 'network', 'type': 'infra'}
    return {
        'apiVersion': 'apps/v1', 'kind': 'DaemonSet',
        'metadata': {'name': 'ovs-ovn', 'namespace': 'kube-system'},
        'spec': {'selector': {'matchLabels': {'app': 'ovs'}}, 'template': {
            'metadata': {'labels': labels},
            'spec': {
                'hostNetwork': True, 'hostPID': True, 'terminationGracePeriodSeconds': 1,
                'serviceAccountName': 'ovn-ovs', 'automountServiceAccountToken': False,
                'tolerations': [{'operator': 'Exists'}],
                'containers': [{
                    'name': 'openvswitch', 'image': images.TOOLS_IMAGE,
                    'imagePullPolicy': 'Never', 'command': ['sleep', 'infinity'],
                    'volumeMounts': [{'name': 'host-run-ovs',
                                      'mountPath': '/var/run/openvswitch'}]}],
                'volumes': [{'name': 'host-run-ovs',
                             'hostPath': {'path': '/run/openvswitch'}}]}}}}
