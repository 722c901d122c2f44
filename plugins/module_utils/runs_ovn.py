# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the OVN modules do, as the runner's steps (runner.ModuleSteps): one class a module,
named after it. The logic lives in the planners and readers these call; here is only the
order and what goes into the result. (The steps of the node-side modules are in
runs_node.py, of the receiver's in runs_receiver.py: a module imports only its own.)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    expiry, ovn_attachments, ovn_mirror_plan, ovn_mirror_set, ovn_nb, selectors)
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import unique
from ansible_collections.kubeovn.mirror.plugins.module_utils.runner import ModuleSteps


def _open_nb(run, lsp_names=(), mirror_names=None):
    return ovn_nb.open_nb(run.params, run.module.tmpdir, lsp_names, mirror_names)


def _with_pending(pods, pending):
    return [dict(pod, pending=pod['lsp'] in pending) for pod in pods]


class OvnMirror(ModuleSteps):
    def check(self, run):
        return ovn_mirror_plan.check_mirror_params(run.params)

    def connect(self, run):
        # An lport mirror's sink is a port, read to check it exists.
        sink = run.checked.get('sink')
        return _open_nb(run, lsp_names=[sink] if sink else (), mirror_names=[run.params['name']])

    def plan(self, run):
        return ovn_mirror_plan.plan_mirror(run.checked, run.session.schema_check)

    def result(self, run):
        return dict(mirror=run.outcome['after'])


class OvnMirrorInfo(ModuleSteps):
    def check(self, run):
        ovn_nb.check_info_params(run.params)

    def connect(self, run):
        name = run.params['name']
        return _open_nb(run, mirror_names=[name] if name is not None else None)

    def plan(self, run):
        # Read inside a transaction that writes nothing, so it sees one consistent state.
        name = run.params['name']
        return lambda api: (dict(mirrors=ovn_nb.read_mirrors(api, name)), [])

    def result(self, run):
        mirrors = run.outcome['mirrors']
        for mirror in mirrors:
            mirror.update(expiry.time_left(mirror['external_ids']))
        return dict(mirrors=mirrors, supports=run.session.schema_check.as_dict())


class OvnLspMirror(ModuleSteps):
    after_commit_does = ('a second transaction: the ports attached meanwhile by someone else '
                         'are read, and detached when the mirror is exclusive')

    def check(self, run):
        return ovn_attachments.check_attachment_params(run.params)

    def select(self, run):
        return selectors.matched_pods(run.params, run.params['selectors'],
                                      run.params['require_match'])

    def _exclusive(self, run):
        return run.params['state'] == 'present' and (
            run.params['exclusive'] or bool(run.params['selectors']))

    def connect(self, run):
        return _open_nb(run, lsp_names=unique(run.checked + [p['lsp'] for p in run.selected]))

    def plan(self, run):
        return ovn_attachments.plan_selected_attachments(
            run.params['mirror'], run.checked, [pod['lsp'] for pod in run.selected],
            run.params['state'], self._exclusive(run))

    def after_commit(self, run):
        ovn_attachments.trim_attachments_after_commit(
            run.session, run.outcome, run.params['mirror'], self._exclusive(run))

    def result(self, run):
        outcome = run.outcome
        return dict(attached=outcome['attached'], detached=outcome['detached'],
                    ports=outcome['after']['ports'], pending=outcome['pending'],
                    selected=_with_pending(run.selected, outcome['pending']))


class OvnMirrors(ModuleSteps):
    after_commit_does = ('a second transaction: ports someone else attached meanwhile to a '
                         'declared mirror are detached')

    def check(self, run):
        return ovn_mirror_set.check_params(run.params)

    def select(self, run):
        return dict((item['name'], selectors.matched_pods(
            run.params, item['selectors'], item['require_match'],
            'mirror %r: selectors' % item['name']))
            for item in run.params['mirrors'] if item['selectors'] and item['state'] == 'present')

    def connect(self, run):
        lsps = ovn_mirror_set.mirror_set_lsp_names(run.checked)
        for pods in run.selected.values():
            lsps += [pod['lsp'] for pod in pods]
        return _open_nb(run, lsp_names=unique(lsps))

    def plan(self, run):
        selected = dict((name, [pod['lsp'] for pod in pods])
                        for name, pods in run.selected.items())
        return ovn_mirror_set.plan_selected_mirror_set(
            run.checked, selected, run.params['owner'], run.params['purge'],
            run.session.schema_check)

    def after_commit(self, run):
        ovn_mirror_set.trim_after_commit(run.session, run.outcome)

    def result(self, run):
        outcome = run.outcome
        pending = outcome['pending']
        return dict(created=outcome['created'], updated=outcome['updated'],
                    deleted=outcome['deleted'], expired=outcome['expired'],
                    mirrors=outcome['after'], pending=pending,
                    selected=dict((name, _with_pending(pods, pending.get(name, [])))
                                  for name, pods in run.selected.items()))
