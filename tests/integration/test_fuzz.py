"""Property-based bad-input tests (hypothesis) of the OVN modules against a real NB.

Each generated argument set runs the real module process (the module file with an args
file, as Ansible runs it) against a real ovsdb-server. Whatever the input (names, IPs,
indexes, filters, lists with duplicates, unicode), the module must either fail cleanly
(JSON with `failed` and a message, the database byte-for-byte unchanged) or succeed with a
result the database confirms. Never a traceback, never a partial write. Examples are
derandomized, so every run checks the same inputs.
"""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Nb
from tools.collection import REPO, ensure_collection_link
from lab.daemons import OvsdbServer

PORTS = ['web-0.default', 'web-1.default', 'db-0.shop', 'ü-0.default']
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope='module')
def fuzz_nb(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('fuzz')
    server = OvsdbServer(workdir).start()
    nb = Nb(server, None, workdir)
    nb.add_ports(PORTS)
    nb.nbctl('mirror-add', 'm1', 'gre', '99', 'from-lport', '172.19.0.21')
    yield nb
    server.stop()


def run_module_process(nb, module, args):
    """The module's own process, as Ansible runs it; (rc, parsed JSON or None, stderr)."""
    path = os.path.join(str(nb.workdir), 'args.json')
    with open(path, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(args, nb_connection=nb.connection,
                                               timeout=10)}, handle)
    env = dict(os.environ, PYTHONPATH=ensure_collection_link())
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'plugins', 'modules',
                                                        module + '.py'), path],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = None
    return proc.returncode, result, proc.stderr


def check_clean(nb, module, args):
    """Run the module; assert the clean-failure-or-valid-write property; return result."""
    before = nb.dump()
    rc, result, stderr = run_module_process(nb, module, args)
    assert result is not None, 'no JSON (rc=%s): %s' % (rc, stderr[-2000:])
    assert 'Traceback' not in stderr and 'exception' not in result, (args, result, stderr)
    if result.get('failed'):
        assert rc == 1 and result.get('msg'), result
        assert nb.dump() == before, 'a failed run wrote to the database: %r' % (args,)
    else:
        assert rc == 0, result
    return result


def field(valid, fuzzed):
    """Left out a quarter of the time, valid half of it, fuzzed the rest: mostly-valid
    argument sets, so a single bad value reaches the code behind the first checks."""
    return st.one_of(st.none(), valid, valid, fuzzed)


names = st.one_of(st.sampled_from(['m1', 'm2', 'mirror-ü']),
                  st.sampled_from(['', ' m1', 'm\u00002', 'm"1', 'x' * 300]),
                  st.text(max_size=10))
sinks = field(st.sampled_from(['172.19.0.21', '2001:db8::0:1', '10.0.0.1']),
              st.one_of(st.ip_addresses().map(str), st.text(max_size=16),
                        st.sampled_from(['fe80::1%eth0', '10.0.0.1 ', '::ffff:1.2.3.4'])))
indexes = field(st.integers(min_value=0, max_value=1023),
                st.one_of(st.integers(min_value=-5, max_value=2 ** 33),
                          st.sampled_from([1024, 2 ** 32 - 1, 2 ** 32]),
                          st.text(max_size=4), st.booleans()))
types = field(st.sampled_from(['gre', 'erspan']),
              st.one_of(st.sampled_from(['local', 'lport']), st.text(max_size=6)))
filters = field(st.sampled_from(['from-lport', 'to-lport']),
                st.one_of(st.just('both'), st.text(max_size=9)))
external_ids = field(st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6),
                                                                    st.integers()),
                                     max_size=3), st.just({}))
ports = st.lists(st.one_of(st.sampled_from(PORTS + ['ghost.default']), st.text(max_size=8)),
                 max_size=5)
pods = st.lists(st.fixed_dictionaries(
    {'name': st.one_of(st.sampled_from(['web-0', 'web-1', 'ü-0']), st.text(max_size=6))},
    optional={'namespace': st.sampled_from(['default', 'shop', '']),
              'provider': st.text(max_size=6)}), max_size=3)


def without_none(**values):
    return dict((key, value) for key, value in values.items() if value is not None)


@SETTINGS
@given(name=names, type_=types, index=indexes, filter_=filters, sink=sinks, ids=external_ids,
       state=st.sampled_from(['present', 'absent']))
def test_ovn_mirror_fails_cleanly_or_writes_what_it_reports(
        fuzz_nb, name, type_, index, filter_, sink, ids, state):
    args = without_none(name=name, type=type_, index=index, filter=filter_, sink=sink,
                        external_ids=ids, state=state)
    result = check_clean(fuzz_nb, 'ovn_mirror', args)
    if not result.get('failed'):
        row = fuzz_nb.mirror(name)
        if state == 'absent':
            assert row is None
        else:
            expected = dict((key, result['mirror'][key]) for key in
                            ('name', 'type', 'index', 'filter', 'sink', 'external_ids'))
            assert row == expected, (row, result)


@SETTINGS
@given(mirror=st.one_of(st.sampled_from(['m1', 'm1', 'nope']), names), names_=ports,
       pods_=pods, exclusive=st.booleans(), state=st.sampled_from(['present', 'absent']))
def test_ovn_lsp_mirror_fails_cleanly_or_writes_what_it_reports(
        fuzz_nb, mirror, names_, pods_, exclusive, state):
    args = dict(mirror=mirror, ports=names_, pods=pods_, exclusive=exclusive, state=state)
    result = check_clean(fuzz_nb, 'ovn_lsp_mirror', args)
    if not result.get('failed'):
        assert fuzz_nb.ports_of(mirror) == result['ports'], (args, result)


mirror_items = st.lists(st.fixed_dictionaries(
    {'name': st.one_of(st.sampled_from(['g1', 'g2', 'm1']), names)},
    optional={'type': types, 'index': indexes, 'filter': filters, 'sink': sinks,
              'ports': ports, 'pods': pods, 'state': st.sampled_from(['present', 'absent']),
              'external_ids': external_ids}).map(lambda item: without_none(**item)),
    max_size=3)


@SETTINGS
@given(mirrors=mirror_items, owner=st.one_of(st.sampled_from(['netops', 'kubeovn.mirror']),
                                             st.text(max_size=6)),
       purge=st.booleans())
def test_ovn_mirrors_fails_cleanly_or_writes_what_it_reports(fuzz_nb, mirrors, owner, purge):
    result = check_clean(fuzz_nb, 'ovn_mirrors', dict(mirrors=mirrors, owner=owner,
                                                      purge=purge))
    if not result.get('failed'):
        for record in result['mirrors']:
            assert fuzz_nb.mirror(record['name'])['external_ids'] == record['external_ids']
            assert fuzz_nb.ports_of(record['name']) == record['ports'], (mirrors, result)
        for name in result['deleted']:
            assert fuzz_nb.mirror(name) is None
