# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GRE/ERSPAN receiver links through iproute2: read (`ip -details -json link show`),
compare, and plan the `ip link` commands that converge a link (plan_link). Running them is
the module's part; everything here is pure, so it is unit-tested without `ip`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import ModuleFailure
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import (
    ERSPAN_LINK_INDEX_MAX, GRE_KEY_MAX, check_iface_name)

LINK_TYPES = ('gretap', 'ip6gretap', 'erspan', 'ip6erspan')
KERNEL_HINT = {
    'gretap': 'load the kernel module ip_gre (modprobe ip_gre)',
    'ip6gretap': 'load the kernel module ip6_gre (modprobe ip6_gre)',
    'erspan': 'ERSPAN needs Linux >= 4.14 with the kernel module ip_gre',
    'ip6erspan': 'ERSPAN over IPv6 needs Linux >= 4.16 with the kernel module ip6_gre',
}
UNSUPPORTED_MARKERS = ('Unknown device type', 'not supported', 'Operation not supported',
                       'Module not found')


def _version_of(value, option):
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        raise ValueError('%s %r is not an IPv4 or IPv6 address' % (option, value))


def check_params(params):
    """Every check of the module's parameters; ValueError naming the offending value.
    The tunnel parameters are checked only for state=present (absent needs just the name)."""
    check_iface_name('name', params['name'])
    if params.get('state', 'present') != 'present':
        return
    link_type = params['type']
    want = 6 if link_type.startswith('ip6') else 4
    for option in ('local', 'remote'):
        if params.get(option) and _version_of(params[option], option) != want:
            raise ValueError('%s %s is not an IPv%d address, as a %s link needs'
                             % (option, params[option], want, link_type))
    key = params.get('key')
    if key is not None and not 0 <= key <= GRE_KEY_MAX:
        raise ValueError('key %r must be within 0..%d' % (key, GRE_KEY_MAX))
    if 'erspan' in link_type:
        index = params.get('erspan_index')
        if index is None:
            raise ValueError('a %s link needs erspan_index (the mirror index)' % link_type)
        if not 0 <= index <= ERSPAN_LINK_INDEX_MAX:
            raise ValueError('erspan_index %r must be within 0..%d'
                             % (index, ERSPAN_LINK_INDEX_MAX))
    mtu = params.get('mtu')
    if mtu is not None and not 68 <= mtu <= 65535:
        raise ValueError('mtu %r must be within 68..65535' % (mtu,))


def desired_link(params):
    """What the link should look like, in the shape current_link() reads."""
    link = dict(name=params['name'], type=params['type'], local=params.get('local'),
                remote=params.get('remote'), dev=params.get('dev'))
    if 'erspan' in params['type']:
        link.update(erspan_index=params['erspan_index'],
                    erspan_version=params['erspan_version'],
                    key=params.get('key') if params.get('key') is not None
                    else params['erspan_index'])
    else:
        link.update(key=params.get('key'))
    return link


def _key(value):
    """iproute2 prints GRE keys as dotted quads (0.0.0.99) or as numbers."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if '.' in str(value):
        return int(ipaddress.IPv4Address(str(value)))
    return int(value)


def parse_link(text, name, ifindex_names=None):
    """The link's record from `ip -details -json link show dev NAME` output, or None."""
    links = json.loads(text or '[]')
    if not links:
        return None
    link = links[0]
    info = link.get('linkinfo') or {}
    data = info.get('info_data') or {}
    record = dict(
        name=link.get('ifname', name), type=info.get('info_kind'),
        local=data.get('local'), remote=data.get('remote'),
        dev=data.get('link') or (ifindex_names or {}).get(data.get('link_index')),
        key=_key(data.get('ikey') if data.get('ikey') is not None else data.get('key')),
        mtu=link.get('mtu'), up='UP' in (link.get('flags') or []),
    )
    if record['local'] in ('any', '::'):
        record['local'] = None
    if record['remote'] in ('any', '::'):
        record['remote'] = None
    if 'erspan' in (record['type'] or ''):
        record.update(erspan_index=data.get('erspan_index'),
                      erspan_version=data.get('erspan_ver'))
    return record


