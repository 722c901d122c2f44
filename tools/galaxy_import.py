"""`make galaxy-import`: Galaxy's importer on the artifact `ansible-galaxy collection build`
makes, as Galaxy runs it on an upload, and nothing but a clean pass accepted.

galaxy-importer exits 0 even when ansible-lint finds something; it logs each finding as a
warning between "Linting collection" and "...ansible-lint run complete". This fails on any of
them, and on any warning but the one the importer gives every collection that ships
tests/sanity ignore files (ours: yamllint on three multi-document manifests).

Usage: python tools/galaxy_import.py IMPORTER_VENV
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ARTIFACTS = os.path.join(REPO, 'build', 'galaxy')
ALLOWED_WARNING = 'WARNING: Ignore files skip ansible-test sanity tests'


def build():
    """The artifact, built afresh; its path."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    for old in glob.glob(os.path.join(ARTIFACTS, '*.tar.gz')):
        os.unlink(old)
    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy'),
                    'collection', 'build', '--output-path', ARTIFACTS, REPO], check=True,
                   stdout=subprocess.DEVNULL)
    return glob.glob(os.path.join(ARTIFACTS, '*.tar.gz'))[0]


def problems(output):
    """The lines of the importer's output that are not a clean pass."""
    found = [line for line in output.splitlines()
             if line.startswith(('WARNING', 'ERROR')) and not line.startswith(ALLOWED_WARNING)]
    if 'Importer processing completed successfully' not in output:
        found.append('(the importer did not report success)')
    return found


def main(importer_venv):
    artifact = build()
    bindir = os.path.join(os.path.abspath(importer_venv), 'bin')
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=os.path.join(HERE, 'galaxy-importer.cfg'),
               PATH=bindir + os.pathsep + os.environ['PATH'])
    for variable in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS'):
        env.pop(variable, None)
    proc = subprocess.run([os.path.join(bindir, 'python'), '-m', 'galaxy_importer.main',
                           artifact], env=env, cwd=ARTIFACTS, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    found = problems(proc.stdout)
    if proc.returncode or found:
        sys.exit('galaxy-importer on %s (rc=%d):\n%s\n\nNot a clean pass:\n%s' % (
            os.path.relpath(artifact, REPO), proc.returncode, proc.stdout,
            '\n'.join(found)))
    print('galaxy-importer passed on %s: metadata, docs and ansible-lint clean'
          % os.path.relpath(artifact, REPO))


if __name__ == '__main__':
    main(sys.argv[1])
