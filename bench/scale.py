"""Scale benchmarks (issue 15): many ports in one run, and fleets of clusters.

1. On the 100k-LSP NB, one mirror attached to 100, 1,000 and 5,000 ports in one run: the
   module's own process (first run and no-op re-run), the whole `ansible-playbook` run of a
   one-task play (medians of `repeat` runs), and one batched `ovn-nbctl` call attaching the
   same ports (the anchor, measured once). The counts take turns within each repeat.
   Every run starts from no port attached (the mirror is deleted and added again, untimed).
2. Fleets: N clusters (N NB servers of 20k LSPs each, one inventory host each) converged by
   `playbooks/mirrors.yml` with `--forks N`, N = 1, 5, 20; then the no-op re-run.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.attach_scale import build_db, lsp, timed  # noqa: E402
from lab.ansible import ansible_env, playbook_command  # noqa: E402
from lab.daemons import OvsdbServer  # noqa: E402
from tools.collection import ensure_collection_link  # noqa: E402

BIG = 100000
FLEET_LSPS = 20000
FLEET_MIRRORS = 10          # per cluster, 10 ports each
MIRROR = ('m1', 'gre', '99', 'from-lport', '172.19.0.21')
QUIET = {'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'}


def module_process(args_path):
    """(seconds, peak RSS MiB) of ovn_lsp_mirror's own process, as Ansible runs it."""
    env = dict(os.environ, PYTHONPATH=ensure_collection_link())
    return timed([sys.executable, os.path.join(REPO, 'plugins', 'modules', 'ovn_lsp_mirror.py'),
                  args_path], env=env)


def spread(count, size=BIG):
    """`count` LSP names spread over the whole table (not only its first rows)."""
    return [lsp(i) for i in range(0, size, size // count)][:count]


def _dump(path, data):
    """JSON, which the module's own process reads and, being YAML, Ansible too."""
    with open(path, 'w') as handle:
        json.dump(data, handle)
    return path


def ports_rows(workdir, counts=(100, 1000, 5000), repeat=3):
    """{count: medians} for the module process, its re-run, the playbook and batched nbctl.

    The counts take turns within each repeat (100, 1,000, 5,000, then again), so a machine
    that speeds up or slows down during the minutes this takes weighs on every count alike:
    the ratios between counts are what the goals are about."""
    db = os.path.join(workdir, 'nb-scale.db')
    shutil.copy(build_db(BIG), db)
    with OvsdbServer(workdir, db_file=db, name='scale') as server:
        nbctl = ['ovn-nbctl', '--db=' + server.unix]

        def reset(expected):
            found = subprocess.run(nbctl + ['--bare', '--columns=name', 'find',
                                            'Logical_Switch_Port', 'mirror_rules!=[]'],
                                   capture_output=True, text=True, check=True).stdout.split()
            assert len(found) == expected, 'expected %d ports attached, found %d' % (
                expected, len(found))
            subprocess.run(nbctl + ['mirror-del', MIRROR[0], '--', 'mirror-add'] + list(MIRROR),
                           check=True)

        reset(0)
        runs, commands = {}, {}
        for count in counts:
            ports = spread(count)
            args = dict(mirror=MIRROR[0], ports=ports, nb_connection=server.unix, timeout=300)
            args_path = _dump(os.path.join(workdir, 'args-%d.json' % count),
                              {'ANSIBLE_MODULE_ARGS': args})
            play = _dump(os.path.join(workdir, 'play-%d.yml' % count), [{
                'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                'vars': {'ansible_python_interpreter': sys.executable},
                'tasks': [{'kubeovn.mirror.ovn_lsp_mirror': args}]}])
            commands[count] = dict(args=args_path, play=play, batched=nbctl + [
                part for port in ports for part in ('--', 'lsp-attach-mirror', port, MIRROR[0])
            ][1:])
            runs[count] = {'module': [], 'again': [], 'rss': [], 'playbook': [], 'batched': []}
        for dummy in range(repeat):
            for count in counts:
                run = runs[count]
                seconds, rss = module_process(commands[count]['args'])
                run['module'].append(seconds)
                run['rss'].append(rss)
                seconds, rss = module_process(commands[count]['args'])
                run['again'].append(seconds)
                run['rss'].append(rss)
                reset(count)
                run['playbook'].append(timed(
                    [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                     commands[count]['play'], '-i', 'localhost,'], env=ansible_env(QUIET))[0])
                reset(count)
                if not run['batched']:     # the anchor, once: 5,000 ports take ~50 s
                    run['batched'].append(timed(commands[count]['batched'])[0])
                    reset(count)
    results = {}
    for count in counts:
        results[count] = dict((key, statistics.median(values))
                              for key, values in runs[count].items())
        results[count]['rss'] = max(runs[count]['rss'])
        print('  %d ports: module %.2f s, re-run %.2f s, playbook %.2f s, batched nbctl '
              '%.2f s' % (count, results[count]['module'], results[count]['again'],
                          results[count]['playbook'], results[count]['batched']), flush=True)
    return results


def fleet_declaration(cluster):
    return [dict(name='fleet-%02d' % m, type='gre', index=2000 + m, filter='from-lport',
                 sink='172.19.0.21',
                 ports=[lsp((m * 10 + p) * 131 % FLEET_LSPS) for p in range(10)])
            for m in range(FLEET_MIRRORS)]


def fleet_rows(workdir, sizes=(1, 5, 20)):
    """{N: (first converge s, re-run s)}: N fresh NB servers of 20k LSPs, one host each."""
    results = {}
    for size in sizes:
        servers = []
        try:
            hosts = {}
            for index in range(size):
                home = os.path.join(workdir, 'fleet-%d-%02d' % (size, index))
                os.makedirs(home)
                db = os.path.join(home, 'nb.db')
                shutil.copy(build_db(FLEET_LSPS), db)
                servers.append(OvsdbServer(home, db_file=db).start())
                hosts['cluster-%02d' % index] = {'mirrors_nb_connection': servers[-1].unix,
                                                 'mirrors_list': fleet_declaration(index)}
            inventory = _dump(os.path.join(workdir, 'fleet-%d.yml' % size), {'all': {
                'hosts': hosts,
                'vars': {'ansible_connection': 'local',
                         'ansible_python_interpreter': sys.executable,
                         'mirrors_owner': 'bench', 'mirrors_purge': True}}})
            command = playbook_command('playbooks/mirrors.yml', inventory=inventory,
                                       extra_vars={'kubeovn_mirror_hosts': 'all'})
            command += ['--forks', str(size)]
            first = timed(command, env=ansible_env(QUIET))[0]
            again = timed(command, env=ansible_env(QUIET))[0]
            for server in servers:
                names = subprocess.run(
                    ['ovn-nbctl', '--db=' + server.unix, '--bare', '--columns=name', 'find',
                     'Mirror', 'external_ids:"kubeovn.mirror/owner"=bench'],
                    capture_output=True, text=True, check=True).stdout.split()
                assert len(names) == FLEET_MIRRORS, (server.unix, names)
            results[size] = (first, again)
            print('  fleet of %d: %.2f s, re-run %.2f s' % (size, first, again), flush=True)
        finally:
            for server in servers:
                server.stop()
    return results
