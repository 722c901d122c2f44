"""Jobs run the way AWX runs them: docs/awx.md's job templates (examples/awx/awx.yml) through
ansible-runner, with what AWX puts around a job.

For each job AWX makes a private data directory and hands it to ansible-runner (read in AWX's
source: awx/main/tasks/jobs.py, awx/main/models/credential/injectors.py):
- `project/`: the project's checkout; here the project docs/awx.md sets up, this repository;
- `inventory/hosts`: a script printing the inventory as JSON, group and host variables
  included (AWX imports a Git inventory's group_vars into its database);
- `env/extravars`: the job template's extra variables, the survey answers (each a string, as a
  survey's text and textarea answers are), the credentials' `extra_vars` injectors and AWX's
  `awx_*` variables;
- `env/envvars`: AWX's job environment and the credentials' `env` injectors. The built-in
  "OpenShift or Kubernetes API Bearer Token" credential sets K8S_AUTH_HOST, K8S_AUTH_API_KEY
  and K8S_AUTH_VERIFY_SSL, and writes its CA certificate to a 0600 file in `env/` named by
  K8S_AUTH_SSL_CA_CERT. A custom type's `file` injectors are 0600 files whose paths its
  templates read as `tower.filename.<name>`;
- the job type `check` and "Show Changes" become `--check` and `--diff`.
The execution environment has the collection installed: here ANSIBLE_COLLECTIONS_PATH names
this checkout (tools/collection.py). Nothing else of the test's environment reaches the job:
no kubeconfig, and HOME an empty directory.
"""

import glob
import json
import os
import stat
import subprocess
import sys
import tempfile

import jinja2
import yaml

from tools.collection import REPO, ensure_collection_link

AWX_OBJECTS = os.path.join(REPO, 'examples', 'awx', 'awx.yml')
# The environment AWX gives every job, besides the credentials'.
JOB_ENV = {'ANSIBLE_FORCE_COLOR': 'True', 'ANSIBLE_HOST_KEY_CHECKING': 'False',
           'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'True',
           'ANSIBLE_PARAMIKO_RECORD_HOST_KEYS': 'False', 'ANSIBLE_RETRY_FILES_ENABLED': 'False',
           'JOB_ID': '1', 'INVENTORY_ID': '1', 'PROJECT_REVISION': ''}


def awx_objects():
    """examples/awx/awx.yml: the credential types and job templates docs/awx.md describes."""
    with open(AWX_OBJECTS) as handle:
        return yaml.safe_load(handle)


def job_template(name):
    for template in awx_objects()['kubeovn_mirror_awx_job_templates']:
        if template['name'] == name:
            return template
    raise LookupError('no job template %r in %s' % (name, AWX_OBJECTS))


def _private_file(directory, content):
    """A 0600 file in `directory` holding `content`, as AWX writes a credential's files."""
    handle, path = tempfile.mkstemp(dir=directory)
    with os.fdopen(handle, 'w') as out:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        out.write(content)
    return path


class BearerTokenCredential:
    """AWX's built-in "OpenShift or Kubernetes API Bearer Token" credential."""

    def __init__(self, host, bearer_token, ssl_ca_cert=None, verify_ssl=True):
        self.inputs = dict(host=host, bearer_token=bearer_token, ssl_ca_cert=ssl_ca_cert,
                           verify_ssl=verify_ssl)

    def inject(self, env, extra_vars, env_dir):
        env['K8S_AUTH_HOST'] = self.inputs['host']
        env['K8S_AUTH_API_KEY'] = self.inputs['bearer_token']
        if self.inputs['verify_ssl'] and self.inputs['ssl_ca_cert']:
            env['K8S_AUTH_VERIFY_SSL'] = 'True'
            env['K8S_AUTH_SSL_CA_CERT'] = _private_file(env_dir, self.inputs['ssl_ca_cert'])
        else:
            env['K8S_AUTH_VERIFY_SSL'] = 'False'


class CustomCredential:
    """A credential of one of examples/awx/awx.yml's custom credential types: its injectors
    rendered with its inputs as AWX renders them (Jinja2, files first)."""

    def __init__(self, type_name, **inputs):
        types = dict((kind['name'], kind)
                     for kind in awx_objects()['kubeovn_mirror_awx_credential_types'])
        self.injectors = types[type_name]['injectors']
        self.inputs = inputs

    def inject(self, env, extra_vars, env_dir):
        templates = jinja2.Environment(undefined=jinja2.StrictUndefined)
        values = dict(self.inputs)
        filenames = {}
        for key, template in self.injectors.get('file', {}).items():
            filenames[key.split('.', 1)[1]] = _private_file(
                env_dir, templates.from_string(template).render(**values))
        values['tower'] = values['awx'] = {'filename': filenames}
        for target, section in ((env, 'env'), (extra_vars, 'extra_vars')):
            for key, template in self.injectors.get(section, {}).items():
                target[key] = templates.from_string(template).render(**values)


