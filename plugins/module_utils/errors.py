# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failures module_utils raise; the runner (runner.py) reports them, and nothing else
calls fail_json.

Besides these, a ValueError means bad input and a LookupError something asked for that does
not exist; both are reported with their message alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleFailure(Exception):
    """A failure reported as it is: the message, and extra keys for the module's result."""

    def __init__(self, msg, **details):
        super(ModuleFailure, self).__init__(msg)
        self.msg = msg
        self.details = details


class MissingLibrary(ModuleFailure):
    """A Python library the module needs cannot be imported."""


class OvsdbError(ModuleFailure):
    """A database that cannot be reached, or a transaction that failed."""


class DiscoveryError(ModuleFailure):
    """The cluster does not say what we asked (where its NB is, which pods match), or we may
    not read it."""
