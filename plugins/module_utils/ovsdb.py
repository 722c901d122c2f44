# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVSDB sessions with ovsdbapp: registering only the tables and columns a module needs,
monitor conditions, and running a planned change as one transaction, with the raw operations
bulk writes use. Reaching the server (remotes, TLS, the schema) is ovsdb_remotes'.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kubeovn.mirror.plugins.module_utils.errors import (
    MissingLibrary, OvsdbError)
from ansible_collections.kubeovn.mirror.plugins.module_utils.ovsdb_remotes import (
    PYTHON_OVS_IMPORT_ERROR, configure_tls, fetch_schema, parse_remotes)

ovsdbapp_command = idlutils = ovs_idl = None
OVSDBAPP_IMPORT_ERROR = PYTHON_OVS_IMPORT_ERROR    # ovsdbapp is built on python-ovs
if PYTHON_OVS_IMPORT_ERROR is None:
    try:
        from ovs.db import idl as ovs_idl
        from ovsdbapp import exceptions as ovsdbapp_exceptions
        from ovsdbapp.backend.ovs_idl import command as ovsdbapp_command
        from ovsdbapp.backend.ovs_idl import connection as ovsdbapp_connection
        from ovsdbapp.backend.ovs_idl import idlutils
    except ImportError as exc:  # pragma: no cover - reported by require_ovsdbapp
        OVSDBAPP_IMPORT_ERROR = exc
HAS_OVSDBAPP = idlutils is not None

for _name in ('ovsdbapp', 'ovs'):
    # A module's stdout is its JSON result; library log lines belong nowhere.
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False


def require_ovsdbapp():
    """MissingLibrary saying how to install ovsdbapp when it cannot be imported."""
    if not HAS_OVSDBAPP:
        raise MissingLibrary(missing_required_lib('ovsdbapp'),
                             exception=str(OVSDBAPP_IMPORT_ERROR))


class TableView(object):
    """What a module monitors of one table: some columns (None: all) and a condition.

    `condition` is an OVSDB monitor condition: a list of clauses such as
    ``[['name', '==', 'a'], ['name', '==', 'b']]`` (any clause matching selects a row), or
    None for every row. It is what keeps a module's cost proportional to its request.
    """

    def __init__(self, table, columns=None, condition=None):
        self.table = table
        self.columns = list(columns) if columns is not None else None
        self.condition = condition


