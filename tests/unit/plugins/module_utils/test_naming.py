import pytest

from ansible_collections.kubeovn.mirror.plugins.module_utils import naming


def test_lsp_names_follow_kube_ovn():
    assert naming.lsp_name('coredns-787d4945fb-gpnkb', 'kube-system') == \
        'coredns-787d4945fb-gpnkb.kube-system'
    assert naming.lsp_name('pod1', 'default', 'attachnet.default.ovn') == \
        'pod1.default.attachnet.default.ovn'


def test_provider_of_a_nad():
    assert naming.attachment_provider('attachnet', 'default') == 'attachnet.default.ovn'


@pytest.mark.parametrize('pod,namespace', [('', 'default'), ('a', ''), (None, 'x'), ('a', ' ')])
def test_empty_parts_are_refused(pod, namespace):
    with pytest.raises(ValueError):
        naming.lsp_name(pod, namespace)
