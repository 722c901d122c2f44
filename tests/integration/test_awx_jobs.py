"""docs/awx.md's job templates (examples/awx/awx.yml) launched the way AWX launches them:
ansible-runner over a private data directory, with AWX's credential injections and the survey's
answers as extra variables (lab/awx.py). The API is reached with only AWX's built-in
"OpenShift or Kubernetes API Bearer Token" credential, holding a ServiceAccount's token bound
to docs/rbac.yml: no kubeconfig anywhere. Against a real kube-apiserver and a real NB
ovsdb-server; the kubelet and Kube-OVN's controller are played by lab/standin.py, the ports
Kube-OVN gives pods are added with ovn-nbctl. "Local mirror" needs nodes and stays out.
"""

import re
import subprocess
import uuid

import pytest
import yaml

from lab.awx import AwxJob, BearerTokenCredential, CustomCredential, awx_objects
from lab.ovn import SINK_IP
from lab.standin import ClusterStandIn
from tools.collection import REPO

from kube_access import api_ca_cert, publish_nb, service_account_token

pytestmark = pytest.mark.kube

# The markers the remote_mirror role writes: its owner, the receiver pod it made, since when
# the mirror exists; and the expiry the Expire job reads.
OWNER, RECEIVER = 'kubeovn.mirror/owner', 'kubeovn.mirror/receiver'
SINCE, EXPIRES = 'kubeovn.mirror/since', 'kubeovn.mirror/expires'


def read(path):
    with open(path) as handle:
        return handle.read()


def bearer_token(kube, namespace):
    return BearerTokenCredential(kube.api.configuration.host,
                                 service_account_token(kube, namespace),
                                 ssl_ca_cert=read(api_ca_cert(kube)))


def nb_tls(nb):
    pki = nb.pki
    return CustomCredential('OVN NB (TLS)', nb_connection=nb.server.ssl,
                            ssl_key=read(pki.client_key), ssl_cert=read(pki.client_cert),
                            ssl_ca_cert=read(pki.ca_cert))


