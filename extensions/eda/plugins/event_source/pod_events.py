# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeovn.mirror.pod_events: an Event-Driven Ansible source of the pod changes that can change
a mirror, for the rulebook kubeovn.mirror.follow_mirrors.

It lists, then watches, the pods each of `selectors` chooses (the same form as the modules'
`selectors`: namespace, label_selectors, provider) and the kube-ovn-cni pods, and puts small
events on the queue only when something a mirror depends on changed:

  {"kubeovn_mirror": {"type": "pod", "change": "added|changed|deleted", "selector": 0,
                      "namespace": "...", "name": "...", "lsp": "<pod>.<namespace>",
                      "labels": {...}, "node": "...", "ready": true, "addressed": true}}
  {"kubeovn_mirror": {"type": "cni", "change": "ready|not_ready|deleted", "node": "...",
                      "namespace": "kube-system", "name": "kube-ovn-cni-xxxxx"}}
  {"kubeovn_mirror": {"type": "resync", "reason": "start|interval"}}

`addressed` is Kube-OVN's `<provider>.kubernetes.io/allocated` annotation: the controller sets
it once the pod's LSP exists, so that is when a converge can attach it. A pod's status
heartbeats, its resourceVersion and annotations nobody mirrors by are not events.

Each watch resumes from the last resourceVersion it saw; on `410 Gone` (or after the
connection was lost) it lists again and emits the differences, so nothing is lost; connection
errors back off, doubling up to `backoff_max` seconds. The source never returns on its own (a
returning source ends the rulebook); it stops when cancelled. It logs no token or
kubeconfig content.

