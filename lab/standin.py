"""What Kube-OVN's controller (and, without a node, the kubelet) would do for the test cluster.

The test apiserver runs no Kube-OVN, and without a node (lab/node.py) no kubelet or
scheduler. `ClusterStandIn` plays their part in a background thread, so the roles' waits
complete as they would on a real cluster: ProviderNetworks and Subnets become ready, pods run,
and a pod on an attachment network gets the address the lab really gives it (the receiver pod
is the lab's receiver namespace).

With a real node (`node=` the lab's NB tools), the kubelet runs the pods and the stand-in is
only Kube-OVN's controller: it allocates each scheduled pod an address on the lab's subnet
(or takes the one the pod asks for with `ovn.kubernetes.io/ip_address`), writes the
annotations kube-ovn-cni waits for, creates the pod's LSP `<pod>.<namespace>` and IP resource,
and deletes both once the pod is gone (a recreated pod gets a new LSP).
It touches objects' status and the address annotation, and keeps an IP resource per attachment
address as Kube-OVN does (`<pod>.<namespace>.<provider>`, deleted once the pod is gone, so
teardown's wait for the address release completes); it stops when told, or after `lifetime`
seconds at the latest. Its status writes are valid against Kube-OVN v1.14's status schemas
(lab/kube/crds.yaml).
"""

import hashlib
import ipaddress
import threading
import time

from lab.ovn import PODS, POD_CIDR, POD_GATEWAY, POD_SWITCH

NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks'
STAND_IN_LABEL = 'lab.kubeovn.mirror/stand-in'


def _attachment_providers(annotation):
    """Kube-OVN providers (<nad>.<namespace>.ovn) of a pod's networks annotation."""
    providers = []
    for entry in (annotation or '').split(','):
        entry = entry.strip().split('@')[0]
        if entry:
            namespace, dummy, name = entry.rpartition('/')
            providers.append('%s.%s.ovn' % (name, namespace or 'default'))
    return providers


