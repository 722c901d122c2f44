"""The event source kubeovn.mirror.pod_events: its arguments and what makes an event (pure
logic on kubernetes' own model objects; the source itself runs against the real apiserver in
tests/integration/test_follow_mirrors.py)."""

import datetime

import pytest
from kubernetes.client import (V1ObjectMeta, V1Pod, V1PodCondition, V1PodSpec, V1PodStatus)

from ansible_collections.kubeovn.mirror.extensions.eda.plugins.event_source import pod_events

WEB = [{'namespace': 'default', 'label_selectors': ['app=web']}]


def pod(name='web-0', labels=None, annotations=None, ready=False, node='n1', phase='Pending',
        deleting=False, host_network=None, uid='u1'):
    return V1Pod(
        metadata=V1ObjectMeta(name=name, namespace='default', uid=uid,
                              labels=labels if labels is not None else {'app': 'web'},
                              annotations=annotations,
                              deletion_timestamp=datetime.datetime(2026, 1, 1) if deleting
                              else None),
        spec=V1PodSpec(containers=[], node_name=node, host_network=host_network),
        status=V1PodStatus(phase=phase, conditions=[
            V1PodCondition(type='Ready', status='True' if ready else 'False')]))


def test_defaults_filled_in():
    assert pod_events.check_args({'selectors': WEB}) == dict(
        selectors=WEB, kubeconfig=None, context=None, cni=True, cni_namespace='kube-system',
        cni_label_selector='app=kube-ovn-cni', resync_interval=600, backoff_max=30,
        watch_timeout=300)


@pytest.mark.parametrize('args, message', [
    ({}, 'selectors must be a non-empty list'),
    ({'selectors': []}, 'selectors must be a non-empty list'),
    ({'selectors': 'app=web'}, "got 'app=web'"),
    ({'selectors': [{'label_selectors': 'app=web'}]}, 'label_selectors must be a list'),
    ({'selectors': [{'namespace': 'default', 'labels': ['a']}]}, 'unknown key(s) labels'),
    ({'selectors': [{}]}, 'selects every pod of every namespace'),
    ({'selectors': [{'namespace': 'Bad_NS'}]}, "namespace 'Bad_NS' is not a valid"),
    ({'selectors': WEB, 'resync': 60}, 'unknown argument(s) resync'),
    ({'selectors': WEB, 'cni': 'yes'}, "cni must be true or false, got 'yes'"),
    ({'selectors': WEB, 'backoff_max': 0}, 'backoff_max must be a number of seconds >= 1'),
    ({'selectors': WEB, 'watch_timeout': True}, 'watch_timeout must be a number'),
    ({'selectors': WEB, 'cni_label_selector': 'app in ()'}, 'cni_label_selector: label'),
])
def test_bad_arguments_are_named(args, message):
    with pytest.raises(pod_events.ArgumentError) as raised:
        pod_events.check_args(args)
    assert message in str(raised.value)


def test_a_rulebook_variable_nobody_set_is_named():
    class Undefined:        # what ansible-rulebook's Jinja renders for an unset variable
        pass
    with pytest.raises(pod_events.ArgumentError, match='selectors is undefined'):
        pod_events.check_args({'selectors': Undefined()})


def test_pod_state_is_what_a_mirror_depends_on():
    state = pod_events.pod_state(pod(annotations={'ovn.kubernetes.io/allocated': 'true',
                                                  'other': 'x'}, ready=True))
    assert state == dict(labels={'app': 'web'}, node='n1', ready=True, addressed=True, uid='u1')
    # an attachment's address is the provider's annotation
    attached = pod(annotations={'net1.default.ovn.kubernetes.io/allocated': 'true'})
    assert pod_events.pod_state(attached, 'net1.default.ovn')['addressed'] is True
    assert pod_events.pod_state(attached)['addressed'] is False
    # no port, or soon none: as if it were gone
    for gone in (pod(deleting=True), pod(host_network=True), pod(phase='Succeeded'),
                 pod(phase='Failed')):
        assert pod_events.pod_state(gone) is None


def test_pod_events_say_what_changed():
    key = ('default', 'web-0')
    before = pod_events.pod_state(pod())
    after = pod_events.pod_state(pod(annotations={'ovn.kubernetes.io/allocated': 'true'}))
    added = pod_events.pod_event(0, None, key, None, before)
    assert added == dict(type='pod', change='added', selector=0, namespace='default',
                         name='web-0', lsp='web-0.default', labels={'app': 'web'}, node='n1',
                         ready=False, addressed=False)
    assert pod_events.pod_event(0, None, key, before, after)['change'] == 'changed'
    assert pod_events.pod_event(1, 'net1.default.ovn', key, after, None) == dict(
        added, change='deleted', selector=1, lsp='web-0.default.net1.default.ovn')
    # the same name, a new pod (missed deletion): added, as its port is a new one
    recreated = pod_events.pod_state(pod(uid='u2'))
    assert pod_events.pod_event(0, None, key, after, recreated)['change'] == 'added'


def test_cni_events_only_on_readiness_and_deletion():
    key = ('kube-system', 'kube-ovn-cni-abc')
    starting = pod_events.cni_state(pod(name=key[1]))
    ready = pod_events.cni_state(pod(name=key[1], ready=True))
    assert pod_events.cni_event(key, None, starting) is None
    assert pod_events.cni_event(key, starting, ready) == dict(
        type='cni', change='ready', namespace='kube-system', name=key[1], node='n1')
    assert pod_events.cni_event(key, None, ready)['change'] == 'ready'
    assert pod_events.cni_event(key, ready, starting)['change'] == 'not_ready'
    assert pod_events.cni_event(key, ready, None)['change'] == 'deleted'
