"""The fixtures every test uses: a real gunicorn server and its coverage data.

Each server runs in its own temp directory (a copy of the example app, its
.coveragerc and the hook file), on a free port, with no control socket, and is
stopped by its pid when the test ends, whatever happened.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transcript import free_port

ROOT = Path(__file__).resolve().parent.parent
HOOK_FILE = ROOT / "hooks" / "gunicorn.conf.py"


def wait_until(condition, timeout=10.0, what="the condition"):
    """Poll `condition` until it returns something true; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def copy_example(directory):
    """Put the bundled example where a test can run it: app, .coveragerc, hooks."""
    shutil.copytree(ROOT / "example_app", directory / "example_app")
    shutil.copy(ROOT / ".coveragerc", directory / ".coveragerc")
    shutil.copy(HOOK_FILE, directory / "gunicorn.conf.py")


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; it only waits for its parent to read its status.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children_of(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class Server:
    """A gunicorn master with its workers, started by `start` below."""

    def __init__(self, directory, args, env):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "gunicorn.log"
        self.pid_file = directory / "gunicorn.pid"
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            "--pid", str(self.pid_file),
            "--no-control-socket",
            *args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.pid = self.process.pid
        self._seen_workers = set()

    # --- what tests do with a server -------------------------------------

    def curl(self, path, *options):
        """The real curl binary; returns the response body."""
        done = subprocess.run(
            ["curl", "--silent", "--show-error", "--fail", "--max-time", "10",
             *options, self.url + path],
            capture_output=True, text=True, timeout=15,
        )
        assert done.returncode == 0, f"curl {path}: {done.stderr}"
        return done.stdout

    def send(self, sig):
        os.kill(self.pid, sig)

    def workers(self):
        pids = children_of(self.pid)
        self._seen_workers.update(pids)
        return pids

    def wait_for_workers(self, count, timeout=15):
        return wait_until(
            lambda: w if len(w := self.workers()) == count and self.booted(w) else None,
            timeout, f"{count} booted workers",
        )

    def booted(self, pids):
        log = self.log()
        return all(f"Booting worker with pid: {pid}" in log for pid in pids)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def data_files(self):
        return sorted(p.name for p in self.directory.glob(".coverage.*"))

    def wait_for_data_files(self, count, timeout=10):
        return wait_until(
            lambda: f if len(f := self.data_files()) >= count else None,
            timeout, f"{count} data files in {self.directory}",
        )

    def coverage(self, *args):
        """Run the real coverage command line in the server's directory."""
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=self.directory, capture_output=True, text=True, timeout=60,
        )
        return done.stdout + done.stderr

    def report(self, *args):
        """`coverage report` for lib.py, as (statements, missed, percent)."""
        out = self.coverage("report", "--keep-combined", *args, "example_app/lib.py")
        for line in out.splitlines():
            if line.startswith("example_app/lib.py"):
                _, stmts, miss, cover, *_ = line.split()
                return int(stmts), int(miss), cover
        raise AssertionError(f"no lib.py line in the report:\n{out}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the master with `sig` and wait until it and its workers are gone."""
        self.workers()
        if self.process.poll() is None:
            self.send(sig)
        self.process.wait(timeout=timeout)
        wait_until(
            lambda: not any(process_exists(p) for p in self._seen_workers),
            timeout, "the workers to exit",
        )

    def kill_everything(self):
        """Teardown: whatever is left of this server, by pid."""
        for pid in [self.pid, *self.workers(), *self._seen_workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


@pytest.fixture
def example(tmp_path):
    """A temp directory holding the example app, its .coveragerc and the hook file."""
    copy_example(tmp_path)
    return tmp_path


@pytest.fixture
def start(example):
    """Start gunicorn with the hook file on the example app: start(*args, env=...).

    Waits until every worker has booted; stops every server at teardown.
    """
    servers = []

    def start_server(*args, env=None, workers=2, app="example_app.app:app", wait=True):
        environment = {**os.environ, **(env or {})}
        environment.pop("GUNICORN_CMD_ARGS", None)
        server = Server(
            example, ["-c", "gunicorn.conf.py", "--workers", str(workers), *args, app],
            environment,
        )
        servers.append(server)
        if wait:
            server.wait_for_workers(workers)
        return server

    yield start_server
    for server in servers:
        server.kill_everything()
