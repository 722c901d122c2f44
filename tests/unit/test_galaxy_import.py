"""tools/galaxy_import.py accepts only a clean pass of galaxy-importer (which exits 0 even
when its ansible-lint finds something)."""

from tools.galaxy_import import problems

CLEAN = """Importing with galaxy-importer 0.4.44
Getting doc strings via ansible-doc
Linting collection via ansible-lint 26.10.1...
...ansible-lint run complete
WARNING: Ignore files skip ansible-test sanity tests, found ignore-2.19.txt with 3 statement(s)
Collection loading complete
Importer processing completed successfully
"""
LINT_FINDING = CLEAN.replace(
    '...ansible-lint', 'WARNING: playbooks/expire.yml:27:7: syntax-check[unknown-module]: '
    "couldn't resolve module/action 'kubernetes.core.k8s'.\n...ansible-lint")
REFUSED = ('Importing with galaxy-importer 0.4.44\nERROR: The import failed for the following '
           "reason: Invalid collection metadata. 'repository' is required\n")


def test_a_clean_pass_is_accepted():
    assert problems(CLEAN) == []


def test_an_ansible_lint_finding_is_not():
    assert problems(LINT_FINDING) == [LINT_FINDING.splitlines()[3]]


def test_a_refused_artifact_is_not():
    assert problems(REFUSED) == [REFUSED.splitlines()[1],
                                 '(the importer did not report success)']
