# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeovn.mirror.pod_events: an Event-Driven Ansible source of the pod changes that can change
a mirror, for the rulebook kubeovn.mirror.follow_mirrors (DOCUMENTATION below says what it
puts on the queue and takes).

ansible-rulebook runs a source by its path, and sets up no `ansible_collections` package for it
(ansible's collection loader, which does for the plugins ansible runs, is not installed there,
and its import hooks would not let ansible-rulebook load its own filters by path afterwards).
So, unless one is already importable (as in the tests), the source makes `ansible_collections`
the namespace package of the collections paths ansible is configured with, where ansible-galaxy,
and so ansible-rulebook, found this collection, then imports its module_utils as every plugin of
the collection does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.machinery
import importlib.util
import logging
import sys
import threading
import time

if 'ansible_collections' not in sys.modules:
    from ansible import constants
    _SPEC = importlib.machinery.PathFinder.find_spec(
        'ansible_collections', list(constants.COLLECTIONS_PATHS) + sys.path)
    if _SPEC is not None:
        sys.modules['ansible_collections'] = importlib.util.module_from_spec(_SPEC)

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402
from ansible.module_utils.errors import UnsupportedError  # noqa: E402

from ansible_collections.kubeovn.mirror.plugins.doc_fragments.k8s_auth import (  # noqa: E402
    ModuleDocFragment as K8sAuth)
from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s  # noqa: E402
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import (  # noqa: E402
    lsp_name)
from ansible_collections.kubeovn.mirror.plugins.module_utils.options import (  # noqa: E402
    KUBE_OPTIONS, SELECTOR_OPTIONS, argument_spec)
from ansible_collections.kubeovn.mirror.plugins.module_utils.pods import (  # noqa: E402
    counts_for_mirrors)
from ansible_collections.kubeovn.mirror.plugins.module_utils.selectors import (  # noqa: E402
    check_label_selector, check_selectors)

# The Kubernetes API options (kubeconfig, context, host, api_key, ...), documented once for the
# modules and this source: the doc fragment's options, appended to DOCUMENTATION's.
K8S_AUTH_OPTIONS = K8sAuth.DOCUMENTATION.split('options:\n', 1)[1]

