"""`make demo` start to finish (its own control plane and lab), checked on its output."""

import subprocess
import sys

from lab.ansible import REPO


def test_make_demo_runs_start_to_finish(tmp_path):
    """What `make demo` runs (its own control plane and lab), checked on its output."""
    proc = subprocess.run([sys.executable, '-m', 'lab.demo', '--quiet',
                           str(tmp_path / 'demo')], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    assert 'x echo request web-0 -> web-1  (sent by web-0)' in out, out
    assert 'x echo request web-0 -> db-0  (received by db-0)' in out, out
    assert 'second run changed=0' in out and 'NB mirrors left: none' in out, out
