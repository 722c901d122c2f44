"""Write the layout of the repository into docs/development.md, one row a file, from the files'
own first lines (a docstring, a documentation block, a heading, a comment).

    python tools/docs_layout.py [--check] [DOC]      (make docs)

The rows go between the markers <!-- LAYOUT --> and <!-- /LAYOUT -->; the rest of the page is
left as written. Files are those git tracks, and the new ones it does not ignore, so a file added
or removed shows at the next run. --check changes nothing and exits 1 when the page is stale.
"""

import ast
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, 'docs', 'development.md')
BEGIN, END = '<!-- LAYOUT -->', '<!-- /LAYOUT -->'

# Listed file by file, in this order (a role as one row, tests by their top-level folders).
ROOTS = ['meta', 'plugins', 'roles', 'playbooks', 'extensions', 'examples', 'docs', 'lab',
         'tests', 'bench', 'tools']
# Rows of the top-level files, and of what says nothing about itself.
TOP_LEVEL = ['galaxy.yml', 'Makefile', 'requirements.txt', 'requirements-test.txt', 'bindep.txt',
             'pytest.ini', 'changelogs/']
KNOWN = {
    'changelogs/': 'Changelog fragments (antsibull-changelog): one file a change, in '
                   'changelogs/fragments/',
    'meta/runtime.yml': 'Supported ansible-core versions and the action group `ovn` '
                        '(module_defaults for the OVN modules)',
    'tests/unit/': 'Pure logic: the planners, filters, checks and generators, without daemons',
    'tests/integration/': 'Real ovsdb-server processes, a real control plane, the OVN lab, the '
                          'two-node cluster, and real ansible-playbook runs',
    'tests/sanity/': 'ansible-test sanity: its ignore files and pip bootstrap',
    'tools/__init__.py': 'Makes tools/ importable (by the tests and bench/)',
    'tests/conftest.py': 'What every test session shares: lab/ and tools/ importable, and '
                         'MACHINE_WIDE_FIXTURES (a test using one is marked serial)',
    'galaxy.yml': "The collection's metadata, and what its artifact ships",
    'pytest.ini': "pytest's test paths and markers (kube, both_ovn, one_ovn, serial)",
    'examples/awx/requirements.yml': 'The collections the AWX execution environment installs',
    'examples/eda/requirements.yml': 'The collections the EDA decision environment installs',
}
# A role's usual files: the role's row stands for them; any other file gets a row of its own.
# (Kept in step with the sentence above the markers in docs/development.md.)
ROLE_SKELETON = {'README.md', 'defaults/main.yml', 'meta/main.yml', 'meta/argument_specs.yml',
                 'tasks/main.yml', 'vars/main.yml'}
MAX_WORDS = 40


def repo_files():
    """Tracked files and untracked ones git does not ignore, that exist now."""
    out = subprocess.run(['git', '-C', REPO, 'ls-files', '--cached', '--others',
                          '--exclude-standard'], capture_output=True, text=True, check=True)
    return sorted(path for path in set(out.stdout.split('\n'))
                  if path and os.path.isfile(os.path.join(REPO, path)))


def first_sentence(text):
    """The first sentence of the first paragraph, on one line (a line ending with ":", which
    introduces an example, ends it too)."""
    paragraph = []
    for line in re.split(r'\n\s*\n', text.strip())[0].splitlines():
        paragraph.append(line)
        if line.rstrip().endswith(':'):
            break
    line = ' '.join(' '.join(paragraph).split())
    match = re.search(r'(?<![ .]e\.g)(?<!i\.e)\.(\s|$)', line)
    if match:
        line = line[:match.start()]
    words = line.split(' ')
    if len(words) > MAX_WORDS:
        line = ' '.join(words[:MAX_WORDS]) + ' ...'
    return line.rstrip(':').strip()


def comment_block(text, skip_code=False):
    """The first block of # comments (after a shebang, a copyright header or `---`; with
    skip_code, after any code too)."""
    block = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith('#!') or stripped == '---' or \
                (stripped.startswith('#') and re.search(r'Copyright|GNU General|-\*- coding', line)):
            if block:
                break
            continue
        if stripped.startswith('#'):
            block.append(stripped.lstrip('#').strip())
        elif block or (stripped and not skip_code):
            break
    return '\n'.join(block)


def documented(data):
    """short_description of an Ansible DOCUMENTATION block, with what it documents."""
    doc = data.get('DOCUMENTATION') if isinstance(data, dict) else None
    if isinstance(doc, str):
        try:
            doc = yaml.safe_load(doc)
        except yaml.YAMLError:
            # a block that is not YAML (yet): its top-level keys read line by line
            doc = dict(re.findall(r'^(name|module|short_description):[ \t]*(.+)$', doc, re.M))
    if isinstance(doc, dict) and doc.get('short_description'):
        name = doc.get('name') or doc.get('module')
        return ('`%s`: %s' % (name, doc['short_description'])) if name else doc['short_description']
    return None