DOCUMENTATION = r"""
---
short_description: Pod changes that can change a Kube-OVN mirror
description:
  - Lists, then watches, the pods each of O(selectors) chooses and the kube-ovn-cni pods, and
    puts a small event on the queue only when something a mirror depends on changed, for the
    rulebook C(kubeovn.mirror.follow_mirrors).
  - 'A pod event: C({"kubeovn_mirror": {"type": "pod", "change": "added|changed|deleted",
    "selector": 0, "namespace": ..., "name": ..., "lsp": "<pod>.<namespace>", "labels": {...},
    "node": ..., "ready": true, "addressed": true}}).'
  - 'A kube-ovn-cni event: C({"kubeovn_mirror": {"type": "cni",
    "change": "ready|not_ready|deleted", "node": ..., "namespace": "kube-system",
    "name": "kube-ovn-cni-xxxxx"}}).'
  - 'A C({"kubeovn_mirror": {"type": "resync", "reason": "start|interval"}}) event once the
    pods are listed, then every O(resync_interval) seconds; with O(cni), each is followed by
    C({"kubeovn_mirror": {"type": "cni", "change": "resync", "reason": "start|interval"}}),
    which asks for every node to be checked: a kube-ovn-cni pod that became ready while
    nothing followed it (the rulebook stopped, or killed before its repair ran) gives no
    C(ready) event afterwards.'
  - 'A converge event, C({"kubeovn_mirror": {"type": "converge", "edge": "leading|trailing",
    "count": 3, "selectors": [0], "pods": ["default/web-0", ...]}}), says when to converge
    the mirrors after pod events that can change one (a pod C(deleted), or one whose event
    says C(addressed)): the first such pod event after a quiet period is followed at once
    by a C(leading) converge event for it; later ones are held, and one C(trailing) converge
    event covers them all (C(count) events, of the C(pods) and C(selectors) listed) once no
    such pod event came for O(coalesce_quiet) seconds, or once the first held one waited
    O(coalesce_max_hold) seconds. So a lone pod is converged at once, a rollout of many
    pods causes few converges, and a pod event that arrives while a converge runs is covered
    by the one after it. Converge events come at least O(coalesce_quiet) seconds apart; the
    pod events themselves are all emitted as before.'
  - C(addressed) is Kube-OVN's C(<provider>.kubernetes.io/allocated) annotation, set once the
    pod's logical switch port exists, so that is when a converge can attach it. A pod being
    deleted, on the host network or finished (Succeeded, Failed) has no port to mirror and
    counts as gone. A pod's status heartbeats, its resourceVersion and annotations no mirror
    depends on are not events; a label change that takes a pod out of a selector is a
    C(deleted) for that selector.
  - Each watch resumes from the last resourceVersion it saw; on C(410 Gone), or after the
    connection was lost, it lists again and emits the differences, so nothing is lost.
    Connection errors back off, doubling up to O(backoff_max) seconds.
  - The source never returns on its own (a returning source ends the rulebook); it stops when
    cancelled. It logs no token or kubeconfig content.
  - It reaches the Kubernetes API as the modules do (O(host) with O(api_key), O(kubeconfig),
    the service account; each unset option from its E(K8S_AUTH_*) environment variable, as
    kubernetes.core's modules).
  - Bad arguments stop it at start with a message naming the value.
options:
  selectors:
    description:
      - The pods to follow, in the modules' O(selectors) form, checked as the modules check
        them.
    type: list
    elements: dict
    required: true
    suboptions:
      namespace:
        description:
          - The pods' namespace; all namespaces when omitted (then O(selectors[].label_selectors)
            is required).
        type: str
      label_selectors:
        description:
          - Label selectors in kubernetes.core's form (V(app=web), V(tier in (a,b))), all of
            which a pod matches.
        type: list
        elements: str
        default: []
      provider:
        description:
          - The provider of an attachment network; the events' C(lsp) is then
            C(<pod>.<namespace>.<provider>), and C(addressed) that provider's annotation.
        type: str
  cni:
    description:
      - Follow the kube-ovn-cni pods too (the C(cni) events).
    type: bool
    default: true
  cni_namespace:
    description:
      - The namespace of the kube-ovn-cni pods.
    type: str
    default: kube-system
  cni_label_selector:
    description:
      - The label selector of the kube-ovn-cni pods (Kube-OVN's DaemonSet pod label).
    type: str
    default: app=kube-ovn-cni
  resync_interval:
    description:
      - Seconds between C(resync) events; V(0) for one at start only.
    type: float
    default: 600
  backoff_max:
    description:
      - The longest wait, in seconds (at least V(1)), between reconnection attempts.
    type: float
    default: 30
  watch_timeout:
    description:
      - Seconds (at least V(5)) one watch request lasts before it is renewed.
    type: float
    default: 300
  coalesce_quiet:
    description:
      - Seconds without a pod event that can change a mirror after which the next one gets a
        C(leading) converge event at once, and after which the held ones get their
        C(trailing) converge event (at least V(0); V(0) gives each its own converge event).
    type: float
    default: 1
  coalesce_max_hold:
    description:
      - The longest, in seconds, a held pod event waits for its C(trailing) converge event
        while such events keep coming (at least O(coalesce_quiet)).
    type: float
    default: 4
""" + K8S_AUTH_OPTIONS

