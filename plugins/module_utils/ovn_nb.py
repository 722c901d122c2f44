# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVN Northbound side shared by every OVN module: where the NB is (the options, else
discovery through Kubernetes), opening the NB with only the rows a run needs, what the
server's schema supports (MirrorSupport), and reading mirrors with their ports.

Planning lives apart: one mirror and its port attachments in ovn_mirror_plan, a declared
set of mirrors (ovn_mirrors) in ovn_mirror_set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubeovn.mirror.plugins.module_utils import k8s, ovsdb, ovsdb_remotes
from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import OvsdbError
from ansible_collections.kubeovn.mirror.plugins.module_utils.options import DEFAULT_NB_CONNECTION
from ansible_collections.kubeovn.mirror.plugins.module_utils.kube_ovn_names import unique
from ansible_collections.kubeovn.mirror.plugins.module_utils.validation import check_name

try:
    from ovsdbapp.schema.ovn_northbound import impl_idl as nb_impl_idl
except ImportError:  # pragma: no cover - reported through ovsdb.require_ovsdbapp
    nb_impl_idl = None

NB_SCHEMA = 'OVN_Northbound'


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
# OVN >= 25.09: a mirror's rules (Mirror.mirror_rules, strong references to Mirror_Rule rows,
# which are not a root table: a rule dropped from its mirror is deleted).
RULES_COLUMN = 'mirror_rules'
RULE_COLUMNS = ['priority', 'match', 'action']
FIRST_OVN_WITH_RULES = '25.09'
LSP_COLUMNS = ['name', 'mirror_rules']
# Selects every LSP that has a mirror attached: proportional to what is mirrored,
# never to the size of the cluster.
LSP_WITH_MIRRORS = ['mirror_rules', '!=', ['set', []]]


