"""The test node's CNI plugin: at the data plane what kube-ovn-cni (and Multus) do.

containerd runs it for every pod sandbox (CNI 0.4.0: ADD, DEL, CHECK, VERSION; the network
configuration on stdin, the request in CNI_* variables). Like kube-ovn-cni
(pkg/daemon/handler.go, ovs_linux.go) it waits for Kube-OVN's controller - here the stand-in,
lab/standin.py - to annotate the pod with its address, then:

- eth0: a veth pair named after the container ID (`<id[:12]>_h` / `_c`), the host end added
  to br-int with the same `ovs-vsctl` command kube-ovn-cni runs (iface-id `<pod>.<namespace>`),
  TX checksum off on a userspace datapath, a wait of up to 30 s for ovn-controller's
  `ovn-installed`, then the container end moved into the pod, renamed, given the pod's MAC,
  address and default route.
- each attachment of the pod's `k8s.v1.cni.cncf.io/networks` whose NetworkAttachmentDefinition
  is of type kube-ovn (Multus's part): the same, as net1, net2, ... with iface-id
  `<pod>.<namespace>.<provider>`, on the lab's underlay bridge (the lab's underlay is that
  bridge, not an OVN localnet switch), and the network-status annotation Multus writes.

DEL removes the ports and veths of the container. Everything is logged to `log_file`.
"""

import ipaddress
import json
import os
import subprocess
import sys
import time

CNI_VERSION = '0.4.0'
NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks'
STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status'
DEFAULT_PROVIDER = 'ovn'
ADDRESS_WAIT, INSTALLED_WAIT = 30, 30


class CniError(Exception):
    def __init__(self, message, code=100):
        super().__init__(message)
        self.code = code


def nic_names(container_id, ifname):
    """kube-ovn-cni's generateNicName: the host and container ends of a pod's veth."""
    if ifname == 'eth0':
        return container_id[:12] + '_h', container_id[:12] + '_c'
    stem = container_id[:12 - len(ifname)]
    return '%s_%s_h' % (stem, ifname), '%s_%s_c' % (stem, ifname)


def port_name(pod, namespace, provider):
    """kube-ovn's PodNameToPortName."""
    if provider == DEFAULT_PROVIDER:
        return '%s.%s' % (pod, namespace)
    return '%s.%s.%s' % (pod, namespace, provider)


def attachment_names(annotation):
    """(namespace or None, name) of each network in a networks annotation (list or JSON)."""
    annotation = (annotation or '').strip()
    if annotation.startswith('['):
        return [(entry.get('namespace'), entry['name']) for entry in json.loads(annotation)]
    names = []
    for entry in annotation.split(','):
        entry = entry.strip().split('@')[0]
        if entry:
            namespace, dummy, name = entry.rpartition('/')
            names.append((namespace or None, name))
    return names