EXAMPLES = r"""
- name: Follow the declared mirrors
  hosts: all
  sources:
    - kubeovn.mirror.pod_events:
        selectors:
          - namespace: default
            label_selectors:
              - app=web
          - namespace: storage
            label_selectors:
              - tier in (db,cache)
            provider: net1.storage.ovn
        kubeconfig: /etc/eda/kubeconfig
        resync_interval: 600
  rules:
    - name: Converge when selected pods got their ports or went (coalesced)
      condition: event.kubeovn_mirror.type == "converge"
      action:
        run_playbook:
          name: kubeovn.mirror.mirrors
"""

LOG = logging.getLogger('kubeovn.mirror.pod_events')
DEFAULT_CNI_SELECTOR = 'app=kube-ovn-cni'
ALLOCATED = '%s.kubernetes.io/allocated'

ARGUMENT_SPEC = argument_spec(
    KUBE_OPTIONS,
    selectors=dict(type='list', elements='dict', required=True, options=SELECTOR_OPTIONS),
    cni=dict(type='bool', default=True),
    cni_namespace=dict(type='str', default='kube-system'),
    cni_label_selector=dict(type='str', default=DEFAULT_CNI_SELECTOR),
    resync_interval=dict(type='float', default=600),
    backoff_max=dict(type='float', default=30),
    watch_timeout=dict(type='float', default=300),
    coalesce_quiet=dict(type='float', default=1),
    coalesce_max_hold=dict(type='float', default=4),
)
# The least each number of seconds may be (a spec has no minimum).
LEAST_SECONDS = dict(resync_interval=0, backoff_max=1, watch_timeout=5, coalesce_quiet=0,
                     coalesce_max_hold=0)


class ArgumentError(ValueError):
    """The source's arguments are wrong; the message names the offending value."""

    def __init__(self, message):
        super().__init__('kubeovn.mirror.pod_events: %s' % message)


def check_args(args):
    """The arguments checked against ARGUMENT_SPEC, with defaults filled in; ArgumentError
    naming what is wrong. A None value (a rulebook's `default(None)`) is as if not given."""
    args = dict((name, value) for name, value in args.items() if value is not None)
    undefined = sorted(name for name, value in args.items()
                       if type(value).__name__.endswith('Undefined'))
    if undefined:
        # a rulebook's {{ variable }} that nobody set (e.g. follow_mirrors_selectors)
        raise ArgumentError('%s %s undefined: set the rulebook variable that gives %s' % (
            ', '.join(undefined), 'is' if len(undefined) == 1 else 'are',
            'it' if len(undefined) == 1 else 'them'))
    # What the spec would convert but the source takes only as given: a list of mappings, and
    # numbers that are not booleans (a string would be split, `true` taken for 1).
    wanted = args.get('selectors')
    if not isinstance(wanted, list) or not wanted or \
            not all(isinstance(item, dict) for item in wanted):
        raise ArgumentError('selectors must be a non-empty list of {namespace, label_selectors, '
                            'provider}, got %r' % (wanted,))
    for name, least in LEAST_SECONDS.items():
        value = args.get(name, least)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < least:
            raise ArgumentError('%s must be a number of seconds >= %s, got %r'
                                % (name, least, value))
    result = ArgumentSpecValidator(ARGUMENT_SPEC).validate(args)
    if result.error_messages:
        raise ArgumentError('; '.join(
            ('unknown argument(s) %s' if isinstance(error, UnsupportedError) else '%s')
            % error.error_message for error in result.errors.errors))
    checked = result.validated_parameters
    if checked['coalesce_max_hold'] < checked['coalesce_quiet']:
        raise ArgumentError('coalesce_max_hold (%g) must be at least coalesce_quiet (%g)'
                            % (checked['coalesce_max_hold'], checked['coalesce_quiet']))
    try:
        check_selectors(checked['selectors'])
        k8s.check_settings(checked)
    except ValueError as exc:
        raise ArgumentError(exc)
    try:
        check_label_selector(checked['cni_label_selector'])
    except ValueError as exc:
        raise ArgumentError('cni_label_selector: %s' % exc)
    return checked


