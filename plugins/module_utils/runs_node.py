# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the node-side modules do (ovs_local_mirror, ovs_mirror_port, ovs_mirror_health), as
the runner's steps. ovs_mirror_health runs where only python-ovs is installed: nothing here
imports ovsdbapp unguarded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import (
    ovs_health, ovs_mirror, ovs_mirror_port, ovs_output_port, selectors)
from ansible_collections.kubeovn.mirror.plugins.module_utils.runner import ModuleSteps


def _make_port_ready(run, created):
    """The host step of the node-side modules: a port the run created, made ready
    (ovs_output_port), its command in the outcome's `commands`."""
    if created and ovs_output_port.readiness_applies(run.params):
        run.outcome['commands'] = [ovs_output_port.make_ready(
            run.module, created, run.params['timeout'])]


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
