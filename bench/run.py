"""`make bench`: every benchmark in one run, printed as one table and written into
bench/README.md (between the RESULTS markers).

1. Attaching 100 ports: ovn_lsp_mirror vs an ovn-nbctl loop vs one batched ovn-nbctl call,
   on NB databases with 1k, 20k and 100k LSPs (bench/attach_scale.py).
2. Load on the 100k-LSP NB: one mirror attached to 5,000 ports in one module run; 200 mirrors
   (5 ports each) converged by the `mirrors` role in one playbook run, then re-run.
3. The full remote-mirror playbook (examples/demo/remote_mirror.yml) against the embedded lab
   and a local kube-apiserver: first run and re-run.
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
        ports = [lsp(i) for i in range(0, BIG, BIG // 5000)][:5000]
        args = dict(mirror='m1', ports=ports, nb_connection=server.unix, timeout=300)
        first, rss = module_alone('ovn_lsp_mirror', args, workdir)
        again, rss_again = module_alone('ovn_lsp_mirror', args, workdir)
        rows.append(('1 mirror, 5,000 ports attached in one run (module process)', BIG,
                     first, again, max(rss, rss_again)))

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


def render(attach, sizes, load, playbook):
    lines = ['| what | LSPs in NB | time | re-run / other | peak RSS |',
             '|---|---:|---:|---:|---:|']
    for size in sizes:
        row = attach[size]
        lines.append('| attach 100 ports: `ovn_lsp_mirror` via `ansible -m` (module alone) '
                     '| %d | %.2f s (%.2f s) | floor `ansible -m ping` %.2f s | %.0f MB |'
                     % (size, row['module'], row['alone'], row['ping'], row['rss']))
        lines.append('| attach 100 ports: `ovn-nbctl` x100 loop | %d | %.2f s | %.1fx the module '
                     '| |' % (size, row['loop'], row['loop'] / row['module']))
        lines.append('| attach 100 ports: one batched `ovn-nbctl` | %d | %.2f s | | |'
                     % (size, row['batched']))
    for what, size, first, again, rss in load + playbook:
        lines.append('| %s | %d | %.2f s | re-run %.2f s | %s |' % (
            what, size, first, again, '%.0f MB' % rss if rss else '-'))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1000,20000,100000')
    parser.add_argument('--repeat', type=int, default=3)
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
        print('load on %d LSPs: 5,000 ports, 200 mirrors...' % BIG, flush=True)
        load = load_rows(workdir)
        print('full remote_mirror playbook against the lab...', flush=True)
        playbook = playbook_rows(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = render(attach, sizes, load, playbook)
    stamp = 'Measured %s in one `make bench` run (%.0f s), medians of %d runs for the attach rows.' % (
        datetime.date.today().isoformat(), time.monotonic() - started, options.repeat)
    print()
    print(stamp)
    print('\n'.join(table))
    if not options.no_write:
        with open(README) as handle:
            text = handle.read()
        block = '<!-- RESULTS -->\n%s\n\n%s\n<!-- /RESULTS -->' % (stamp, '\n'.join(table))
        text = re.sub(r'<!-- RESULTS -->.*<!-- /RESULTS -->', lambda m: block, text, flags=re.S)
        with open(README, 'w') as handle:
            handle.write(text)


if __name__ == '__main__':
    main()