class AwxJob:
    """One launch of a job template: its private data directory, run by ansible-runner."""

    def __init__(self, workdir, template, inventory, credentials=(), survey=None,
                 job_type=None, extra_vars=None, verbosity=0):
        self.dir = tempfile.mkdtemp(prefix='awx-job-', dir=str(workdir))
        self.template = job_template(template) if isinstance(template, str) else template
        self.inventory = inventory
        self.credentials = credentials
        self.survey = self._survey_answers(survey or {})
        self.job_type = job_type or self.template.get('job_type', 'run')
        self.extra_vars = extra_vars or {}
        self.verbosity = verbosity

    def _survey_answers(self, answers):
        """Each question's answer, or its default, typed as AWX passes it: integer and float
        questions give numbers, every other kind a string."""
        typed = {}
        for question in (self.template.get('survey_spec') or {}).get('spec', []):
            variable = question['variable']
            if variable not in answers and 'default' not in question:
                continue
            answer = answers.get(variable, question.get('default'))
            kind = {'integer': int, 'float': float}.get(question['type'], str)
            typed[variable] = kind(answer)
        unknown = set(answers) - set(typed)
        if unknown:
            raise ValueError('the survey of %r asks no %s'
                             % (self.template['name'], sorted(unknown)))
        return typed

    def _prepare(self):
        env_dir = os.path.join(self.dir, 'env')
        os.makedirs(env_dir)
        os.makedirs(os.path.join(self.dir, 'inventory'))
        os.symlink(REPO, os.path.join(self.dir, 'project'))
        home = os.path.join(self.dir, 'home')
        os.makedirs(home)
        env = dict(JOB_ENV, HOME=home)
        extra_vars = dict(yaml.safe_load(self.template.get('extra_vars') or '{}') or {})
        extra_vars.update(self.extra_vars)
        extra_vars.update(self.survey)
        for credential in self.credentials:
            credential.inject(env, extra_vars, env_dir)
        extra_vars.update(awx_job_id=1, awx_job_template_name=self.template['name'],
                          awx_job_launch_type='manual')
        for name, content in (('envvars', env), ('extravars', extra_vars)):
            with open(os.path.join(env_dir, name), 'w') as handle:
                json.dump(content, handle)
        script = os.path.join(self.dir, 'inventory', 'hosts')
        with open(script, 'w') as handle:
            handle.write('#!%s\nprint(%r)\n' % (sys.executable, json.dumps(self.inventory)))
        os.chmod(script, 0o700)
        return env

    def run(self, timeout=600):
        """Run the job; an AwxJobRun."""
        env = self._prepare()
        cmdline = []
        if self.job_type == 'check':
            cmdline.append('--check')
        if self.template.get('diff_mode'):
            cmdline.append('--diff')
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-runner'), 'run',
                   self.dir, '--playbook', self.template['playbook'], '--ident', 'job']
        if cmdline:
            command.append('--cmdline=' + ' '.join(cmdline))
        if self.verbosity:
            command.append('-' + 'v' * self.verbosity)
        # Only what an execution environment has: PATH, the collection, the runner's own.
        process_env = {'PATH': os.pathsep.join([os.path.dirname(sys.executable),
                                                os.environ['PATH']]), 'LANG': 'C.UTF-8',
                       'ANSIBLE_COLLECTIONS_PATH': ensure_collection_link(),
                       'HOME': env['HOME']}
        proc = subprocess.run(command, env=process_env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return AwxJobRun(self.dir, proc)


class AwxJobRun:
    """What the job did: its status, every task result (from the job events ansible-runner
    records, as AWX shows them) and its whole output."""

    def __init__(self, private_dir, proc):
        artifacts = os.path.join(private_dir, 'artifacts', 'job')
        self.rc = proc.returncode
        with open(os.path.join(artifacts, 'status')) as handle:
            self.status = handle.read().strip()
        with open(os.path.join(artifacts, 'stdout')) as handle:
            self.stdout = handle.read()
        self.output = '\n'.join((proc.stdout, proc.stderr, self.stdout))
        self.events = []
        for path in glob.glob(os.path.join(artifacts, 'job_events', '*.json')):
            with open(path) as handle:
                self.events.append(json.load(handle))
            self.output += '\n' + json.dumps(self.events[-1])
        self.events.sort(key=lambda event: event.get('counter', 0))
        self.tasks = [dict(event['event_data'].get('res') or {},
                           task=event['event_data'].get('task'), event=event['event'],
                           ignored=event['event_data'].get('ignore_errors'))
                      for event in self.events
                      if event['event'] in ('runner_on_ok', 'runner_on_failed',
                                            'runner_item_on_ok', 'runner_item_on_failed')]

    def __repr__(self):
        return 'AwxJobRun(%s, failures=%r, output ends:\n%s)' % (
            self.status, self.failures, self.stdout[-3000:])

    @property
    def changed(self):
        return [t['task'] for t in self.tasks
                if t.get('changed') and t['event'] in ('runner_on_ok', 'runner_on_failed')]

    @property
    def failures(self):
        return [(t['task'], t.get('msg')) for t in self.tasks
                if t['event'] == 'runner_on_failed' and not t['ignored']]

    def result(self, task_name):
        found = [t for t in self.tasks if t['event'] in ('runner_on_ok', 'runner_on_failed')
                 and (t['task'] == task_name or t['task'].endswith(' : ' + task_name))]
        assert found, 'no task %r in %s' % (task_name, [t['task'] for t in self.tasks])
        return found[-1]
