"""The Kubernetes API options (options.KUBE_OPTIONS, k8s.api_client): kubernetes.core's names,
environment variables and precedence, the token kept out of every message (pure logic: the
options go through ansible's own argument spec validation; the configuration is the kubernetes
library's, never sent anywhere). Against the real API: tests/integration/
test_rbac_and_discovery.py."""

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from ansible_collections.kubeovn.mirror.plugins.doc_fragments.k8s_auth import (
    ModuleDocFragment)
from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, options
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import DiscoveryError

TOKEN = 'unit-test-token-3f9a'
HOST = 'https://api.example.test:6443'
ENV = ('K8S_AUTH_KUBECONFIG', 'K8S_AUTH_CONTEXT', 'K8S_AUTH_HOST', 'K8S_AUTH_API_KEY',
       'K8S_AUTH_VALIDATE_CERTS', 'K8S_AUTH_VERIFY_SSL', 'K8S_AUTH_CA_CERT',
       'K8S_AUTH_SSL_CA_CERT', 'K8S_AUTH_CLIENT_CERT', 'K8S_AUTH_CERT_FILE',
       'K8S_AUTH_CLIENT_KEY', 'K8S_AUTH_KEY_FILE', 'K8S_AUTH_PROXY', 'KUBECONFIG',
       'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT')


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No K8S_AUTH_* variable, not in a pod, and no default kubeconfig."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kube_config.kube_config, 'KUBE_CONFIG_DEFAULT_LOCATION',
                        str(tmp_path / 'no-such-kubeconfig'))
    return monkeypatch


def validated(params):
    """`params` through the options' spec, as a module (or the event source) gets them."""
    result = ArgumentSpecValidator(options.KUBE_OPTIONS).validate(params)
    assert not result.error_messages, result.error_messages
    return result


def bearer(configuration):
    """The Authorization header a request would carry (after a loaded token's refresh)."""
    return configuration.auth_settings()['BearerToken']['value']


def write_kubeconfig(path, server='https://from-kubeconfig.test:6443', token='kubeconfig-token'):
    path.write_text(yaml.safe_dump({
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'c',
        'clusters': [{'name': 'c', 'cluster': {'server': server}}],
        'users': [{'name': 'u', 'user': {'token': token}}],
        'contexts': [{'name': 'c', 'context': {'cluster': 'c', 'user': 'u'}}]}))
    return str(path)


def test_the_options_are_kubernetes_cores():
    """Names, aliases and environment variables as kubernetes.core's AUTH_ARG_SPEC and
    _create_auth_spec (K8S_AUTH_<OPTION>, then K8S_AUTH_<client attribute>); no ssl_ca_cert
    alias, which the NB's own option is."""
    spec = options.KUBE_OPTIONS
    assert dict((name, option['fallback'][1]) for name, option in spec.items()) == {
        'kubeconfig': ['K8S_AUTH_KUBECONFIG'], 'context': ['K8S_AUTH_CONTEXT'],
        'host': ['K8S_AUTH_HOST'], 'api_key': ['K8S_AUTH_API_KEY'],
        'validate_certs': ['K8S_AUTH_VALIDATE_CERTS', 'K8S_AUTH_VERIFY_SSL'],
        'ca_cert': ['K8S_AUTH_CA_CERT', 'K8S_AUTH_SSL_CA_CERT'],
        'client_cert': ['K8S_AUTH_CLIENT_CERT', 'K8S_AUTH_CERT_FILE'],
        'client_key': ['K8S_AUTH_CLIENT_KEY', 'K8S_AUTH_KEY_FILE'],
        'proxy': ['K8S_AUTH_PROXY']}
    aliases = dict((name, option.get('aliases')) for name, option in spec.items()
                   if option.get('aliases'))
    assert aliases == {'validate_certs': ['verify_ssl'], 'client_cert': ['cert_file'],
                       'client_key': ['key_file']}
    nb_only = set(options.NB_OPTIONS) - set(spec)
    assert 'ssl_ca_cert' in nb_only
    assert not nb_only & set(sum(aliases.values(), [])), 'no alias is an NB option'


