# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access for the modules and the event source: a client from the options
kubernetes.core's modules take (options.KUBE_OPTIONS), and finding the OVN Northbound database
the way a Kube-OVN cluster publishes it.

Kube-OVN publishes the NB as the `ovn-nb` Service (port 6641) in `kube-system`, backed by the
ovn-central pods; with ENABLE_SSL=true it also creates the secret `kube-system/kube-ovn-tls`
(keys `cacert`, `cert`, `key`), and the NB then only speaks TLS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import shutil
import tempfile

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import DiscoveryError
from ansible_collections.kubeovn.mirror.plugins.module_utils.options import KUBE_OPTIONS

NB_NAMESPACE = 'kube-system'
NB_SERVICE = 'ovn-nb'
NB_PORT = 6641
TLS_SECRET = 'kube-ovn-tls'
TLS_KEYS = (('ssl_ca_cert', 'cacert'), ('ssl_cert', 'cert'), ('ssl_key', 'key'))


# The API options (options.KUBE_OPTIONS) that set an attribute of
# kubernetes.client.Configuration as they are, and which one (kubernetes.core's AUTH_ARG_MAP);
# api_key becomes the bearer Authorization header, kubeconfig and context are loaded.
CONFIGURATION_ATTRIBUTES = (('host', 'host'), ('validate_certs', 'verify_ssl'),
                            ('ca_cert', 'ssl_ca_cert'), ('client_cert', 'cert_file'),
                            ('client_key', 'key_file'), ('proxy', 'proxy'))


def in_cluster():
    return bool(os.environ.get('KUBERNETES_SERVICE_HOST'))


def auth_settings(params):
    """The API options of `params` that are set (None and '' are not)."""
    return dict((option, params[option]) for option in KUBE_OPTIONS
                if params.get(option) not in (None, ''))


def names_a_cluster(params):
    """Whether `params` say which cluster to ask (a kubeconfig, a context or a host), or the
    module runs in a pod."""
    settings = auth_settings(params)
    return bool(set(settings) & set(('kubeconfig', 'context', 'host'))) or in_cluster()


def check_settings(settings):
    """ValueError for API options that cannot work together."""
    if bool(settings.get('client_cert')) != bool(settings.get('client_key')):
        raise ValueError('client_cert and client_key go together: the Kubernetes API takes a '
                         'client certificate only with its key')


def _load(config, configuration, settings):
    """Fill `configuration` as kubernetes.core does: host with api_key (or with client_cert and
    client_key) needs nothing more; else the kubeconfig (and context); else the in-cluster
    service account, then the default kubeconfig ($KUBECONFIG, ~/.kube/config)."""
    if settings.get('host') and (settings.get('api_key') or (settings.get('client_cert')
                                                             and settings.get('client_key'))):
        return
    if not (settings.get('kubeconfig') or settings.get('context')):
        try:
            config.load_incluster_config(client_configuration=configuration)
            return
        except config.ConfigException:
            pass
    config.load_kube_config(config_file=settings.get('kubeconfig'),
                            context=settings.get('context'), client_configuration=configuration)