def needs_replace(current, desired):
    """Tunnel parameters differ: the link is deleted and created again."""
    return any(current.get(key) != value for key, value in desired.items()
               if key != 'name' and value is not None) or \
        (desired.get('remote') is None and current.get('remote') is not None)


def add_command(params):
    cmd = ['link', 'add', params['name'], 'type', params['type']]
    for option in ('local', 'remote', 'dev'):
        if params.get(option):
            cmd += [option, params[option]]
    desired = desired_link(params)
    if desired.get('key') is not None:
        cmd += ['key', str(desired['key'])]
    if 'erspan' in params['type']:
        cmd += ['seq', 'erspan_ver', str(params['erspan_version']),
                'erspan', str(params['erspan_index'])]
    return cmd


def unsupported_message(link_type, stderr):
    if any(marker in stderr for marker in UNSUPPORTED_MARKERS):
        return ('this kernel cannot create %s links (%s); ip said: %s'
                % (link_type, KERNEL_HINT[link_type], stderr.strip()))
    return None


def plan_link(current, params):
    """(link after, [ip argument lists]) converging `current` (parse_link's record, None when
    there is no link) to `params`: nothing when it matches, `mtu`/`up` changed in place,
    delete + add when a tunnel parameter (or the type) differs."""
    name = params['name']
    if params['state'] == 'absent':
        return {}, [['link', 'del', name]] if current is not None else []
    before = current or {}
    desired = desired_link(params)
    after = dict(desired, mtu=params['mtu'] if params['mtu'] else before.get('mtu'),
                 up=params['up'])
    commands = []
    if current is not None and (current.get('type') != params['type']
                                or needs_replace(current, desired)):
        commands.append(['link', 'del', name])
        current = None
    if current is None:
        commands.append(add_command(params))
    if params['mtu'] and (current is None or current.get('mtu') != params['mtu']):
        commands.append(['link', 'set', name, 'mtu', str(params['mtu'])])
    if current is None or current.get('up') != params['up']:
        commands.append(['link', 'set', name, 'up' if params['up'] else 'down'])
    return after, commands


class IpLinkSession(object):
    """The host's links, through `ip` (in the network namespace `netns`): the session of
    gretap_receiver. Its one "transaction" is the list of `ip` commands a plan gives."""

    def __init__(self, module, link_type, netns=None):
        self.module = module
        self.link_type = link_type
        self.ip = [module.get_bin_path('ip', required=True)] + (['-n', netns] if netns else [])

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def command(self, args, check=True):
        rc, out, err = self.module.run_command(self.ip + args)
        if check and rc != 0:
            hint = unsupported_message(self.link_type, err)
            raise ModuleFailure(hint or 'ip %s failed: %s' % (' '.join(args), err.strip()),
                                rc=rc, stderr=err)
        return rc, out, err

    def show(self, name, check=False):
        """parse_link's record of the link `name`, or None when there is none."""
        rc, out, dummy = self.command(['-details', '-json', 'link', 'show', 'dev', name],
                                      check=check)
        return parse_link(out, name) if rc == 0 else None

    def run(self, planner, check_mode=False):
        """`planner(session) -> (outcome, [ip argument lists])`; the commands run in order
        unless in check mode."""
        outcome, commands = planner(self)
        if not check_mode:
            for args in commands:
                self.command(args)
        return outcome


def plan_receiver(params):
    """A planner for IpLinkSession.run converging the link to `params` (plan_link)."""
    def planner(session):
        current = session.show(params['name'])
        after, commands = plan_link(current, params)
        return dict(changed=bool(commands), before=current or {}, after=after,
                    commands=[session.ip + args for args in commands]), commands
    return planner


def reread_link(session, params, outcome):
    """After the commands, the link as the kernel has it (the outcome's `after`)."""
    if outcome['changed'] and params['state'] == 'present':
        outcome['after'] = session.show(params['name'], check=True) or outcome['after']
