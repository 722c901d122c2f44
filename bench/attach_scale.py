"""Attaching 100 ports to a mirror: ovn_lsp_mirror vs ovn-nbctl, at 1k and 100k LSPs.

Whole-process wall time (median of --repeat runs) of
  module   `ansible localhost -m kubeovn.mirror.ovn_lsp_mirror` attaching 100 ports,
  loop     100 single `ovn-nbctl lsp-attach-mirror` calls,
  batched  one `ovn-nbctl -- lsp-attach-mirror ... -- ...` call,
and the module process's own peak RSS (the module run as a standalone process, measured
with wait4's rusage). Every run starts from the same state: the ports are detached again
(untimed) after each one. The NB databases are built once and cached under
~/.cache/kubeovn-mirror/bench. Usage: make bench  (or bench/attach_scale.py --sizes 1000).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from lab.ansible import ansible_env  # noqa: E402
from tools.collection import ensure_collection_link  # noqa: E402
from lab.daemons import OvsdbServer  # noqa: E402

CACHE = os.path.expanduser('~/.cache/kubeovn-mirror/bench')
CHUNK = 500  # LSPs per ovsdb-client call: one argument must stay under 128 KiB
ATTACH = 100
ANSIBLE = os.path.join(os.path.dirname(sys.executable), 'ansible')


def lsp(index):
    return 'pod-%06d.bench' % index


def build_db(size):
    """A NB database file with one switch holding `size` LSPs and a GRE mirror `m1`."""
    path = os.path.join(CACHE, 'nb-%d.db' % size)
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix='bench-build-')
    try:
        with OvsdbServer(workdir) as server:
            def transact(ops):
                subprocess.run(['ovsdb-client', 'transact', server.unix,
                                json.dumps(['OVN_Northbound'] + ops)],
                               check=True, stdout=subprocess.DEVNULL)
            transact([{'op': 'insert', 'table': 'Logical_Switch', 'row': {'name': 'sw0'}},
                      {'op': 'insert', 'table': 'Mirror', 'row': {
                          'name': 'm1', 'type': 'gre', 'index': 99, 'filter': 'from-lport',
                          'sink': '172.19.0.21'}}])
            for first in range(0, size, CHUNK):
                indexes = range(first, min(first + CHUNK, size))
                ops = [{'op': 'insert', 'table': 'Logical_Switch_Port', 'uuid-name': 'p%d' % i,
                        'row': {'name': lsp(i)}} for i in indexes]
                ops.append({'op': 'mutate', 'table': 'Logical_Switch',
                            'where': [['name', '==', 'sw0']],
                            'mutations': [['ports', 'insert', ['set', [
                                ['named-uuid', 'p%d' % i] for i in indexes]]]]})
                transact(ops)
        subprocess.run(['ovsdb-tool', 'compact', server.db], check=True)
        shutil.move(server.db, path + '.tmp')
        os.rename(path + '.tmp', path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print('  built %s in %.1f s' % (path, time.monotonic() - started), flush=True)
    return path


def timed(cmd, env=None):
    """Wall time and peak RSS (MiB) of one process (wait4's rusage is that process's own)."""
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT)
        status, usage = os.wait4(proc.pid, 0)[1:]
        elapsed = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            output.seek(0)
            raise RuntimeError('%s failed (%s): %s' % (cmd[0], proc.returncode,
                                                       output.read()[-3000:]))
    return elapsed, usage.ru_maxrss / 1024.0


def measure(size, repeat, loop_runs=None):
    workdir = tempfile.mkdtemp(prefix='bench-%d-' % size)
    db = os.path.join(workdir, 'nb.db')
    shutil.copy(build_db(size), db)
    ports = [lsp(i) for i in range(0, size, size // ATTACH)][:ATTACH]
    args = dict(mirror='m1', ports=ports)
    env = ansible_env()
    results = {'module': [], 'loop': [], 'batched': [], 'rss': [], 'alone': [], 'ping': []}
    try:
        with OvsdbServer(workdir, db_file=db) as server:
            nbctl = ['ovn-nbctl', '--db=' + server.unix]
            args['nb_connection'] = server.unix
            detach = nbctl + [part for port in ports
                              for part in ('--', 'lsp-detach-mirror', port, 'm1')][1:]
            attached = nbctl + [part for port in ports
                                for part in ('--', 'lsp-attach-mirror', port, 'm1')][1:]
            module_args = os.path.join(workdir, 'args.json')
            with open(module_args, 'w') as handle:
                json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
            standalone = dict(env, PYTHONPATH=ensure_collection_link())

            def check_attached():
                out = subprocess.run(nbctl + ['--bare', '--columns=name', 'find',
                                              'Logical_Switch_Port', 'mirror_rules!=[]'],
                                     capture_output=True, text=True, check=True).stdout
                assert len(out.split()) == ATTACH, 'expected %d attached ports' % ATTACH
                subprocess.run(detach, check=True)

            for dummy in range(repeat):
                elapsed = timed([ANSIBLE, 'localhost', '-m', 'kubeovn.mirror.ovn_lsp_mirror',
                                 '-a', json.dumps(args),
                                 '-e', 'ansible_python_interpreter=' + sys.executable],
                                env=env)[0]
                results['module'].append(elapsed)
                check_attached()

                alone, rss = timed([sys.executable, '-m', 'ansible_collections.kubeovn.mirror'
                                    '.plugins.modules.ovn_lsp_mirror', module_args],
                                   env=standalone)
                results['rss'].append(rss)
                results['alone'].append(alone)
                check_attached()

                if loop_runs is None or len(results['loop']) < loop_runs:
                    started = time.monotonic()
                    for port in ports:
                        subprocess.run(nbctl + ['lsp-attach-mirror', port, 'm1'], check=True)
                    results['loop'].append(time.monotonic() - started)
                    check_attached()

                elapsed = timed(attached)[0]
                results['batched'].append(elapsed)
                check_attached()

                elapsed = timed([ANSIBLE, 'localhost', '-m', 'ansible.builtin.ping', '-e',
                                 'ansible_python_interpreter=' + sys.executable], env=env)[0]
                results['ping'].append(elapsed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = dict((key, statistics.median(values)) for key, values in results.items())
    summary['rss'] = max(results['rss'])
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,100000')
    parser.add_argument('--repeat', type=int, default=5)
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(',')]
    rows = {}
    for size in sizes:
        print('measuring %d LSPs (%d runs each)...' % (size, options.repeat), flush=True)
        rows[size] = measure(size, options.repeat)

    print()
    print('| LSPs in NB | ovn_lsp_mirror via `ansible -m` | module process alone '
          '| `ansible -m ping` (floor) | ovn-nbctl x100 loop | ovn-nbctl batched '
          '| loop / module | module peak RSS |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|')
    for size in sizes:
        row = rows[size]
        print('| %d | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2fx | %.0f MB |' % (
            size, row['module'], row['alone'], row['ping'], row['loop'], row['batched'],
            row['loop'] / row['module'], row['rss']))
    if len(sizes) > 1:
        small, large = rows[sizes[0]], rows[sizes[-1]]
        ratio = large['module'] / small['module']
        print()
        print('module at %d vs %d LSPs: %.2fx (target <= 1.3x); peak RSS at %d: %.0f MB '
              '(target < 64 MB)' % (sizes[-1], sizes[0], ratio, sizes[-1], large['rss']))
        failed = ratio > 1.3 or large['rss'] >= 64 or any(
            rows[size]['module'] >= rows[size]['loop'] for size in sizes)
        print('targets: %s' % ('MET' if not failed else 'MISSED'))


if __name__ == '__main__':
    main()
