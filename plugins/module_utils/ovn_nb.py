# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVN Northbound mirror state: read, compare, plan and apply in one transaction.

Modules give this module their parameters; it validates them against the connected
server's schema, computes the difference with what is there and turns it into ovsdbapp
commands that `ovsdb.run_planned` commits as one transaction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, ovsdb
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import (
    check_name, check_text, lsp_name)

try:
    from ovsdbapp.backend.ovs_idl import idlutils
    from ovsdbapp.schema.ovn_northbound import impl_idl as nb_impl_idl
except ImportError:  # pragma: no cover - reported through ovsdb.HAS_OVSDBAPP
    idlutils = nb_impl_idl = None

NB_SCHEMA = 'OVN_Northbound'
DEFAULT_NB_CONNECTION = 'unix:/var/run/ovn/ovnnb_db.sock'
DEFAULT_TIMEOUT = 30

GRE_KEY_MAX = 2 ** 32 - 1
# ovn-controller writes the index as the tunnel key and erspan_idx; OVS's userspace ERSPAN
# encapsulation rejects session ids above 10 bits.
ERSPAN_INDEX_MAX = 1023
IP_SINK_TYPES = ('gre', 'erspan')
KNOWN_TYPES = ('gre', 'erspan', 'local', 'lport')
KNOWN_FILTERS = ('from-lport', 'to-lport', 'both')

# The OVN release whose NB schema first accepted each value (read from the schemas).
FIRST_OVN_WITH = {
    ('type', 'gre'): '22.12',
    ('type', 'erspan'): '22.12',
    ('type', 'local'): '23.06',
    ('type', 'lport'): '25.09',
    ('filter', 'from-lport'): '22.12',
    ('filter', 'to-lport'): '22.12',
    ('filter', 'both'): '23.06',
}

MIRROR_COLUMNS = ['name', 'type', 'index', 'filter', 'sink', 'external_ids']
LSP_COLUMNS = ['name', 'mirror_rules']
# Selects every LSP that has a mirror attached: proportional to what is mirrored,
# never to the size of the cluster.
LSP_WITH_MIRRORS = ['mirror_rules', '!=', ['set', []]]

NB_CONNECTION_ARGSPEC = dict(
    nb_connection=dict(type='str', fallback=(env_fallback, ['OVN_NB_DB'])),
    ssl_key=dict(type='path', no_log=False),
    ssl_cert=dict(type='path'),
    ssl_ca_cert=dict(type='path'),
    timeout=dict(type='float', default=DEFAULT_TIMEOUT),
    kubeconfig=dict(type='path', fallback=(env_fallback, ['K8S_AUTH_KUBECONFIG'])),
    context=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_CONTEXT'])),
)


def nb_argument_spec(**module_options):
    spec = dict(NB_CONNECTION_ARGSPEC)
    spec.update(module_options)
    return spec


class MirrorSupport(object):
    """Which mirror types and filters the connected NB schema accepts."""

    def __init__(self, schema):
        self.schema_version = schema.get('version', 'unknown')
        table = schema.get('tables', {}).get('Mirror')
        if table is None:
            raise ovsdb.OvsdbError(
                'the OVN Northbound database (schema %s) has no Mirror table: '
                'mirrors need OVN >= 22.12' % self.schema_version)
        self.types = self._enum(table, 'type')
        self.filters = self._enum(table, 'filter')
        self.has_mirror_rules = 'mirror_rules' in table['columns']

    @staticmethod
    def _enum(table, column):
        enum = table['columns'][column]['type']['key'].get('enum', ['set', []])
        values = enum[1] if isinstance(enum, list) and enum[0] == 'set' else [enum]
        return sorted(values)

    def check(self, option, value):
        accepted = self.types if option == 'type' else self.filters
        if value in accepted:
            return
        since = FIRST_OVN_WITH.get((option, value))
        hint = ' (it needs OVN >= %s)' % since if since else ''
        raise ValueError(
            '%s %r is not supported by this OVN Northbound database (schema %s), which '
            'accepts %s%s' % (option, value, self.schema_version, ', '.join(accepted), hint))

    def as_dict(self):
        return dict(types=self.types, filters=self.filters,
                    schema_version=self.schema_version,
                    mirror_rules=self.has_mirror_rules)