Arguments:
  selectors         list, required: the pods to follow (validated as the modules do)
  kubeconfig        path (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  context           kubeconfig context
  cni               bool, default true: follow the kube-ovn-cni pods too
  cni_namespace     default kube-system
  cni_label_selector  default app=kube-ovn-cni (Kube-OVN's DaemonSet pod label)
  resync_interval   seconds between `resync` events (default 600, 0: only at start)
  backoff_max       seconds, the longest wait between reconnection attempts (default 30)
  watch_timeout     seconds one watch request lasts before it is renewed (default 300)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading

LOG = logging.getLogger('kubeovn.mirror.pod_events')
DEFAULT_CNI_SELECTOR = 'app=kube-ovn-cni'
ALLOCATED = '%s.kubernetes.io/allocated'
_FINISHED_PHASES = ('Succeeded', 'Failed')
_ARGS = {'selectors', 'kubeconfig', 'context', 'cni', 'cni_namespace', 'cni_label_selector',
         'resync_interval', 'backoff_max', 'watch_timeout'}


def _collection_utils():
    """The collection's module_utils (selector checks, the API client), importable from this
    file's place in an ansible_collections tree when ansible-rulebook runs it by path."""
    try:
        from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, selectors
    except ImportError:
        root = os.path.abspath(__file__)
        for dummy in range(8):
            root = os.path.dirname(root)
        if os.path.isdir(os.path.join(root, 'ansible_collections')) and root not in sys.path:
            sys.path.insert(0, root)
        from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, selectors
    return k8s, selectors


class ArgumentError(ValueError):
    """The source's arguments are wrong; the message names the offending value."""


def check_args(args):
    """The arguments with defaults filled in; ArgumentError naming what is wrong."""
    dummy, selectors = _collection_utils()
    unknown = sorted(set(args) - _ARGS)
    if unknown:
        raise ArgumentError('kubeovn.mirror.pod_events: unknown argument(s) %s (known: %s)'
                            % (', '.join(unknown), ', '.join(sorted(_ARGS))))
    undefined = sorted(name for name, value in args.items()
                       if type(value).__name__.endswith('Undefined'))
    if undefined:
        # a rulebook's {{ variable }} that nobody set (e.g. follow_mirrors_selectors)
        raise ArgumentError('kubeovn.mirror.pod_events: %s undefined: set the rulebook '
                            'variable that gives %s' % (', '.join(undefined) + (
                                ' is' if len(undefined) == 1 else ' are'),
                                'it' if len(undefined) == 1 else 'them'))
    wanted = args.get('selectors')
    if not isinstance(wanted, list) or not wanted or \
            not all(isinstance(item, dict) for item in wanted):
        raise ArgumentError('kubeovn.mirror.pod_events: selectors must be a non-empty list of '
                            '{namespace, label_selectors, provider}, got %r' % (wanted,))
    for index, item in enumerate(wanted):
        extra = sorted(set(item) - set(selectors.SELECTOR_OPTIONS))
        if extra:
            raise ArgumentError('kubeovn.mirror.pod_events: selectors[%d] has unknown key(s) %s'
                                % (index, ', '.join(extra)))
        labels = item.get('label_selectors') or []
        if isinstance(labels, str) or not isinstance(labels, list):
            raise ArgumentError('kubeovn.mirror.pod_events: selectors[%d]: label_selectors '
                                'must be a list, got %r' % (index, labels))
    try:
        selectors.check_selectors(wanted)
    except ValueError as exc:
        raise ArgumentError('kubeovn.mirror.pod_events: %s' % exc)
    checked = dict(selectors=wanted, kubeconfig=args.get('kubeconfig'),
                   context=args.get('context'), cni=args.get('cni', True),
                   cni_namespace=args.get('cni_namespace') or 'kube-system',
                   cni_label_selector=args.get('cni_label_selector') or DEFAULT_CNI_SELECTOR)
    if not isinstance(checked['cni'], bool):
        raise ArgumentError('kubeovn.mirror.pod_events: cni must be true or false, got %r'
                            % (checked['cni'],))
    for name, default, low in (('resync_interval', 600, 0), ('backoff_max', 30, 1),
                               ('watch_timeout', 300, 5)):
        value = args.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
            raise ArgumentError('kubeovn.mirror.pod_events: %s must be a number of seconds '
                                '>= %s, got %r' % (name, low, value))
        checked[name] = value
    try:
        selectors.check_label_selector(checked['cni_label_selector'])
    except ValueError as exc:
        raise ArgumentError('kubeovn.mirror.pod_events: cni_label_selector: %s' % exc)
    return checked


def _ready(pod):
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == 'Ready':
            return condition.status == 'True'
    return False


def pod_state(pod, provider=None):
    """What a mirror depends on of a pod, or None when the pod has (or soon has) no port."""
    if pod.metadata.deletion_timestamp is not None:
        return None
    if pod.spec is not None and pod.spec.host_network:
        return None
    if pod.status is not None and pod.status.phase in _FINISHED_PHASES:
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
    dummy, selectors = _collection_utils()
    lsp = selectors.lsp_name(name, namespace, provider)
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


def followers(args, emit, stop, client=None):
    """The Follower of each selector (and of the kube-ovn-cni pods) for checked `args`."""
    k8s, dummy = _collection_utils()
    from kubernetes import client as kube_client
    core = kube_client.CoreV1Api(client or k8s.api_client(args['kubeconfig'], args['context']))
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

    def emit(event):
        # ansible-rulebook's queue is bounded: wait for room (back-pressure on the watch, in
        # order) rather than drop an event; give up only when stopping.
        future = asyncio.run_coroutine_threadsafe(queue.put(dict(kubeovn_mirror=event)), loop)
        while not stop.is_set():
            try:
                return future.result(timeout=1)
            except concurrent.futures.TimeoutError:
                continue
        future.cancel()

    running = followers(checked, emit, stop)
    threads = [threading.Thread(target=follower.run, name='pod_events %s' % follower.name,
                                daemon=True) for follower in running]
    try:
        for thread in threads:
            thread.start()
        while not all(follower.listed.is_set() for follower in running):
            await asyncio.sleep(0.1)
        await queue.put(dict(kubeovn_mirror=dict(type='resync', reason='start')))
        LOG.info('following %d pod set(s) from resourceVersion %s', len(running),
                 ', '.join(str(follower.version) for follower in running))
        while True:
            if checked['resync_interval']:
                await asyncio.sleep(checked['resync_interval'])
                await queue.put(dict(kubeovn_mirror=dict(type='resync', reason='interval')))
            else:
                await asyncio.sleep(3600)
    finally:
        stop.set()


if __name__ == '__main__':
    # Try it by hand: python pod_events.py NAMESPACE [LABEL_SELECTOR]
    class _Print:
        async def put(self, event):
            print(event, flush=True)

        def put_nowait(self, event):
            print(event, flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_Print(), dict(selectors=[dict(
        namespace=sys.argv[1], label_selectors=sys.argv[2:3])], cni=False)))
