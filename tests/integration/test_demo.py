"""`make demo` start to finish (its own two-node cluster), checked on its output, on its
default OVN 25.03. (`OVN=23.03` runs the same playbooks on bookworm's OVN, which
test_playbooks.py and the lab tests cover.)"""

import subprocess
import sys

import pytest

from lab.ansible import REPO
from lab.ovn_versions import CURRENT_VERSION

pytestmark = pytest.mark.serial     # its own cluster: one at a time on a machine

# What the receiver pod and the two local mirror ports must have seen.
EXPECTED = ['What playbooks/capture.yml captured in pod mirror-receiver on net1',
            'db-ingress   erspan idx  7 ', 'web0-both    gre    key  99 ',
            '5 x icmp web-0 -> web-1', '5 x icmp web-1 -> web-0', '5 x icmp web-0 -> db-0',
            # web-0 and web-1 run on node-b, the receiver on node-a
            'from node-b (172.31.0.3), across the underlay to node-a',
            'What OVS copied to kmlmirror0 on node-b (OVS mirror web0-local, both directions)',
            'What OVN copied to kmlmon0 on node-b (OVN local mirror web0-ovn-local, '
            'filter both)',
            # cni_mirror rolled kube-ovn-cni out; node-b's mirror0 copied its pods' traffic
            # exactly (none of node-a's), and nothing once off (the demo checks both)
            'kube-ovn-cni pods replaced: ', '$ ip netns exec kml-node-b tcpdump -i mirror0 icmp',
            '3 x echo request web-0 -> web-1', '3 x echo reply web-1 -> web-0',
            'back to --enable-mirror=false: mirror0 on node-b silent',
            # the rulebook followed a new pod, a recreated one and a deleted one by itself
            '-> port db-1.default attached to db-ingress', '-> detached from db-ingress',
            "db-ingress mirrors ['db-0.default']", 'rulebook stopped (Ctrl-C), no process left']


def test_make_demo_runs_start_to_finish(tmp_path):
    """What `make demo` runs (its own cluster), checked on its output."""
    command = [sys.executable, '-m', 'lab.demo', '--quiet', '--ovn', CURRENT_VERSION,
               str(tmp_path / 'demo')]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600,
                          check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    for line in EXPECTED:
        assert line in out, (line, out)
    assert 'second run changed=0' in out and 'NB mirrors left: none' in out, out
