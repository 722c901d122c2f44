"""The shared names filters: one provider format, one owner marker key, the remote_mirror
role's receiver and since markers."""

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.mirror.plugins.filter import names
from ansible_collections.kubeovn.mirror.plugins.filter.names import FilterModule
from ansible_collections.kubeovn.mirror.plugins.module_utils.markers import (
    OWNER_KEY, RECEIVER_KEY, SINCE_KEY)

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


def test_remote_markers_keep_the_first_since_and_read_back():
    markers = names.remote_markers('netops', 'default/mirror-receiver', '2026-12-03T04:00:00Z')
    assert markers == {OWNER_KEY: 'netops', RECEIVER_KEY: 'default/mirror-receiver',
                       SINCE_KEY: '2026-12-03T04:00:00Z'}
    # a re-run an hour later keeps the recorded time
    again = names.remote_markers('netops', 'default/mirror-receiver', '2026-12-03T05:00:00Z',
                                 markers)
    assert again == markers
    assert names.marked_receiver(markers) == {'namespace': 'default', 'name': 'mirror-receiver'}
    assert names.marked_since(markers) == '2026-12-03T04:00:00Z'
    assert names.marked_receiver({OWNER_KEY: 'x'}) is None and names.marked_since(None) is None


def test_remote_markers_refuse_a_receiver_without_namespace():
    with pytest.raises(AnsibleFilterError, match="<namespace>/<name> \\(got 'receiver'\\)"):
        names.remote_markers('netops', 'receiver', '2026-12-03T04:00:00Z')


def test_pod_refs_reads_a_list_or_a_survey_answer():
    assert names.pod_refs(['shop/web-0', 'db-0']) == [
        {'name': 'web-0', 'namespace': 'shop'}, {'name': 'db-0', 'namespace': 'default'}]
    assert names.pod_refs('shop/web-0, shop/web-1\n db-0\n', namespace='lab') == [
        {'name': 'web-0', 'namespace': 'shop'}, {'name': 'web-1', 'namespace': 'shop'},
        {'name': 'db-0', 'namespace': 'lab'}]
    assert names.pod_refs(None) == [] and names.pod_refs('') == []


@pytest.mark.parametrize('ref', ['Shop/web-0', 'shop/web_0', 'shop/'])
def test_pod_refs_names_a_bad_reference(ref):
    with pytest.raises(AnsibleFilterError, match=re.escape(repr(ref))):
        names.pod_refs([ref])