def _ready(pod):
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == 'Ready':
            return condition.status == 'True'
    return False


def pod_state(pod, provider=None):
    """What a mirror depends on of a pod, or None when the pod has (or soon has) no port."""
    if not counts_for_mirrors(pod):
        return None
    annotations = pod.metadata.annotations or {}
    return dict(labels=dict(pod.metadata.labels or {}),
                node=pod.spec.node_name if pod.spec else None, ready=_ready(pod),
                addressed=annotations.get(ALLOCATED % (provider or 'ovn')) == 'true',
                uid=pod.metadata.uid)


def cni_state(pod):
    if pod.metadata.deletion_timestamp is not None:
        return None
    return dict(node=pod.spec.node_name if pod.spec else None, ready=_ready(pod))


class Follower:
    """One list-then-watch loop (a selector, or the kube-ovn-cni pods) in its own thread.

    `emit(key, before, after, pod)` gets each difference ((namespace, name), the states as
    `state(pod)` makes them, None for none); the loop keeps `known` (the state of each pod it
    follows) and `version` (the resourceVersion to resume from). `relists` counts the lists
    after the first (410 Gone, reconnection), `reconnects` the failed watches.
    """

    def __init__(self, name, list_pods, state, emit, stop, backoff_max=30, watch_timeout=300):
        self.name, self.list_pods, self.state = name, list_pods, state
        self.emit, self.stop = emit, stop
        self.backoff_max, self.watch_timeout = backoff_max, watch_timeout
        self.known = {}
        self.version = None
        self.listed = threading.Event()
        self.relists = 0
        self.reconnects = 0

    def run(self):
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        delay = 1
        while not self.stop.is_set():
            try:
                if self.version is None:
                    self._list()
                stream = watch.Watch()
                for event in stream.stream(self.list_pods, resource_version=self.version,
                                           timeout_seconds=int(self.watch_timeout),
                                           _request_timeout=self.watch_timeout + 30,
                                           allow_watch_bookmarks=True):
                    if self.stop.is_set():
                        stream.stop()
                        break
                    self._apply(event['type'], event['object'])
                    self.version = stream.resource_version or self.version
                delay = 1
            except ApiException as exc:
                if exc.status == 410:
                    LOG.info('%s: resourceVersion %s is gone (410), listing again',
                             self.name, self.version)
                    self.version = None
                    continue
                delay = self._back_off(delay, 'HTTP %s %s' % (exc.status, exc.reason))
            except Exception as exc:  # noqa: BLE001 - urllib3/ssl/socket errors while watching
                delay = self._back_off(delay, '%s' % type(exc).__name__)

    def _back_off(self, delay, why):
        """Wait `delay` (bounded by backoff_max), then list again: events may have been missed."""
        self.reconnects += 1
        LOG.warning('%s: watch failed (%s); retrying in %s s', self.name, why, delay)
        self.stop.wait(delay)
        self.version = None
        return min(delay * 2, self.backoff_max)

    def _list(self):
        listed = self.list_pods()
        fresh = {}
        for pod in listed.items:
            state = self.state(pod)
            if state is not None:
                fresh[(pod.metadata.namespace, pod.metadata.name)] = (state, pod)
        if self.listed.is_set():
            self.relists += 1
            for key in sorted(set(self.known) | set(fresh)):
                before = self.known.get(key)
                after, pod = fresh.get(key, (None, None))
                if before != after:
                    self.emit(key, before, after, pod)
        self.known = dict((key, state) for key, (state, dummy) in fresh.items())
        self.version = listed.metadata.resource_version
        self.listed.set()

    def _apply(self, kind, pod):
        if kind not in ('ADDED', 'MODIFIED', 'DELETED'):
            return
        key = (pod.metadata.namespace, pod.metadata.name)
        after = None if kind == 'DELETED' else self.state(pod)
        before = self.known.get(key)
        if after is None:
            self.known.pop(key, None)
        else:
            self.known[key] = after
        if before != after:
            self.emit(key, before, after, pod)