class ClusterStandIn:
    def __init__(self, kubeconfig, addresses=None, interval=0.3, lifetime=900, on_rollout=None,
                 node=None, macs=None, nodes=('lab-chassis',), daemonsets=True):
        """`addresses`: {(namespace, pod): IP} given to those pods on their attachments
        (`macs`: their MACs there). `on_rollout(daemonset)`: called when a DaemonSet's new
        generation rolls out, before it is reported ready (e.g. to play what kube-ovn-cni
        does to OVS when it restarts). `node`: the lab (lab.ovn.Lab) whose NB a real node's
        pods get their LSPs in; pods are then run by the kubelet, not marked running here."""
        from kubernetes import client, config
        api = config.new_client_from_config(kubeconfig)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.on_rollout = on_rollout
        self.objects = client.CustomObjectsApi(api)
        self.addresses = dict(addresses or {})
        self.macs = dict(macs or {})
        self.node = node
        self.nodes, self.daemonsets = list(nodes), daemonsets
        self.lsp_pods = {}       # LSP name -> uid of the pod it was created for
        self.next_host = 99      # pod addresses are handed out from 10.66.0.100 on
        self.interval, self.lifetime = interval, lifetime
        self._stop = threading.Event()
        self._thread = None
        self.errors = []

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True, name='cluster-stand-in')
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _loop(self):
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.reconcile()
            except Exception as exc:  # noqa: BLE001 - keep the last few
                # a pod deleted or replaced between the list and the write (rollouts): the
                # next pass sees the world as it is now
                if getattr(exc, 'status', None) not in (404, 409):
                    self.errors = (self.errors + [repr(exc)])[-5:]
            self._stop.wait(self.interval)

    def reconcile(self):
        self._networks_ready()
        if self.node is None:
            self._pods_running()
        else:
            self._pods_addressed()
        self._addresses_released()
        if self.daemonsets:
            self._daemonsets_rolled_out()

    def _addresses_released(self):
        """Kube-OVN's controller: an IP resource (and with a node, an LSP) goes once its pod
        is gone."""
        listed = self.core.list_pod_for_all_namespaces().items
        pods = set((pod.metadata.namespace, pod.metadata.name) for pod in listed)
        uids = set(pod.metadata.uid for pod in listed)
        for lsp, uid in list(self.lsp_pods.items()):
            if uid not in uids:
                self.node.nbctl('--if-exists', 'lsp-del', lsp)
                del self.lsp_pods[lsp]
        for item in self.objects.list_cluster_custom_object(
                'kubeovn.io', 'v1', 'ips', label_selector=STAND_IN_LABEL)['items']:
            spec = item.get('spec') or {}
            if (spec.get('namespace'), spec.get('podName')) not in pods:
                self.objects.delete_cluster_custom_object('kubeovn.io', 'v1', 'ips',
                                                          item['metadata']['name'])

    def _ip_resource(self, namespace, pod, provider, address, node_name=None):
        name = '%s.%s.%s' % (pod, namespace, provider) if provider != 'ovn' else \
            '%s.%s' % (pod, namespace)
        from kubernetes.client.exceptions import ApiException
        try:
            self.objects.create_cluster_custom_object('kubeovn.io', 'v1', 'ips', {
                'apiVersion': 'kubeovn.io/v1', 'kind': 'IP',
                'metadata': {'name': name, 'labels': {STAND_IN_LABEL: 'true'}},
                'spec': {'podName': pod, 'namespace': namespace,
                         'nodeName': node_name or self.nodes[0], 'ipAddress': address,
                         'v4IpAddress': address if ':' not in address else '',
                         'v6IpAddress': address if ':' in address else ''}})
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _daemonsets_rolled_out(self):
        """The DaemonSet controller and kubelets: a new generation's pods (one node) run."""
        for ds in self.apps.list_daemon_set_for_all_namespaces().items:
            if (ds.status.observed_generation or 0) >= ds.metadata.generation:
                continue
            if self.on_rollout is not None and ds.status.observed_generation:
                self.on_rollout(ds)
            self.apps.patch_namespaced_daemon_set_status(
                ds.metadata.name, ds.metadata.namespace, {'status': {
                    'observedGeneration': ds.metadata.generation, 'desiredNumberScheduled': 1,
                    'currentNumberScheduled': 1, 'updatedNumberScheduled': 1,
                    'numberReady': 1, 'numberAvailable': 1, 'numberMisscheduled': 0}})

    def _networks_ready(self):
        group = ('kubeovn.io', 'v1')
        for item in self.objects.list_cluster_custom_object(*group, 'provider-networks')['items']:
            if not (item.get('status') or {}).get('ready'):
                self.objects.patch_cluster_custom_object_status(
                    *group, 'provider-networks', item['metadata']['name'],
                    {'status': {'ready': True, 'readyNodes': self.nodes}})
        for item in self.objects.list_cluster_custom_object(*group, 'subnets')['items']:
            conditions = (item.get('status') or {}).get('conditions') or []
            if not any(c.get('type') == 'Ready' and c.get('status') == 'True'
                       for c in conditions):
                self.objects.patch_cluster_custom_object_status(
                    *group, 'subnets', item['metadata']['name'],
                    {'status': {'conditions': [{'type': 'Ready', 'status': 'True',
                                                'reason': 'ResourceReady'}]}})

    def _pods_running(self):
        for pod in self.core.list_pod_for_all_namespaces().items:
            name, namespace = pod.metadata.name, pod.metadata.namespace
            if pod.metadata.deletion_timestamp is not None:
                continue
            if (pod.status.phase or '') != 'Running':
                self.core.patch_namespaced_pod_status(name, namespace, {'status': {
                    'phase': 'Running',
                    'conditions': [{'type': 'Ready', 'status': 'True'}],
                    'containerStatuses': [
                        {'name': container.name, 'ready': True, 'restartCount': 0,
                         'image': container.image, 'imageID': '', 'state': {'running': {}}}
                        for container in pod.spec.containers]}})
            self._attachments_addressed(pod)

    def _attachments_addressed(self, pod, wanted=None):
        """The pod's attachment addresses (given in `addresses`) as Kube-OVN annotates them,
        with `wanted`'s annotations in the same patch; the IP resources."""
        name, namespace = pod.metadata.name, pod.metadata.namespace
        address = self.addresses.get((namespace, name))
        annotations = pod.metadata.annotations or {}
        wanted = dict(wanted or {})
        providers = [provider for provider in _attachment_providers(
            annotations.get(NETWORKS_ANNOTATION)) if address]
        for provider in providers:
            wanted[provider + '.kubernetes.io/ip_address'] = address
            if self.node is not None:
                wanted.update(self._attachment_annotations(provider, namespace, name))
        if any(annotations.get(key) != value for key, value in wanted.items()):
            self.core.patch_namespaced_pod(name, namespace,
                                           {'metadata': {'annotations': wanted}})
            for provider in providers:
                self._ip_resource(namespace, name, provider, address, pod.spec.node_name)

    def _attachment_annotations(self, provider, namespace, name):
        """What Kube-OVN writes besides the address: the subnet's CIDR and gateway (from the
        Subnet whose provider this is), the MAC, `allocated`."""
        subnets = [item for item in self.objects.list_cluster_custom_object(
            'kubeovn.io', 'v1', 'subnets')['items']
            if (item.get('spec') or {}).get('provider') == provider]
        if not subnets:
            return {}
        spec = subnets[0]['spec']
        prefix = provider + '.kubernetes.io/'
        return {prefix + 'cidr': spec['cidrBlock'], prefix + 'gateway': spec.get('gateway', ''),
                prefix + 'mac_address': self.macs.get((namespace, name)) or _mac(name, namespace),
                prefix + 'logical_switch': subnets[0]['metadata']['name'],
                prefix + 'allocated': 'true'}

    def _free_address(self, taken):
        """The next free address after the last one handed out: a recreated pod does not
        get its predecessor's address, which its peers' ARP caches still map to the old MAC
        (kube-ovn-cni announces the new one with a gratuitous ARP; this lab's CNI does not)."""
        subnet = ipaddress.ip_network(LAB_CIDR)
        for dummy in range(150):
            self.next_host = 100 + (self.next_host - 100 + 1) % 150
            address = str(subnet[self.next_host])
            if address not in taken:
                return address
        raise RuntimeError('the lab subnet %s has no free address left' % LAB_CIDR)

    def _pods_addressed(self):
        """Kube-OVN's controller for pods a real node runs: address, LSP, IP resource."""
        pods = [pod for pod in self.core.list_pod_for_all_namespaces().items
                if pod.spec.node_name and pod.metadata.deletion_timestamp is None
                and not pod.spec.host_network]
        taken = set(LAB_ADDRESSES)
        for pod in pods:
            address = (pod.metadata.annotations or {}).get(DEFAULT_PREFIX + 'ip_address')
            if address:
                taken.add(address)
        for pod in pods:
            lsp = '%s.%s' % (pod.metadata.name, pod.metadata.namespace)
            annotations = pod.metadata.annotations or {}
            if self.lsp_pods.get(lsp) not in (None, pod.metadata.uid):
                # the same name, a new pod: the old pod's port goes, the new one gets its own
                self.node.nbctl('--if-exists', 'lsp-del', lsp)
                del self.lsp_pods[lsp]
            if self.lsp_pods.get(lsp) == pod.metadata.uid and \
                    annotations.get(DEFAULT_PREFIX + 'allocated') == 'true':
                self._attachments_addressed(pod)
                continue
            address = annotations.get(DEFAULT_PREFIX + 'ip_address') or self._free_address(taken)
            taken.add(address)
            mac = annotations.get(DEFAULT_PREFIX + 'mac_address') or \
                _mac(pod.metadata.name, pod.metadata.namespace, pod.metadata.uid)
            self.node.nbctl(
                '--may-exist', 'lsp-add', LAB_SWITCH, lsp, '--',
                'lsp-set-addresses', lsp, '%s %s' % (mac, address), '--',
                'set', 'Logical_Switch_Port', lsp,
                'external_ids:pod=%s/%s' % (pod.metadata.namespace, pod.metadata.name),
                'external_ids:vendor=kube-ovn', 'external_ids:ls=' + LAB_SWITCH)
            self.lsp_pods[lsp] = pod.metadata.uid
            self._ip_resource(pod.metadata.namespace, pod.metadata.name, 'ovn', address,
                              pod.spec.node_name)
            self._attachments_addressed(pod, {
                DEFAULT_PREFIX + 'allocated': 'true', DEFAULT_PREFIX + 'routed': 'true',
                DEFAULT_PREFIX + 'ip_address': address, DEFAULT_PREFIX + 'mac_address': mac,
                DEFAULT_PREFIX + 'cidr': LAB_CIDR, DEFAULT_PREFIX + 'gateway': LAB_GATEWAY,
                DEFAULT_PREFIX + 'logical_switch': LAB_SWITCH,
                DEFAULT_PREFIX + 'pod_nic_type': 'veth-pair'})