class OvsdbSession(object):
    """A started ovsdbapp API over one IDL connection, and the schema the server reported."""

    def __init__(self, api, schema, remotes, schema_check=None):
        self.api = api
        self.schema = schema
        self.remotes = remotes
        # What check_schema returned for the server's schema (e.g. ovn_nb.MirrorSupport).
        self.schema_check = schema_check

    def close(self):
        self.api.ovsdb_connection.stop(timeout=5)

    def run(self, planner, check_mode=False):
        """run_planned on this session; a failed commit names the database."""
        try:
            return run_planned(self.api, planner, check_mode)
        except OvsdbError as exc:
            raise OvsdbError('%s (database: %s)' % (exc.msg, ','.join(self.remotes)))

    def change_condition(self, table, make_condition):
        """Monitor the rows of `table` matching a new condition, and return once the server
        has sent them (bounded by the connection's timeout).

        `make_condition(api)` builds the condition from the IDL cache; it runs in the
        connection's thread, where the cache is consistent. ovsdb-server sends the rows a
        new condition selects before it acknowledges the change, so once python-ovs has the
        acknowledgement the cache holds them.
        """
        idl = self.api.idl
        state = idl.tables[table].condition_state

        def change(txn):
            condition = make_condition(self.api) or [False]
            idl.cond_change(table, condition)
            return condition
        request = CallbackCommand(self.api, change)
        try:
            with self.api.transaction(check_error=True, log_errors=False) as txn:
                txn.add(request)
        except RuntimeError as exc:
            raise OvsdbError(str(exc))
        timeout = self.api.ovsdb_connection.timeout
        deadline = time.time() + timeout
        # python-ovs has no blocking wait for an acknowledged condition (and the seqno its
        # cond_change returns can be one too high: python-ovs 4.0 tests a method, not a
        # value, for pending requests), while ovsdbapp's thread runs the IDL: poll the
        # table's condition state, briefly, until the deadline.
        while not (state.new is None and state.requested is None
                   and state.acked == request.result):
            if time.time() >= deadline:
                raise OvsdbError('the server did not answer a change of what is monitored of '
                                 '%s within %s s' % (table, timeout))
            time.sleep(0.002)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_session(api_class, schema_name, settings, views, check_schema=None):
    """Connect as `settings` (a ConnectionSettings) say, register only `views`, wait for the
    initial (conditional) dump.

    The whole connect phase (schema fetch and first dump) is bounded by `settings.timeout`
    seconds. `check_schema(schema)`, when given, runs on the server's schema before anything
    is registered, so a caller can refuse an old server with its own message; what it returns
    is kept as the session's `schema_check`. `views` may be a function of it (what is
    monitored can depend on what the server has).
    Raises ValueError for a malformed connection or TLS option, OvsdbError when the
    database cannot be reached or lacks a table the module needs.
    """
    timeout = settings.timeout
    if timeout is None or timeout <= 0:
        raise ValueError('timeout must be a positive number of seconds, got %s' % timeout)
    remotes = parse_remotes(settings.connection)
    configure_tls(remotes, settings.ssl_key, settings.ssl_cert, settings.ssl_ca_cert)
    deadline = time.time() + timeout
    schema = fetch_schema(remotes, schema_name, deadline)
    schema_check = check_schema(schema) if check_schema is not None else None
    if callable(views):
        views = views(schema_check)

    helper = ovs_idl.SchemaHelper(schema_json=schema)
    for view in views:
        if view.table not in schema['tables']:
            raise OvsdbError('the %s database (schema %s) has no %s table' % (
                schema_name, schema.get('version'), view.table))
        if view.columns is None:
            helper.register_table(view.table)
        else:
            helper.register_columns(view.table, view.columns)
    idl = _ModuleIdl(','.join(remotes), helper)
    for view in views:
        if view.condition is not None:
            idl.cond_change(view.table, view.condition)

    remaining = max(deadline - time.time(), 0.1)
    conn = ovsdbapp_connection.Connection(idl, timeout=remaining)
    # ovsdbapp keeps the first connection of an API class for the rest of the process; a
    # subclass per session gives every session its own (a module opens one; tests, many).
    session_class = type(api_class.__name__, (api_class,), {'_ovsdb_connection': None})
    try:
        # No name indexes (ovsdbapp's auto_index): python-ovs re-indexes every row the
        # server sends, 5,000 of them after a commit attaching 5,000 ports, which cost a
        # fifth of such a run. Planners look names up through RowsByName instead.
        api = session_class(conn, auto_index=False)
    except ovsdbapp_exceptions.OvsdbConnectionUnavailable as exc:
        idl.close()
        if isinstance(exc.__cause__, ovsdbapp_exceptions.TimeoutException):
            # (ovsdbapp's TimeoutException cannot be turned into text.)
            reason = 'no initial data within %s s' % timeout
        else:
            reason = exc.__cause__ or exc
        raise OvsdbError('cannot connect to the %s database at %s: %s' % (
            schema_name, ','.join(remotes), reason))
    # From here on transactions get the module's full timeout.
    conn.timeout = timeout
    return OvsdbSession(api, schema, remotes, schema_check)


def find_row(api, table, name):
    """The row of `table` whose `name` column equals `name`, or None: one look through the
    rows monitored (few, for the tables asked this way: Mirror, Bridge)."""
    return idlutils.row_by_value(api.idl, table, 'name', name, default=None)


class RowsByName(object):
    """Rows looked up by their `name` column, for one planning: each table is read once,
    when first asked, so looking up 5,000 ports costs one pass over the rows monitored.

    Make one per planner call (a replanned transaction sees fresh rows); rows inserted
    after a table was read are not in it.
    """

    def __init__(self, api):
        self.api = api
        self._tables = {}

    def get(self, table, name):
        rows = self._tables.get(table)
        if rows is None:
            rows = self._tables[table] = dict(
                (row.name, row) for row in self.api.tables[table].rows.values())
        return rows.get(name)


if HAS_OVSDBAPP:
    class _ModuleIdl(ovsdbapp_connection.OvsdbIdl):
        """ovsdbapp's IDL yields the GIL after every row it parses (time.sleep(0)), for
        services whose other threads must not starve. A module's only other thread waits
        for this one; at 5,000 rows the yields cost about half a second."""

        def cooperative_yield(self):
            pass


