# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods chosen by label selectors, resolved through the Kubernetes API at each run.

A cluster keeps changing: a recreated pod gets a new LSP, a Deployment's pods change names.
A mirror declared by selectors is therefore exact: its ports are the LSPs of the pods that
match now (pods gone are detached, new ones attached). A matching pod whose LSP Kube-OVN has
not created yet is `pending`, not an error; the next run attaches it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import DiscoveryError
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import lsp_name
from ansible_collections.kubeovn.mirror.plugins.module_utils.pods import counts_for_mirrors
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    DNS1123_LABEL, check_text)

_NAME = r'[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?'
_PREFIX = r'[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?'
_KEY = re.compile(r'^(%s/)?%s$' % (_PREFIX, _NAME))
_VALUE = re.compile(r'^(%s)?$' % _NAME)
_SET = re.compile(r'^(?P<key>\S+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$')
_EQUALITY = re.compile(r'^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^=!\s]*)$')
_EXISTS = re.compile(r'^(?P<op>!?)(?P<key>[^=!\s()]+)$')


def _check_key(selector, key):
    if not _KEY.match(key):
        raise ValueError('label selector %r: %r is not a valid label key' % (selector, key))


def _check_value(selector, value):
    if not _VALUE.match(value):
        raise ValueError('label selector %r: %r is not a valid label value' % (selector, value))


def check_label_selector(selector):
    """One selector in kubernetes.core's form: `key=value`, `key!=value`, `key`, `!key`,
    `key in (a,b)`, `key notin (a,b)`. ValueError names the bad one."""
    text = str(selector or '').strip()
    if not text:
        raise ValueError('label selector %r is empty' % (selector,))
    check_text('label selector', text)
    for part in _split(text):
        match = _SET.match(part)
        if match:
            _check_key(selector, match.group('key'))
            values = [v.strip() for v in match.group('values').split(',')]
            if not [v for v in values if v]:
                raise ValueError('label selector %r: %s () needs at least one value'
                                 % (selector, match.group('op')))
            for value in values:
                _check_value(selector, value)
            continue
        match = _EQUALITY.match(part)
        if match:
            _check_key(selector, match.group('key'))
            _check_value(selector, match.group('value'))
            continue
        match = _EXISTS.match(part)
        if match:
            _check_key(selector, match.group('key'))
            continue
        raise ValueError('label selector %r is not of the form key=value, key!=value, key, '
                         '!key, "key in (a,b)" or "key notin (a,b)"' % (selector,))


def _split(text):
    """Split `a=b,c in (d,e)` at the commas outside parentheses."""
    parts, depth, current = [], 0, ''
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(current.strip())
            current = ''
        else:
            current += char
    parts.append(current.strip())
    if [part for part in parts if not part] or depth:
        raise ValueError('label selector %r is malformed (empty part or unbalanced '
                         'parentheses)' % text)
    return parts


def check_selectors(selectors, what='selectors'):
    """Validate `selectors` entries before anything is read or written."""
    for index, item in enumerate(selectors or []):
        where = '%s[%d]' % (what, index)
        namespace = item.get('namespace')
        labels = list(item.get('label_selectors') or [])
        if namespace is not None and not DNS1123_LABEL.match(str(namespace)):
            raise ValueError('%s: namespace %r is not a valid namespace name' % (where, namespace))
        if namespace is None and not labels:
            raise ValueError('%s selects every pod of every namespace: give a namespace or '
                             'label_selectors' % where)
        for selector in labels:
            try:
                check_label_selector(selector)
            except ValueError as exc:
                raise ValueError('%s: %s' % (where, exc))
        if item.get('provider') is not None:
            provider = str(item['provider'])
            if not provider.strip() or provider != provider.strip():
                raise ValueError('%s: provider %r must be a non-empty name without surrounding '
                                 'white space' % (where, provider))
            check_text('%s: provider' % where, provider)


def resolve_selectors(selectors, params=None, client=None):
    """The pods matching any of `selectors` now, as dicts {namespace, name, lsp}, sorted by
    LSP and without repeats, read with the API options in `params` (k8s.api_client). Raises
    DiscoveryError when the API cannot be read."""
    if not selectors:
        return []
    core = k8s.CoreApi(params, client)
    found = {}
    for item in selectors:
        selector = ','.join(str(s).strip() for s in item.get('label_selectors') or [])
        for pod in core.list_pods(item.get('namespace'), selector):
            if not counts_for_mirrors(pod):
                continue
            metadata = pod['metadata']
            lsp = lsp_name(metadata['name'], metadata['namespace'], item.get('provider'))
            found[lsp] = dict(namespace=metadata['namespace'], name=metadata['name'], lsp=lsp)
    return [found[name] for name in sorted(found)]


def matched_pods(params, selectors, require_match=False, what='selectors'):
    """The pods `selectors` match now (resolve_selectors, with the API options in `params`).
    DiscoveryError when the API cannot be read, or when `require_match` is set and nothing
    matches: the run then writes nothing."""
    matched = resolve_selectors(selectors, params)
    if require_match and selectors and not matched:
        raise DiscoveryError('nothing was changed because %s (%s) match no pod '
                             '(require_match=true)' % (what, describe(selectors)))
    return matched


def describe(selectors):
    return '; '.join('%s %s' % (item.get('namespace') or 'all namespaces',
                                ','.join(item.get('label_selectors') or []) or 'every pod')
                     for item in selectors)
