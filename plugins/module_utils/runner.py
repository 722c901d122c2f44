# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's run, in one shape (after kubernetes.core's runner): a module is its
argument spec and a call of run_module with its steps (runs_ovn.py, runs_node.py,
runs_receiver.py: a module imports only the steps of its kind, and what they need).

The steps, in order (ModuleSteps; a module overrides those it has):
1. check: the input, before anything is read; its value is `run.checked`.
2. select: what the cluster says now (the pods selectors match); `run.selected`.
3. connect: open the one session (an OVSDB connection, or the host's `ip`); `run.session`.
4. plan: the planner of the run's one transaction, which the session commits (check mode:
   plans only). Its outcome is `run.outcome`.
5. after_commit: work in the same session after the commit, named by the steps (e.g. the
   NB modules' second transaction, which reads the ports attached meanwhile and detaches the
   surplus); not in check mode.
6. host_step: commands on the host after the session is closed (e.g. bringing a new
   output port up); not in check mode.
7. result: the result's keys beside `changed` (the outcome's) and, in diff mode, `diff`
   (diff: by default the outcome's `before` and `after`).

The one error exit: ModuleFailure (errors.py) with its details, ValueError (bad input) and
LookupError (a missing object) fail the module; nothing is written by a run that fails
before its commit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import ModuleFailure


class ModuleRun(object):
    """What a run has so far; every step gets it."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.checked = None
        self.selected = None
        self.session = None
        self.outcome = None


class NoSession(object):
    """The session of a module that reads only local things: its plan is a function
    computing the outcome."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def run(self, plan, check_mode=False):
        return plan()


class ModuleSteps(object):
    """A module's steps; see the module docstring for the order."""

    # What after_commit and host_step do, said where a run has them; None: no such step.
    after_commit_does = None
    host_step_does = None

    def check(self, run):
        return None

    def select(self, run):
        return None

    def connect(self, run):
        return NoSession()

    def plan(self, run):
        raise NotImplementedError

    def after_commit(self, run):
        pass

    def host_step(self, run):
        pass

    def result(self, run):
        return {}

    def diff(self, run):
        if 'before' not in run.outcome:
            return None
        return dict(before=run.outcome['before'], after=run.outcome['after'])


def _run_steps(run, steps):
    run.checked = steps.check(run)
    run.selected = steps.select(run)
    run.session = steps.connect(run)
    with run.session:
        run.outcome = run.session.run(steps.plan(run), run.check_mode)
        if not run.check_mode:
            steps.after_commit(run)
    if not run.check_mode:
        steps.host_step(run)
    result = dict(changed=bool(run.outcome.get('changed')))
    result.update(steps.result(run))
    diff = steps.diff(run) if run.module._diff else None
    if diff is not None:
        result['diff'] = diff
    return result


def run_module(argument_spec, steps):
    """Build the module from `argument_spec`, run `steps` (a ModuleSteps) and exit with the
    result, or fail with the reason."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = _run_steps(ModuleRun(module), steps)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except (ValueError, LookupError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)
