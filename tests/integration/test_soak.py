"""`make soak`'s five-minute run with its fixed seed (lab/soak.py, docs/soak.md): on the
two-node cluster with a 3-member NB, the rulebook following, every kind of fault injected at
least once in bursts, and every invariant read on its own after each burst."""

import pytest

from lab.soak import FAULTS, INVARIANTS, Soak, summary

# Not `serial`: the soak's cluster (its networks 198.51.100.0/24 and 172.31.0.0/24, its
# processes, its temporary directory) is its own, and no other test of the parallel session
# touches them; the serial session's labs and cluster run after it.
pytestmark = [pytest.mark.soak]

SEED = 20261206


def test_five_minutes_of_faults_leave_every_declared_mirror_true(tmp_path):
    soak = Soak(tmp_path, SEED, minutes=5)
    try:
        soak.start()
        report = soak.run()
    finally:
        soak.stop()
    print(summary(report))
    assert report['failures'] == [], summary(report)
    assert sorted(report['faults']) == sorted(FAULTS), report['faults']
    assert report['checks'] == dict(('%s/passed' % name, report['bursts'])
                                    for name in INVARIANTS), report['checks']
    assert report['time_to_true']['never'] == 0
