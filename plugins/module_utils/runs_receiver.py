# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the receiver's modules do (gretap_receiver, mirror_capture_report), as the runner's
steps."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import capture, gretap
from ansible_collections.kubeovn.mirror.plugins.module_utils.runner import ModuleSteps


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
