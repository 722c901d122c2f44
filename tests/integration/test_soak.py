"""`make soak`'s five-minute run with its fixed seed (lab/soak.py, docs/soak.md): on the
two-node cluster with a 3-member NB, the rulebook following, every kind of fault injected at
least once in bursts, and every invariant read on its own after each burst."""

import pytest

from lab.soak import FAULTS, INVARIANTS, Soak, summary

# serial: the cluster's networks, namespaces and links are the machine's (a lab starting in
# parallel removes every kml-* namespace and link: the first make test with the soak in the
# parallel session lost its cluster that way)
pytestmark = [pytest.mark.serial]

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
