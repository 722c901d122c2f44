"""The shared names filters: one provider format, one owner marker key."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.mirror.plugins.filter.names import FilterModule
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import OWNER_KEY

FILTERS = FilterModule().filters()


def test_attachment_provider_is_nad_namespace_ovn():
    assert FILTERS['attachment_provider']('attachnet', 'default') == 'attachnet.default.ovn'
    assert FILTERS['attachment_provider']('mirrornet') == 'mirrornet.default.ovn'


def test_attachment_provider_refuses_an_empty_name():
    with pytest.raises(AnsibleFilterError, match="got '', 'default'"):
        FILTERS['attachment_provider']('', 'default')


def test_owner_marker_round_trip_uses_the_one_constant():
    marker = FILTERS['owner_marker']('netops')
    assert marker == {OWNER_KEY: 'netops'} == {'kubeovn.mirror/owner': 'netops'}
    assert FILTERS['marked_owner'](dict(marker, other='x')) == 'netops'
    assert FILTERS['marked_owner']({}) is None and FILTERS['marked_owner'](None) is None
    assert FILTERS['owner_marker_key'](None) == OWNER_KEY
