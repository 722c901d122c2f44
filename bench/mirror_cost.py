"""The cost of mirroring, measured the way Kube-OVN's Traffic Mirror page measures it.

On the two-node test cluster (lab/cluster.py), for the page's rows this cluster can have (pod
to pod on one node, pod to pod across nodes), at message sizes 64 B to 4 KB: TCP latency, TCP
bandwidth and UDP latency with qperf, UDP bandwidth and loss with `iperf3 -u -b 0`, run inside
the pods through `kubectl exec`. Three states:
- off: kube-ovn-cni with --enable-mirror=false, no OVN mirror;
- kube-ovn-cni global mirroring: the cni_mirror role sets --enable-mirror=true and waits for
  the rollout (every pod's traffic copied to each node's mirror0);
- an OVN remote mirror, filter both, on the client pod's port: GRE copies of everything it
  sends and receives to a receiver pod on node-a (playbooks/remote_mirror.yml).
The page's rows that need Kube-OVN's join network (a pod to a node, through ovn-cluster and
ovn0) or a service (no kube-proxy here) are not run.

`python -m bench.mirror_cost` runs it alone, prints the table and writes it into
bench/README.md (between the COST markers; `make bench` writes the same block).
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from lab.ansible import run_collection_playbook  # noqa: E402
from lab.cluster import Cluster  # noqa: E402

SIZES = (64, 128, 512, 1024, 4096)
STATES = ('off', 'kube-ovn-cni global mirroring', 'OVN remote mirror (filter both)')
# client, server, node of each: the page's rows 1 and 2
ROWS = (('pod to pod, same node', 'client', 'server-b'),
        ('pod to pod, across nodes', 'client', 'server-a'))
PODS = {'client': 'node-b', 'server-b': 'node-b', 'server-a': 'node-a'}
SERVE = ['sh', '-c', 'qperf & exec iperf3 -s']

# Kube-OVN's Traffic Mirror page (docs "Traffic Mirror", performance test), rows 1 and 2:
# size -> (TCP latency us, TCP bandwidth Mbit/s, UDP latency us, UDP loss %, UDP Mbit/s),
# mirroring enabled and disabled.
PAGE = {
    'pod to pod, same node': {
        'on': {64: (12.7, 289, 12.6, 1.8, 77.9), 128: (15.5, 517, 12.7, 0, 155),
               512: (12.2, 1640, 12.4, 0, 624), 1024: (13, 2960, 11.4, 0.53, 1220),
               4096: (18, 7670, 25.7, 0.41, 1500)},
        'off': {64: (11.9, 324, 12.2, 0.22, 102), 128: (10.5, 582, 9.5, 0.21, 198),
                512: (11.6, 1840, 9.32, 0.091, 827), 1024: (10.5, 3440, 10, 1.2, 1520),
                4096: (16.7, 8520, 18.2, 1.3, 2420)}},
    'pod to pod, across nodes': {
        'on': {64: (258, 143, 237, 61, 28.5), 128: (240, 252, 231, 64, 54.9),
               512: (236, 763, 256, 68, 194), 1024: (242, 969, 225, 62, 449),
               4096: (352, 1120, 382, 0.71, 21.4)},
        'off': {64: (278, 140, 227, 24, 59.6), 128: (249, 265, 265, 23, 114),
                512: (233, 914, 235, 21, 468), 1024: (238, 1140, 240, 15, 891),
                4096: (370, 1250, 361, 0.43, 7.54)}},
}
UNITS = {'us': 1.0, 'ms': 1000.0, 'sec': 1e6, 'ns': 0.001}
RATES = {'KB/sec': 8e-3, 'MB/sec': 8.0, 'GB/sec': 8000.0, 'bytes/sec': 8e-6}


def qperf(cluster, client, server_ip, size, seconds):
    """(TCP latency us, TCP Mbit/s, UDP latency us) from qperf in the client pod."""
    out = cluster.exec(client, 'qperf', '-t', str(seconds), '-m', str(size), server_ip,
                       'tcp_lat', 'tcp_bw', 'udp_lat', timeout=60)
    values = {}
    for test, body in re.findall(r'^(\w+):\n((?:\s+.+\n?)+)', out, re.M):
        number, unit = re.search(r'=\s+([\d.]+)\s+(\S+)', body).groups()
        values[test] = float(number) * (UNITS.get(unit) or RATES[unit])
    return values['tcp_lat'], values['tcp_bw'], values['udp_lat']


def iperf_udp(cluster, client, server_ip, size, seconds):
    """(loss %, received Mbit/s) of `iperf3 -u -b 0` from the client pod (iperf3's UDP sum
    is the sender's rate: what arrived is that less the loss)."""
    out = json.loads(cluster.exec(client, 'iperf3', '-c', server_ip, '-u', '-b', '0', '-l',
                                  str(size), '-t', str(seconds), '-J', timeout=60))
    total = out['end']['sum']
    loss = total['lost_percent']
    return loss, total['bits_per_second'] * (1 - loss / 100.0) / 1e6


def measure_state(cluster, addresses, sizes, seconds):
    """{row: {size: (TCP lat, TCP bw, UDP lat, UDP loss, UDP bw)}} in the state as it is."""
    results = {}
    for row, client, server in ROWS:
        results[row] = {}
        for size in sizes:
            tcp_lat, tcp_bw, udp_lat = qperf(cluster, client, addresses[server], size, seconds)
            loss, udp_bw = iperf_udp(cluster, client, addresses[server], size, seconds)
            results[row][size] = (tcp_lat, tcp_bw, udp_lat, loss, udp_bw)
    return results


def play(cluster, playbook, **options):
    env = {'K8S_AUTH_KUBECONFIG': cluster.kubeconfig, 'OVN_NB_DB': cluster.nb,
           'PATH': cluster.bindir + os.pathsep + os.environ['PATH']}
    run = run_collection_playbook(playbook, env=env, **options)
    if run.failures:
        raise RuntimeError('%s failed: %s' % (playbook, run.failures))


def remote_variables(workdir):
    import yaml
    from lab import images
    with open(os.path.join(REPO, 'examples', 'demo', 'remote_mirror.yml')) as handle:
        variables = yaml.safe_load(handle)
    variables.update(mirror_receiver_image=images.TOOLS_IMAGE, mirror_receiver_node='node-a',
                     remote_mirror_name='cost-both', remote_mirror_filter='both',
                     remote_mirror_pods=[{'name': 'client', 'namespace': 'default'}])
    path = os.path.join(workdir, 'cost-remote.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(variables, handle)
    return path


def cost_table(workdir, sizes=SIZES, seconds=1):
    """{state: {row: {size: figures}}} measured on a fresh two-node cluster."""
    cluster = Cluster(os.path.join(workdir, 'cost'), nodes=2)
    try:
        cluster.start().start_kube_ovn()
        addresses = dict((name, cluster.pod(name, node, command=SERVE).status.pod_ip)
                         for name, node in PODS.items())
        for server in ('server-a', 'server-b'):    # neighbours resolved, flows warm
            cluster.ping('client', addresses[server], count=2)
        table = {}
        table[STATES[0]] = measure_state(cluster, addresses, sizes, seconds)
        play(cluster, 'playbooks/local_mirror.yml',
             extra_vars={'local_mirror_cni': {'enable': True, 'wait': True}})
        table[STATES[1]] = measure_state(cluster, addresses, sizes, seconds)
        play(cluster, 'playbooks/local_mirror.yml',
             extra_vars={'local_mirror_cni': {'enable': False, 'wait': True}})
        play(cluster, 'playbooks/remote_mirror.yml', var_files=[remote_variables(workdir)])
        time.sleep(2)       # ovn-controller on node-b realises the mirror
        cluster.ping('client', addresses['server-a'], count=2)
        table[STATES[2]] = measure_state(cluster, addresses, sizes, seconds)
        return table
    finally:
        cluster.stop()


def _ratio(on, off, better_high):
    """on/off, so that above 1 means mirroring costs (slower, less bandwidth, more loss)."""
    if not off or not on:
        return '-'
    return '%.2f' % ((off / on) if better_high else (on / off))


FIGURES = (('TCP latency', 0, False, '%.0f us'), ('TCP bandwidth', 1, True, '%.0f Mbit/s'),
           ('UDP latency', 2, False, '%.0f us'), ('UDP loss', 3, False, '%.1f %%'),
           ('UDP bandwidth', 4, True, '%.0f Mbit/s'))


def render(table):
    """Markdown: per row and size, each figure off, and the cost ratio of each mirroring
    state next to the page's ratio (enabled/disabled)."""
    lines = ['Cost ratio = mirroring on / off for latency and loss, off / on for bandwidth: '
             'above 1 means mirroring costs. The page ran the kernel datapath; this cluster '
             'runs OVS\'s userspace datapath, so the absolute figures differ, and the ratios '
             'are the point. UDP loss ratios are shown only where the "off" loss is at least '
             '1 %.', '']
    for row, dummy_client, dummy_server in ROWS:
        lines += ['**%s**' % row, '',
                  '| size | figure | off (here) | kube-ovn-cni global | OVN remote both | '
                  'page: on / off |', '|---:|---|---:|---:|---:|---:|']
        for size in sorted(table[STATES[0]][row]):
            for name, index, better_high, fmt in FIGURES:
                off = table[STATES[0]][row][size][index]
                ratios = []
                for state in STATES[1:]:
                    on = table[state][row][size][index]
                    if index == 3 and off < 1:
                        ratios.append(fmt % on)
                    else:
                        ratios.append('%s (%s)' % (_ratio(on, off, better_high), fmt % on))
                page_on, page_off = (PAGE[row][state][size][index] for state in ('on', 'off'))
                page = ('%s %% / %s %%' % (page_on, page_off) if index == 3 else
                        _ratio(page_on, page_off, better_high))
                lines.append('| %d | %s | %s | %s | %s | %s |' % (
                    size, name, fmt % off, ratios[0], ratios[1], page))
        lines.append('')
    return lines


def write_readme(lines, stamp):
    """The table into bench/README.md, between the COST markers."""
    path = os.path.join(REPO, 'bench', 'README.md')
    with open(path) as handle:
        text = handle.read()
    block = '<!-- COST -->\n%s\n\n%s\n<!-- /COST -->' % (stamp, '\n'.join(lines))
    text = re.sub(r'<!-- COST -->.*<!-- /COST -->', lambda m: block, text, flags=re.S)
    with open(path, 'w') as handle:
        handle.write(text)


def main():
    import datetime
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default=','.join(str(size) for size in SIZES))
    parser.add_argument('--seconds', type=int, default=1, help='each qperf / iperf3 test')
    parser.add_argument('--no-write', action='store_true', help='do not update README.md')
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench-cost-') as workdir:
        started = time.monotonic()
        table = cost_table(workdir, [int(s) for s in options.sizes.split(',')],
                           options.seconds)
    lines = render(table)
    stamp = ('Measured %s with `python -m bench.mirror_cost` (%.0f s, one %d-second test per '
             'figure).' % (datetime.date.today().isoformat(), time.monotonic() - started,
                           options.seconds))
    print('\n'.join(lines))
    print(stamp)
    if not options.no_write:
        write_readme(lines, stamp)


if __name__ == '__main__':
    main()
