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
