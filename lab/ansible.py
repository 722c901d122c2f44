"""Running this collection's modules through real ansible-playbook runs."""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

from tools.collection import REPO, ensure_collection_link


def ansible_env(extra=None):
    """The environment of an ansible run: ours, the collection found here, the JSON callback,
    then `extra` (a None value unsets that variable)."""
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': ensure_collection_link(),
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
    })
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def task(module, args, **keywords):
    """A task calling `kubeovn.mirror.<module>` (or an FQCN) that never stops the play."""
    name = module if '.' in module else 'kubeovn.mirror.' + module
    body = {'name': keywords.pop('name', name), name: args, 'ignore_errors': True}
    body.update(keywords)
    return body


def _run_play(tasks, workdir, check=False, diff=False, env=None, timeout=300, play=None,
              verbosity=0):
    """ansible-playbook on `tasks` in one play on localhost: the finished process."""
    play_doc = {'hosts': 'localhost', 'gather_facts': False, 'connection': 'local',
                'vars': {'ansible_python_interpreter': sys.executable}, 'tasks': tasks}
    play_doc.update(play or {})
    fd, path = tempfile.mkstemp(prefix='play-', suffix='.yml', dir=str(workdir))
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump([play_doc], handle, sort_keys=False)
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), path,
           '-i', 'localhost,']
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    # The exit code is not checked: failed tasks are part of what the tests assert.
    return subprocess.run(cmd, env=ansible_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _report(proc):
    """The JSON callback's report, printed last (after what -v prints)."""
    start = re.search(r'^\{$', proc.stdout, re.M)
    try:
        return json.loads(proc.stdout[start.start():])
    except (AttributeError, ValueError):
        raise AssertionError('ansible-playbook printed no JSON (rc=%s):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def _task_results(proc):
    return [entry['hosts']['localhost'] for entry in _report(proc)['plays'][0]['tasks']]


def run_playbook(tasks, workdir, check=False, diff=False, env=None, timeout=300, play=None):
    """Run `tasks` in one play on localhost; return each task's result dict, in order."""
    return _task_results(_run_play(tasks, workdir, check, diff, env, timeout, play))


def run_playbook_verbose(tasks, workdir, verbosity=3, **options):
    """run_playbook at -v * `verbosity`: each task's result dict, and everything
    ansible-playbook printed (stdout and stderr)."""
    proc = _run_play(tasks, workdir, verbosity=verbosity, **options)
    return _task_results(proc), proc.stdout + proc.stderr


def run_module(module, args, workdir, **options):
    """One task; its result dict."""
    return run_playbook([task(module, args)], workdir, **options)[0]


def playbook_command(playbook, inventory=None, var_files=(), extra_vars=None, check=False,
                     diff=False):
    """ansible-playbook argv for one of this collection's playbooks (path from the repo)."""
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
           os.path.join(REPO, playbook)]
    if inventory:
        cmd += ['-i', inventory]
    for path in var_files:
        cmd += ['-e', '@' + path]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    return cmd


class PlaybookRun:
    """The outcome of a playbook run: exit code, per-host stats and every task result."""

    def __init__(self, proc, report):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.stats = report.get('stats', {})
        self.tasks = [dict(result, task=entry['task']['name'], host=host)
                      for play in report.get('plays', []) for entry in play['tasks']
                      for host, result in entry['hosts'].items()]

    @property
    def changed(self):
        return sum(stats.get('changed', 0) for stats in self.stats.values())

    @property
    def failures(self):
        return [(t['task'], t.get('msg')) for t in self.tasks
                if t.get('failed') and not t.get('ignore_errors')]

    def result(self, task_name):
        """The (last) result of the task named `task_name` (a role's tasks are named
        `<role> : <name>`)."""
        matches = [t for t in self.tasks
                   if t['task'] == task_name or t['task'].endswith(' : ' + task_name)]
        assert matches, 'no task %r in %s' % (task_name, [t['task'] for t in self.tasks])
        return matches[-1]


def run_collection_playbook(playbook, env=None, timeout=600, **options):
    """Run playbooks/<name>.yml (see playbook_command) with the JSON callback."""
    proc = subprocess.run(playbook_command(playbook, **options), env=ansible_env(env),
                          capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(proc, _report(proc))