def connection_params(module):
    """Connection settings: the options, else the cluster's published NB, else the default.

    The cluster is asked (see k8s.discover_nb) only when nb_connection is not set and a
    kubeconfig is given or the module runs inside a pod.
    """
    params = module.params
    settings = dict(connection=params['nb_connection'], timeout=params['timeout'],
                    ssl_key=params['ssl_key'], ssl_cert=params['ssl_cert'],
                    ssl_ca_cert=params['ssl_ca_cert'])
    if not settings['connection'] and (params['kubeconfig'] or k8s.in_cluster()):
        endpoint = k8s.discover_nb(params['kubeconfig'], params['context'], module.tmpdir)
        settings['connection'] = endpoint.connection
        for option, path in endpoint.tls.items():
            settings[option] = settings[option] or path
    settings['connection'] = settings['connection'] or DEFAULT_NB_CONNECTION
    return settings


def open_nb(module, lsp_names=(), mirror_names=None):
    """Open the NB for a module run, monitoring only what the run needs.

    Mirrors: every row (a small table) or only `mirror_names`. LSPs: only `name` and
    `mirror_rules`, and only the rows named in `lsp_names` or having a mirror attached.
    Fails the module with the reason when the database cannot be reached.
    """
    if not ovsdb.HAS_OVSDBAPP:
        module.fail_json(msg=missing_required_lib('ovsdbapp'),
                         exception=str(ovsdb.OVSDBAPP_IMPORT_ERROR))
    if module.params['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, got %s'
                         % module.params['timeout'])
    mirror_condition = None
    if mirror_names is not None:
        mirror_condition = [['name', '==', name] for name in mirror_names] or [False]
    lsp_condition = [['name', '==', name] for name in lsp_names] + [LSP_WITH_MIRRORS]
    views = [
        ovsdb.TableView('Mirror', MIRROR_COLUMNS, mirror_condition),
        ovsdb.TableView('Logical_Switch_Port', LSP_COLUMNS, lsp_condition),
    ]
    try:
        settings = connection_params(module)
    except k8s.DiscoveryError as exc:
        module.fail_json(msg=str(exc))
    try:
        session = ovsdb.open_session(
            nb_impl_idl.OvnNbApiIdlImpl, NB_SCHEMA, settings['connection'], views,
            settings['timeout'], settings['ssl_key'], settings['ssl_cert'],
            settings['ssl_ca_cert'], check_schema=MirrorSupport)
        support = MirrorSupport(session.schema)
    except (ValueError, ovsdb.OvsdbError) as exc:
        module.fail_json(msg=str(exc), nb_connection=settings['connection'])
    return session, support


# ---- reading ---------------------------------------------------------------------------

def find_row(api, table, name):
    """The row of `table` whose indexed `name` column equals `name`, or None."""
    return idlutils.row_by_value(api.idl, table, 'name', name, default=None)


def attached_ports(api, mirror_row):
    """Names of the LSPs whose mirror_rules hold this mirror (sorted)."""
    uuid = mirror_row.uuid
    return sorted(lsp.name for lsp in api.tables['Logical_Switch_Port'].rows.values()
                  if any(rule.uuid == uuid for rule in lsp.mirror_rules))


def ports_by_mirror(api):
    """{mirror UUID: sorted LSP names} for every attached mirror, in one pass over the LSPs."""
    ports = {}
    for lsp in api.tables['Logical_Switch_Port'].rows.values():
        for rule in lsp.mirror_rules:
            ports.setdefault(rule.uuid, []).append(lsp.name)
    return dict((uuid, sorted(names)) for uuid, names in ports.items())


def mirror_record(row, ports):
    return dict(
        name=row.name,
        type=row.type,
        index=row.index,
        filter=row.filter,
        sink=row.sink,
        external_ids=dict(row.external_ids),
        ports=list(ports),
    )


