"""`make bench`: every benchmark in one run, printed as one table and written into
bench/README.md (between the RESULTS markers).

1. Attaching 100 ports: ovn_lsp_mirror vs an ovn-nbctl loop vs one batched ovn-nbctl call,
   on NB databases with 1k, 20k and 100k LSPs (bench/attach_scale.py).
2. Many ports on the 100k-LSP NB: one mirror attached to 100, 1,000 and 5,000 ports in one
   run, next to one batched ovn-nbctl call (bench/scale.py); 200 mirrors (5 ports each)
   converged by the `mirrors` role in one playbook run, then re-run.
3. Fleets: 1, 5 and 20 clusters (NB servers of 20k LSPs) converged by playbooks/mirrors.yml
   with forks (bench/scale.py).
4. The full remote-mirror playbook (examples/demo/remote_mirror.yml) against the embedded lab
   and a local kube-apiserver: first run and re-run.
5. The rulebook's lag (bench/follow.py), and a 50-replica Deployment rolled out under it.
6. The cost of mirroring on the two-node cluster, like Kube-OVN's Traffic Mirror page
   (bench/mirror_cost.py).
Peak RSS is the module process's own (wait4), run standalone with the same arguments.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.attach_scale import build_db, lsp, measure, timed  # noqa: E402
from bench.follow import follow_lags, follow_row  # noqa: E402
from bench.mirror_cost import cost_table, render as render_cost, write_readme  # noqa: E402
from bench.scale import FLEET_LSPS, fleet_rows, ports_rows  # noqa: E402
from lab.ansible import ansible_env, playbook_command  # noqa: E402
from tools.collection import ensure_collection_link  # noqa: E402
from lab.daemons import OvsdbServer  # noqa: E402

README = os.path.join(REPO, 'bench', 'README.md')
BIG = 100000


def module_alone(module, args, workdir):
    """(seconds, peak RSS MiB) of the module's own process."""
    path = os.path.join(workdir, module + '-args.json')
    with open(path, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    env = dict(os.environ, PYTHONPATH=ensure_collection_link())
    return timed([sys.executable, os.path.join(REPO, 'plugins', 'modules', module + '.py'),
                  path], env=env)


def playbook_seconds(playbook, env, **options):
    return timed(playbook_command(playbook, **options), env=ansible_env(env))[0]


def load_rows(workdir):
    db = os.path.join(workdir, 'nb.db')
    shutil.copy(build_db(BIG), db)
    rows = []
    with OvsdbServer(workdir, db_file=db) as server:
        mirrors = [dict(name='load-%03d' % m, type='gre', index=1000 + m, filter='from-lport',
                        sink='172.19.0.21',
                        ports=[lsp((m * 5 + p) * 97 % BIG) for p in range(5)])
                   for m in range(200)]
        variables = os.path.join(workdir, 'mirrors.yml')
        with open(variables, 'w') as handle:
            yaml.safe_dump({'mirrors_list': mirrors, 'mirrors_owner': 'bench',
                            'mirrors_purge': True, 'mirrors_nb_connection': server.unix,
                            'mirrors_timeout': 300}, handle)
        env = {'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'}
        options = dict(var_files=[variables],
                       extra_vars={'kubeovn_mirror_hosts': 'localhost'})
        first = playbook_seconds('playbooks/mirrors.yml', env, **options)
        again = playbook_seconds('playbooks/mirrors.yml', env, **options)
        count = subprocess.run(['ovn-nbctl', '--db=' + server.unix, '--bare', '--columns=name',
                                'find', 'Mirror', 'external_ids:"kubeovn.mirror/owner"=bench'],
                               capture_output=True, text=True, check=True).stdout.split()
        assert len(count) == 200, 'expected 200 mirrors, found %d' % len(count)
        dummy, rss = module_alone('ovn_mirrors', dict(
            mirrors=mirrors, owner='bench', nb_connection=server.unix, timeout=300), workdir)
        rows.append(('`mirrors` role: 200 mirrors x 5 ports (playbook)', BIG, first, again, rss))
    return rows


def playbook_rows(workdir):
    from lab.kube import ControlPlane
    from lab.ovn import SINK_IP, Lab
    from lab.standin import ClusterStandIn
    plane = ControlPlane(os.path.join(workdir, 'kube'))
    os.makedirs(plane.workdir)
    lab = standin = None
    try:
        plane.start()
        from kubernetes import client, config
        client.CoreV1Api(config.new_client_from_config(plane.kubeconfig)) \
            .create_namespaced_service_account('default', {'metadata': {'name': 'default'}})
        lab = Lab(os.path.join(workdir, 'lab')).up()
        standin = ClusterStandIn(plane.kubeconfig, addresses={
            ('default', 'mirror-receiver'): SINK_IP}).start()
        env = {'K8S_AUTH_KUBECONFIG': plane.kubeconfig, 'OVN_NB_DB': lab.nb,
               'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'}
        variables = [os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')]
        first = playbook_seconds('playbooks/remote_mirror.yml', env, var_files=variables)
        again = playbook_seconds('playbooks/remote_mirror.yml', env, var_files=variables)
    finally:
        if standin:
            standin.stop()
        if lab:
            lab.down()
        plane.stop()
    return [('full remote_mirror.yml playbook (lab + kube-apiserver; 22 tasks)', 3, first,
             again, None)]


def _rss(value):
    return '%.0f MB' % value if value else '-'


def render(attach, sizes, ports, load, fleets, playbook, follow=None):
    """The table (one line per figure, its anchor beside it) and the goals' verdicts."""
    lines = ['| what | LSPs in NB | time | anchor / re-run | ratio | peak RSS |',
             '|---|---:|---:|---|---:|---:|']
    for size in sizes:
        row = attach[size]
        lines.append('| attach 100 ports: `ovn_lsp_mirror` via `ansible -m` (module alone) '
                     '| %d | %.2f s (%.2f s) | floor `ansible -m ping` %.2f s | | %s |'
                     % (size, row['module'], row['alone'], row['ping'], _rss(row['rss'])))
        lines.append('| attach 100 ports: `ovn-nbctl` x100 loop | %d | %.2f s | | %.1fx the '
                     'module | |' % (size, row['loop'], row['loop'] / row['module']))
        lines.append('| attach 100 ports: one batched `ovn-nbctl` | %d | %.2f s | | | |'
                     % (size, row['batched']))
    base = ports[min(ports)]
    for count in sorted(ports):
        row = ports[count]
        ratio = '%.1fx faster than batched' % (row['batched'] / row['module'])
        if count != min(ports):
            ratio += '; %.1fx the %d-port run' % (row['module'] / base['module'], min(ports))
        lines.append('| 1 mirror, %d ports in one run: module process | %d | %.2f s | re-run '
                     '%.2f s; batched `ovn-nbctl` %.2f s | %s | %s |' % (
                         count, BIG, row['module'], row['again'], row['batched'], ratio,
                         _rss(row['rss'])))
        if count != min(ports):
            anchor = 'the %d-port playbook %.2f s | %.2fx' % (
                min(ports), base['playbook'], row['playbook'] / base['playbook'])
        else:
            anchor = ' |'
        lines.append('| 1 mirror, %d ports in one run: whole `ansible-playbook` (one task) '
                     '| %d | %.2f s | %s | |' % (count, BIG, row['playbook'], anchor))
    for what, size, first, again, rss in load:
        lines.append('| %s | %d | %.2f s | re-run %.2f s | | %s |' % (
            what, size, first, again, _rss(rss)))
    one = fleets[min(fleets)][0]
    for size in sorted(fleets):
        first, again = fleets[size]
        lines.append('| fleet: %d cluster(s), `playbooks/mirrors.yml --forks %d` (10 mirrors x '
                     '10 ports each) | %d each | %.2f s | re-run %.2f s | %.1fx one cluster '
                     '| |' % (size, size, FLEET_LSPS, first, again, first / one))
    for what, size, first, again, rss in playbook:
        lines.append('| %s | %d | %.2f s | re-run %.2f s | | %s |' % (
            what, size, first, again, _rss(rss)))

    if follow:
        lines.append('| rulebook `follow_mirrors`: a new pod\'s port attached, from its LSP in the '
                     'NB (%d trials) | - | median %.1f s | p90 %.1f s, min %.1f s, max %.1f s; '
                     '%d converges | | |' % (
                         follow['trials'], follow['median'], follow['p90'], follow['min'],
                         follow['max'], follow['runs']))
        if 'rollout_pods' in follow:
            lines.append('| rulebook `follow_mirrors`: a Deployment of %d replicas rolled out, '
                         'each port attached from its LSP in the NB | - | last %.1f s | median '
                         '%.1f s; all %d attached %.1f s after the Deployment was created; %d '
                         'converges; exact: %s | | |' % (
                             follow['rollout_pods'], follow['rollout_last'],
                             follow['rollout_median'], follow['rollout_pods'],
                             follow['rollout_seconds'], follow['rollout_converges'],
                             'yes' if follow['rollout_exact'] else 'NO'))

    big, thousand = ports[max(ports)], ports.get(1000)
    largest = fleets[max(fleets)][0] / one
    goals = [   # (goal, measured, met)
        ('module process, %d ports <= 5x %d ports' % (max(ports), min(ports)),
         '%.1fx' % (big['module'] / base['module']), big['module'] <= 5 * base['module']),
        ('whole playbook, %d ports <= 2x %d ports' % (max(ports), min(ports)),
         '%.2fx' % (big['playbook'] / base['playbook']),     # at the edge: two decimals
         big['playbook'] <= 2 * base['playbook']),
        ('no-op re-run of %d ports no slower than the first run' % max(ports),
         '%.2f s vs %.2f s' % (big['again'], big['module']), big['again'] <= big['module']),
        ('peak RSS under 64 MB', '%.0f MB' % max(row['rss'] for row in ports.values()),
         max(row['rss'] for row in ports.values()) < 64),
        ('%d clusters in <= 8x the time of one' % max(fleets), '%.1fx' % largest,
         largest <= 8),
    ]
    if thousand:
        speedup = thousand['batched'] / thousand['module']
        goals.append(('1,000 ports: module >= 4x faster than one batched ovn-nbctl',
                      '%.1fx' % speedup, speedup >= 4))
    if follow:
        goals.append(('rulebook lag, median over %d trials under 10 s (issue 18)'
                      % follow['trials'], '%.1f s' % follow['median'], follow['median'] < 10))
        goals.append(('rulebook lag, median at most 2.5 s and p90 at most 4 s (issue 30)',
                      'median %.1f s, p90 %.1f s' % (follow['median'], follow['p90']),
                      follow['median'] <= 2.5 and follow['p90'] <= 4))
        if 'rollout_pods' in follow:
            goals.append(('%d-pod rollout: exact, at most 3 converges, last pod attached '
                          'within 10 s of its LSP (issue 30)' % follow['rollout_pods'],
                          '%s, %d converges, %.1f s' % (
                              'exact' if follow['rollout_exact'] else 'NOT exact',
                              follow['rollout_converges'], follow['rollout_last']),
                          follow['rollout_exact'] and follow['rollout_converges'] <= 3
                          and follow['rollout_last'] <= 10))
    verdicts = ['- %s: %s (%s)' % (goal, measured, 'met' if met else 'MISSED')
                for goal, measured, met in goals]
    return lines, verdicts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,20000,100000')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--fleets', default='1,5,20')
    parser.add_argument('--follow-trials', type=int, default=20,
                        help='trials of the rulebook lag (0: skip)')
    parser.add_argument('--cost-sizes', default='64,128,512,1024,4096',
                        help='message sizes of the mirroring cost table (empty: skip)')
    parser.add_argument('--cost-seconds', type=int, default=1,
                        help='each qperf / iperf3 test of the cost table')
    parser.add_argument('--no-write', action='store_true', help='do not update README.md')
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(',')]
    started = time.monotonic()
    attach = {}
    for size in sizes:
        print('attach 100 ports, %d LSPs (%d runs; the nbctl loop once)...' % (
            size, options.repeat), flush=True)
        attach[size] = measure(size, options.repeat, loop_runs=1)
    workdir = tempfile.mkdtemp(prefix='bench-')
    try:
        print('1 mirror, 100 / 1,000 / 5,000 ports on %d LSPs...' % BIG, flush=True)
        ports = ports_rows(workdir, repeat=options.repeat)
        print('200 mirrors on %d LSPs...' % BIG, flush=True)
        load = load_rows(workdir)
        print('fleets of %s clusters...' % options.fleets, flush=True)
        fleets = fleet_rows(workdir, [int(n) for n in options.fleets.split(',')])
        print('full remote_mirror playbook against the lab...', flush=True)
        playbook = playbook_rows(workdir)
        follow = None
        if options.follow_trials:
            print('rulebook follow_mirrors, %d new pods...' % options.follow_trials, flush=True)
            follow = follow_row(*follow_lags(workdir, options.follow_trials))
        cost = None
        if options.cost_sizes:
            print('the cost of mirroring on the two-node cluster...', flush=True)
            cost = cost_table(workdir, [int(size) for size in options.cost_sizes.split(',')],
                              options.cost_seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table, verdicts = render(attach, sizes, ports, load, fleets, playbook, follow)
    stamp = ('Measured %s in one `make bench` run (%.0f s), medians of %d runs for the attach '
             'and port-count rows.' % (datetime.date.today().isoformat(),
                                       time.monotonic() - started, options.repeat))
    block = '%s\n\n%s\n\nGoals (issues 15, 18 and 30), from this run:\n\n%s' % (
        stamp, '\n'.join(table), '\n'.join(verdicts))

    print()
    print(block)
    if not options.no_write:
        with open(README) as handle:
            text = handle.read()
        block = '<!-- RESULTS -->\n%s\n<!-- /RESULTS -->' % block
        text = re.sub(r'<!-- RESULTS -->.*<!-- /RESULTS -->', lambda m: block, text, flags=re.S)
        with open(README, 'w') as handle:
            handle.write(text)
        if cost:
            write_readme(render_cost(cost), 'Measured %s in the same `make bench` run, one '
                         '%d-second test per figure.' % (datetime.date.today().isoformat(),
                                                         options.cost_seconds))


if __name__ == '__main__':
    main()