def api_client(params=None):
    """A kubernetes ApiClient for the API options in `params` (a module's params, the event
    source's arguments), which override what a kubeconfig or the service account says. The
    token is only ever sent as the Authorization header. ValueError for options that cannot
    work together, DiscoveryError when no configuration can be loaded."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise DiscoveryError('reading the cluster (where the NB is, pods for selectors) '
                             'needs the Python library "kubernetes" (pip install kubernetes)')
    settings = auth_settings(params or {})
    check_settings(settings)
    if settings.get('host'):
        settings['host'] = settings['host'].rstrip('/')
    configuration = client.Configuration()
    try:
        _load(config, configuration, settings)
    except Exception as exc:  # the library raises several unrelated types for bad configs
        raise DiscoveryError('cannot load the Kubernetes configuration %s: %s' % (
            settings.get('kubeconfig') or '(in-cluster, else the default kubeconfig; or give '
            'host with api_key)', exc))
    _override(configuration, settings)
    loaded_refresh = configuration.refresh_api_key_hook
    if loaded_refresh is not None:
        # A loaded token's refresh, before each request, sets again all that the kubeconfig
        # or the service account said: the options stay over it.
        def refresh(refreshed):
            loaded_refresh(refreshed)
            _override(refreshed, settings)
        configuration.refresh_api_key_hook = refresh
    return client.ApiClient(configuration)


def _override(configuration, settings):
    """The options set over what was loaded."""
    for option, attribute in CONFIGURATION_ATTRIBUTES:
        if option in settings:
            setattr(configuration, attribute, settings[option])
    if 'api_key' in settings:
        configuration.api_key = {'authorization': 'Bearer %s' % settings['api_key']}


class CoreApi(object):
    """The core (v1) API of a cluster, whose failed reads name the API's address."""

    def __init__(self, params=None, client=None):
        self.client = client or api_client(params)
        self.host = self.client.configuration.host
        self._api = None

    @property
    def api(self):
        """kubernetes.client.CoreV1Api, imported on first use: with kubernetes 37 importing it
        (its pydantic models and validated methods) costs about 1.3 s of a module's run."""
        if self._api is None:
            from kubernetes import client as kube_client
            self._api = kube_client.CoreV1Api(self.client)
        return self._api

    def list_pods(self, namespace=None, label_selector=''):
        """The pods of `namespace` (all namespaces when None) with the labels the selector
        asks, as the API's JSON (dicts, camelCase keys), without the client's pod model; errors
        as read() says."""
        path = '/api/v1/namespaces/%s/pods' % namespace if namespace else '/api/v1/pods'
        query = [('labelSelector', label_selector)] if label_selector else []
        answer = self._guarded(lambda: get_json(self.client, path, query),
                               'pods in namespace %s' % namespace if namespace
                               else 'pods in all namespaces')
        return (answer or {}).get('items') or []

    def read(self, call, what):
        """`call(api)`'s answer, None on 404; one DiscoveryError naming `what`, the API's
        address and the HTTP status on any other failure."""
        return self._guarded(lambda: call(self.api), what)

    def _guarded(self, call, what):
        from kubernetes.client.exceptions import ApiException
        try:
            return call()
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 401:
                raise DiscoveryError('the Kubernetes API at %s refused the credentials reading '
                                     '%s (HTTP 401 Unauthorized): check the token, client '
                                     'certificate or kubeconfig' % (self.host, what))
            if exc.status == 403:
                raise DiscoveryError('the Kubernetes API at %s does not allow reading %s (HTTP '
                                     '403 Forbidden): grant the RBAC in docs/rbac.yml'
                                     % (self.host, what))
            raise DiscoveryError('reading %s from the Kubernetes API at %s failed: HTTP %s %s'
                                 % (what, self.host, exc.status, exc.reason))
        except Exception as exc:  # connection errors come as urllib3 exceptions
            raise DiscoveryError('reading %s from the Kubernetes API at %s failed: %s'
                                 % (what, self.host, exc))


def get_json(client, path, query):
    """GET `path` (no path parameters) with `query` through the ApiClient `client` (its
    host, TLS settings and credentials, refreshed as the client would), decoded from JSON.
    ApiException on an HTTP error status, as the generated API methods raise."""
    from kubernetes.client.exceptions import ApiException
    headers = {'Accept': 'application/json'}
    if hasattr(client, 'param_serialize'):
        # kubernetes clients generated by openapi-generator 7 (e.g. 37.x): call_api sends
        # what param_serialize prepared and returns the response unread
        response = client.call_api(*client.param_serialize(
            'GET', path, query_params=query, header_params=headers,
            auth_settings=['BearerToken']))
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
    else:
        # older clients: call_api raises ApiException itself
        response = client.call_api(path, 'GET', query_params=query, header_params=headers,
                                   auth_settings=['BearerToken'], _preload_content=False,
                                   _return_http_data_only=True)
    data = response.data
    return json.loads(data.decode('utf-8') if isinstance(data, bytes) else data)


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


def discover_nb(params, private_dir=None):
    """The NB of the cluster: `tcp:`/`ssl:` remotes of every ovn-nb endpoint address.

    When the `kube-ovn-tls` secret exists, the remotes are `ssl:` and its CA, certificate and
    key are written to files only this process can read, under `private_dir` (a module's
    tmpdir, removed when the module exits; NbEndpoint.cleanup removes them earlier); they are
    never returned or logged.
    """
    core = CoreApi(params)
    endpoints = core.read(lambda api: api.read_namespaced_endpoints(NB_SERVICE, NB_NAMESPACE),
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
    secret = core.read(lambda api: api.read_namespaced_secret(TLS_SECRET, NB_NAMESPACE),
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