def read_mirrors(api, name=None):
    """Records of every mirror (or the one named), sorted by name, with attached ports."""
    records = []
    for row in api.tables['Mirror'].rows.values():
        if name is None or row.name == name:
            records.append(mirror_record(row, attached_ports(api, row)))
    return sorted(records, key=lambda record: record['name'])


# ---- validating ------------------------------------------------------------------------

def normalize_ip(value):
    """The canonical text of an IPv4/IPv6 address (so 2001:db8::0:1 == 2001:db8::1)."""
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        address = None
    # OVS tunnel remote_ip takes no IPv6 scope id (fe80::1%eth0).
    if address is None or getattr(address, 'scope_id', None):
        raise ValueError('sink %r is not an IPv4 or IPv6 address' % (value,))
    return str(address)


def check_index(mirror_type, index):
    limit = ERSPAN_INDEX_MAX if mirror_type == 'erspan' else GRE_KEY_MAX
    what = 'ERSPAN index' if mirror_type == 'erspan' else 'GRE key'
    if isinstance(index, bool) or not 0 <= index <= limit:
        raise ValueError('index %r is out of range: the %s of a %s mirror must be within '
                         '0..%d' % (index, what, mirror_type, limit))


def desired_mirror(params, current, support):
    """The mirror record the parameters ask for: given options over the current values.

    Options left out keep their current value, so an update names only what changes.
    Raises ValueError naming the offending value.
    """
    name = params['name']
    check_name('mirror', name)
    desired = dict((key, value) for key, value in (current or {}).items() if key != 'ports')
    desired['name'] = name
    for key in ('type', 'filter', 'sink', 'index'):
        if params.get(key) is not None:
            desired[key] = params[key]
    if params.get('external_ids') is not None:
        desired['external_ids'] = dict(
            (str(key), str(value)) for key, value in params['external_ids'].items())
        for key, value in desired['external_ids'].items():
            check_text('external_ids key', key)
            check_text('external_ids value', value)
    desired.setdefault('external_ids', {})

    mirror_type = desired.get('type')
    needed = ['type', 'filter', 'sink'] + (['index'] if mirror_type in IP_SINK_TYPES else [])
    missing = [key for key in needed if desired.get(key) is None]
    if missing:
        raise ValueError('mirror %r does not exist; creating it needs %s'
                         % (name, ', '.join(missing)))
    support.check('type', mirror_type)
    support.check('filter', desired['filter'])
    if mirror_type in IP_SINK_TYPES:
        desired['sink'] = normalize_ip(desired['sink'])
        check_index(mirror_type, desired['index'])
    else:
        # local: the sink is an OVS interface's external_ids:mirror-id; lport: an LSP name.
        if not str(desired['sink']).strip():
            raise ValueError('sink must not be empty for a %s mirror' % mirror_type)
        check_text('sink', desired['sink'])
        if desired.get('index') is None:
            desired['index'] = 0
    return desired


# Argument spec of a `pods` entry (documented in each module that takes pods).
POD_OPTIONS = dict(
    name=dict(type='str', required=True),
    namespace=dict(type='str', default='default'),
    provider=dict(type='str'),
)


def pod_lsp_names(pods):
    """LSP names of `pods` entries ({name, namespace, provider}), Kube-OVN's way."""
    return [lsp_name(pod.get('name'), pod.get('namespace'), pod.get('provider'))
            for pod in pods or []]


def unique(names):
    """`names` without repeats, first occurrence kept."""
    seen = set()
    return [name for name in names if not (name in seen or seen.add(name))]


# ---- planning --------------------------------------------------------------------------

MIRROR_UPDATABLE = ('type', 'index', 'filter', 'sink', 'external_ids')


def plan_mirror(params, support):
    """A planner (see ovsdb.run_planned) converging one mirror to `params`.

    An existing mirror is updated in place (same row), so its LSP attachments survive;
    state=absent deletes it by UUID (the server then drops it from every LSP).
    """
    name, state = params['name'], params['state']

    def planner(api):
        check_name('mirror', name)
        row = find_row(api, 'Mirror', name)
        before = mirror_record(row, attached_ports(api, row)) if row is not None else {}
        if state == 'absent':
            commands = [] if row is None else [
                ovsdb.verify_command(api, [(row, 'name')]), api.db_destroy('Mirror', row.uuid)]
            return dict(changed=bool(commands), before=before, after={}), commands
        after, commands = converge_mirror(api, row, before, params, support)
        return dict(changed=bool(commands), before=before, after=after), commands

    return planner


