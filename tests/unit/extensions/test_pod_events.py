"""The event source kubeovn.mirror.pod_events: its arguments, its documentation, how
ansible-rulebook loads it and what makes an event (pure logic on kubernetes' own model objects;
the source itself runs against the real apiserver in tests/integration/test_follow_mirrors.py)."""

import datetime
import os
import subprocess
import sys

import pytest
import yaml
from kubernetes.client import (V1ObjectMeta, V1Pod, V1PodCondition, V1PodSpec, V1PodStatus)

from ansible_collections.kubeovn.mirror.extensions.eda.plugins.event_source import pod_events
from ansible_collections.kubeovn.mirror.plugins.module_utils.options import KUBE_OPTIONS
from tools.collection import ensure_collection_link

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


def test_defaults_filled_in(monkeypatch):
    for name in [name for name in os.environ if name.startswith('K8S_AUTH_')]:
        monkeypatch.delenv(name)
    assert pod_events.check_args({'selectors': WEB}) == dict(
        selectors=[dict(WEB[0], provider=None)], cni=True,
        cni_namespace='kube-system', cni_label_selector='app=kube-ovn-cni', resync_interval=600,
        backoff_max=30, watch_timeout=300, coalesce_quiet=1, coalesce_max_hold=4,
        **dict.fromkeys(KUBE_OPTIONS))


def test_the_api_options_are_the_modules_with_their_variables(monkeypatch):
    """host and api_key from K8S_AUTH_* as in the modules (an option given wins); a client
    certificate without its key stops the source at start."""
    monkeypatch.setenv('K8S_AUTH_HOST', 'https://api.test:6443')
    monkeypatch.setenv('K8S_AUTH_API_KEY', 'env-token')
    checked = pod_events.check_args({'selectors': WEB, 'api_key': 'given-token'})
    assert (checked['host'], checked['api_key']) == ('https://api.test:6443', 'given-token')
    with pytest.raises(pod_events.ArgumentError, match='client_cert and client_key go together'):
        pod_events.check_args({'selectors': WEB, 'client_cert': '/c.pem'})


def test_none_is_as_if_not_given():
    """What a rulebook's `{{ variable | default(None) }}` gives."""
    assert pod_events.check_args({'selectors': WEB, 'kubeconfig': None, 'cni': None,
                                  'resync_interval': None}) == pod_events.check_args(
        {'selectors': WEB})


def test_label_selectors_as_the_modules_take_them():
    """The modules' spec: a comma-separated string is a list (then each is checked)."""
    checked = pod_events.check_args({'selectors': [{'label_selectors': 'app=web,tier=db'}]})
    assert checked['selectors'][0]['label_selectors'] == ['app=web', 'tier=db']
    with pytest.raises(pod_events.ArgumentError, match='malformed'):
        pod_events.check_args({'selectors': [{'label_selectors': 'app in (a,b)'}]})


@pytest.mark.parametrize('args, message', [
    ({}, 'selectors must be a non-empty list'),
    ({'selectors': []}, 'selectors must be a non-empty list'),
    ({'selectors': 'app=web'}, "got 'app=web'"),
    ({'selectors': [{'namespace': 'default', 'labels': ['a']}]},
     'unknown argument(s) selectors.labels'),
    ({'selectors': [{}]}, 'selects every pod of every namespace'),
    ({'selectors': [{'namespace': 'Bad_NS'}]}, "namespace 'Bad_NS' is not a valid"),
    ({'selectors': [{'label_selectors': ['app in ()']}]},
     "selectors[0]: label selector 'app in ()': in () needs at least one value"),
    ({'selectors': WEB, 'resync': 60}, 'unknown argument(s) resync'),
    ({'selectors': WEB, 'cni': 'maybe'}, "argument 'cni' is of type str and we were unable to "
                                         "convert to bool: The value 'maybe' is not a valid"),
    ({'selectors': WEB, 'backoff_max': 0}, 'backoff_max must be a number of seconds >= 1'),
    ({'selectors': WEB, 'watch_timeout': True}, 'watch_timeout must be a number'),
    ({'selectors': WEB, 'resync_interval': 'often'},
     "resync_interval must be a number of seconds >= 0, got 'often'"),
    ({'selectors': WEB, 'cni_label_selector': 'app in ()'}, 'cni_label_selector: label'),
])
def test_bad_arguments_are_named(args, message):
    with pytest.raises(pod_events.ArgumentError) as raised:
        pod_events.check_args(args)
    assert str(raised.value).startswith('kubeovn.mirror.pod_events: ')
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


def test_a_resync_checks_every_node_when_following_kube_ovn_cni():
    assert pod_events.resync_events('start', cni=True) == [
        dict(type='resync', reason='start'), dict(type='cni', change='resync', reason='start')]
    assert pod_events.resync_events('interval', cni=False) == [
        dict(type='resync', reason='interval')]


def test_documentation_is_the_spec():
    """DOCUMENTATION and EXAMPLES parse, and document each option of the spec as it is."""
    doc = yaml.safe_load(pod_events.DOCUMENTATION)
    assert doc['short_description'] and doc['description']

    def documented(options):
        return dict((name, dict((key, value) for key, value in option.items()
                                if key in ('type', 'elements', 'required', 'default')))
                    for name, option in options.items())

    def specified(spec):
        return dict((name, dict((key, value) for key, value in option.items()
                                if key in ('type', 'elements', 'required', 'default')))
                    for name, option in spec.items())
    assert documented(doc['options']) == specified(pod_events.ARGUMENT_SPEC)
    assert documented(doc['options']['selectors']['suboptions']) == specified(
        pod_events.ARGUMENT_SPEC['selectors']['options'])
    examples = yaml.safe_load(pod_events.EXAMPLES)
    source = examples[0]['sources'][0]['kubeovn.mirror.pod_events']
    assert pod_events.check_args(source)['selectors'][1]['provider'] == 'net1.storage.ovn'