def test_api_key_is_no_log_even_from_the_environment(clean_env):
    assert options.KUBE_OPTIONS['api_key']['no_log'] is True
    clean_env.setenv('K8S_AUTH_API_KEY', TOKEN)
    assert TOKEN in validated({})._no_log_values


def test_the_one_doc_fragment_documents_the_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert set(documented) == set(options.KUBE_OPTIONS)
    for name, option in options.KUBE_OPTIONS.items():
        assert documented[name]['type'] == option['type'], name
        assert documented[name].get('aliases') == option.get('aliases'), name
        text = ' '.join(documented[name]['description'])
        for variable in option['fallback'][1]:
            assert 'E(%s)' % variable in text, (name, variable)


def test_an_option_wins_over_its_variable(clean_env):
    clean_env.setenv('K8S_AUTH_HOST', 'https://from-env.test')
    clean_env.setenv('K8S_AUTH_VERIFY_SSL', 'false')
    clean_env.setenv('K8S_AUTH_SSL_CA_CERT', '/env/ca.pem')
    clean_env.setenv('K8S_AUTH_CA_CERT', '/env/first-ca.pem')
    params = validated({'host': HOST}).validated_parameters
    assert params['host'] == HOST
    assert params['validate_certs'] is False, 'from the environment, as a boolean'
    assert params['ca_cert'] == '/env/first-ca.pem', 'K8S_AUTH_CA_CERT before the other name'
    assert validated({'validate_certs': 'yes'}).validated_parameters['validate_certs'] is True


def test_host_and_api_key_need_no_kubeconfig(clean_env):
    """What AWX's bearer token credential sets, and nothing else: no kubeconfig is read (there
    is none), the token is the bearer header."""
    clean_env.setenv('K8S_AUTH_HOST', HOST + '/')
    clean_env.setenv('K8S_AUTH_API_KEY', TOKEN)
    clean_env.setenv('K8S_AUTH_SSL_CA_CERT', '/etc/ca.pem')
    clean_env.setenv('K8S_AUTH_VERIFY_SSL', 'true')
    configuration = k8s.api_client(validated({}).validated_parameters).configuration
    assert bearer(configuration) == 'Bearer ' + TOKEN
    assert configuration.host == HOST, 'trailing slash removed, as kubernetes.core does'
    assert (configuration.verify_ssl, configuration.ssl_ca_cert) == (True, '/etc/ca.pem')


def test_host_with_a_client_certificate_needs_no_kubeconfig(clean_env):
    configuration = k8s.api_client(dict(
        host=HOST, client_cert='/c.pem', client_key='/k.pem', validate_certs=False,
        proxy='http://proxy:3128')).configuration
    assert (configuration.host, configuration.cert_file, configuration.key_file) == (
        HOST, '/c.pem', '/k.pem')
    assert (configuration.verify_ssl, configuration.proxy) == (False, 'http://proxy:3128')


def test_the_options_override_the_kubeconfig(clean_env, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / 'config')
    loaded = k8s.api_client(dict(kubeconfig=kubeconfig)).configuration
    assert bearer(loaded) == 'Bearer kubeconfig-token'
    assert (loaded.host, loaded.verify_ssl) == ('https://from-kubeconfig.test:6443', True)
    overridden = k8s.api_client(dict(kubeconfig=kubeconfig, api_key=TOKEN)).configuration
    assert bearer(overridden) == 'Bearer ' + TOKEN
    assert overridden.host == 'https://from-kubeconfig.test:6443'
    # a host alone (no token) does not skip the kubeconfig, whose token is kept; the options
    # stay over what the kubeconfig says after its token's refresh
    hosted = k8s.api_client(dict(kubeconfig=kubeconfig, host=HOST,
                                 validate_certs=False)).configuration
    assert bearer(hosted) == 'Bearer kubeconfig-token'
    assert (hosted.host, hosted.verify_ssl) == (HOST, False)


def test_without_options_the_default_kubeconfig(clean_env, tmp_path):
    default = write_kubeconfig(tmp_path / 'default', server='https://default.test')
    clean_env.setattr(kube_config.kube_config, 'KUBE_CONFIG_DEFAULT_LOCATION', default)
    assert k8s.api_client({}).configuration.host == 'https://default.test'