def converge_mirror(api, row, before, params, support):
    """(record after, commands) turning the mirror `row` (None: absent) into `params`."""
    desired = desired_mirror(params, before, support)
    if row is None:
        command = api.mirror_add(
            desired['name'], desired['type'], desired['index'], desired['filter'],
            desired['sink'], external_ids=desired['external_ids'])
        return dict(desired, ports=[]), [command]
    changed = [key for key in MIRROR_UPDATABLE if desired[key] != before[key]]
    commands = [ovsdb.verify_command(api, [(row, key) for key in changed])] if changed else []
    plain = [(key, desired[key]) for key in changed if key != 'external_ids']
    if plain:
        commands.append(api.db_set('Mirror', row.uuid, *plain))
    if 'external_ids' in changed:
        # db_set merges maps; the option is the whole map, so clear it first.
        commands.append(api.db_clear('Mirror', row.uuid, 'external_ids'))
        if desired['external_ids']:
            commands.append(api.db_set('Mirror', row.uuid,
                                       ('external_ids', desired['external_ids'])))
    return dict(desired, ports=before['ports']), commands


def attachment_commands(api, mirror_row, mirror_reference, attach, detach):
    """Commands attaching the mirror to the LSPs named in `attach` and detaching it from
    those in `detach`, verifying at commit that neither those ports nor an existing mirror
    changed since they were read (so a port deleted meanwhile is noticed, not skipped).
    `mirror_reference` is the mirror's UUID, or its name when it is created in the same
    transaction (ovsdbapp finds rows inserted by the transaction)."""
    if not attach and not detach:
        return []
    read = [(find_row(api, 'Logical_Switch_Port', name), 'mirror_rules')
            for name in list(attach) + list(detach)]
    read = [(row, column) for row, column in read if row is not None]
    if mirror_row is not None:
        read.append((mirror_row, 'name'))
    commands = [ovsdb.verify_command(api, read)]
    commands += [api.lsp_attach_mirror(name, mirror_reference, may_exist=True)
                 for name in attach]
    commands += [api.lsp_detach_mirror(name, mirror_reference, if_exists=True)
                 for name in detach]
    return commands


def plan_lsp_attachments(mirror_name, lsp_names, state, exclusive):
    """A planner attaching (or detaching) `lsp_names` to the mirror, as one transaction.

    With state=present every named LSP and the mirror must exist, else it fails naming all
    that are missing and writes nothing. With state=absent missing ones are already
    detached. `exclusive` (with present) also detaches every LSP not named.
    """
    def planner(api):
        check_name('mirror', mirror_name)
        for name in lsp_names:
            check_name('logical switch port', name)
        mirror = find_row(api, 'Mirror', mirror_name)
        current = attached_ports(api, mirror) if mirror is not None else []
        missing_lsps = [name for name in lsp_names
                        if find_row(api, 'Logical_Switch_Port', name) is None]
        if state == 'present':
            missing = (['mirror %r' % mirror_name] if mirror is None else []) + \
                ['logical switch port %r' % name for name in missing_lsps]
            if missing:
                raise LookupError('nothing was changed because these do not exist: %s'
                                  % ', '.join(missing))
            attach = [name for name in lsp_names if name not in current]
            wanted = set(lsp_names)
            detach = [name for name in current if name not in wanted] if exclusive else []
        else:
            attach = []
            detach = [name for name in lsp_names if name in current]
        commands = attachment_commands(api, mirror, mirror.uuid if mirror else None,
                                       attach, detach)
        after = sorted((set(current) | set(attach)) - set(detach))
        outcome = dict(changed=bool(commands), attached=attach, detached=detach,
                       before=dict(mirror=mirror_name, ports=current),
                       after=dict(mirror=mirror_name, ports=after))
        return outcome, commands

    return planner