class Plugin:
    def __init__(self, conf, env, log):
        self.conf, self.env, self.log = conf, env, log
        args = dict(item.split('=', 1) for item in env.get('CNI_ARGS', '').split(';')
                    if '=' in item)
        self.pod, self.namespace = args.get('K8S_POD_NAME'), args.get('K8S_POD_NAMESPACE')
        self.container_id = env.get('CNI_CONTAINERID', '')
        self.netns = env.get('CNI_NETNS', '')
        self.ifname = env.get('CNI_IFNAME', 'eth0')
        self._core = None

    # ---- helpers ------------------------------------------------------------------------
    def run(self, *cmd, check=True):
        self.log('$ ' + ' '.join(cmd))
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60,
                              check=False)
        if check and proc.returncode != 0:
            raise CniError('%s failed: %s' % (' '.join(cmd), proc.stderr.strip()))
        return proc.stdout.strip()

    def vsctl(self, *args, check=True):
        command = self.conf['ovs_vsctl'] + ['--db=' + self.conf['ovs_db'], '--timeout=20']
        return self.run(*(command + list(args)), check=check)

    @property
    def core(self):
        if self._core is None:
            from kubernetes import client, config
            self._core = client.CoreV1Api(
                config.new_client_from_config(self.conf['kubeconfig']))
        return self._core

    def wait_annotations(self, provider):
        """The pod's annotations once Kube-OVN's controller allocated `provider`'s address
        (kube-ovn-cni polls the same annotation)."""
        key = '%s.kubernetes.io/allocated' % provider
        deadline = time.monotonic() + ADDRESS_WAIT
        while True:
            pod = self.core.read_namespaced_pod(self.pod, self.namespace)
            annotations = pod.metadata.annotations or {}
            if annotations.get(key) == 'true':
                return pod, annotations
            if time.monotonic() > deadline:
                raise CniError('pod %s/%s has no address on %s after %d s (annotation %s)'
                               % (self.namespace, self.pod, provider, ADDRESS_WAIT, key))
            self.log('wait address for pod %s/%s provider %s'
                     % (self.namespace, self.pod, provider))
            time.sleep(0.5)

    # ---- ADD ----------------------------------------------------------------------------
    def add(self):
        pod, annotations = self.wait_annotations(DEFAULT_PROVIDER)
        interfaces, ips, statuses = [], [], []
        self.add_nic(DEFAULT_PROVIDER, self.ifname, self.conf['bridge'], annotations,
                     interfaces, ips, statuses, default_route=True)
        for index, (namespace, name) in enumerate(attachment_names(
                annotations.get(NETWORKS_ANNOTATION)), start=1):
            provider = self.attachment_provider(namespace or self.namespace, name)
            dummy, annotations = self.wait_annotations(provider)
            self.add_nic(provider, 'net%d' % index, self.conf['attachment_bridge'],
                         annotations, interfaces, ips, statuses, default_route=False,
                         network='%s/%s' % (namespace or self.namespace, name))
        self.core.patch_namespaced_pod(self.pod, self.namespace, {'metadata': {'annotations': {
            STATUS_ANNOTATION: json.dumps(statuses, indent=2)}}})
        return {'cniVersion': CNI_VERSION, 'interfaces': interfaces, 'ips': ips, 'dns': {}}

    def attachment_provider(self, namespace, name):
        from kubernetes import client
        nad = client.CustomObjectsApi(self.core.api_client).get_namespaced_custom_object(
            'k8s.cni.cncf.io', 'v1', namespace, 'network-attachment-definitions', name)
        config = json.loads(nad['spec'].get('config') or '{}')
        if config.get('type') != 'kube-ovn':
            raise CniError('NetworkAttachmentDefinition %s/%s is of type %r; this node wires '
                           'only kube-ovn attachments' % (namespace, name, config.get('type')))
        return config.get('provider') or '%s.%s.%s' % (name, namespace, DEFAULT_PROVIDER)

    def add_nic(self, provider, ifname, bridge, annotations, interfaces, ips, statuses,
                default_route, network=None):
        prefix = provider + '.kubernetes.io/'
        ip, mac = annotations[prefix + 'ip_address'], annotations[prefix + 'mac_address']
        cidr, gateway = annotations[prefix + 'cidr'], annotations.get(prefix + 'gateway')
        mtu = int(self.conf.get('mtu', 1400))
        host, container = nic_names(self.container_id, ifname)
        self.run('ip', 'link', 'add', host, 'mtu', str(mtu), 'type', 'veth', 'peer', 'name',
                 container, 'mtu', str(mtu))
        try:
            self.vsctl('--may-exist', 'add-port', bridge, host, '--',
                       'set', 'interface', host,
                       'external_ids:iface-id=' + port_name(self.pod, self.namespace, provider),
                       'external_ids:vendor=kube-ovn',
                       'external_ids:pod_name=' + self.pod,
                       'external_ids:pod_namespace=' + self.namespace,
                       'external_ids:pod_netns=' + self.netns,
                       'external_ids:ip=' + ip)
            self.run('ip', 'link', 'set', host, 'up', 'txqueuelen', '1000')
            # kube-ovn-cni turns TX checksum offload off on a userspace datapath: OVS
            # forwards the frame as it is, with the checksum left for a NIC to fill in.
            self.run('ethtool', '-K', container, 'tx', 'off')
            if provider == DEFAULT_PROVIDER:
                self.wait_installed(host)
            netns = os.path.basename(self.netns)
            self.run('ip', 'link', 'set', container, 'netns', netns)
            self.run('ip', '-n', netns, 'link', 'set', container, 'name', ifname)
            self.run('ip', '-n', netns, 'link', 'set', ifname, 'address', mac)
            prefixlen = ipaddress.ip_network(cidr, strict=False).prefixlen
            self.run('ip', '-n', netns, 'addr', 'add', '%s/%d' % (ip, prefixlen), 'dev',
                     ifname)
            self.run('ip', '-n', netns, 'link', 'set', ifname, 'up')
            if default_route and gateway:
                self.run('ip', '-n', netns, 'route', 'replace', 'default', 'via', gateway,
                         'dev', ifname)
        except BaseException:
            self.vsctl('--if-exists', '--with-iface', 'del-port', bridge, host, check=False)
            self.run('ip', 'link', 'del', host, check=False)
            raise
        interfaces.append({'name': ifname, 'mac': mac, 'sandbox': self.netns})
        entry = {'version': '4' if ':' not in ip else '6', 'interface': len(interfaces) - 1,
                 'address': '%s/%d' % (ip, prefixlen)}
        if default_route and gateway:
            entry['gateway'] = gateway
        ips.append(entry)
        statuses.append({'name': network or 'kube-ovn', 'interface': ifname, 'ips': [ip],
                         'mac': mac, 'default': default_route})

    def wait_installed(self, host):
        """Until ovn-controller has installed the port's flows (kube-ovn-cni waits 30 s)."""
        deadline = time.monotonic() + INSTALLED_WAIT
        while self.vsctl('--if-exists', 'get', 'interface', host,
                         'external-ids:ovn-installed').strip('"') != 'true':
            if time.monotonic() > deadline:
                raise CniError('ovs interface %s is not ready after %d s'
                               % (host, INSTALLED_WAIT))
            time.sleep(0.5)

    # ---- DEL ----------------------------------------------------------------------------
    def delete(self):
        """Remove this container's ports and veths, whatever bridge holds them."""
        stems = (self.container_id[:12] + '_h', self.container_id[:8])
        names = self.vsctl('--bare', '--columns=name', 'find', 'Interface',
                           'external_ids:vendor=kube-ovn', check=False).split()
        for name in names:
            if name == stems[0] or (name.startswith(stems[1] + '_') and name.endswith('_h')):
                self.vsctl('--if-exists', '--with-iface', 'del-port', name, check=False)
                self.run('ip', 'link', 'del', name, check=False)
        return None


