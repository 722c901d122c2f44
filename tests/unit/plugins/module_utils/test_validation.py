import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import kube_ovn_names, validation


def test_lsp_names_follow_kube_ovn():
    assert kube_ovn_names.lsp_name('coredns-787d4945fb-gpnkb', 'kube-system') == \
        'coredns-787d4945fb-gpnkb.kube-system'
    assert kube_ovn_names.lsp_name('pod1', 'default', 'attachnet.default.ovn') == \
        'pod1.default.attachnet.default.ovn'


def test_provider_of_a_nad():
    assert kube_ovn_names.attachment_provider('attachnet', 'default') == 'attachnet.default.ovn'


@pytest.mark.parametrize('pod,namespace', [('', 'default'), ('a', ''), (None, 'x'), ('a', ' ')])
def test_empty_parts_are_refused(pod, namespace):
    with pytest.raises(ValueError):
        kube_ovn_names.lsp_name(pod, namespace)


@pytest.mark.parametrize('name,says', [
    ('', 'must not be empty'), (' ', 'must not be empty'), (None, 'must not be empty'),
    (' lead', 'white space'), ('trail ', 'white space'),
    ('m\x002', 'control character'), ('tab\there', 'control character'),
    ('del\x7f', 'control character')])
def test_bad_names_are_refused_naming_the_value(name, says):
    with pytest.raises(ValueError) as error:
        validation.check_name('mirror', name)
    assert says in str(error.value) and repr(name) in str(error.value)


@pytest.mark.parametrize('name', ['mirror1', 'web-0.default', 'mirror-ü', 'a.b/c'])
def test_good_names_pass(name):
    validation.check_name('mirror', name)


@pytest.mark.parametrize('name', ['', None, 'a' * 16, 'eth/0', 'eth 0', 'tab\there', 'nul\x00'])
def test_bad_interface_names_are_refused_naming_the_value(name):
    with pytest.raises(ValueError) as error:
        validation.check_iface_name('output_port', name)
    assert 'output_port' in str(error.value) and repr(name) in str(error.value)


@pytest.mark.parametrize('name', ['mirror0', 'a' * 15, 'net1.100'])
def test_good_interface_names_pass(name):
    validation.check_iface_name('output_port', name)
