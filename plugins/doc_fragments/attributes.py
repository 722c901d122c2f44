# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What every module of the collection declares: its authors and attributes. A module that
    # changes things extends kubeovn.mirror.attributes; an info module lists
    # kubeovn.mirror.attributes.info_module *before* it (the first fragment listed wins
    # where both set an attribute's support). OVN modules add ACTIONGROUP_OVN.
    DOCUMENTATION = r'''
author:
  - kubeovn.mirror developers (@kubeovn)
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have, without changing anything.
    support: full
  diff_mode:
    description: Returns the state before and after (or as it would be, in check mode) in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
'''

    INFO_MODULE = r'''
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
'''

    ACTIONGROUP_OVN = r'''
attributes:
  action_group:
    description: Use C(group/kubeovn.mirror.ovn) in C(module_defaults) to set defaults (for example the connection) for this module.
    support: full
    membership:
      - kubeovn.mirror.ovn
'''