def localhost_inventory(group_vars=None):
    """AWX's inventory of localhost, as its inventory script prints it: the host docs/awx.md
    runs the API-side templates on, with the settings that belong in group_vars."""
    return {'all': {'hosts': ['localhost'], 'vars': group_vars or {}},
            '_meta': {'hostvars': {'localhost': {
                'ansible_connection': 'local',
                'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}}}


def git_inventory(namespace):
    """examples/inventory as AWX imports it from the project (its hosts and group_vars), its
    selectors in the test's namespace."""
    with open(REPO + '/examples/inventory/hosts.yml') as handle:
        hosts = yaml.safe_load(handle)['kubeovn']['hosts']
    with open(REPO + '/examples/inventory/group_vars/kubeovn/mirrors.yml') as handle:
        group_vars = yaml.safe_load(handle)
    for mirror in group_vars['kubeovn_mirrors']:
        for selector in mirror['selectors']:
            selector['namespace'] = namespace
    return {'all': {'children': ['kubeovn']},
            'kubeovn': {'hosts': sorted(hosts), 'vars': group_vars},
            '_meta': {'hostvars': hosts}}


def add_pods(kube, nbctl, namespace, pods):
    """Pods {name: labels} and the ports Kube-OVN would give them."""
    for name, labels in pods.items():
        kube.core.create_namespaced_pod(namespace, {
            'metadata': {'name': name, 'labels': labels},
            'spec': {'containers': [{'name': 'c', 'image': 'busybox'}],
                     'automountServiceAccountToken': False}})
    nbctl('--may-exist', 'ls-add', 'ovn-default')
    for name in pods:
        nbctl('lsp-add', 'ovn-default', '%s.%s' % (name, namespace))


def nbctl_of(server):
    """ovn-nbctl on an NB ovsdb-server (the test's reader and writer, not the collection)."""
    def nbctl(*args):
        return subprocess.run(['ovn-nbctl', '--db=' + server.unix] + list(args),
                              capture_output=True, text=True, check=True, timeout=60).stdout
    return nbctl


def test_the_templates_are_what_docs_awx_md_describes():
    templates = dict((t['name'], t) for t in awx_objects()['kubeovn_mirror_awx_job_templates'])
    with open(REPO + '/docs/awx.md') as handle:
        page = handle.read()
    for name, template in templates.items():
        assert name in page and template['playbook'] in page, name
    assert sorted(t['name'] for t in awx_objects()['kubeovn_mirror_awx_credential_types']) \
        == ['Kube-OVN cluster (kubeconfig)', 'OVN NB (TLS)']


def test_mirror_a_pod_then_check_then_remove_with_awx_credentials(kube, nb, namespace,
                                                                  tmp_path):
    """"Mirror a pod": a Check job writes nothing; the job makes the networks, the receiver,
    the OVN mirror with its markers and the port attached; again, nothing changes (its since
    kept); a Check job with another key shows the diff and writes nothing; "Remove a remote
    mirror" takes away what it made and nothing else."""
    suffix = uuid.uuid4().hex[:6]
    add_pods(kube, nb.nbctl, namespace, {'web-0': {'app': 'web'}})
    inventory = localhost_inventory({
        'remote_mirror_attachment': 'mirrornet',
        'remote_mirror_attachment_namespace': namespace,
        'underlay_network_provider_network': 'pn' + suffix,
        'underlay_network_default_interface': 'eth1',
        'underlay_network_vlan': 'vlan' + suffix, 'underlay_network_vlan_id': 0,
        'underlay_network_subnet': 'sub' + suffix,
        'underlay_network_cidr_block': '172.31.0.0/24',
        'underlay_network_gateway': '172.31.0.1',
        'underlay_network_exclude_ips': ['172.31.0.1..172.31.0.20'],
        'mirror_receiver_namespace': namespace, 'mirror_receiver_wait_timeout': 60})
    credentials = [bearer_token(kube, namespace), nb_tls(nb)]
    token = credentials[0].inputs['bearer_token']
    survey = {'remote_mirror_name': 'web0-tap', 'remote_mirror_index': 42,
              'remote_mirror_pod_names': '%s/web-0\n' % namespace,
              'remote_mirror_receiver_link': 'false'}

    def launch(template, **options):
        return AwxJob(tmp_path, template, inventory, credentials, **options).run()

    # What the teardown must leave alone: a hand-made mirror and another NAD.
    nb.nbctl('mirror-add', 'by-hand', 'gre', '5', 'to-lport', SINK_IP)
    nads = kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', namespace)
    nads.create({'apiVersion': 'k8s.cni.cncf.io/v1', 'kind': 'NetworkAttachmentDefinition',
                 'metadata': {'name': 'unrelated'}, 'spec': {'config': '{}'}})

    with ClusterStandIn(kube.kubeconfig, addresses={(namespace, 'mirror-receiver'): SINK_IP}):
        review = launch('Mirror a pod (remote)', survey=survey, job_type='check')
        assert review.status == 'successful' and not review.failures, review
        assert nb.mirror('web0-tap') is None and nads.get_or_none('mirrornet') is None

        first = launch('Mirror a pod (remote)', survey=survey, verbosity=3)
        assert first.status == 'successful' and not first.failures, first
        mirror = nb.mirror('web0-tap')
        since = mirror['external_ids'].pop(SINCE)
        assert (mirror['type'], mirror['index'], mirror['filter'], mirror['sink'],
                mirror['external_ids']) == ('gre', 42, 'from-lport', SINK_IP, {
                    OWNER: 'kubeovn.mirror', RECEIVER: namespace + '/mirror-receiver'}), mirror
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', since), since
        assert nb.ports_of('web0-tap') == ['web-0.%s' % namespace]
        assert nads.get_or_none('mirrornet') is not None
        assert kube.custom('kubeovn.io', 'v1', 'subnets').get('sub' + suffix)['spec'][
            'provider'] == 'mirrornet.%s.ovn' % namespace
        assert kube.core.read_namespaced_pod('mirror-receiver', namespace).status.phase == \
            'Running'
        assert token not in first.output, 'the token shows in the job output (-vvv)'

        again = launch('Mirror a pod (remote)', survey=survey)
        assert again.status == 'successful' and again.changed == [], (again.changed, again)
        assert nb.mirror('web0-tap')['external_ids'][SINCE] == since        # kept

        check = launch('Mirror a pod (remote)', survey=dict(survey, remote_mirror_index=43),
                       job_type='check')
        planned = check.result('OVN mirror towards the receiver')
        assert check.status == 'successful' and planned['changed'], check
        assert planned['diff']['after']['index'] == 43 and nb.mirror('web0-tap')['index'] == 42

        removed = launch('Remove a remote mirror', survey={'remote_mirror_name': 'web0-tap'})
        assert removed.status == 'successful' and not removed.failures, removed
    assert nb.mirror('web0-tap') is None and nb.ports_of('web0-tap') == []
    assert nads.get_or_none('mirrornet') is None
    assert kube.custom('kubeovn.io', 'v1', 'subnets').get_or_none('sub' + suffix) is None
    assert [p.metadata.name for p in kube.core.list_namespaced_pod(namespace).items] == \
        ['web-0']
    assert nb.mirror('by-hand') is not None and nads.get_or_none('unrelated') is not None


def test_gitops_converge_then_expire_with_only_the_bearer_token(kube, nb_on_test_link,
                                                                namespace, tmp_path):
    """The Git inventory's mirrors, their pods chosen by label and the NB found through the
    API; then the scheduled Expire job deletes the one whose time has passed."""
    nbctl = nbctl_of(nb_on_test_link)
    publish_nb(kube, 6641)
    add_pods(kube, nbctl, namespace, {
        'web-1': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-1'},
        'web-0': {'app': 'web', 'statefulset.kubernetes.io/pod-name': 'web-0'}})
    credentials = [bearer_token(kube, namespace)]
    inventory = git_inventory(namespace)

    converged = AwxJob(tmp_path, 'Converge mirrors (GitOps)', inventory, credentials).run()
    assert converged.status == 'successful' and not converged.failures, converged
    names = sorted(nbctl('--bare', '--columns=name', 'list', 'Mirror').split())
    assert names == ['db-ingress', 'web1-egress'], names
    attached = nbctl('--bare', '--columns=name', 'find', 'Logical_Switch_Port',
                     'mirror_rules!=[]').split()
    assert attached == ['web-1.%s' % namespace], attached

    uuid_of_web1 = nbctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=web1-egress')
    nbctl('set', 'Mirror', uuid_of_web1.strip(),
          'external_ids:"%s"="2020-01-01T00:00:00Z"' % EXPIRES)     # its time has passed
    expired = AwxJob(tmp_path, 'Expire mirrors', localhost_inventory(), credentials).run()
    assert expired.status == 'successful' and not expired.failures, expired
    assert nbctl('--bare', '--columns=name', 'list', 'Mirror').split() == ['db-ingress']


def test_a_bad_survey_answer_fails_the_job_naming_it_and_writes_nothing(kube, nb, namespace,
                                                                        tmp_path):
    """docs/awx.md: bad survey input fails the job with the value named and nothing written."""
    job = AwxJob(tmp_path, 'Mirror a pod (remote)', localhost_inventory({
        'remote_mirror_attachment_namespace': namespace, 'mirror_receiver_namespace': namespace}),
        [bearer_token(kube, namespace), nb_tls(nb)],
        survey={'remote_mirror_name': 'bad-tap', 'remote_mirror_pod_names': 'Shop/web-0'}).run()
    assert job.status == 'failed' and "pod_refs: 'Shop/web-0': namespace name 'Shop'" in \
        job.failures[0][1], job
    assert nb.mirror('bad-tap') is None
    assert kube.custom('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions',
                       namespace).list()['items'] == []
    assert kube.core.list_namespaced_pod(namespace).items == []