# ---- a declared set of mirrors (GitOps) ------------------------------------------------

# external_ids key marking a mirror as managed by a declared set; its value names the set's
# owner, so purge only ever deletes mirrors that the same owner created.
OWNER_KEY = 'kubeovn.mirror/owner'


def check_mirror_set(mirrors, owner):
    """Validate a declared set before connecting: names unique, owner usable."""
    check_name('owner', owner)
    seen = set()
    for item in mirrors:
        check_name('mirror', item.get('name'))
        if item['name'] in seen:
            raise ValueError('mirror %r is declared more than once' % item['name'])
        seen.add(item['name'])
        for name in pod_lsp_names(item.get('pods')) + list(item.get('ports') or []):
            check_name('logical switch port', name)


def mirror_set_lsp_names(mirrors):
    """Every LSP name a declared set mentions (for the monitor condition)."""
    names = []
    for item in mirrors:
        names += list(item.get('ports') or []) + pod_lsp_names(item.get('pods'))
    return unique(names)


def plan_mirror_set(mirrors, owner, purge, support):
    """A planner converging the NB to a declared list of mirrors, as one transaction.

    Each mirror with state=present gets exactly its declared settings, the owner marker
    in external_ids and exactly its declared ports. state=absent deletes it. With `purge`,
    mirrors marked with this owner but not declared are deleted; nothing else is touched.
    Missing ports fail the whole run naming every one of them, writing nothing.
    """
    def planner(api):
        declared = dict((item['name'], item) for item in mirrors)
        attached = ports_by_mirror(api)
        commands, missing = [], []
        before, after = {}, {}
        created, updated, deleted = [], [], []
        for item in mirrors:
            name = item['name']
            row = find_row(api, 'Mirror', name)
            current = mirror_record(row, attached.get(row.uuid, [])) if row is not None else {}
            if current:
                before[name] = current
            if item.get('state', 'present') == 'absent':
                if row is not None:
                    commands += [ovsdb.verify_command(api, [(row, 'name')]),
                                 api.db_destroy('Mirror', row.uuid)]
                    deleted.append(name)
                continue
            params = dict(item, external_ids=dict(item.get('external_ids') or {},
                                                  **{OWNER_KEY: owner}))
            wanted_ports = unique(list(item.get('ports') or []) + pod_lsp_names(item.get('pods')))
            missing += ['logical switch port %r (mirror %r)' % (port, name)
                        for port in wanted_ports
                        if find_row(api, 'Logical_Switch_Port', port) is None]
            try:
                record, mirror_commands = converge_mirror(api, row, current, params, support)
            except ValueError as exc:
                raise ValueError('mirror %r: %s' % (name, exc))
            commands += mirror_commands
            current_ports = current.get('ports', [])
            # A mirror created in this transaction is found by name (ovsdbapp looks rows up
            # in the IDL, which holds the transaction's inserted rows).
            attach = [port for port in wanted_ports if port not in current_ports]
            detach = [port for port in current_ports if port not in wanted_ports]
            commands += attachment_commands(api, row, row.uuid if row is not None else name,
                                            attach, detach)
            after[name] = dict(record, ports=sorted(wanted_ports))
            if row is None:
                created.append(name)
            elif mirror_commands or attach or detach:
                updated.append(name)
        if purge:
            for row in api.tables['Mirror'].rows.values():
                if row.name not in declared and row.external_ids.get(OWNER_KEY) == owner:
                    before[row.name] = mirror_record(row, attached.get(row.uuid, []))
                    commands += [ovsdb.verify_command(api, [(row, 'name')]),
                                 api.db_destroy('Mirror', row.uuid)]
                    deleted.append(row.name)
        if missing:
            raise LookupError('nothing was changed because these do not exist: %s'
                              % ', '.join(missing))
        outcome = dict(changed=bool(commands), created=created, updated=updated,
                       deleted=sorted(deleted),
                       before=[before[name] for name in sorted(before)],
                       after=[after[name] for name in sorted(after)])
        return outcome, commands

    return planner
