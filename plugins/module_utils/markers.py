# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The external_ids keys this collection writes on what it makes, so that a later run (or
playbooks/expire.yml, or the evidence report) knows what is its own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Marks what this collection wrote; the value names the owner (for ovn_mirrors the declared
# set's owner, for ovs_local_mirror the module).
OWNER_KEY = 'kubeovn.mirror/owner'
# On a mirror the remote_mirror role made: the receiver pod it made for it
# (<namespace>/<name>; playbooks/expire.yml deletes it with the mirror) and when the mirror was
# first created (UTC, kept by every later run; the evidence report's "since").
RECEIVER_KEY = 'kubeovn.mirror/receiver'
SINCE_KEY = 'kubeovn.mirror/since'
