"""Which pods count for a mirror (pods.py), on kubernetes' own model objects, as the modules'
selectors and the event source get them from the API."""

import datetime

import pytest
import kubernetes.client
from kubernetes.client import V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus

from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, selectors
from ansible_collections.kubeovn.mirror.plugins.module_utils.pods import (
    FINISHED_PHASES, counts_for_mirrors)


def pod(phase='Running', deleting=False, host_network=None, spec=True, status=True,
        name='web-0'):
    return V1Pod(
        metadata=V1ObjectMeta(name=name, namespace='default',
                              deletion_timestamp=datetime.datetime(2026, 1, 1) if deleting
                              else None),
        spec=V1PodSpec(containers=[], host_network=host_network) if spec else None,
        status=V1PodStatus(phase=phase) if status else None)


@pytest.mark.parametrize('counted', [
    pod(), pod(phase='Pending'), pod(phase='Unknown'), pod(phase=None),
    pod(host_network=False), pod(spec=False), pod(status=False),
])
def test_a_pod_with_its_port_counts(counted):
    """Running, or still to get its port (Pending: the next converge attaches it)."""
    assert counts_for_mirrors(counted) is True


@pytest.mark.parametrize('gone', [
    pod(deleting=True),             # its LSP goes with it
    pod(host_network=True),         # no OVN port at all
    pod(phase='Succeeded'), pod(phase='Failed'),    # Kube-OVN released its LSP
    pod(phase='Running', deleting=True, host_network=True),
])
def test_a_pod_without_a_port_to_keep_does_not(gone):
    assert counts_for_mirrors(gone) is False


def test_finished_phases_are_kubernetes_terminal_phases():
    assert set(FINISHED_PHASES) == {'Succeeded', 'Failed'}


def as_json(pod):
    """A V1Pod as the API's JSON (what k8s.CoreApi.list_pods returns)."""
    return kubernetes.client.ApiClient().sanitize_for_serialization(pod)


@pytest.mark.parametrize('listed', [
    pod(), pod(phase='Pending'), pod(phase=None), pod(spec=False), pod(status=False),
    pod(deleting=True), pod(host_network=True), pod(phase='Succeeded'), pod(phase='Failed'),
])
def test_the_api_json_counts_as_the_model(listed):
    assert counts_for_mirrors(as_json(listed)) is counts_for_mirrors(listed)


def test_selectors_resolve_to_the_pods_that_count(monkeypatch):
    """resolve_selectors lists the pods (a plain GET, without the client's pod model), then
    keeps those that count, by their LSP."""
    listed = [as_json(item) for item in (
        pod(name='web-1'), pod(name='web-0', phase='Pending'), pod(name='gone', deleting=True),
        pod(name='host', host_network=True), pod(name='done', phase='Succeeded'))]
    asked = []

    def get_json(client, path, query):
        asked.append((path, query))
        return {'kind': 'PodList', 'items': listed}
    monkeypatch.setattr(k8s, 'get_json', get_json)
    found = selectors.resolve_selectors([{'namespace': 'default', 'label_selectors': ['app=web']},
                                         {'label_selectors': ['tier=db']}],
                                        client=kubernetes.client.ApiClient())
    assert asked == [('/api/v1/namespaces/default/pods', [('labelSelector', 'app=web')]),
                     ('/api/v1/pods', [('labelSelector', 'tier=db')])]
    assert found == [dict(namespace='default', name='web-0', lsp='web-0.default'),
                     dict(namespace='default', name='web-1', lsp='web-1.default')]
