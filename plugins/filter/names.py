# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names the roles share, computed in one place: the attachment provider and the owner marker."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter is documented in its sidecar file (attachment_provider.yml, owner_marker.yml,
# marked_owner.yml, owner_marker_key.yml).

from ansible.errors import AnsibleFilterError

# The one import of the owner marker; when the constant moves, only this line changes.
from ansible_collections.kubeovn.mirror.plugins.module_utils.naming import OWNER_KEY


def attachment_provider(nad, namespace='default'):
    if not nad or not namespace:
        raise AnsibleFilterError('attachment_provider needs a NetworkAttachmentDefinition name '
                                 'and namespace (got %r, %r)' % (nad, namespace))
    return '%s.%s.ovn' % (nad, namespace)


def owner_marker(owner):
    """external_ids marking a mirror as written for `owner`."""
    return {OWNER_KEY: str(owner)}


def marked_owner(external_ids):
    """The owner a mirror's external_ids name, or None."""
    return (external_ids or {}).get(OWNER_KEY)


def owner_marker_key(dummy=None):
    """The marker's key, for messages."""
    return OWNER_KEY


class FilterModule(object):
    def filters(self):
        return {'attachment_provider': attachment_provider, 'owner_marker': owner_marker,
                'marked_owner': marked_owner, 'owner_marker_key': owner_marker_key}
