"""module_utils.preflight: each problem named, none for a sound mirror."""

from ansible_collections.kubeovn.mirror.plugins.module_utils.preflight import (
    copy_overhead, mirror_problems)

SUPPORTS = dict(types=['gre', 'erspan'], filters=['from-lport', 'to-lport'],
                schema_version='7.0.0')
GOOD = dict(name='m1', type='gre', index=99, filter='from-lport', sink='172.31.0.21')


def test_a_sound_mirror_has_no_problem():
    assert mirror_problems(GOOD, SUPPORTS, ['other'], '172.31.0.0/24', 1400, 1500) == []
    assert mirror_problems(dict(GOOD, type='erspan', index=1023), SUPPORTS, [], None,
                           1450, 1500) == []


def test_overheads():
    assert (copy_overhead('gre'), copy_overhead('erspan'), copy_overhead('gre', True)) == (
        42, 50, 62)


def test_every_problem_is_named():
    problems = mirror_problems(dict(GOOD, filter='both', sink='10.9.9.9', expires='soon'),
                               SUPPORTS, ['m%d' % n for n in range(2, 34)], '172.31.0.0/24',
                               1480, 1500)
    assert len(problems) == 5, problems
    assert problems[0].startswith("filter 'both' is not accepted by this OVN Northbound "
                                  "(schema 7.0.0 takes from-lport, to-lport)")
    assert problems[2] == 'sink 10.9.9.9 is not in the receiver subnet 172.31.0.0/24'
    assert 'lower the pods\' MTU to 1458' in problems[3]
    assert problems[4] == "mirror 'm1' would make 33 mirrors: OVS takes at most 32 per bridge"
    assert mirror_problems(dict(GOOD, type='erspan', index=1024), SUPPORTS)[0].startswith(
        'index 1024 is out of range')
    # the mirror itself, already there, is not counted twice
    assert mirror_problems(GOOD, SUPPORTS, ['m1'] + ['m%d' % n for n in range(2, 33)]) == []
