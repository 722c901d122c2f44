"""What the kubelet and Kube-OVN's controller would do, for a control plane that has neither.

The test apiserver runs no kubelet, scheduler or Kube-OVN. `ClusterStandIn` plays their part
in a background thread, so the roles' waits complete as they would on a real cluster:
ProviderNetworks and Subnets become ready, pods run, and a pod on an attachment network gets
the address the lab really gives it (the receiver pod is the lab's receiver namespace).
It touches objects' status and the address annotation, and keeps an IP resource per attachment
address as Kube-OVN does (`<pod>.<namespace>.<provider>`, deleted once the pod is gone, so
teardown's wait for the address release completes); it stops when told, or after `lifetime`
seconds at the latest. Its status writes are valid against Kube-OVN v1.14's status schemas
(lab/kube/crds.yaml).
"""

import threading
import time

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
    def __init__(self, kubeconfig, addresses=None, interval=0.3, lifetime=900, on_rollout=None):
        """`addresses`: {(namespace, pod): IP} given to those pods on their attachments.
        `on_rollout(daemonset)`: called when a DaemonSet's new generation rolls out, before it
        is reported ready (e.g. to play what kube-ovn-cni does to OVS when it restarts)."""
        from kubernetes import client, config
        api = config.new_client_from_config(kubeconfig)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.on_rollout = on_rollout
        self.objects = client.CustomObjectsApi(api)
        self.addresses = dict(addresses or {})
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
            except Exception as exc:  # noqa: BLE001 - objects come and go; keep the last few
                self.errors = (self.errors + [repr(exc)])[-5:]
            self._stop.wait(self.interval)

    def reconcile(self):
        self._networks_ready()
        self._pods_running()
        self._addresses_released()
        self._daemonsets_rolled_out()

    def _addresses_released(self):
        """Kube-OVN's controller: an IP resource goes once its pod is gone."""
        pods = set((pod.metadata.namespace, pod.metadata.name)
                   for pod in self.core.list_pod_for_all_namespaces().items)
        for item in self.objects.list_cluster_custom_object(
                'kubeovn.io', 'v1', 'ips', label_selector=STAND_IN_LABEL)['items']:
            spec = item.get('spec') or {}
            if (spec.get('namespace'), spec.get('podName')) not in pods:
                self.objects.delete_cluster_custom_object('kubeovn.io', 'v1', 'ips',
                                                          item['metadata']['name'])

    def _ip_resource(self, namespace, pod, provider, address):
        name = '%s.%s.%s' % (pod, namespace, provider)
        from kubernetes.client.exceptions import ApiException
        try:
            self.objects.create_cluster_custom_object('kubeovn.io', 'v1', 'ips', {
                'apiVersion': 'kubeovn.io/v1', 'kind': 'IP',
                'metadata': {'name': name, 'labels': {STAND_IN_LABEL: 'true'}},
                'spec': {'podName': pod, 'namespace': namespace,
                         'nodeName': 'lab-chassis', 'ipAddress': address,
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
                    {'status': {'ready': True, 'readyNodes': ['lab-chassis']}})
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
            address = self.addresses.get((namespace, name))
            annotations = pod.metadata.annotations or {}
            wanted = dict((provider + '.kubernetes.io/ip_address', address)
                          for provider in _attachment_providers(
                              annotations.get(NETWORKS_ANNOTATION))
                          if address)
            if any(annotations.get(key) != value for key, value in wanted.items()):
                self.core.patch_namespaced_pod(name, namespace,
                                               {'metadata': {'annotations': wanted}})
                for key in wanted:
                    self._ip_resource(namespace, name, key.split('.kubernetes.io/')[0], address)


# The lab's pods (lab/ovn.py PODS) as the API knows them, labelled as a StatefulSet labels its
# pods; the example inventory selects them by these labels.
LAB_POD_LABELS = {
    'web-0': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-0'},
    'web-1': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-1'},
    'db-0': {'app': 'db', 'statefulset.kubernetes.io/pod-name': 'db-0'},
}


def create_lab_pods(core, namespace='default'):
    """Pod objects for the lab's network-namespace pods (kept when they already exist)."""
    from kubernetes.client.exceptions import ApiException
    for name, labels in LAB_POD_LABELS.items():
        try:
            core.create_namespaced_pod(namespace, {
                'metadata': {'name': name, 'labels': labels},
                'spec': {'automountServiceAccountToken': False,
                         'containers': [{'name': 'app', 'image': 'busybox'}]}})
        except ApiException as exc:
            if exc.status != 409:
                raise
            core.patch_namespaced_pod(name, namespace, {'metadata': {'labels': labels}})
