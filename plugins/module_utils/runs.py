# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each module does, as the runner's steps (runner.ModuleSteps): one class a module,
named after it. The logic lives in the planners and readers these call; here is only the
order and what goes into the result.

Runs with more than one write say so in `after_commit_does` / `host_step_does`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    capture, expiry, gretap, ovn_attachments, ovn_mirror_plan, ovn_mirror_set, ovn_nb,
    ovs_health, ovs_mirror, ovs_mirror_port, ovs_output_port, selectors)
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import unique
from ansible_collections.kubeovn.mirror.plugins.module_utils.runner import ModuleSteps


def _open_nb(run, lsp_names=(), mirror_names=None):
    return ovn_nb.open_nb(run.params, run.module.tmpdir, lsp_names, mirror_names)


def _make_port_ready(run, created):
    """The host step of the node-side modules: a port the run created, made ready
    (ovs_output_port), its command in the outcome's `commands`."""
    if created and ovs_output_port.readiness_applies(run.params):
        run.outcome['commands'] = [ovs_output_port.make_ready(
            run.module, created, run.params['timeout'])]


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


class OvsLocalMirror(ModuleSteps):
    host_step_does = 'a created output port is brought up, with IPv6 off'

    def check(self, run):
        ovs_mirror.check_params(run.params)

    def select(self, run):
        if run.params['selectors'] and run.params['state'] == 'present':
            return selectors.matched_pods(run.params, run.params['selectors'])
        return []

    def connect(self, run):
        return ovs_mirror.open_ovs(run.params)

    def plan(self, run):
        params = run.params
        return ovs_mirror.plan_selected_local_mirror(
            params, run.selected, params['require_match'] and bool(params['selectors']),
            'selectors (%s)' % selectors.describe(params['selectors']))

    def host_step(self, run):
        _make_port_ready(run, run.outcome['created_output'])

    def result(self, run):
        result = dict(mirror=run.outcome['after'], selected=run.outcome['selected'])
        for key in ('commands', 'statistics'):
            if run.outcome.get(key):
                result[key] = run.outcome[key]
        return result


class OvsMirrorPort(ModuleSteps):
    host_step_does = 'a created port is brought up, with IPv6 off'

    def check(self, run):
        return ovs_mirror_port.check_params(run.params)

    def connect(self, run):
        return ovs_mirror.open_ovs(run.params)

    def plan(self, run):
        return ovs_mirror_port.plan_mirror_port(run.params, run.checked)

    def host_step(self, run):
        _make_port_ready(run, run.outcome['created'])

    def result(self, run):
        result = dict(port=run.outcome['after'])
        if run.outcome.get('commands'):
            result['commands'] = run.outcome['commands']
        return result


class OvsMirrorHealth(ModuleSteps):
    after_commit_does = 'after a repair, the mirrors and waiting ports are read again'

    def check(self, run):
        ovs_health.check_params(run.params)

    def connect(self, run):
        return ovs_health.OvsHealthSession(run.params['ovs_connection'], run.params['timeout'],
                                           run.params['wait'])

    def plan(self, run):
        return ovs_health.plan_health(run.params['bridge'], run.params['repair'])

    def after_commit(self, run):
        if run.params['repair']:
            ovs_health.reread_after_repair(run.session, run.params['bridge'], run.outcome)

    def result(self, run):
        return run.outcome

    def diff(self, run):
        return ovs_health.report_diff(run.outcome)


class GretapReceiver(ModuleSteps):
    after_commit_does = 'the link is read again, as the kernel made it'

    def check(self, run):
        gretap.check_params(run.params)

    def connect(self, run):
        return gretap.IpLinkSession(run.module, run.params['type'], run.params['netns'])

    def plan(self, run):
        return gretap.plan_receiver(run.params)

    def after_commit(self, run):
        gretap.reread_link(run.session, run.params, run.outcome)

    def result(self, run):
        return dict(link=run.outcome['after'], commands=run.outcome['commands'])


class MirrorCaptureReport(ModuleSteps):
    def check(self, run):
        return capture.check_report_params(run.params)

    def plan(self, run):
        return lambda: capture.report(run.params, run.checked)

    def result(self, run):
        return run.outcome

    def diff(self, run):
        return None
