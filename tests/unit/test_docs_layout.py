"""docs/development.md's layout is generated from the files themselves; it must list every
file and say what each is."""

from tools.docs_layout import DOC, render, repo_files, rows


def test_committed_layout_lists_every_file_as_it_describes_itself():
    with open(DOC, encoding='utf-8') as handle:
        page = handle.read()
    found = rows(repo_files())
    assert render(page, found) == page, 'docs/development.md layout is stale: run `make docs`'
    assert [path for path, text in found if not text] == []
