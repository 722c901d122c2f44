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

Each node NAME (`node-a`, `node-b`, ...; index i from 0) has:
- network namespace `kml-NAME`: `eth0` on kmlnodes at 198.51.100.(11+i) (the node IP), `eth1` on
  kmlunder as the port of the node's netdev bridge `br-phy`, which holds 172.31.0.(2+i)/24:
  the node's Geneve encap IP and its route to the underlay (OVS learns routes from the
  namespace's kernel, as on a real node);
- a mount namespace of its own, where `/run/openvswitch` is the node's OVS run directory, as
  on a real node: kube-ovn-cni's and ovs-ovn's hostPath volumes reach this node's OVS, and
  its host-network pods share this node's network namespace;
- ovsdb-server, ovs-vswitchd (userspace datapath), ovn-controller (system-id NAME), containerd
  and a kubelet (own root, state, sockets and cgroup root), each started in the node's
  namespaces with nsenter and stopped by pid.

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
from lab.daemons import (DaemonError, command_lines, spawn, stop_processes, wait_for_daemon,
                         wait_until)
from lab.kube import ControlPlane, kube_binaries, write_kubeconfig
from lab.node import (capture_in_pod, node_pki, write_cni, write_containerd_config,
                      write_kubelet_config)
from lab.ovn import POD_SWITCH, captures, run
from lab.ovn_versions import CURRENT_VERSION, ovn

MARKER = 'kubeovn-lab-cluster'      # every cluster work directory and socket directory
NODE_BRIDGE, UNDERLAY_BRIDGE = 'kmlnodes', 'kmlunder'
NODE_NETWORK = '198.51.100.0/24'
HOST_IP = '198.51.100.1'            # the host on the node network: kube-apiserver
NODE_NETWORK_PREFIX = 24
UNDERLAY = '172.31.0.0/24'
UNDERLAY_PREFIX = '172.31.0.'
SINK_IP = UNDERLAY_PREFIX + '21'    # the receiver pod's attachment (the mirrors' sink)
KUBELET_PORT = 10250
NODE_DAEMONS = ('ovsdb-server', 'ovs-vswitchd', 'ovn-controller', 'containerd', 'kubelet',
                'containerd-shim-runc-v2')
CENTRAL_DAEMONS = ('nb', 'sb', 'ovn-northd')
KUBE_OVN_LAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kube')


def node_names(count):
    return ['node-%s' % chr(ord('a') + index) for index in range(count)]


def node_user(name, index):
    """The node's token user (the Node authorizer's system:node:NAME)."""
    return ('%s-token' % name, 'system:node:' + name, str(20 + index), 'system:nodes')