def pod_event(index, provider, key, before, after):
    namespace, name = key
    current = after or before
    change = 'deleted' if after is None else ('added' if before is None or
                                              before['uid'] != after['uid'] else 'changed')
    lsp = lsp_name(name, namespace, provider)
    return dict(type='pod', change=change, selector=index, namespace=namespace, name=name,
                lsp=lsp, labels=current['labels'], node=current['node'],
                ready=bool(after and after['ready']),
                addressed=bool(after and after['addressed']))


def cni_event(key, before, after):
    namespace, name = key
    if after is None:
        change = 'deleted'
    elif after['ready'] and not (before or {}).get('ready'):
        change = 'ready'
    elif not after['ready'] and (before or {}).get('ready'):
        change = 'not_ready'
    else:
        return None     # e.g. scheduled to a node: nothing to do until it is ready
    return dict(type='cni', change=change, namespace=namespace, name=name,
                node=(after or before)['node'])


def resync_events(reason, cni):
    """A resync: converge everything, and with `cni` check every node."""
    events = [dict(type='resync', reason=reason)]
    if cni:
        events.append(dict(type='cni', change='resync', reason=reason))
    return events


def can_change_a_mirror(event):
    """Whether a pod event asks for a converge: the pod went (or left the selector), or it has
    its port (a new pod's, or a label change of an addressed pod)."""
    return event.get('type') == 'pod' and (event['change'] == 'deleted' or event['addressed'])


class Coalescer:
    """When to converge after the pod events that can change a mirror: a leading and a
    trailing edge (coalesce_quiet, coalesce_max_hold in DOCUMENTATION).

    offer(event) returns the converge event to emit at once (the leading edge) or None when
    the event is held; due() says when the held events' trailing converge event is due (a
    `clock()` time, None when nothing is held), take_due() returns it once it is. Thread-safe:
    the followers offer from their threads."""

    def __init__(self, quiet, max_hold, clock=time.monotonic):
        self.quiet, self.max_hold, self.clock = quiet, max_hold, clock
        self.last_event = self.last_emit = None
        self.held = []
        self.held_since = None
        self.lock = threading.Lock()

    def _quiet_since(self, when, now):
        return when is None or now - when >= self.quiet

    def offer(self, event):
        with self.lock:
            now = self.clock()
            leading = not self.held and self._quiet_since(self.last_event, now) and \
                self._quiet_since(self.last_emit, now)
            self.last_event = now
            if leading:
                self.last_emit = now
                return converge_event('leading', [event])
            if not self.held:
                self.held_since = now
            self.held.append(event)
            return None

    def due(self):
        with self.lock:
            return self._due()

    def _due(self):
        if not self.held:
            return None
        return min(self.last_event + self.quiet, self.held_since + self.max_hold)

    def take_due(self):
        with self.lock:
            due = self._due()
            if due is None or self.clock() < due:
                return None
            held, self.held = self.held, []
            self.last_emit = self.clock()
            return converge_event('trailing', held)


def converge_event(edge, events):
    return dict(type='converge', edge=edge, count=len(events),
                selectors=sorted(set(event['selector'] for event in events)),
                pods=sorted(set('%s/%s' % (event['namespace'], event['name'])
                                for event in events)))


