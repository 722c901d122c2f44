# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to the OVN Northbound database. The
    # Kubernetes API options that find it are kubeovn.mirror.k8s_auth's.
    DOCUMENTATION = r'''
options:
  nb_connection:
    description:
      - How to reach the OVN Northbound database, in OVSDB remote syntax.
      - C(unix:PATH), C(tcp:IP:PORT) or C(ssl:IP:PORT); for a clustered (RAFT) Northbound
        database list every member, comma-separated (C(ssl:10.0.0.1:6641,ssl:10.0.0.2:6641)).
        Writes go to the cluster leader.
      - When not set, the environment variable E(OVN_NB_DB) is used; else, when O(kubeconfig),
        O(context) or O(host) is set (or its E(K8S_AUTH_*) variable) or the module runs in a
        pod, the NB the cluster publishes (the C(ovn-nb) Endpoints in C(kube-system), port
        6641; C(ssl:) with the CA, certificate and key of the secret C(kube-system/kube-ovn-tls)
        when that secret exists); else C(unix:/var/run/ovn/ovnnb_db.sock).
      - Finding the NB needs C(get) on C(endpoints/ovn-nb) and C(secrets/kube-ovn-tls) in
        C(kube-system) (C(docs/rbac.yml)). The TLS key material read from the secret is written
        only to the module's private temporary directory, removed when the module ends, and
        never returned.
    type: str
  ssl_key:
    description:
      - Private key (PEM file) presented to an C(ssl:) remote. Required with C(ssl:) remotes.
    type: path
  ssl_cert:
    description:
      - Certificate (PEM file) matching O(ssl_key). Required with C(ssl:) remotes.
    type: path
  ssl_ca_cert:
    description:
      - CA certificate (PEM file) that must have signed the server's certificate.
        Required with C(ssl:) remotes. A server whose certificate it did not sign is refused.
    type: path
  timeout:
    description:
      - Seconds allowed for connecting (schema fetch and the first read of the tables the
        module needs) and, separately, for the transaction.
      - A database that cannot be reached in time fails the task with the remote and the reason.
    type: float
    default: 30
requirements:
  - ovsdbapp >= 2.18 (Python, on the host that runs the module)
  - kubernetes (Python), only to find the NB through the Kubernetes API
  - ovs (Python bindings of Open vSwitch; a dependency of ovsdbapp). From 3.4 on, ports are
    attached and detached with raw operations (faster for thousands of ports), and a mirror
    deleted by someone else during the run makes the transaction plan again; before 3.4 only
    the second transaction after the commit notices it.
notes:
  - Only the C(Mirror) table and the C(name) and C(mirror_rules) columns of
    C(Logical_Switch_Port) are read, and only the ports named in the task or having a mirror
    attached, so the module's cost grows with the request, not with the size of the cluster.
  - What a task asks for is planned and written in one OVSDB transaction, all or nothing.
    M(kubeovn.mirror.ovn_lsp_mirror) and M(kubeovn.mirror.ovn_mirrors) then run a second
    one, which reads every port that has a mirror, so the ports returned are what the NB
    holds, and detaches from an exclusive or declared mirror the ports someone else attached
    meanwhile.
  - Set the connection once for every OVN module with C(module_defaults) and the action
    group C(group/kubeovn.mirror.ovn), for example
    C(module_defaults={group/kubeovn.mirror.ovn={nb_connection=tcp:10.0.0.1:6641}}).
'''
