# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of a local mirror: an output port the module created, made ready to capture
on (up, IPv6 off) once ovs-vswitchd has made its interface. The runner's host step of
ovs_local_mirror and ovs_mirror_port."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import ModuleFailure
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb_remotes import parse_remotes


def readiness_applies(params):
    """Whether the module makes a port it creates ready: only when ovs-vswitchd has applied
    the change (wait=true) and runs on this host (a unix: socket), as its interface is then
    one of this host's."""
    return bool(params['wait']) and all(
        remote.startswith('unix:') for remote in parse_remotes(params['ovs_connection']))


def make_ready(module, name, timeout):
    """Bring the output port's interface `name` up with IPv6 off (else nothing can be
    captured on it, and vswitchd logs drops of the IPv6 packets the host sends on it),
    waiting at most `timeout` seconds for ovs-vswitchd to create it. Returns the `ip`
    command run; ModuleFailure says what is left to do when the interface does not
    appear."""
    deadline = time.monotonic() + timeout
    while not os.path.exists('/sys/class/net/%s' % name):
        if time.monotonic() >= deadline:
            raise ModuleFailure('the mirror was written, but ovs-vswitchd did not create the '
                                'output port %s within %s s; once it exists, run: '
                                'sysctl -w net.ipv6.conf.%s.disable_ipv6=1; '
                                'ip link set %s up' % (name, timeout, name, name))
        time.sleep(0.05)
    ipv6 = '/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name
    if os.path.exists(ipv6):
        with open(ipv6, 'w') as handle:
            handle.write('1\n')
    command = [module.get_bin_path('ip', required=True), 'link', 'set', 'dev', name, 'up']
    rc, dummy, err = module.run_command(command)
    if rc != 0:
        raise ModuleFailure('the mirror was written, but bringing its output port up failed: '
                            '%s: %s' % (' '.join(command), err.strip()), rc=rc, stderr=err)
    return command