def main():
    conf = json.load(sys.stdin)
    command = os.environ.get('CNI_COMMAND', '')
    log_file = conf.get('log_file')

    def log(text):
        if log_file:
            with open(log_file, 'a') as handle:
                handle.write('%s %s %s\n' % (time.strftime('%H:%M:%S'), command, text))
    try:
        if command == 'VERSION':
            result = {'cniVersion': CNI_VERSION,
                      'supportedVersions': ['0.3.0', '0.3.1', '0.4.0']}
        elif command == 'ADD':
            result = Plugin(conf, os.environ, log).add()
        elif command == 'DEL':
            result = Plugin(conf, os.environ, log).delete()
        elif command == 'CHECK':
            result = None
        else:
            raise CniError('unknown CNI_COMMAND %r' % command, code=4)
    except CniError as exc:
        log('error: %s' % exc)
        json.dump({'cniVersion': CNI_VERSION, 'code': exc.code, 'msg': str(exc)}, sys.stdout)
        return 1
    except Exception as exc:  # noqa: BLE001 - a CNI plugin reports every failure as JSON
        log('error: %r' % exc)
        json.dump({'cniVersion': CNI_VERSION, 'code': 999, 'msg': repr(exc)}, sys.stdout)
        return 1
    if result is not None:
        log('result: %s' % json.dumps(result))
        json.dump(result, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
