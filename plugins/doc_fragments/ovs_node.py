# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # A node's Open_vSwitch database (argument spec: options.OVS_NODE_OPTIONS), for
    # ovs_local_mirror, ovs_mirror_port and ovs_mirror_health.
    DOCUMENTATION = r'''
options:
  bridge:
    description: The node's bridge the task acts on.
    type: str
    default: br-int
  ovs_connection:
    description: The node's Open_vSwitch database, in OVSDB remote syntax.
    type: str
    default: unix:/run/openvswitch/db.sock
  wait:
    description:
      - Wait until ovs-vswitchd has applied what the task changed (as C(ovs-vsctl) does);
        C(false) is C(ovs-vsctl --no-wait).
    type: bool
    default: true
  timeout:
    description:
      - Seconds for connecting and, separately, for the transaction, and for ovs-vswitchd to
        create a port the task adds.
    type: float
    default: 30
'''
