"""Running the rulebook kubeovn.mirror.follow_mirrors with ansible-rulebook, as a user would,
and reading what it did."""

import os
import signal
import subprocess
import sys
import threading

import yaml

from lab.ansible import ansible_env
from lab.daemons import descendants, running, wait_until

RULEBOOK = 'kubeovn.mirror.follow_mirrors'
CONVERGE_PLAY = 'PLAY [Converge OVN mirrors to the inventory]'
REPAIR_PLAY = 'PLAY [Repair OVN remote mirrors on the nodes]'


def write_inventory(workdir, group_vars):
    """A GitOps-style inventory directory: one cluster host (local) in group kubeovn."""
    inventory = os.path.join(str(workdir), 'inventory')
    os.makedirs(os.path.join(inventory, 'group_vars', 'kubeovn'))
    with open(os.path.join(inventory, 'hosts.yml'), 'w') as handle:
        yaml.safe_dump({'kubeovn': {'hosts': {'cluster': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}},
            handle)
    with open(os.path.join(inventory, 'group_vars', 'kubeovn', 'mirrors.yml'), 'w') as handle:
        yaml.safe_dump(group_vars, handle)
    return inventory


class Rulebook:
    """ansible-rulebook -r kubeovn.mirror.follow_mirrors in its own process group; every
    playbook it runs appends to `log` (ANSIBLE_LOG_PATH)."""

    def __init__(self, workdir, inventory, variables, env=None):
        workdir = str(workdir)
        self.log = os.path.join(workdir, 'playbooks.log')
        path = os.path.join(workdir, 'follow.yml')
        with open(path, 'w') as handle:
            yaml.safe_dump(variables, handle)
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-rulebook'),
                   '-r', RULEBOOK, '-i', inventory, '--vars', path]
        # ansible-rulebook finds ansible-galaxy and ansible-playbook on PATH (as after pip
        # install); the playbooks print their usual output into the log
        extra = dict(env or {})
        extra.update({'ANSIBLE_STDOUT_CALLBACK': 'default', 'ANSIBLE_LOG_PATH': self.log,
                      'PATH': os.path.dirname(sys.executable) + os.pathsep
                      + extra.get('PATH', os.environ.get('PATH', ''))})
        self.output_path = os.path.join(workdir, 'rulebook.out')
        with open(self.output_path, 'w') as output:
            self.proc = subprocess.Popen(command, cwd=workdir, env=ansible_env(extra),
                                         stdout=output, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self):
        with open(self.output_path, errors='replace') as handle:
            return handle.read()

    def log_text(self):
        """What the playbooks it ran printed so far."""
        try:
            with open(self.log, errors='replace') as handle:
                return handle.read()
        except FileNotFoundError:
            return ''

    def runs(self, play=CONVERGE_PLAY):
        """How many times the rulebook ran the playbook of `play` so far."""
        return self.log_text().count(play)

    def wait(self, timeout):
        """Its exit status (it exits by itself only when it fails)."""
        return self.proc.wait(timeout)

    def stop(self):
        """SIGINT (as Ctrl-C), then SIGKILL the group if it lingers. ansible-runner starts each
        playbook in a session of its own, which outlives the rulebook: one of those still
        running 30 s after the rulebook stopped is SIGKILLed. Returns the pids of its process
        group, and of the processes it had started, still alive afterwards (none expected)."""
        started = descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        left = subprocess.run(['pgrep', '-g', str(self.proc.pid)], capture_output=True,
                              text=True, check=False)     # pgrep exits 1 when none is left
        try:
            wait_until(lambda: not any(running(pid) for pid in started), 30,
                       'the playbooks the rulebook started ending', interval=0.2)
        except TimeoutError:
            pass
        stray = [pid for pid in started if running(pid)]
        for pid in stray:
            os.kill(pid, signal.SIGKILL)
        return sorted(set(left.stdout.split()) | set(str(pid) for pid in stray))


def pod_events():
    """The event source module (the collection is on sys.path in the tests)."""
    from ansible_collections.kubeovn.mirror.extensions.eda.plugins.event_source import (
        pod_events as source)
    return source


class Following:
    """kubeovn.mirror.pod_events' followers for `selectors`, each in a thread as its main()
    runs them, their events collected in `events` (without ansible-rulebook's queue)."""

    def __init__(self, kubeconfig, selectors, **args):
        source = pod_events()
        self.events = []
        self.stop = threading.Event()
        checked = source.check_args(dict(args, selectors=selectors, kubeconfig=kubeconfig,
                                         watch_timeout=args.get('watch_timeout', 10),
                                         backoff_max=args.get('backoff_max', 2)))
        self.followers = source.followers(checked, self.events.append, self.stop)
        self.threads = []

    def start(self, listed=True):
        for follower in self.followers:
            thread = threading.Thread(target=follower.run, daemon=True)
            thread.start()
            self.threads.append(thread)
        if listed:
            wait_until(lambda: all(f.listed.is_set() for f in self.followers), 30,
                       'the source listed the pods', interval=0.1)
        return self

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(20)
        assert not any(thread.is_alive() for thread in self.threads)

    def wait_for(self, **wanted):
        """The first event carrying `wanted`, within 30 s."""
        def found():
            return [event for event in self.events
                    if all(event.get(key) == value for key, value in wanted.items())]
        wait_until(found, 30, 'an event %r' % (wanted,), interval=0.1)
        return found()[0]

    def changes(self, name):
        return [(event['change'], event['addressed'], event['ready']) for event in self.events
                if event.get('name') == name]


class Sourcing:
    """kubeovn.mirror.pod_events' main() as ansible-rulebook runs it (an asyncio task in its
    own thread here), every event it puts on the queue collected in `events` as
    (time.monotonic(), event) pairs."""

    def __init__(self, kubeconfig, selectors, **args):
        import asyncio
        self.asyncio = asyncio
        self.source = pod_events()
        self.args = dict(args, selectors=selectors, kubeconfig=kubeconfig)
        self.args.setdefault('cni', False)
        self.events = []
        self.loop = self.task = self.thread = None
        self.failure = None

    def put_nowait(self, event):
        import time
        self.events.append((time.monotonic(), event['kubeovn_mirror']))

    async def put(self, event):
        self.put_nowait(event)

    def _run(self):
        self.loop = self.asyncio.new_event_loop()
        self.task = self.loop.create_task(self.source.main(self, self.args))
        try:
            self.loop.run_until_complete(self.task)
        except self.asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported by close()
            self.failure = exc
        finally:
            self.loop.close()

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.of_type('resync') or self.failure, 30, 'the start resync',
                   interval=0.1)
        return self

    def of_type(self, kind):
        return [(when, event) for when, event in self.events if event['type'] == kind]

    def close(self):
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(20)
        assert not self.thread.is_alive()
        assert self.failure is None, self.failure