class MirrorSupport(object):
    """Which mirror types and filters the connected NB schema accepts."""

    def __init__(self, schema):
        self.schema_version = schema.get('version', 'unknown')
        table = schema.get('tables', {}).get('Mirror')
        if table is None:
            raise OvsdbError(
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

    def check_rules(self):
        """ValueError unless the server keeps mirror rules."""
        if not self.has_mirror_rules:
            raise ValueError(
                'rules are not supported by this OVN Northbound database (schema %s), which has '
                'no Mirror_Rule table (mirror rules need OVN >= %s)'
                % (self.schema_version, FIRST_OVN_WITH_RULES))

    def mirror_columns(self):
        return MIRROR_COLUMNS + ([RULES_COLUMN] if self.has_mirror_rules else [])

    def matches(self):
        """The OVN and Kube-OVN releases whose mirror features this schema has, in user
        terms (docs/kube_ovn_versions.md)."""
        if 'lport' in self.types:
            return 'OVN >= 25.09 (no Kube-OVN release yet): adds type lport'
        if 'both' in self.filters or 'local' in self.types:
            return ('OVN 23.06 to 25.03, as in Kube-OVN 1.13/1.14 (OVN 24.03) and 1.15+ '
                    '(OVN 25.03): filter both and type local')
        return ('OVN 22.12/23.03, as in Kube-OVN 1.12: types gre and erspan, filters '
                'from-lport and to-lport')

    def as_dict(self):
        return dict(types=self.types, filters=self.filters,
                    schema_version=self.schema_version,
                    mirror_rules=self.has_mirror_rules, matches=self.matches())


def connection_settings(params, private_dir=None):
    """The NB's ovsdb.ConnectionSettings: the options, else the cluster's published NB, else
    the default.

    The cluster is asked (see k8s.discover_nb) only when nb_connection is not set and the
    API options name a cluster (a kubeconfig, a context or a host) or the module runs in a pod.
    """
    settings = ovsdb_remotes.ConnectionSettings(
        params['nb_connection'], params['timeout'], ssl_key=params['ssl_key'],
        ssl_cert=params['ssl_cert'], ssl_ca_cert=params['ssl_ca_cert'])
    if not settings.connection and k8s.names_a_cluster(params):
        endpoint = k8s.discover_nb(params, private_dir)
        settings.connection = endpoint.connection
        for option, path in endpoint.tls.items():
            setattr(settings, option, getattr(settings, option) or path)
    settings.connection = settings.connection or DEFAULT_NB_CONNECTION
    return settings


def open_nb(params, private_dir=None, lsp_names=(), mirror_names=None):
    """Open the NB for a module run (`params`: the NB options), monitoring only what the run
    needs; returns the session, whose `schema_check` is the server's MirrorSupport (read
    once, from the schema fetched to connect). `private_dir` holds TLS files discovered
    through the cluster (a module's tmpdir).

    Mirrors: every row (a small table) or only `mirror_names`. LSPs: only `name` and
    `mirror_rules`, and only the rows named in `lsp_names` or having a mirror attached.
    Raises OvsdbError (with the connection) when the database cannot be reached.

    The LSPs are read in two steps because ovsdb-server looks a condition up in a hash only
    when every clause is `==`: one `mirror_rules != []` among thousands of `name ==` clauses
    makes it test every clause on every row (15 s for 5,000 names on 100,000 LSPs instead of
    0.3 s). So the first read takes the ports having a mirror (one clause), the second
    switches to `name ==` clauses only: the names asked for and those ports' names. (Not
    `_uuid ==`: ovsdb-server 3.1 crashed here, SIGSEGV, when other clients changed rows
    such clauses selected.) A port given a mirror by someone else after the first read is not
    seen before the commit; ovn_attachments.reread_and_trim_attachments reads them all again
    after it.
    """
    ovsdb.require_ovsdbapp()
    mirror_condition = None
    if mirror_names is not None:
        mirror_condition = [['name', '==', name] for name in mirror_names] or [False]

    def views(support):
        tables = [ovsdb.TableView('Mirror', support.mirror_columns(), mirror_condition),
                  ovsdb.TableView('Logical_Switch_Port', LSP_COLUMNS, [LSP_WITH_MIRRORS])]
        if support.has_mirror_rules:
            tables.append(ovsdb.TableView('Mirror_Rule', RULE_COLUMNS))
        return tables
    settings = connection_settings(params, private_dir)
    try:
        session = ovsdb.open_session(nb_impl_idl.OvnNbApiIdlImpl, NB_SCHEMA, settings, views,
                                     check_schema=MirrorSupport)
        if lsp_names:
            try:
                session.change_condition('Logical_Switch_Port', lambda api: [
                    ['name', '==', name] for name in unique(list(lsp_names) + [
                        row.name for row in api.tables['Logical_Switch_Port'].rows.values()])])
            except OvsdbError:
                session.close()
                raise
    except (ValueError, OvsdbError) as exc:
        raise OvsdbError(str(exc), nb_connection=settings.connection)
    return session


def watch_attached_ports(session):
    """From now on monitor exactly the LSPs that have a mirror attached (one clause)."""
    try:
        session.change_condition('Logical_Switch_Port', lambda api: [LSP_WITH_MIRRORS])
    except OvsdbError as exc:
        raise OvsdbError('%s (database: %s)' % (exc.msg, ','.join(session.remotes)))


def check_info_params(params):
    """ovn_mirror_info's only input: an optional mirror name."""
    if params.get('name') is not None:
        check_name('mirror', params['name'])


# ---- reading ---------------------------------------------------------------------------

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


def rule_record(rule):
    return dict(priority=rule.priority, match=rule.match, action=rule.action)


def sorted_rules(rules):
    """Rules in the order OVN applies them: highest priority first."""
    return sorted(rules, key=lambda rule: (-rule['priority'], rule['match'], rule['action']))


def mirror_record(row, ports):
    """A mirror as the modules return it; `rules` for an lport mirror (the type they apply
    to, on a server that keeps them)."""
    record = dict(
        name=row.name,
        type=row.type,
        index=row.index,
        filter=row.filter,
        sink=row.sink,
        external_ids=dict(row.external_ids),
        ports=list(ports),
    )
    if row.type == 'lport':
        record['rules'] = sorted_rules(rule_record(rule) for rule in row.mirror_rules)
    return record


def read_mirrors(api, name=None):
    """Records of every mirror (or the one named), sorted by name, with attached ports."""
    records = []
    for row in api.tables['Mirror'].rows.values():
        if name is None or row.name == name:
            records.append(mirror_record(row, attached_ports(api, row)))
    return sorted(records, key=lambda record: record['name'])