def python_description(text):
    tree = ast.parse(text)
    docstring = ast.get_docstring(tree)
    if docstring:
        return first_sentence(docstring)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                getattr(target, 'id', None) == 'DOCUMENTATION' for target in node.targets) \
                and isinstance(node.value, ast.Constant):
            found = documented({'DOCUMENTATION': node.value.value})
            if found:
                return found
    # the first comment after the header, wherever it stands (a doc fragment's, in its class)
    body = re.sub(r'(?s)^.*?__metaclass__ = type\n', '', text)
    comments = comment_block(body, skip_code=True)
    return first_sentence(comments) if comments else None


def description(path, text):
    if path in KNOWN:
        return KNOWN[path]
    if path.endswith('.py'):
        return python_description(text)
    if path.endswith('.md'):
        heading = re.search(r'^#+\s*(.+)$', text, re.M)
        heading = heading.group(1).strip() if heading else None
        if heading and path.startswith('docs/reference/'):
            return heading + ', generated by `make docs` (tools/docs_reference.py)'
        return heading
    if path.endswith(('.yml', '.yaml')) and 'DOCUMENTATION' in text:
        try:
            found = documented(yaml.safe_load(text))
        except yaml.YAMLError:
            found = None
        if found:
            return found
    if path.endswith('.j2'):
        line = text.strip().splitlines()[0] if text.strip() else ''
        return 'Template, opening: ' + line.lstrip('# ')
    comments = comment_block(text)
    return first_sentence(comments) if comments else None


def role_row(role):
    specs = os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml')
    text = 'Role `kubeovn.mirror.%s`' % role
    if os.path.exists(specs):
        with open(specs) as handle:
            main = (yaml.safe_load(handle) or {}).get('argument_specs', {}).get('main', {})
        if main.get('short_description'):
            text += ': ' + main['short_description']
    return text


def rows(files):
    """(path, description) for every file under ROOTS, in order."""
    found = [(path, description(path, read(path))) for path in TOP_LEVEL if path in files
             or path.endswith('/')]
    for root in ROOTS:
        done = set()
        for path in files:
            if not path.startswith(root + '/'):
                continue
            parts = path.split('/')
            if root == 'roles':
                role_path = '/'.join(parts[2:])
                if parts[1] not in done:
                    done.add(parts[1])
                    found.append(('roles/%s/' % parts[1], role_row(parts[1])))
                if role_path in ROLE_SKELETON:
                    continue
            elif root == 'tests' and len(parts) > 2:
                folder = 'tests/%s/' % parts[1]
                if folder not in done:
                    done.add(folder)
                    found.append((folder, KNOWN.get(folder) or description_of_folder(folder)))
                continue
            found.append((path, description(path, read(path))))
    return found


def description_of_folder(folder):
    readme = os.path.join(REPO, folder, 'README.md')
    return description(folder + 'README.md', read(folder + 'README.md')) \
        if os.path.exists(readme) else None


def read(path):
    full = os.path.join(REPO, path)
    if not os.path.isfile(full):
        return ''
    with open(full, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def table(found):
    lines = ['| path | what it is |', '|---|---|']
    for path, text in found:
        text = (text or '(says nothing about itself: give it a docstring or a first comment)')
        lines.append('| `%s` | %s |' % (path, text.replace('|', '\\|')))
    return '\n'.join(lines)


def render(page, found):
    if BEGIN not in page or END not in page:
        raise SystemExit('%s has no %s ... %s markers' % (DOC, BEGIN, END))
    head, rest = page.split(BEGIN, 1)
    dummy, tail = rest.split(END, 1)
    return '%s%s\n%s\n%s%s' % (head, BEGIN, table(found), END, tail)


def main(argv):
    check = '--check' in argv
    args = [arg for arg in argv if arg != '--check']
    doc = args[0] if args else DOC
    with open(doc, encoding='utf-8') as handle:
        page = handle.read()
    found = rows(repo_files())
    new = render(page, found)
    silent = [path for path, text in found if not text]
    for path in silent:
        print('docs_layout: %s says nothing about itself' % path, file=sys.stderr)
    if check:
        if new != page:
            print('%s: the layout is stale; run make docs' % doc, file=sys.stderr)
            return 1
        return 0
    if new != page:
        with open(doc, 'w', encoding='utf-8') as handle:
            handle.write(new)
    print('%s: %d rows' % (doc, len(found)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