def test_ansible_rulebook_loads_it_by_path(tmp_path):
    """ansible-rulebook runs a source with runpy.run_path, with no ansible_collections on
    sys.path: the source finds this collection's module_utils through ansible's collection
    loader, where ANSIBLE_COLLECTIONS_PATH (as ansible-galaxy) says the collection is."""
    collections = ensure_collection_link()
    path = os.path.join(collections, 'ansible_collections', 'kubeovn', 'mirror', 'extensions',
                        'eda', 'plugins', 'event_source', 'pod_events.py')
    script = ('import runpy, sys\n'
              'assert not [p for p in sys.path if p.rstrip("/").endswith("build")]\n'
              'source = runpy.run_path(%r)\n'
              'print(source["check_args"]({"selectors": [{"namespace": "default"}]})["cni"])\n'
              'print(source["counts_for_mirrors"].__module__)\n' % path)
    env = dict((name, value) for name, value in os.environ.items() if name != 'PYTHONPATH')
    env['ANSIBLE_COLLECTIONS_PATH'] = collections
    done = subprocess.run([sys.executable, '-c', script], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        'True', 'ansible_collections.kubeovn.mirror.plugins.module_utils.pods'], done.stdout


class Clock:
    """A fake monotonic clock the test moves."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def change(name, change='changed', addressed=True, selector=0):
    return dict(type='pod', change=change, selector=selector, namespace='default', name=name,
                lsp=name + '.default', labels={}, node='n1', ready=False, addressed=addressed)


def test_which_pod_events_can_change_a_mirror():
    assert pod_events.can_change_a_mirror(change('a'))
    assert pod_events.can_change_a_mirror(change('a', 'deleted', addressed=False))
    assert not pod_events.can_change_a_mirror(change('a', 'added', addressed=False))
    assert not pod_events.can_change_a_mirror(dict(type='cni', change='ready', node='n1'))
    assert not pod_events.can_change_a_mirror(dict(type='resync', reason='start'))


def test_a_lone_change_converges_at_once():
    clock = Clock()
    coalescer = pod_events.Coalescer(1, 4, clock)
    assert coalescer.offer(change('web-0')) == dict(
        type='converge', edge='leading', count=1, selectors=[0], pods=['default/web-0'])
    assert coalescer.due() is None
    clock.now += 1          # a quiet second later, the next one is at once too
    assert coalescer.offer(change('web-1', 'deleted'))['edge'] == 'leading'


def test_a_burst_is_held_until_quiet_then_one_trailing_event_covers_it():
    clock = Clock()
    coalescer = pod_events.Coalescer(1, 4, clock)
    assert coalescer.offer(change('web-0'))['edge'] == 'leading'
    for index in range(1, 6):       # one every 0.2 s: each held, the deadline moves on
        clock.now += 0.2
        assert coalescer.offer(change('web-%d' % index, selector=index % 2)) is None
        assert coalescer.due() == clock.now + 1
    assert coalescer.take_due() is None         # not yet due
    clock.now += 0.99
    assert coalescer.take_due() is None
    clock.now += 0.01
    assert coalescer.take_due() == dict(
        type='converge', edge='trailing', count=5, selectors=[0, 1],
        pods=['default/web-%d' % index for index in range(1, 6)])
    assert coalescer.due() is None and coalescer.take_due() is None
    # right after a trailing event the next change is held (converge events come at least
    # a quiet period apart), then has one of its own
    clock.now += 0.5
    assert coalescer.offer(change('web-9')) is None
    clock.now += 1
    assert coalescer.take_due()['pods'] == ['default/web-9']


def test_a_long_burst_is_cut_by_the_longest_hold():
    """Changes that keep coming 0.5 s apart: a trailing event every coalesce_max_hold
    seconds, none lost."""
    clock = Clock()
    coalescer = pod_events.Coalescer(1, 4, clock)
    emitted = [coalescer.offer(change('pod-0'))]
    for index in range(1, 40):
        clock.now += 0.5
        held = coalescer.offer(change('pod-%d' % index))
        assert held is None
        due = coalescer.take_due()
        if due:
            emitted.append(due)
    clock.now += 1
    emitted.append(coalescer.take_due())
    assert [event['edge'] for event in emitted] == ['leading'] + ['trailing'] * 5
    assert sum(event['count'] for event in emitted) == 40
    assert sorted(pod for event in emitted for pod in event['pods']) == sorted(
        'default/pod-%d' % index for index in range(40))


def test_quiet_zero_converges_each_change():
    coalescer = pod_events.Coalescer(0, 0, Clock())
    assert [coalescer.offer(change('web-%d' % index))['edge'] for index in range(3)] == [
        'leading'] * 3


@pytest.mark.parametrize('args, message', [
    ({'coalesce_quiet': -1}, 'coalesce_quiet must be a number of seconds >= 0, got -1'),
    ({'coalesce_max_hold': 'long'}, "coalesce_max_hold must be a number of seconds >= 0"),
    ({'coalesce_quiet': 2, 'coalesce_max_hold': 1},
     'coalesce_max_hold (1) must be at least coalesce_quiet (2)'),
])
def test_bad_windows_are_named(args, message):
    with pytest.raises(pod_events.ArgumentError) as raised:
        pod_events.check_args(dict(args, selectors=WEB))
    assert message in str(raised.value)
