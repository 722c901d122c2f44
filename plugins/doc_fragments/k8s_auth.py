# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The Kubernetes API options (argument spec: options.KUBE_OPTIONS), as kubernetes.core's
    # modules take them. The event source kubeovn.mirror.pod_events appends these to its own.
    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path of the kubeconfig to reach the Kubernetes API with. Default from
        E(K8S_AUTH_KUBECONFIG).
      - As in kubernetes.core's modules, O(host) with O(api_key) (or with O(client_cert) and
        O(client_key)) needs no kubeconfig; else this kubeconfig (with O(context)) is read;
        else the in-cluster service account, then the default kubeconfig (E(KUBECONFIG),
        C(~/.kube/config)). The other options override what the kubeconfig or the service
        account say.
      - Each option left unset takes the value of its E(K8S_AUTH_*) environment variable, the
        one kubernetes.core reads, so AWX's and Automation Controller's I(OpenShift or Kubernetes
        API Bearer Token) credential (E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY),
        E(K8S_AUTH_VERIFY_SSL), E(K8S_AUTH_SSL_CA_CERT)) is enough.
    type: path
  context:
    description:
      - The kubeconfig's context to use. Default from E(K8S_AUTH_CONTEXT), else the kubeconfig's
        current context.
    type: str
  host:
    description:
      - The Kubernetes API's URL (C(https://api.example.com:6443)). Default from
        E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - A bearer token for the API (a service account's token). Default from
        E(K8S_AUTH_API_KEY). Never logged or returned.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate. Default from E(K8S_AUTH_VALIDATE_CERTS)
        or E(K8S_AUTH_VERIFY_SSL), else what the kubeconfig says, else true.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA certificate (PEM file) the API server's certificate must be signed by. Default from
        E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT).
      - Unlike kubernetes.core, no C(ssl_ca_cert) alias, which the OVN modules' own option of
        the Northbound's CA already is.
    type: path
  client_cert:
    description:
      - Client certificate (PEM file) to authenticate with, with O(client_key). Default from
        E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Private key (PEM file) of O(client_cert). Default from E(K8S_AUTH_CLIENT_KEY) or
        E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP proxy URL to reach the API through. Default from E(K8S_AUTH_PROXY).
    type: str
'''