class ClusterNode:
    """One node: its namespaces, OVS + ovn-controller, containerd + kubelet."""

    def __init__(self, cluster, name, index):
        self.cluster, self.name, self.index = cluster, name, index
        self.dir = os.path.join(cluster.dir, name)
        self.netns = 'kml-' + name
        self.ip = '198.51.100.%d' % (11 + index)
        self.underlay_ip = UNDERLAY_PREFIX + str(2 + index)
        # Unix socket paths are limited to 108 bytes: containerd's sockets, the kubelet's
        # root (its plugin sockets) and the mount namespace's file go to a short directory.
        self.sockdir = os.path.join(cluster.sockdir, name)
        self.mount_ns = os.path.join(self.sockdir, 'mnt')
        self.socket = os.path.join(self.sockdir, 'containerd.sock')
        self.cgroup_root = '/%s-%s' % (MARKER, hashlib.sha256(
            self.dir.encode()).hexdigest()[:8] + '-' + name)
        self.procs = {}
        self.env = dict(os.environ, OVS_RUNDIR=self.ovs_dir, OVS_LOGDIR=self.ovs_dir,
                        OVS_DBDIR=self.ovs_dir, OVN_RUNDIR=self.ovs_dir,
                        OVN_LOGDIR=self.ovs_dir, OVN_DBDIR=self.ovs_dir)

    @property
    def ovs_dir(self):
        """The node's OVS run directory: its /run/openvswitch."""
        return os.path.join(self.dir, 'ovs')

    def path(self, *names):
        return os.path.join(self.dir, *names)

    @property
    def ovs_db(self):
        return 'unix:' + os.path.join(self.ovs_dir, 'db.sock')

    def inside(self, cmd):
        """`cmd` run in the node's network and mount namespaces (nsenter execs it: the pid
        is the daemon's)."""
        return ['nsenter', '--net=/run/netns/' + self.netns, '--mount=' + self.mount_ns,
                '--'] + list(cmd)

    def tool(self, name, *args, check=True, timeout=30):
        """One of the cluster's OVN/OVS tools, in this node's namespaces."""
        return run(*self.inside(self.cluster.ovn.cmd(name) + list(args)), check=check,
                   env=self.env, timeout=timeout)

    def vsctl(self, *args):
        return self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=20', *args)

    def appctl(self, target, *args, check=True):
        """ovs-appctl to this node's `target` daemon (ovs-vswitchd, ovn-controller)."""
        with open(os.path.join(self.ovs_dir, target + '.pid')) as handle:
            pid = handle.read().strip()
        return self.tool('ovs-appctl', '-t', os.path.join(self.ovs_dir, '%s.%s.ctl' % (
            target, pid)), *args, check=check)

    def capture(self, interface, action, bpf='icmp', seconds=4, count=50):
        """tcpdump on one of the node's links (e.g. mirror0) while `action()` runs, bounded by
        `seconds` and `count`: (lines, pcap)."""
        return captures([(['ip', 'netns', 'exec', self.netns], interface, bpf)], action,
                        self.dir, seconds, count)[0]

    @property
    def python(self):
        """An interpreter that runs in the node's namespaces: for Ansible, the node as an
        inventory host (`ansible_connection: local`, `ansible_python_interpreter: this`),
        where /run/openvswitch/db.sock is the node's, as on a node reached over SSH."""
        path = os.path.join(self.cluster.bindir, 'python-' + self.name)
        if not os.path.exists(path):
            with open(path, 'w') as handle:
                handle.write('#!/bin/sh\nexec %s "$@"\n' % ' '.join(self.inside([sys.executable])))
            os.chmod(path, 0o755)
        return path

    def netns_run(self, *cmd, check=True, timeout=30):
        """A command in the node's network namespace (its host network)."""
        return run('ip', 'netns', 'exec', self.netns, *cmd, check=check, timeout=timeout)

    # ---- start ------------------------------------------------------------------------
    def start_network(self):
        """The node's namespaces and links on the node network and the underlay."""
        os.makedirs(self.ovs_dir, exist_ok=True)
        os.makedirs(self.sockdir, exist_ok=True)
        run('ip', 'netns', 'add', self.netns)
        for end, bridge, inner in (('m', NODE_BRIDGE, 'eth0'), ('u', UNDERLAY_BRIDGE, 'eth1')):
            host_end = 'kml%s%s' % (self.name.replace('-', ''), end)
            run('ip', 'link', 'add', host_end, 'type', 'veth', 'peer', 'name', inner,
                'netns', self.netns)
            run('ip', 'link', 'set', host_end, 'master', bridge, 'up')
            run('ip', '-n', self.netns, 'link', 'set', inner, 'up')
        run('ip', '-n', self.netns, 'link', 'set', 'lo', 'up')
        run('ip', '-n', self.netns, 'addr', 'add', '%s/%d' % (self.ip, NODE_NETWORK_PREFIX),
            'dev', 'eth0')
        # The node's own mount namespace, kept by a bind mount of its file: there
        # /run/openvswitch is this node's OVS run directory, and the kubelet's fixed log
        # directories are the node's own (a kubelet removes the pod logs it does not know).
        open(self.mount_ns, 'w').close()
        run('unshare', '--mount=' + self.mount_ns, '--propagation', 'slave', 'true')
        for source, target in ((self.ovs_dir, '/run/openvswitch'),
                               (self.path('log', 'pods'), '/var/log/pods'),
                               (self.path('log', 'containers'), '/var/log/containers')):
            os.makedirs(source, exist_ok=True)
            os.makedirs(target, exist_ok=True)
            run('nsenter', '--mount=' + self.mount_ns, '--', 'mount', '--bind', source, target)
        # shared, as a node's /run is: kube-ovn-cni mounts it with HostToContainer propagation
        run('nsenter', '--mount=' + self.mount_ns, '--', 'mount', '--make-shared',
            '/run/openvswitch')
        # /sys of the node's network namespace (its /sys/class/net lists the node's links, as
        # `ip netns exec` does), with the host's cgroup hierarchies kept under it
        keep = os.path.join(self.sockdir, 'cgroup')
        os.makedirs(keep, exist_ok=True)
        run(*self.inside(['sh', '-ec', 'mount --rbind /sys/fs/cgroup {0}; mount -t sysfs sysfs '
                          '/sys; mount --rbind {0} /sys/fs/cgroup; umount -l {0}'.format(keep)]))

    def _daemon(self, name, cmd, ready, timeout=30):
        self.procs[name] = spawn(self.inside(cmd), self.path(name + '.out'), env=self.env)
        wait_for_daemon('%s on %s' % (name, self.name), self.procs[name], ready, timeout,
                        [self.path(name + '.out'), os.path.join(self.ovs_dir, name + '.log')])

    def start_ovs(self):
        """ovsdb-server, ovs-vswitchd, br-phy on the underlay, br-int, ovn-controller."""
        tools = self.cluster.ovn
        db = os.path.join(self.ovs_dir, 'conf.db')
        run(*tools.cmd('ovsdb-tool') + ['create', db, tools.vswitch_schema], env=self.env)
        self._daemon('ovsdb-server', tools.cmd('ovsdb-server') + [
            db, '--remote=punix:' + os.path.join(self.ovs_dir, 'db.sock'),
            '--pidfile=' + os.path.join(self.ovs_dir, 'ovsdb-server.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovsdb-server.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'db.sock')))
        self.vsctl('--no-wait', 'init')
        self._daemon('ovs-vswitchd', tools.cmd('ovs-vswitchd') + [
            self.ovs_db, '--pidfile=' + os.path.join(self.ovs_dir, 'ovs-vswitchd.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovs-vswitchd.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'ovs-vswitchd.pid')))
        self.vsctl('add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev',
                   '--', 'add-port', 'br-phy', 'eth1')
        run('ip', '-n', self.netns, 'addr', 'add', self.underlay_ip + '/24', 'dev', 'br-phy')
        run('ip', '-n', self.netns, 'link', 'set', 'br-phy', 'up')
        self.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev',
                   'fail-mode=secure')
        self.vsctl('set', 'Open_vSwitch', '.', 'other_config:stats-update-interval=1000',
                   'external_ids:system-id=' + self.name,
                   'external_ids:hostname=' + self.name,
                   'external_ids:ovn-remote=' + self.cluster.sb,
                   'external_ids:ovn-encap-type=geneve',
                   'external_ids:ovn-encap-ip=' + self.underlay_ip,
                   'external_ids:ovn-bridge-datapath-type=netdev')
        self._daemon('ovn-controller', tools.cmd('ovn-controller') + [
            self.ovs_db, '--pidfile=' + os.path.join(self.ovs_dir, 'ovn-controller.pid'),
            '--log-file=' + os.path.join(self.ovs_dir, 'ovn-controller.log')],
            lambda: os.path.exists(os.path.join(self.ovs_dir, 'ovn-controller.pid')))

    def start_kubelet(self, archives):
        """containerd (the lab's images imported) and the kubelet, registering node NAME."""
        cluster = self.cluster
        write_cni(self.path('cni'), {
            'kubeconfig': cluster.plane.kubeconfig, 'ovs_db': self.ovs_db,
            'ovs_vsctl': cluster.ovn.cmd('ovs-vsctl'), 'log_file': self.path('cni.log')})
        config = write_containerd_config(self.path('containerd.toml'), self.path('containerd'),
                                         self.socket, self.path('cni'))
        self.procs['containerd'] = spawn(self.inside(['containerd', '--config', config]),
                                         self.path('containerd.log'))
        wait_until(lambda: self.alive('containerd') and os.path.exists(self.socket), 30,
                   'containerd socket on ' + self.name, interval=0.1)
        for archive in archives:
            run('ctr', '--address', self.socket, '-n', 'k8s.io', 'images', 'import', archive,
                timeout=300)
        self._cgroups('create')
        kubeconfig = write_kubeconfig(self.path('kubelet.kubeconfig'), cluster.plane.server,
                                      node_user(self.name, self.index)[0])
        config = write_kubelet_config(self.path('kubelet-config.yaml'), self.ip, KUBELET_PORT,
                                      cluster.pki.ca_cert, cgroupRoot=self.cgroup_root)
        self.procs['kubelet'] = spawn(self.inside([
            cluster.binaries['kubelet'], '--config=' + config, '--kubeconfig=' + kubeconfig,
            '--root-dir=' + os.path.join(self.sockdir, 'kubelet'),
            '--cert-dir=' + self.path('kubelet-pki'),
            '--container-runtime=remote', '--container-runtime-endpoint=unix://' + self.socket,
            '--hostname-override=' + self.name, '--node-ip=' + self.ip,
            '--volume-plugin-dir=' + self.path('volume-plugins'),
            '--pod-infra-container-image=' + images.PAUSE_IMAGE, '--v=1']),
            self.path('kubelet.log'))

    def _cgroups(self, action):
        """The node's cgroup root in every cgroup v1 hierarchy the kubelet uses: made before
        it starts; at the end, what is left in it killed and the directories removed."""
        base = '/sys/fs/cgroup'
        for controller in sorted(os.listdir(base)) if os.path.isdir(base) else ():
            root = os.path.join(base, controller) + self.cgroup_root
            if not os.path.isdir(os.path.join(base, controller)) or \
                    os.path.islink(os.path.join(base, controller)):
                continue
            if action == 'create':
                os.makedirs(root, exist_ok=True)
                continue
            for directory, dummy, dummy_files in os.walk(root, topdown=False):
                try:
                    with open(os.path.join(directory, 'cgroup.procs')) as handle:
                        pids = [int(pid) for pid in handle.read().split()]
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                for dummy in range(50):
                    try:
                        os.rmdir(directory)
                        break
                    except OSError:
                        time.sleep(0.1)

    def alive(self, name):
        proc = self.procs[name]
        if proc.poll() is not None:
            raise DaemonError('%s on %s' % (name, self.name),
                              'exited with status %s' % proc.returncode,
                              [self.path(name + '.log'), self.path(name + '.out')])
        return True

    # ---- stop -------------------------------------------------------------------------
    def stop(self):
        """The daemons by pid (kubelet and containerd first, OVS last, so the pods' ports
        are still there for CNI DEL), what the node's cgroup root still holds, its links,
        namespaces and directories."""
        for group in (('kubelet',), ('containerd',), ('ovn-controller',),
                      ('ovs-vswitchd', 'ovsdb-server')):
            if 'ovs-vswitchd' in group and os.path.exists(self.path('ovs', 'db.sock')):
                for bridge in ('br-int', 'br-phy'):   # its taps go with vswitchd running
                    self.tool('ovs-vsctl', '--db=' + self.ovs_db, '--timeout=5', '--if-exists',
                              'del-br', bridge, check=False)
            stop_processes([self.procs.pop(name) for name in group if name in self.procs])
        self._cgroups('remove')
        self.keep_logs()

    def keep_logs(self):
        """The node's logs, beside the cluster's directory (removed next)."""
        kept = os.path.join(os.path.dirname(self.cluster.dir), MARKER + '-logs', self.name)
        os.makedirs(kept, exist_ok=True)
        for path in (self.path('kubelet.log'), self.path('containerd.log'),
                     self.path('cni.log'), os.path.join(self.ovs_dir, 'ovs-vswitchd.log'),
                     os.path.join(self.ovs_dir, 'ovn-controller.log')):
            if os.path.exists(path):
                shutil.copy(path, kept)


class Cluster:
    """`Cluster(workdir, nodes=2).start()`: everything above; `stop()` takes it all down by
    pid. A start that fails stops what it had started and says which daemon failed."""

    def __init__(self, workdir, nodes=2, version=CURRENT_VERSION, users=()):
        self.dir = os.path.join(os.path.abspath(str(workdir)), MARKER)
        self.sockdir = os.path.join('/run', MARKER,
                                    hashlib.sha256(self.dir.encode()).hexdigest()[:8])
        self.ovn = ovn(version)
        self.nodes = [ClusterNode(self, name, index)
                      for index, name in enumerate(node_names(nodes))]
        self.users = list(users)
        self.central = {}
        self.plane = self.pki = self.binaries = None
        self._core = self._apps = None
        self.env = dict(os.environ, OVS_RUNDIR=self.central_dir, OVN_RUNDIR=self.central_dir,
                        OVS_LOGDIR=self.central_dir, OVN_LOGDIR=self.central_dir)

    @property
    def central_dir(self):
        return os.path.join(self.dir, 'central')

    @property
    def nb(self):
        return 'unix:' + os.path.join(self.central_dir, 'ovnnb_db.sock')

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

    @property
    def core(self):
        if self._core is None:
            from kubernetes import client, config
            api = config.new_client_from_config(self.kubeconfig)
            self._core, self._apps = client.CoreV1Api(api), client.AppsV1Api(api)
        return self._core

    @property
    def apps(self):
        self.core
        return self._apps

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
        for name, schema, sock in (('nb', tools.nb_schema, 'ovnnb_db.sock'),
                                   ('sb', tools.sb_schema, 'ovnsb_db.sock')):
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

    # ---- Kube-OVN's DaemonSets ----------------------------------------------------------
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
        base = '/sys/fs/cgroup'
        for controller in (os.listdir(base) if os.path.isdir(base) else ()):
            path = os.path.join(base, controller)
            for entry in (os.listdir(path) if os.path.isdir(path) and
                          not os.path.islink(path) else ()):
                if entry.startswith(MARKER):
                    leftover = ClusterNode.__new__(ClusterNode)
                    leftover.cgroup_root = '/' + entry
                    ClusterNode._cgroups(leftover, 'remove')
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


def running(pid):
    """The process exists and is not a zombie (one killed while its parent, say a test run
    that is still stopping, has not reaped it yet)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


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
