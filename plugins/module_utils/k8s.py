# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access for the modules: a client from kubeconfig or in-cluster config, and
finding the OVN Northbound database the way a Kube-OVN cluster publishes it.

Kube-OVN publishes the NB as the `ovn-nb` Service (port 6641) in `kube-system`, backed by the
ovn-central pods; with ENABLE_SSL=true it also creates the secret `kube-system/kube-ovn-tls`
(keys `cacert`, `cert`, `key`), and the NB then only speaks TLS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import shutil
import tempfile

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import DiscoveryError

NB_NAMESPACE = 'kube-system'
NB_SERVICE = 'ovn-nb'
NB_PORT = 6641
TLS_SECRET = 'kube-ovn-tls'
TLS_KEYS = (('ssl_ca_cert', 'cacert'), ('ssl_cert', 'cert'), ('ssl_key', 'key'))


def in_cluster():
    return bool(os.environ.get('KUBERNETES_SERVICE_HOST'))


def api_client(kubeconfig=None, context=None):
    """A kubernetes ApiClient from the kubeconfig (or in-cluster service account)."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise DiscoveryError('reading the cluster (where the NB is, pods for selectors) '
                             'needs the Python library "kubernetes" (pip install kubernetes)')
    try:
        if kubeconfig or not in_cluster():
            return config.new_client_from_config(config_file=kubeconfig, context=context)
        config.load_incluster_config()
        return client.ApiClient()
    except Exception as exc:  # the library raises several unrelated types for bad configs
        raise DiscoveryError('cannot load the Kubernetes configuration %s: %s'
                             % (kubeconfig or '(in-cluster)', exc))


def read(call, what):
    """`call()`'s answer, None on 404; DiscoveryError naming `what` on any other failure."""
    from kubernetes.client.exceptions import ApiException
    try:
        return call()
    except ApiException as exc:
        if exc.status == 404:
            return None
        if exc.status in (401, 403):
            raise DiscoveryError('not allowed to read %s (HTTP %s): grant the RBAC in '
                                 'docs/rbac.yml' % (what, exc.status))
        raise DiscoveryError('reading %s failed: HTTP %s %s' % (what, exc.status, exc.reason))
    except Exception as exc:  # connection errors come as urllib3 exceptions
        raise DiscoveryError('reading %s failed: %s' % (what, exc))


class NbEndpoint(object):
    """Where the NB is: a connection string and, with TLS, key material in private files."""

    def __init__(self, connection, tls_dir=None):
        self.connection = connection
        self.tls_dir = tls_dir
        self.tls = {}
        if tls_dir:
            self.tls = dict((option, os.path.join(tls_dir, option)) for option, dummy in TLS_KEYS)

    def cleanup(self):
        if self.tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)


def discover_nb(kubeconfig=None, context=None, private_dir=None):
    """The NB of the cluster: `tcp:`/`ssl:` remotes of every ovn-nb endpoint address.

    When the `kube-ovn-tls` secret exists, the remotes are `ssl:` and its CA, certificate and
    key are written to files only this process can read, under `private_dir` (a module's
    tmpdir, removed when the module exits; NbEndpoint.cleanup removes them earlier); they are
    never returned or logged.
    """
    from kubernetes import client
    core = client.CoreV1Api(api_client(kubeconfig, context))
    endpoints = read(lambda: core.read_namespaced_endpoints(NB_SERVICE, NB_NAMESPACE),
                     'endpoints %s/%s' % (NB_NAMESPACE, NB_SERVICE))
    addresses, port = [], NB_PORT
    for subset in (endpoints.subsets or []) if endpoints else []:
        addresses += [address.ip for address in subset.addresses or []]
        for subset_port in subset.ports or []:
            if subset_port.port:
                port = subset_port.port
    if not addresses:
        raise DiscoveryError('the cluster publishes no ready ovn-nb endpoint in %s (is '
                             'Kube-OVN installed and ovn-central running?); set nb_connection'
                             % NB_NAMESPACE)
    secret = read(lambda: core.read_namespaced_secret(TLS_SECRET, NB_NAMESPACE),
                  'secret %s/%s' % (NB_NAMESPACE, TLS_SECRET))
    scheme = 'ssl' if secret is not None else 'tcp'
    remotes = ','.join('%s:%s:%d' % (scheme, '[%s]' % ip if ':' in ip else ip, port)
                       for ip in addresses)
    if secret is None:
        return NbEndpoint(remotes)

    data = secret.data or {}
    missing = [key for dummy, key in TLS_KEYS if not data.get(key)]
    if missing:
        raise DiscoveryError('secret %s/%s lacks %s' % (NB_NAMESPACE, TLS_SECRET,
                                                        ', '.join(missing)))
    endpoint = NbEndpoint(remotes, tempfile.mkdtemp(prefix='nb-tls-', dir=private_dir))
    for option, key in TLS_KEYS:
        descriptor = os.open(endpoint.tls[option], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(base64.b64decode(data[key]))
    return endpoint
