"""Where the collection lives for ansible: build/ansible_collections/kubeovn/mirror is a
symlink to this repository (its root is the collection)."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, 'build')


def ensure_collection_link():
    """build/ansible_collections/kubeovn/mirror -> the repository; returns the collections path."""
    parent = os.path.join(COLLECTIONS, 'ansible_collections', 'kubeovn')
    link = os.path.join(parent, 'mirror')
    os.makedirs(parent, exist_ok=True)
    if not os.path.islink(link):
        try:
            os.symlink(os.path.relpath(REPO, parent), link)
        except FileExistsError:     # another test worker made it first
            pass
    return COLLECTIONS
