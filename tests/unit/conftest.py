"""Unit tests import the collection as `ansible_collections.kubeovn.mirror` via build/."""

import os
import sys

from tools.collection import ensure_collection_link

sys.path.insert(0, ensure_collection_link())
os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', ensure_collection_link())
