"""The checks filters (plugins/filter/problems.py): each is the module_utils check the modules
use, under the name the roles call it by."""

import pytest

from ansible_collections.kubeovn.mirror.plugins.filter.problems import FilterModule
from ansible_collections.kubeovn.mirror.plugins.module_utils import preflight, underlay, validation

FILTERS = FilterModule().filters()


def test_the_filters_are_the_shared_checks():
    assert FILTERS['mirror_problems'] is preflight.mirror_problems
    assert FILTERS['underlay_problems'] is underlay.underlay_problems


@pytest.mark.parametrize('name', ['mirror-receiver', 'web-0', 'a', 'a.b-c.d0', 'x' * 253])
def test_kubernetes_name_problem_accepts_a_pod_name(name):
    assert FILTERS['kubernetes_name_problem'](name, 'Pod') is None


@pytest.mark.parametrize('name', ['Bad_Pod', '-web', 'web-', 'web..0', 'x' * 254, '', None, 5])
def test_kubernetes_name_problem_names_the_kind_and_the_value(name):
    problem = FILTERS['kubernetes_name_problem'](name, 'Pod')
    assert problem.startswith('Pod name %r ' % (name,))


@pytest.mark.parametrize('name, problem', [
    ('default', None), ('kube-system', None), ('x' * 63, None),
    ('a.b', "Namespace name 'a.b' is not a valid Kubernetes name"),
    ('x' * 64, "Namespace name '%s' is not a valid Kubernetes name" % ('x' * 64)),
    ('Default', "Namespace name 'Default' is not a valid Kubernetes name")])
def test_kubernetes_name_problem_with_label_is_a_namespace_name(name, problem):
    found = FILTERS['kubernetes_name_problem'](name, 'Namespace', label=True)
    assert found == problem if problem is None else found.startswith(problem)


def test_kubernetes_name_problem_is_validation_s_check():
    for name, label in [('a.b', True), ('a.b', False), ('A', False), ('', True)]:
        assert FILTERS['kubernetes_name_problem'](name, 'Thing', label=label) == \
            validation.kubernetes_name_problem('Thing', name, label=label)


# ---- lport mirrors and mirror rules (OVN >= 25.09) ------------------------------------------

SUPPORTS_25_03 = dict(types=['erspan', 'gre', 'local'], filters=['both', 'from-lport', 'to-lport'],
                      schema_version='7.11.0', mirror_rules=False)
SUPPORTS_26_03 = dict(types=['erspan', 'gre', 'local', 'lport'],
                      filters=['both', 'from-lport', 'to-lport'], schema_version='7.18.0',
                      mirror_rules=True)
LPORT = dict(name='tap1', type='lport', filter='both', sink='mirror-receiver.default',
             rules=[dict(priority=300, match='icmp4', action='mirror'),
                    dict(priority=200, match='1', action='skip')])


def test_an_lport_mirror_needs_no_index_subnet_mtu_nor_count():
    mirror_problems = FILTERS['mirror_problems']
    # no index, a sink that is a port name, a subnet, MTUs that a tunnel would not fit, and
    # 40 other mirrors: none of it applies to an lport mirror
    assert mirror_problems(dict(LPORT), SUPPORTS_26_03, ['m%d' % n for n in range(40)],
                           '172.19.0.0/16', 1500, 1500) == []
    assert mirror_problems(dict(LPORT, rules=[]), SUPPORTS_26_03) == []
    assert mirror_problems(dict(LPORT, rules=None), SUPPORTS_26_03) == []


def test_lport_and_rules_on_an_older_server_name_the_ovn_they_need():
    problems = FILTERS['mirror_problems'](dict(LPORT), SUPPORTS_25_03)
    assert len(problems) == 2, problems
    assert problems[0] == ("type 'lport' is not accepted by this OVN Northbound (schema 7.11.0 "
                           "takes erspan, gre, local); it needs OVN >= 25.09")
    assert problems[1] == ('rules are not supported by this OVN Northbound (schema 7.11.0 has no '
                           'Mirror_Rule table): mirror rules need OVN >= 25.09')


def test_supports_without_mirror_rules_refuses_rules():
    """An ovn_mirror_info result that does not say mirror_rules (older collection) counts as
    a server without them."""
    supports = dict(SUPPORTS_26_03)
    del supports['mirror_rules']
    problems = FILTERS['mirror_problems'](dict(LPORT), supports)
    assert problems and 'OVN >= 25.09' in problems[0], problems


@pytest.mark.parametrize('change, fragment', [
    (dict(type='gre', index=99, sink='172.19.0.21'), 'rules apply only to lport mirrors'),
    (dict(rules=[dict(priority=32768, match='1', action='skip')]), 'priority 32768'),
    (dict(rules=[dict(priority=1, match=' ', action='skip')]), 'match must not be empty'),
    (dict(rules=[dict(priority=1, match='1', action='copy')]), "action 'copy'"),
    (dict(rules=[dict(priority=1, match='1'), dict(priority=1, match='1', action='skip')]),
     'listed twice'),
    (dict(rules='icmp4'), 'rules must be a list'),
], ids=['rules-on-gre', 'priority', 'empty-match', 'action', 'twice', 'not-a-list'])
def test_bad_rules_are_named(change, fragment):
    problems = FILTERS['mirror_problems'](dict(LPORT, **change), SUPPORTS_26_03)
    assert any(fragment in problem for problem in problems), problems


def test_a_rule_without_action_mirrors():
    rules = [dict(priority=300, match='icmp4')]
    assert FILTERS['mirror_problems'](dict(LPORT, rules=rules), SUPPORTS_26_03) == []
