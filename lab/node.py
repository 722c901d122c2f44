"""A real Kubernetes node for the test cluster: containerd + kubelet (and kube-scheduler), with
the lab's CNI plugin (lab/cni.py) wiring pods onto the OVN lab's br-int.

Everything lives in one work directory (`.../kubeovn-lab-node`): containerd's config, root
and state, the kubelet's certificates, the CNI configuration; containerd's sockets and the
kubelet's root directory (which holds sockets too) are in a short directory under
/run/kubeovn-lab-node/, as unix socket paths are limited to 108 bytes. The machine's own
containerd or kubelet, if any, is not touched. Every daemon is started and stopped by its pid;
stopping first deletes the node's pods and waits for the kubelet to stop their sandboxes (CNI
DEL), then kills what a crashed run may have left (processes whose command line names a node
directory) and unmounts what is left under those directories.

The node's address is on a link the node makes (`kmlnode0`, one end of a veth pair,
192.0.2.66/32, a documentation address; the kubelet refuses a loopback node IP); the
apiserver reaches the kubelet there for `kubectl exec` and logs, with a client certificate the
kubelet trusts.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

from lab import images
from lab.daemons import (DaemonError, Pki, command_lines, reserve_ports, spawn, stop_processes,
                         wait_until)
from lab.kube import kube_binaries, write_kubeconfig
from lab.ovn import run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = 'kubeovn-lab-node'          # every node work directory ends with this
NODE_LINK, NODE_IP = 'kmlnode0', '192.0.2.66'
NODE_NAME = 'lab-chassis'            # the OVN lab's chassis (system-id) is this node
NODE_USER = ('node-token', 'system:node:' + NODE_NAME, '10', 'system:nodes')
SCHEDULER_USER = ('scheduler-token', 'system:kube-scheduler', '11', '')
DAEMONS = ('containerd', 'kubelet', 'kube-scheduler', 'containerd-shim-runc-v2')
POD_MTU = 1400                       # Kube-OVN's default on a geneve overlay


class Node:
    """`plane`: a lab.kube.ControlPlane started with `node_pki(...)`'s arguments and
    NODE_USER / SCHEDULER_USER among its users; `lab`: the started lab.ovn.Lab."""

    def __init__(self, workdir, plane, lab, pki):
        self.dir = os.path.join(os.path.abspath(str(workdir)), MARKER)
        self.plane, self.lab, self.pki = plane, lab, pki
        self.procs = {}
        self._core = None
        # Unix socket paths are limited to 108 bytes; a test's work directory can be longer:
        # containerd's sockets and the kubelet's root directory are in a short one.
        self.sockdir = os.path.join('/run', MARKER,
                                    hashlib.sha256(self.dir.encode()).hexdigest()[:8])
        self.socket = os.path.join(self.sockdir, 'containerd.sock')

    def path(self, *names):
        return os.path.join(self.dir, *names)

    @property
    def bindir(self):
        """Holds `kubectl` (v1.20.2, built with the apiserver): put it first on PATH."""
        return self.path('bin')

    # ---- start --------------------------------------------------------------------------
    def start(self):
        started = time.monotonic()
        self.stop_leftovers()
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.sockdir, exist_ok=True)
        try:
            archives = images.build_all()
            bins = kube_binaries()
            # `kubectl` on PATH (kubernetes.core's kubectl connection runs it by that name)
            os.makedirs(self.bindir)
            os.symlink(bins['kubectl'], os.path.join(self.bindir, 'kubectl'))
            self._address()
            self._cni()
            self._containerd()
            for archive in archives.values():
                run('ctr', '--address', self.socket, '-n', 'k8s.io', 'images', 'import',
                    archive, timeout=300)
            self._kubelet(bins['kubelet'])
            self._scheduler(bins['kube-scheduler'])
            wait_until(self.ready, 120, 'node %s Ready' % NODE_NAME, interval=0.5)
            self._untaint()
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                exc = DaemonError('test node', str(exc), [self.path(name + '.log') for name in
                                                          ('containerd', 'kubelet')])
            self.stop()
            raise exc
        self.start_seconds = time.monotonic() - started
        return self

    def _address(self):
        run('ip', 'link', 'del', NODE_LINK, check=False)
        # A veth pair, not a dummy link: this kernel may lack the dummy module.
        run('ip', 'link', 'add', NODE_LINK, 'type', 'veth', 'peer', 'name', NODE_LINK + 'p')
        run('ip', 'addr', 'add', NODE_IP + '/32', 'dev', NODE_LINK)
        for link in (NODE_LINK, NODE_LINK + 'p'):
            run('ip', 'link', 'set', link, 'up')

    def _cni(self):
        write_cni(self.path('cni'), {
            'kubeconfig': self.plane.kubeconfig, 'ovs_db': self.lab.ovs_db,
            'ovs_vsctl': self.lab.ovn.cmd('ovs-vsctl'), 'log_file': self.path('cni.log')})

    def _spawn(self, name, cmd):
        self.procs[name] = spawn(cmd, self.path(name + '.log'))

    def _containerd(self):
        config = write_containerd_config(self.path('containerd.toml'), self.path('containerd'),
                                         self.socket, self.path('cni'))
        self._spawn('containerd', ['containerd', '--config', config])
        wait_until(lambda: self._alive('containerd') and os.path.exists(self.socket), 30,
                   'containerd socket', interval=0.1)

    def _kubelet(self, binary):
        port, = reserve_ports(1)
        kubeconfig = write_kubeconfig(self.path('kubelet.kubeconfig'), self.plane.server,
                                      NODE_USER[0])
        config = write_kubelet_config(self.path('kubelet-config.yaml'), NODE_IP, port,
                                      self.pki.ca_cert)
        self._spawn('kubelet', [
            binary, '--config=' + config, '--kubeconfig=' + kubeconfig,
            # in the short directory too: the kubelet's plugin sockets live under its root
            '--root-dir=' + os.path.join(self.sockdir, 'kubelet'),
            '--cert-dir=' + self.path('kubelet-pki'),
            '--container-runtime=remote',
            '--container-runtime-endpoint=unix://' + self.socket,
            '--hostname-override=' + NODE_NAME, '--node-ip=' + NODE_IP,
            '--volume-plugin-dir=' + self.path('volume-plugins'),
            '--pod-infra-container-image=' + images.PAUSE_IMAGE, '--v=1'])

    def _scheduler(self, binary):
        port, = reserve_ports(1)
        kubeconfig = write_kubeconfig(self.path('scheduler.kubeconfig'), self.plane.server,
                                      SCHEDULER_USER[0])
        self._spawn('kube-scheduler', [
            binary, '--kubeconfig=' + kubeconfig, '--leader-elect=false', '--port=0',
            '--bind-address=127.0.0.1', '--secure-port=%d' % port,
            '--authentication-kubeconfig=' + kubeconfig,
            '--authorization-kubeconfig=' + kubeconfig,
            '--cert-dir=' + self.path('scheduler-pki')])

    def _alive(self, name):
        proc = self.procs[name]
        if proc.poll() is not None:
            raise DaemonError(name, 'exited with status %s' % proc.returncode,
                              [self.path(name + '.log')])
        return True

    def ready(self):
        for name in self.procs:
            self._alive(name)
        from kubernetes import client
        try:
            node = self.core.read_node(NODE_NAME)
        except client.exceptions.ApiException:
            return False
        return any(c.type == 'Ready' and c.status == 'True'
                   for c in node.status.conditions or [])

    def _untaint(self):
        """What the node lifecycle controller (kube-controller-manager, not run here) does
        once the node is Ready: remove the not-ready taint the kubelet registered it with."""
        core = self.core
        taints = [t for t in core.read_node(NODE_NAME).spec.taints or []
                  if t.key != 'node.kubernetes.io/not-ready']
        core.patch_node(NODE_NAME, {'spec': {'taints': [
            {'key': t.key, 'effect': t.effect, 'value': t.value} for t in taints] or None}})

    @property
    def core(self):
        if self._core is None:
            from kubernetes import client, config
            self._core = client.CoreV1Api(config.new_client_from_config(self.plane.kubeconfig))
        return self._core

    # ---- use ----------------------------------------------------------------------------
    def kubectl(self, *args, check=True, timeout=60):
        """kubectl (v1.20.2, built with the apiserver) against the test cluster."""
        return run(os.path.join(self.bindir, 'kubectl'), '--kubeconfig=' + self.plane.kubeconfig,
                   *args, check=check, timeout=timeout)

    def wait_running(self, name, namespace='default', timeout=120):
        """The pod once it is Running."""
        core = self.core

        def running():
            pod = core.read_namespaced_pod(name, namespace)
            return pod if pod.status.phase == 'Running' else None
        wait_until(running, timeout, 'pod %s/%s Running' % (namespace, name), interval=0.5)
        return core.read_namespaced_pod(name, namespace)

    def capture(self, pod, interface, action, bpf='ip proto 47', seconds=6, count=200,
                namespace='default', pcap=None):
        """tcpdump inside `pod` (see capture_in_pod), saved at `pcap`."""
        pcap = pcap or self.path('capture-%s-%d.pcap' % (pod, time.monotonic_ns()))
        return capture_in_pod([os.path.join(self.bindir, 'kubectl'),
                               '--kubeconfig=' + self.plane.kubeconfig], pod, interface, action,
                              pcap, bpf, seconds, count, namespace)

    # ---- stop ---------------------------------------------------------------------------
    def stop(self, timeout=90):
        """Delete the node's pods (the kubelet stops them and runs CNI DEL), then stop the
        daemons by pid and remove what is left."""
        if 'kubelet' in self.procs and self.procs['kubelet'].poll() is None:
            try:
                self._drain(timeout)
            except Exception as exc:  # noqa: BLE001 - the daemons are stopped regardless
                print('node: pods not drained: %r' % exc, file=sys.stderr)
        names = ('kube-scheduler', 'kubelet', 'containerd')
        stop_processes([self.procs.pop(name) for name in names if name in self.procs])
        self._keep_logs()
        self.stop_leftovers()

    def _keep_logs(self):
        """The daemons' and the CNI's logs, beside the node's directory (removed next)."""
        kept = os.path.join(os.path.dirname(self.dir), MARKER + '-logs')
        os.makedirs(kept, exist_ok=True)
        for name in ('containerd', 'kubelet', 'kube-scheduler', 'cni'):
            if os.path.exists(self.path(name + '.log')):
                shutil.copy(self.path(name + '.log'), kept)

    def _drain(self, timeout):
        core = self.core
        # Deleted at once: the kubelet then stops the pods it runs that the API no longer
        # has, sandboxes last (CNI DEL); no task left running is what is waited for.
        for pod in core.list_pod_for_all_namespaces(
                field_selector='spec.nodeName=' + NODE_NAME).items:
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                       grace_period_seconds=0)
        wait_until(lambda: not run('ctr', '--address', self.socket, '-n', 'k8s.io',
                                   'tasks', 'list', '-q', check=False), timeout,
                   'pod sandboxes stopped', interval=0.5)

    def stop_leftovers(self):
        """Processes of any node work directory (this run's or a crashed one's), their
        mounts, and the node's link."""
        pids = [pid for pid, argv in command_lines()
                if os.path.basename(argv[0]) in DAEMONS and any(
                    '/%s/' % MARKER in arg or arg.endswith('/' + MARKER) for arg in argv)]
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        wait_until(lambda: not any(os.path.exists('/proc/%d' % pid) for pid in pids), 10,
                   'node processes gone', interval=0.1)
        with open('/proc/self/mounts') as handle:
            mounts = [line.split()[1] for line in handle]
        for mount in sorted((m for m in mounts if '/%s/' % MARKER in m), reverse=True):
            run('umount', '-l', mount, check=False)
        run('ip', 'link', 'del', NODE_LINK, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


def capture_in_pod(kubectl, pod, interface, action, pcap, bpf='ip proto 47', seconds=6,
                   count=200, namespace='default'):
    """tcpdump inside `pod` through `kubectl exec` (`kubectl`: its argv), bounded by `seconds`
    and `count`, running while `action()` does; the pcap it wrote to its stdout, saved at
    `pcap`."""
    with open(pcap, 'wb') as out:
        proc = subprocess.Popen(
            list(kubectl) + ['-n', namespace, 'exec', pod, '--', 'timeout', str(seconds),
                             'tcpdump', '-U', '-n', '-i', interface, '-c', str(count), '-w',
                             '-', bpf],
            stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: 'listening' in (proc.stderr.readline() or ''), 30,
                       'tcpdump ready in pod %s' % pod)
            action()
            proc.wait(seconds + 30)
        finally:
            stop_processes([proc])
    return pcap


def write_cni(directory, plugin_conf):
    """The CNI directory containerd reads (`bin`, `net.d`): the standard loopback plugin and
    lab/cni.py as plugin `kube-ovn-lab`, with `plugin_conf` (kubeconfig, ovs_db, ovs_vsctl,
    log_file) on the pods' bridges."""
    bindir, confdir = os.path.join(directory, 'bin'), os.path.join(directory, 'net.d')
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(confdir, exist_ok=True)
    # containerd brings the pod's loopback up with the standard plugin.
    os.symlink('/usr/lib/cni/loopback', os.path.join(bindir, 'loopback'))
    plugin = os.path.join(bindir, 'kube-ovn-lab')
    with open(plugin, 'w') as handle:
        handle.write('#!/bin/sh\nPYTHONPATH=%s exec %s -m lab.cni\n' % (REPO, sys.executable))
    os.chmod(plugin, 0o755)
    with open(os.path.join(confdir, '10-kube-ovn-lab.conflist'), 'w') as handle:
        json.dump({'cniVersion': '0.4.0', 'name': 'kube-ovn', 'plugins': [dict({
            'type': 'kube-ovn-lab', 'bridge': 'br-int', 'attachment_bridge': 'br-phy',
            'mtu': POD_MTU}, **plugin_conf)]}, handle, indent=2)


def write_containerd_config(path, directory, socket, cni_directory):
    """containerd's configuration: its root and state under `directory`, its sockets at
    `socket`, the CRI plugin with the lab's pause image and the CNI of `write_cni`."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    with open(path, 'w') as handle:
        handle.write('\n'.join([
            'version = 2',
            'root = "%s"' % os.path.join(directory, 'root'),
            'state = "%s"' % os.path.join(directory, 'state'),
            '[grpc]', 'address = "%s"' % socket,
            '[ttrpc]', 'address = "%s.ttrpc"' % socket,
            cri, 'sandbox_image = "%s"' % images.PAUSE_IMAGE,
            # Here root lacks CAP_SYS_RESOURCE: runc cannot lower a container's
            # oom_score_adj below containerd's own (the kubelet asks -998 for sandboxes).
            'restrict_oom_score_adj = true',
            cri[:-1] + '.containerd]', 'snapshotter = "overlayfs"',
            cri[:-1] + '.cni]', 'bin_dir = "%s"' % os.path.join(cni_directory, 'bin'),
            'conf_dir = "%s"' % os.path.join(cni_directory, 'net.d'), '']))
    return path


def write_kubelet_config(path, address, port, ca_cert, **settings):
    """The kubelet's configuration file: serving on `address`:`port` to clients whose
    certificate `ca_cert` signed (the apiserver), no QoS cgroups, evictions and image GC
    that a shared test machine does not trigger; `settings` added (e.g. cgroupRoot)."""
    with open(path, 'w') as handle:
        yaml.safe_dump(dict({
            'apiVersion': 'kubelet.config.k8s.io/v1beta1', 'kind': 'KubeletConfiguration',
            'address': address, 'port': port, 'readOnlyPort': 0, 'healthzPort': 0,
            'authentication': {'anonymous': {'enabled': False}, 'webhook': {'enabled': False},
                               'x509': {'clientCAFile': ca_cert}},
            'authorization': {'mode': 'AlwaysAllow'},
            'cgroupDriver': 'cgroupfs', 'cgroupsPerQOS': False,
            'enforceNodeAllocatable': [], 'failSwapOn': False,
            'evictionHard': {'memory.available': '100Mi', 'nodefs.available': '1%',
                             'imagefs.available': '1%', 'nodefs.inodesFree': '1%'},
            'imageGCHighThresholdPercent': 100, 'imageGCLowThresholdPercent': 99,
            'nodeStatusUpdateFrequency': '2s', 'syncFrequency': '10s',
            'resolvConf': '', 'serializeImagePulls': False}, **settings), handle)
    return path


def node_pki(workdir):
    """The CA the kubelet trusts and the client certificate the apiserver presents to it;
    the apiserver arguments that go with them."""
    os.makedirs(str(workdir), exist_ok=True)
    pki = Pki(workdir).create()
    return pki, ['--kubelet-client-certificate=' + pki.client_cert,
                 '--kubelet-client-key=' + pki.client_key,
                 '--kubelet-preferred-address-types=InternalIP',
                 '--authorization-mode=Node,RBAC']
