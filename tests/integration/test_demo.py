"""`make demo` start to finish (its own control plane and lab), checked on its output, on
each OVN version (the default 25.03, and bookworm's 23.03 with `OVN=23.03`)."""

import subprocess
import sys

import pytest

from lab.ansible import REPO

# What the receiver and the local mirror ports must have seen, per version.
EXPECTED = {
    '23.03': ['x echo request web-0 -> web-1  (sent by web-0)',
              'x echo request web-0 -> db-0  (received by db-0)'],
    '25.03': ['x echo request web-0 -> web-1  (filter both)',
              'x echo reply web-1 -> web-0  (filter both)',
              'x echo request web-0 -> db-0  (received by db-0)',
              'What OVN copied to kmlmon0 (OVN local mirror web0-ovn-local, filter both)'],
}


@pytest.mark.parametrize('version', sorted(EXPECTED), ids=lambda v: 'ovn' + v)
def test_make_demo_runs_start_to_finish(tmp_path, version):
    """What `make demo` runs (its own control plane and lab), checked on its output."""
    proc = subprocess.run([sys.executable, '-m', 'lab.demo', '--quiet', '--ovn', version,
                           str(tmp_path / 'demo')], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    for line in EXPECTED[version]:
        assert line in out, (line, out)
    assert 'second run changed=0' in out and 'NB mirrors left: none' in out, out