def followers(args, emit, stop, client=None):
    """The Follower of each selector (and of the kube-ovn-cni pods) for checked `args`."""
    from kubernetes import client as kube_client
    core = kube_client.CoreV1Api(client or k8s.api_client(args))
    found = []
    for index, item in enumerate(args['selectors']):
        labels = ','.join(str(s).strip() for s in item.get('label_selectors') or [])
        provider = item.get('provider')
        namespace = item.get('namespace')
        if namespace:
            def list_pods(namespace=namespace, labels=labels, **kwargs):
                return core.list_namespaced_pod(namespace, label_selector=labels, **kwargs)
        else:
            def list_pods(labels=labels, **kwargs):
                return core.list_pod_for_all_namespaces(label_selector=labels, **kwargs)
        list_pods.__annotations__['return'] = 'V1PodList'

        def on_pod(key, before, after, pod, index=index, provider=provider):
            emit(pod_event(index, provider, key, before, after))
        found.append(Follower('selectors[%d] (%s %s)' % (index, namespace or 'all namespaces',
                                                         labels or 'every pod'),
                              list_pods, lambda pod, provider=provider: pod_state(pod, provider),
                              on_pod, stop, args['backoff_max'], args['watch_timeout']))
    if args['cni']:
        def list_cni(**kwargs):
            return core.list_namespaced_pod(args['cni_namespace'],
                                            label_selector=args['cni_label_selector'], **kwargs)
        list_cni.__annotations__['return'] = 'V1PodList'

        def on_cni(key, before, after, pod):
            event = cni_event(key, before, after)
            if event is not None:
                emit(event)
        found.append(Follower('kube-ovn-cni pods', list_cni, cni_state, on_cni, stop,
                              args['backoff_max'], args['watch_timeout']))
    return found


async def main(queue, args):
    """ansible-rulebook's entry point: runs until cancelled."""
    checked = check_args(args or {})
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    coalescer = Coalescer(checked['coalesce_quiet'], checked['coalesce_max_hold'])
    held = asyncio.Event()

    def put(event):
        # ansible-rulebook's queue is bounded: wait for room (back-pressure on the watch, in
        # order) rather than drop an event; give up only when stopping.
        future = asyncio.run_coroutine_threadsafe(queue.put(dict(kubeovn_mirror=event)), loop)
        while not stop.is_set():
            try:
                return future.result(timeout=1)
            except concurrent.futures.TimeoutError:
                continue
        future.cancel()

    def emit(event):
        put(event)
        if can_change_a_mirror(event):
            converge = coalescer.offer(event)
            if converge is not None:
                put(converge)
            else:
                loop.call_soon_threadsafe(held.set)

    async def trailing_edge():
        while True:
            await held.wait()
            held.clear()
            while True:
                due = coalescer.due()
                if due is None:
                    break
                await asyncio.sleep(max(0, due - time.monotonic()))
                converge = coalescer.take_due()
                if converge is not None:
                    await queue.put(dict(kubeovn_mirror=converge))

    running = followers(checked, emit, stop)
    flusher = asyncio.ensure_future(trailing_edge())
    threads = [threading.Thread(target=follower.run, name='pod_events %s' % follower.name,
                                daemon=True) for follower in running]
    try:
        for thread in threads:
            thread.start()
        while not all(follower.listed.is_set() for follower in running):
            await asyncio.sleep(0.1)
        for event in resync_events('start', checked['cni']):
            await queue.put(dict(kubeovn_mirror=event))
        LOG.info('following %d pod set(s) from resourceVersion %s', len(running),
                 ', '.join(str(follower.version) for follower in running))
        while True:
            if checked['resync_interval']:
                await asyncio.sleep(checked['resync_interval'])
                for event in resync_events('interval', checked['cni']):
                    await queue.put(dict(kubeovn_mirror=event))
            else:
                await asyncio.sleep(3600)
    finally:
        stop.set()
        flusher.cancel()


if __name__ == '__main__':
    # Try it by hand: python pod_events.py NAMESPACE [LABEL_SELECTOR], with the collection
    # where ansible finds it (ANSIBLE_COLLECTIONS_PATH, ansible.cfg or the default paths).
    class _Print:
        async def put(self, event):
            print(event, flush=True)

        def put_nowait(self, event):
            print(event, flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_Print(), dict(selectors=[dict(
        namespace=sys.argv[1], label_selectors=sys.argv[2:3])], cni=False)))