def test_nothing_to_load_fails_clearly(clean_env):
    with pytest.raises(DiscoveryError, match='cannot load the Kubernetes configuration '
                                             r'\(in-cluster, else the default kubeconfig'):
        k8s.api_client(dict(host=HOST))         # a host without credentials needs a kubeconfig
    with pytest.raises(DiscoveryError, match='cannot load the Kubernetes configuration /nope'):
        k8s.api_client(dict(kubeconfig='/nope', api_key=TOKEN))


@pytest.mark.parametrize('settings', [dict(host=HOST, client_cert='/c.pem'),
                                      dict(host=HOST, api_key=TOKEN, client_key='/k.pem')])
def test_a_client_certificate_without_its_key_is_refused(clean_env, settings):
    with pytest.raises(ValueError, match='client_cert and client_key go together'):
        k8s.api_client(settings)


def test_which_options_name_a_cluster(clean_env):
    assert not k8s.names_a_cluster(dict(kubeconfig=None, host='', api_key=TOKEN))
    for option in ('kubeconfig', 'context', 'host'):
        assert k8s.names_a_cluster({option: 'x'}), option
    clean_env.setenv('KUBERNETES_SERVICE_HOST', '10.96.0.1')
    assert k8s.names_a_cluster({})


@pytest.mark.parametrize('status, reason, said', [
    (401, 'Unauthorized', 'refused the credentials reading pods in namespace web (HTTP 401 '
                          'Unauthorized): check the token'),
    (403, 'Forbidden', 'does not allow reading pods in namespace web (HTTP 403 Forbidden): '
                       'grant the RBAC in docs/rbac.yml'),
    (500, 'Internal Server Error', 'HTTP 500 Internal Server Error'),
])
def test_a_refused_read_names_the_host_and_status(clean_env, status, reason, said):
    core = k8s.CoreApi(client=k8s.api_client(dict(host=HOST, api_key=TOKEN)))

    def refused(api):
        raise ApiException(status=status, reason=reason)
    with pytest.raises(DiscoveryError) as raised:
        core.read(refused, 'pods in namespace web')
    assert HOST in raised.value.msg and said in raised.value.msg
    assert TOKEN not in raised.value.msg


def test_a_missing_object_is_none(clean_env):
    core = k8s.CoreApi(client=k8s.api_client(dict(host=HOST, api_key=TOKEN)))

    def missing(api):
        raise ApiException(status=404, reason='Not Found')
    assert core.read(missing, 'endpoints kube-system/ovn-nb') is None


def test_pods_are_listed_with_a_plain_get_and_errors_named(clean_env, monkeypatch):
    """list_pods GETs through the client's own request path (its host, token, TLS), without
    importing the client's CoreV1Api (about 1.3 s with kubernetes 37); an HTTP error is named
    as read() names it."""
    sent = []

    class Response:
        def __init__(self, status, data):
            self.status, self.reason, self.data, self.headers = status, 'Forbidden', data, {}

        def read(self):
            return self.data
    client = k8s.api_client(dict(host=HOST, api_key=TOKEN))

    def call_api(method, url, header_params=None, body=None, post_params=None,
                 _request_timeout=None):
        sent.append((method, url, header_params.get('authorization')))
        return answers.pop(0)
    monkeypatch.setattr(client, 'call_api', call_api)
    answers = [Response(200, b'{"items": [{"metadata": {"name": "web-0"}}]}'),
               Response(403, b'{}')]
    core = k8s.CoreApi(client=client)
    assert core.list_pods('web', 'app=web') == [{'metadata': {'name': 'web-0'}}]
    assert sent == [('GET', HOST + '/api/v1/namespaces/web/pods?labelSelector=app%3Dweb',
                     'Bearer ' + TOKEN)]
    with pytest.raises(DiscoveryError) as raised:
        core.list_pods()
    assert sent[-1][1] == HOST + '/api/v1/pods'
    assert 'does not allow reading pods in all namespaces (HTTP 403' in raised.value.msg
    assert core._api is None