# The lab's pod subnet; its gateway and the lab pods' addresses are never handed out.
LAB_SWITCH, LAB_CIDR, LAB_GATEWAY = POD_SWITCH, POD_CIDR, POD_GATEWAY
LAB_ADDRESSES = (POD_GATEWAY,) + tuple(ip for dummy_lsp, dummy_mac, ip in PODS.values())
DEFAULT_PREFIX = 'ovn.kubernetes.io/'


def _mac(*names):
    """A locally administered MAC derived from the pod (stable for one pod object)."""
    digest = hashlib.sha256('/'.join(names).encode()).digest()
    return '02:00:' + ':'.join('%02x' % byte for byte in digest[:4])


# The lab's pods (lab/ovn.py PODS) as the API knows them, labelled as a StatefulSet labels its
# pods; the example inventory selects them by these labels.
LAB_POD_LABELS = {
    'web-0': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-0'},
    'web-1': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-1'},
    'db-0': {'app': 'db', 'statefulset.kubernetes.io/pod-name': 'db-0'},
}


def create_lab_pods(core, namespace='default', image=None, nodes=None):
    """Pod objects for the lab's network-namespace pods (kept when they already exist). With
    an `image`, real pods for a real node: that image, asking Kube-OVN for the lab pod's
    address and MAC (annotations ovn.kubernetes.io/ip_address and mac_address); `nodes`:
    {pod: node} to run them on."""
    from kubernetes.client.exceptions import ApiException
    for name, labels in LAB_POD_LABELS.items():
        dummy_lsp, mac, ip = PODS[name]
        metadata = {'name': name, 'labels': labels}
        container = {'name': 'app', 'image': 'busybox'}
        if image:
            metadata['annotations'] = {DEFAULT_PREFIX + 'ip_address': ip,
                                       DEFAULT_PREFIX + 'mac_address': mac}
            container = dict(name='app', image=image, imagePullPolicy='Never',
                             command=['sleep', 'infinity'])
        spec = {'automountServiceAccountToken': False, 'terminationGracePeriodSeconds': 1,
                'containers': [container]}
        if (nodes or {}).get(name):
            spec['nodeName'] = nodes[name]
        try:
            core.create_namespaced_pod(namespace, {'metadata': metadata, 'spec': spec})
        except ApiException as exc:
            if exc.status != 409:
                raise
            core.patch_namespaced_pod(name, namespace, {'metadata': {'labels': labels}})