if HAS_OVSDBAPP:
    class _PlannedChange(ovsdbapp_command.BaseCommand):
        """Plans from the IDL cache and applies the plan, inside the transaction.

        ovsdbapp runs run_idl() again when the server answers TRY_AGAIN, so the plan is
        recomputed from fresh rows each time: what is committed always matches what was
        planned, and a row deleted by someone else in between is noticed.
        """

        def __init__(self, api, planner, check_mode):
            super(_PlannedChange, self).__init__(api)
            self.planner = planner
            self.check_mode = check_mode

        def run_idl(self, txn):
            outcome, commands = self.planner(self.api)
            if not self.check_mode:
                for command in commands:
                    command.run_idl(txn)
            self.result = outcome


def run_planned(api, planner, check_mode=False):
    """Run `planner(api) -> (outcome, [ovsdbapp commands])` as one transaction.

    In check mode the commands are not run, so the transaction writes nothing. Errors
    raised by the planner (e.g. ValueError for bad input) propagate unchanged; a failed
    commit raises OvsdbError.
    """
    command = _PlannedChange(api, planner, check_mode)
    try:
        with api.transaction(check_error=True, log_errors=False) as txn:
            txn.add(command)
    except (ValueError, LookupError):
        raise
    except ovsdbapp_exceptions.TimeoutException:
        # ovsdbapp's message lists the commands (the whole plan); say what happened instead.
        raise OvsdbError('the transaction got no answer within %s s: the database stopped '
                         'answering or the connection was lost. It was applied completely or '
                         'not at all; running again converges' % api.ovsdb_connection.timeout)
    except RuntimeError as exc:
        raise OvsdbError(str(exc))
    return command.result


if HAS_OVSDBAPP:
    class CallbackCommand(ovsdbapp_command.BaseCommand):
        """An ovsdbapp command that runs `apply(txn)`: for writes no stock command covers
        (e.g. a non-root row created and referenced in the same transaction)."""

        def __init__(self, api, apply):
            super(CallbackCommand, self).__init__(api)
            self.apply = apply

        def run_idl(self, txn):
            self.result = self.apply(txn)


def verify_command(api, rows_and_columns):
    """A command asserting, at commit, that each (row, column) is unchanged since it was
    read. A row deleted or changed by someone else meanwhile makes the server refuse the
    transaction; ovsdbapp then retries it and our planner plans again from fresh rows.
    (Without it, a write to a row that vanished matches nothing and is silently lost.)
    python-ovs sends the check only for a row the same transaction writes through the IDL;
    for any other row use name_check_ops (or, on a node, ovs_rows.check_unchanged)."""
    def verify(txn):
        for row, column in rows_and_columns:
            row.verify(column)
    return CallbackCommand(api, verify)


def _where_row(row):
    return [['_uuid', '==', ['uuid', str(row.uuid)]]]


def name_check_ops(table, names_and_rows):
    """Raw `wait` operations, one per (name, row) of `table`: the transaction fails (and
    ovsdbapp retries it, planning again) unless each row still exists and is still named
    `name` (as it was read)."""
    columns = ['name']
    return [{'op': 'wait', 'table': table, 'timeout': 0, 'where': _where_row(row),
             'until': '==', 'columns': columns, 'rows': [{'name': name}]}
            for name, row in names_and_rows]


def reference_mutation_ops(table, rows, column, mutator, target):
    """Raw `mutate` operations, one per row of `table`: `mutator` ('insert' or 'delete')
    the reference to the existing row `target` in `column`. (The operations share their
    mutation, which keeps thousands of them light.)"""
    mutations = [[column, mutator, ['set', [['uuid', str(target.uuid)]]]]]
    return [{'op': 'mutate', 'table': table, 'where': _where_row(row), 'mutations': mutations}
            for row in rows]


def add_raw_operations(txn, operations):
    """Add OVSDB operations to python-ovs transaction `txn` as they are, after the IDL's
    own; returns False, adding nothing, when this python-ovs cannot (before 3.4).

    For bulk writes: Row.addvalue() and the like make python-ovs build each operation in
    Python through its typed data model; raw operations take about 0.1 s less CPU for
    5,000 ports (measured on a 100,000-port NB).
    Transaction.add_op is python-ovs's way for work the IDL makes expensive. Such rows are
    not written through the IDL, so Row.verify() sends no check for them (python-ovs checks
    only rows the transaction writes): give checks as operations too (name_check_ops),
    before the writes they guard. Rows inserted by this transaction cannot be referred to:
    the server does not know their UUIDs yet.
    """
    add_op = getattr(txn, 'add_op', None)
    if add_op is None:
        return False
    for operation in operations:
        add_op(operation)
    return True
