"""A real Kubernetes control plane for tests: etcd + kube-apiserver, envtest style by default.

Without `controllers` there is no scheduler or controller-manager: tests play their part
explicitly. With `controllers=True` kube-scheduler and kube-controller-manager (from the same
build) run too: Deployments, ReplicaSets, DaemonSets, the garbage collector, namespaces, node
lifecycle (taints) and service-account tokens behave as on any cluster (lab/cluster.py). When
the environment variable KUBECONFIG is set, that cluster is used instead and nothing is started.
"""

import os
import shutil
import ssl
import subprocess
import time
import urllib.request
import warnings

import yaml

# The test apiserver serves a self-signed certificate on 127.0.0.1 (kubeconfigs here say
# insecure-skip-tls-verify); urllib3 would warn on every request.
warnings.filterwarnings('ignore', message='Unverified HTTPS request')

from lab.daemons import (DaemonError, reserve_ports, spawn, start_with_fresh_ports,
                         stop_processes, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_SCRIPT = os.path.join(HERE, 'kube', 'build-kube.sh')
KUBE_VERSION = 'v1.20.2'
CRDS = os.path.join(HERE, 'kube', 'crds.yaml')

# Users known to the apiserver's static token file: (token, user, uid, groups).
ADMIN = ('admin-token', 'kube-admin', '1', 'system:masters')


def kube_binaries():
    """{name: path} of the cached kube-apiserver, kube-scheduler, kubelet and kubectl, built
    by lab/kube/build-kube.sh when missing."""
    out = subprocess.run(['bash', BUILD_SCRIPT], check=True, stdout=subprocess.PIPE,
                         text=True, timeout=3600).stdout
    bindir = out.strip().splitlines()[-1]
    return dict((name, os.path.join(bindir, '%s-%s' % (name, KUBE_VERSION)))
                for name in ('kube-apiserver', 'kube-controller-manager', 'kube-scheduler',
                             'kubelet', 'kubectl'))


def write_kubeconfig(path, server, token, name='test'):
    config = {
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': name,
        'clusters': [{'name': name, 'cluster': {'server': server,
                                                'insecure-skip-tls-verify': True}}],
        'users': [{'name': name, 'user': {'token': token}}],
        'contexts': [{'name': name, 'context': {'cluster': name, 'user': name}}],
    }
    with open(path, 'w') as handle:
        yaml.safe_dump(config, handle)
    os.chmod(path, 0o600)
    return path


class ControlPlane:
    """etcd and kube-apiserver in `workdir`, each started and stopped by its own pid."""

    def __init__(self, workdir, users=(), extra_apiserver_args=(), bind_address='127.0.0.1',
                 controllers=False):
        """`bind_address`: where kube-apiserver listens (nodes in network namespaces reach it
        on an address of theirs, lab/cluster.py); `controllers`: also run kube-scheduler and
        kube-controller-manager."""
        self.workdir = str(workdir)
        self.bind_address = bind_address
        self.controllers = controllers
        self.users = [ADMIN] + list(users)
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.procs = []
        self.logs = []
        self.server = None
        self.kubeconfig = None

    def start(self):
        """etcd, then kube-apiserver, then the CRDs. A start that fails stops what it had
        started; one that lost a port to another process starts again with new ports."""
        started = time.monotonic()
        binary = kube_binaries()['kube-apiserver']
        start_with_fresh_ports(lambda: self._start_once(binary))
        self.start_seconds = time.monotonic() - started
        return self

    def _start_once(self, binary):
        try:
            self._start_daemons(binary)
            self.kubectl_apply(CRDS)
        except BaseException:
            self.stop()
            raise

    def _start_daemons(self, binary):
        etcd_port, peer_port, api_port = reserve_ports(3)
        etcd_url = 'http://127.0.0.1:%d' % etcd_port
        self.logs = [os.path.join(self.workdir, 'etcd.log'),
                     os.path.join(self.workdir, 'kube-apiserver.log')]
        for log in self.logs:   # a retry's logs show only its own attempt
            open(log, 'w').close()
        self.procs = [spawn(
            ['etcd', '--name', 'test', '--data-dir', os.path.join(self.workdir, 'etcd'),
             '--listen-client-urls', etcd_url, '--advertise-client-urls', etcd_url,
             '--listen-peer-urls', 'http://127.0.0.1:%d' % peer_port,
             '--initial-advertise-peer-urls', 'http://127.0.0.1:%d' % peer_port,
             '--initial-cluster', 'test=http://127.0.0.1:%d' % peer_port], self.logs[0])]

        sa_key = os.path.join(self.workdir, 'sa.key')
        subprocess.run(['openssl', 'genrsa', '-out', sa_key, '2048'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tokens = os.path.join(self.workdir, 'tokens.csv')
        with open(tokens, 'w') as handle:
            for token, user, uid, groups in self.users:
                handle.write('%s,%s,%s,"%s"\n' % (token, user, uid, groups))
        self.apiserver_command = (
            [binary, '--etcd-servers=' + etcd_url,
             '--bind-address=' + self.bind_address, '--advertise-address=' + self.bind_address,
             '--secure-port=%d' % api_port, '--cert-dir=' + os.path.join(self.workdir, 'certs'),
             '--token-auth-file=' + tokens,
             '--service-account-key-file=' + sa_key,
             '--service-account-signing-key-file=' + sa_key,
             '--service-account-issuer=https://kubernetes.default.svc',
             '--allow-privileged=true', '--service-cluster-ip-range=10.96.0.0/16']
            + ([] if any(arg.startswith('--authorization-mode=')
                         for arg in self.extra_apiserver_args)
               else ['--authorization-mode=RBAC'])
            + self.extra_apiserver_args)
        self.procs.append(spawn(self.apiserver_command, self.logs[1]))
        self.server = 'https://%s:%d' % (self.bind_address, api_port)
        self.kubeconfig = write_kubeconfig(os.path.join(self.workdir, 'admin.kubeconfig'),
                                           self.server, ADMIN[0])
        self._wait_ready()
        if self.controllers:
            self._start_controllers(sa_key)

    def _start_controllers(self, sa_key):
        """kube-scheduler and kube-controller-manager, as the admin user, serving nothing
        (no port to collide); the controller-manager signs service-account tokens with the
        apiserver's key and hands out the apiserver's certificate as the cluster's CA."""
        binaries = kube_binaries()
        for name, args in (
                ('kube-scheduler', ['--leader-elect=false', '--port=0', '--secure-port=0']),
                ('kube-controller-manager', [
                    '--leader-elect=false', '--port=0', '--secure-port=0',
                    '--use-service-account-credentials=false',
                    '--service-account-private-key-file=' + sa_key,
                    '--root-ca-file=' + os.path.join(self.workdir, 'certs', 'apiserver.crt'),
                    # a pod of a node that stops answering is evicted after 30 s, not 5 min
                    '--pod-eviction-timeout=30s', '--node-monitor-grace-period=20s'])):
            log = os.path.join(self.workdir, name + '.log')
            self.logs.append(log)
            self.procs.append(spawn([binaries[name], '--kubeconfig=' + self.kubeconfig] + args,
                                    log))

    def _wait_ready(self):
        try:
            wait_until(self.ready, 60, 'kube-apiserver ready', interval=0.25)
        except TimeoutError:
            raise DaemonError('kube-apiserver', 'was not ready at %s within 60s' % self.server,
                              self.logs)

    def stop_apiserver(self):
        """Stop kube-apiserver by its pid (etcd keeps running), as an upgrade or a crash
        would; start_apiserver brings it back on the same address."""
        stop_processes([self.procs[1]])

    def start_apiserver(self):
        self.procs[1] = spawn(self.apiserver_command, self.logs[1])
        self._wait_ready()

    def ready(self):
        """Whether kube-apiserver answers /readyz with 200; DaemonError (with its log) when
        etcd or kube-apiserver has exited."""
        for name, proc, log in zip(('etcd', 'kube-apiserver'), self.procs, self.logs):
            if proc.poll() is not None:
                raise DaemonError(name,
                                  'exited with status %s while starting' % proc.returncode,
                                  [log])
        request = urllib.request.Request(self.server + '/readyz',
                                         headers={'Authorization': 'Bearer ' + ADMIN[0]})
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def kubectl_apply(self, path):
        """Apply a manifest file with the Python client (no kubectl binary here)."""
        from kubernetes import client, config, utils
        api = config.new_client_from_config(self.kubeconfig)
        with open(path) as handle:
            documents = [doc for doc in yaml.safe_load_all(handle) if doc]
        for doc in documents:
            try:
                utils.create_from_dict(api, doc)
            except utils.FailToCreateError as exc:
                if not all(getattr(e, 'status', None) == 409 for e in exc.api_exceptions):
                    raise
        if any(doc['kind'] == 'CustomResourceDefinition' for doc in documents):
            ext = client.ApiextensionsV1Api(api)

            def established():
                for doc in documents:
                    crd = ext.read_custom_resource_definition(doc['metadata']['name'])
                    if not any(c.type == 'Established' and c.status == 'True'
                               for c in (crd.status.conditions or [])):
                        return False
                return True
            wait_until(established, 30, 'CRDs established', interval=0.2)

    def stop(self):
        stop_processes(list(reversed(self.procs)))
        shutil.rmtree(os.path.join(self.workdir, 'etcd'), ignore_errors=True)
