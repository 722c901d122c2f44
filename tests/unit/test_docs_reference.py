"""docs/reference is generated from the modules' and roles' own docs; it must not be stale."""

import os

from tools.docs_reference import REPO, generate


def test_committed_reference_matches_the_plugins_docs(tmp_path):
    for name in generate(str(tmp_path)):
        with open(os.path.join(REPO, 'docs', 'reference', name)) as committed:
            assert committed.read() == (tmp_path / name).read_text(), \
                'docs/reference/%s is stale: run `make docs`' % name


def test_reference_covers_every_module_and_role(tmp_path):
    generate(str(tmp_path))
    modules = (tmp_path / 'modules.md').read_text()
    roles = (tmp_path / 'roles.md').read_text()
    for name in os.listdir(os.path.join(REPO, 'plugins', 'modules')):
        if name.endswith('.py'):
            assert '## kubeovn.mirror.%s\n' % name[:-3] in modules
    for name in os.listdir(os.path.join(REPO, 'roles')):
        assert '## kubeovn.mirror.%s (role)' % name in roles
