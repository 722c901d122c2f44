"""The built collection holds what a user needs and none of the test caches or dev harness.

`ansible-galaxy collection build` runs on a copy of the tree that has the caches a test run
leaves (.hypothesis, .pytest_cache, __pycache__, tests/output), and the tarball's file list
is checked.
"""

import os
import shutil
import subprocess
import sys
import tarfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GALAXY = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')


def build(tmp_path):
    tree = tmp_path / 'kubeovn' / 'mirror'
    # The live caches are left out (another test worker may be writing them) and planted.
    shutil.copytree(REPO, tree, symlinks=True,
                    ignore=shutil.ignore_patterns('.venv', '.git', 'build', '.hypothesis',
                                                  '.pytest_cache', '__pycache__'))
    for cache in ('.hypothesis/examples', 'tests/.hypothesis', '.pytest_cache/v',
                  'tests/output/junit', 'plugins/module_utils/__pycache__'):
        (tree / cache).mkdir(parents=True, exist_ok=True)
        (tree / cache / 'stale').write_text('cache\n')
    out = tmp_path / 'dist'
    subprocess.run([GALAXY, 'collection', 'build', '--output-path', str(out), str(tree)],
                   check=True, capture_output=True, text=True, timeout=120)
    tarballs = list(out.glob('kubeovn-mirror-*.tar.gz'))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(str(tarballs[0])) as archive:
        return sorted(name.rstrip('/') for name in archive.getnames())


def test_the_artifact_ships_no_caches_and_no_dev_harness(tmp_path):
    names = build(tmp_path)
    top = set(name.split('/')[0] for name in names)
    for unwanted in ('.hypothesis', '.pytest_cache', 'lab', 'bench', 'tools', 'build', '.venv',
                     'Makefile', 'pytest.ini', 'requirements-test.txt', '.git'):
        assert unwanted not in top, unwanted
    assert not [n for n in names if '/.hypothesis' in n or '__pycache__' in n
                or n.endswith('.pyc') or n.startswith('tests/output')
                or n.startswith(('tests/unit', 'tests/integration'))], names
    for needed in ('MANIFEST.json', 'FILES.json', 'README.md', 'COPYING', 'meta/runtime.yml',
                   'meta/execution-environment.yml', 'plugins/modules/ovn_mirror.py',
                   'plugins/filter/names.py', 'plugins/filter/attachment_provider.yml', 'roles/underlay_network/tasks/main.yml',
                   'playbooks/remote_mirror.yml', 'docs/kube_ovn_versions.md',
                   'tests/sanity/ignore-2.19.txt', 'changelogs/changelog.yaml',
                   'extensions/eda/plugins/event_source/pod_events.py',
                   'extensions/eda/rulebooks/follow_mirrors.yml', 'docs/follow_mirrors.md'):
        assert needed in names, needed


def test_galaxy_build_ignore_is_a_list_of_strings():
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        ignore = yaml.safe_load(handle)['build_ignore']
    assert all(isinstance(entry, str) for entry in ignore)
    assert '.hypothesis' in ignore and '*/.hypothesis' in ignore
