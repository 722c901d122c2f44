# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option groups modules share, each written once with its doc fragment beside it
(plugins/doc_fragments): the NB connection, the Kubernetes API, a node's OVS, `pods` and
`selectors` entries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

DEFAULT_NB_CONNECTION = 'unix:/var/run/ovn/ovnnb_db.sock'
# A node's Open_vSwitch database, as Kube-OVN's ovs-ovn pod and the host see it.
DEFAULT_OVS_CONNECTION = 'unix:/run/openvswitch/db.sock'
DEFAULT_TIMEOUT = 30


def _env(*names):
    return (env_fallback, list(names))


# The Kubernetes API (doc fragment kubeovn.mirror.k8s_auth; k8s.api_client uses them), with
# kubernetes.core's names, aliases and environment variables (a set option wins over them).
# No `ssl_ca_cert` alias for ca_cert: the NB's ssl_ca_cert (NB_OPTIONS) has that name.
KUBE_OPTIONS = dict(
    kubeconfig=dict(type='path', fallback=_env('K8S_AUTH_KUBECONFIG')),
    context=dict(type='str', fallback=_env('K8S_AUTH_CONTEXT')),
    host=dict(type='str', fallback=_env('K8S_AUTH_HOST')),
    api_key=dict(type='str', no_log=True, fallback=_env('K8S_AUTH_API_KEY')),
    validate_certs=dict(type='bool', aliases=['verify_ssl'],
                        fallback=_env('K8S_AUTH_VALIDATE_CERTS', 'K8S_AUTH_VERIFY_SSL')),
    ca_cert=dict(type='path', fallback=_env('K8S_AUTH_CA_CERT', 'K8S_AUTH_SSL_CA_CERT')),
    client_cert=dict(type='path', aliases=['cert_file'],
                     fallback=_env('K8S_AUTH_CLIENT_CERT', 'K8S_AUTH_CERT_FILE')),
    client_key=dict(type='path', aliases=['key_file'], no_log=False,
                    fallback=_env('K8S_AUTH_CLIENT_KEY', 'K8S_AUTH_KEY_FILE')),
    proxy=dict(type='str', fallback=_env('K8S_AUTH_PROXY')),
)

# The OVN Northbound connection (doc fragment kubeovn.mirror.ovn_nb).
NB_OPTIONS = dict(
    nb_connection=dict(type='str', fallback=_env('OVN_NB_DB')),
    ssl_key=dict(type='path', no_log=False),
    ssl_cert=dict(type='path'),
    ssl_ca_cert=dict(type='path'),
    timeout=dict(type='float', default=DEFAULT_TIMEOUT),
)
NB_OPTIONS.update(KUBE_OPTIONS)

# A node's Open_vSwitch database (doc fragment kubeovn.mirror.ovs_node).
OVS_NODE_OPTIONS = dict(
    bridge=dict(type='str', default='br-int'),
    ovs_connection=dict(type='str', default=DEFAULT_OVS_CONNECTION),
    wait=dict(type='bool', default=True),
    timeout=dict(type='float', default=DEFAULT_TIMEOUT),
)

# A `pods` entry (doc fragment kubeovn.mirror.pods).
POD_OPTIONS = dict(
    name=dict(type='str', required=True),
    namespace=dict(type='str', default='default'),
    provider=dict(type='str'),
)

# Every mirror type and filter of any OVN's NB schema; what a given server accepts is read
# from its schema (ovn_nb.MirrorSupport).
MIRROR_TYPES = ('gre', 'erspan', 'local', 'lport')
MIRROR_FILTERS = ('from-lport', 'to-lport', 'both')

# A `rules` entry of an OVN mirror (OVN >= 25.09: Mirror_Rule).
RULE_OPTIONS = dict(
    priority=dict(type='int', required=True),
    match=dict(type='str', required=True),
    action=dict(type='str', choices=['mirror', 'skip'], default='mirror'),
)

# An OVN mirror's own settings (ovn_mirror's options, and each of ovn_mirrors' `mirrors`).
MIRROR_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    type=dict(type='str', choices=list(MIRROR_TYPES)),
    index=dict(type='int'),
    filter=dict(type='str', choices=list(MIRROR_FILTERS)),
    sink=dict(type='str'),
    sink_pod=dict(type='dict', options=POD_OPTIONS),
    rules=dict(type='list', elements='dict', options=RULE_OPTIONS),
    expires=dict(type='str'),
)

# A `selectors` entry, and the options choosing pods by selectors (doc fragment
# kubeovn.mirror.selectors).
SELECTOR_OPTIONS = dict(
    namespace=dict(type='str'),
    label_selectors=dict(type='list', elements='str', default=[]),
    provider=dict(type='str'),
)
SELECTION_OPTIONS = dict(
    selectors=dict(type='list', elements='dict', default=[], options=SELECTOR_OPTIONS),
    require_match=dict(type='bool', default=False),
)


def argument_spec(*groups, **module_options):
    """A module's argument spec: the shared option groups, then its own options."""
    spec = {}
    for group in groups:
        spec.update(group)
    spec.update(module_options)
    return spec
