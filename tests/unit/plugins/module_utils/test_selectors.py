import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import selectors


@pytest.mark.parametrize('selector', [
    'app=web', 'app==web', 'tier!=db', 'canary', '!canary', 'env in (prod,stage)',
    'env notin (dev)', 'app.kubernetes.io/name=web', 'statefulset.kubernetes.io/pod-name=web-1',
    'app=web,tier in (a, b)', 'empty=',
])
def test_kubernetes_core_forms_are_accepted(selector):
    selectors.check_label_selector(selector)


@pytest.mark.parametrize('selector, message', [
    ('', 'is empty'),
    ('=web', "'=web'"),
    ('app=we b', 'not of the form'),
    ('app=web,', 'malformed'),
    ('env in ()', 'needs at least one value'),
    ('env in (prod', 'unbalanced parentheses'),
    ('-app=web', 'not a valid label key'),
    ('app=-web', 'not a valid label value'),
    ('a' * 64 + '=x', 'not a valid label key'),
    ('app=\x00', 'control character'),
])
def test_bad_selectors_name_themselves(selector, message):
    with pytest.raises(ValueError) as info:
        selectors.check_label_selector(selector)
    assert message in str(info.value)


def test_selector_entries():
    selectors.check_selectors([{'namespace': 'shop', 'label_selectors': []},
                               {'label_selectors': ['app=web'], 'provider': 'a.b.ovn'}])
    for entry, message in (({}, 'selects every pod of every namespace'),
                           ({'namespace': 'Shop'}, "namespace 'Shop'"),
                           ({'namespace': 'shop', 'provider': ''}, "provider ''"),
                           ({'namespace': 'shop', 'label_selectors': ['x y']}, 'selectors[0]')):
        with pytest.raises(ValueError) as info:
            selectors.check_selectors([entry])
        assert message in str(info.value), (entry, info.value)
