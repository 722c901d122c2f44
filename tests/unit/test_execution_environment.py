"""The AWX execution environment files: valid for ansible-builder, and complete.

No container engine here, so nothing is built; `ansible-builder create` writes the build
context (Containerfile and the requirement files it will install), which is checked.
"""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys

import yaml
from ansible_builder.ee_schema import validate_schema
from ansible_builder._target_scripts.introspect import process_collection

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION_EE = os.path.join(REPO, 'meta', 'execution-environment.yml')
AWX_EE = os.path.join(REPO, 'examples', 'awx', 'execution-environment.yml')
DECISION_ENV = os.path.join(REPO, 'examples', 'eda', 'decision-environment.yml')


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def requirement_names(path):
    names = set()
    with open(path) as handle:
        for line in handle:
            line = line.split('#')[0].strip()
            if line:
                names.add(canonical(re.split(r'[<>=!~;\[ ]', line)[0]))
    return names


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def test_both_definitions_pass_ansible_builders_schema():
    for path in (COLLECTION_EE, AWX_EE, DECISION_ENV):
        definition = load(path)
        assert definition['version'] == 3
        validate_schema(definition)


def test_builder_introspection_finds_our_python_and_system_requirements():
    python, system = process_collection(REPO)
    assert {canonical(re.split(r'[<>=]', line)[0]) for line in python} == \
        requirement_names(os.path.join(REPO, 'requirements.txt'))
    assert any(line.startswith('gcc') for line in system)


def test_every_third_party_import_of_the_plugins_is_in_requirements_txt():
    imported = set()
    for root, dummy, files in [entry for top in ('plugins', 'extensions')
                               for entry in os.walk(os.path.join(REPO, top))]:
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(root, name)) as handle:
                    tree = ast.parse(handle.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        imported.update(alias.name.split('.')[0] for alias in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        imported.add(node.module.split('.')[0])
    third_party = sorted(name for name in imported
                         if name not in sys.stdlib_module_names
                         and name not in ('ansible', 'ansible_collections', '__future__'))
    assert third_party, 'the plugins import no third-party library? %s' % sorted(imported)
    distributions = importlib.metadata.packages_distributions()
    required = requirement_names(os.path.join(REPO, 'requirements.txt'))
    missing = [(module, distributions.get(module)) for module in third_party
               if not {canonical(d) for d in distributions.get(module, [module])} & required]
    assert missing == [], 'imported by plugins/ but not in requirements.txt: %s' % missing


def builder_context(definition, tmp_path):
    """`ansible-builder create` of `definition`: the build context's directory."""
    context = tmp_path / 'context'
    builder = os.path.join(os.path.dirname(sys.executable), 'ansible-builder')
    proc = subprocess.run([builder, 'create', '-f', definition, '-c', str(context),
                           '--output-filename', 'Containerfile'],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return context


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = builder_context(AWX_EE, tmp_path)
    containerfile = (context / 'Containerfile').read_text()
    assert 'quay.io/centos/centos:stream9' in containerfile
    assert 'ansible-galaxy collection install' in containerfile or \
        'install-from-bindep' in containerfile
    galaxy = load(str(context / '_build' / 'requirements.yml'))
    assert 'kubernetes.core' in [c['name'] for c in galaxy['collections']]


def test_ansible_builder_creates_the_decision_environment(tmp_path):
    """The rulebook's decision environment: ansible-rulebook, a Java 17 runtime, this
    collection (with its Python requirements) and kubernetes.core."""
    context = builder_context(DECISION_ENV, tmp_path)
    containerfile = (context / 'Containerfile').read_text()
    assert 'JAVA_HOME=/usr/lib/jvm/jre-17-openjdk' in containerfile
    python = (context / '_build' / 'requirements.txt').read_text()
    bindep = (context / '_build' / 'bindep.txt').read_text()
    assert 'ansible-rulebook' in python and 'java-17-openjdk-headless' in bindep
    galaxy = load(str(context / '_build' / 'requirements.yml'))
    assert [c['name'] for c in galaxy['collections']] == ['kubernetes.core',
                                                          'kubeovn-mirror-0.1.0.tar.gz']
