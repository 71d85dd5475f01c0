"""What the tests share that is not a fixture: paths, free ports, bounded
waits, processes, requests held in flight, the `Server` class, editing
.coveragerc, reading the coverage core in use, and pytest-cov runs with
their contexts. conftest.py holds the fixtures.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from expected import PYTHON, SYSMON_CAN, Report

ROOT = Path(__file__).resolve().parent.parent
HOOK_FILE = ROOT / "hooks" / "gunicorn.conf.py"
APPS = ROOT / "tests" / "apps"  # The test apps, which copy_test_apps puts in example_app.

# What coverage's sysmon core can do on the Python the tests run on: exist,
# and measure branches.
SYSMON, SYSMON_BRANCHES = SYSMON_CAN[PYTHON]


def free_port():
    """A TCP port that no one listens on now, chosen by the kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def copy_docs_example(name, directory):
    """docs/examples/<name> (a project a page measures) in `directory`, with
    the hook file as ./gunicorn.conf.py, as the page has the reader put it."""
    shutil.copytree(ROOT / "docs" / "examples" / name, directory,
                    ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    shutil.copy(HOOK_FILE, directory / "gunicorn.conf.py")
    return directory


def copy_test_apps(directory):
    """Put the test apps of tests/apps/ into the example copied in `directory`,
    in its package example_app (example_app.held:wsgi_app, say)."""
    for module in APPS.glob("*.py"):
        shutil.copy(module, directory / "example_app" / module.name)


def copy_of_repository(directory):
    """What a reader has after cloning: the example, the hook file, the example
    files that the docs show, the settings."""
    directory = Path(directory)
    for name in ("example_app", "hooks", "docs/examples"):
        shutil.copytree(ROOT / name, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (".coveragerc", "requirements.txt"):
        shutil.copy(ROOT / name, directory / name)
    return directory


def add_to_coveragerc(directory, *lines):
    """Append settings to the [run] section, the last one of the example's .coveragerc."""
    with open(directory / ".coveragerc", "a") as rc:
        rc.write("".join(f"{line}\n" for line in lines))


def replace_in_coveragerc(directory, old, new):
    rc = directory / ".coveragerc"
    text = rc.read_text()
    assert old in text, f"{old!r} is not in {rc}"
    rc.write_text(text.replace(old, new))


def cores_logged(server, workers=2):
    """The core each worker logged that it measures with (at debug level, after
    gunicorn's "Booting worker" line, so wait for every worker's)."""
    return wait_until(
        lambda: found if len(
            found := re.findall(r"coverage: measuring with the (\w+) core", server.log())
        ) >= workers else None,
        what=f"{workers} workers to log their core",
    )


def cores_used(debug_file):
    """The cores that coverage's own debug output (COVERAGE_DEBUG=core) says it used."""
    lines = Path(debug_file).read_text().splitlines()
    return {line.split("=")[1] for line in lines if line.startswith("core.py: Using core=")}


# Reading /proc/<pid>/... of a process that is gone: no such file, or, if it was
# reaped between the open and the read, ESRCH.
PROCESS_GONE = (FileNotFoundError, ProcessLookupError)


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; it only waits for its parent to read its status.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except PROCESS_GONE:
        return False


def handles_its_signals(pid):
    """Has this gunicorn worker installed its own signal handlers?

    Until it has, it runs the master's handlers, which it inherited at the fork:
    a TERM sent then is lost, and the master waits its graceful timeout (30 s)
    for the worker. Every worker class first resets the master's SIGHUP handler.
    A worker that has exited (a zombie, not yet reaped) handles nothing.
    """
    if not process_exists(pid):
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except PROCESS_GONE:
        return False
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    return not caught & (1 << (signal.SIGHUP - 1))


def children_of(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except PROCESS_GONE:
        return []


# --- Requests held in flight (tests/apps/held.py) -----------------------------


def request_in_background(server, path):
    """The real curl, not waited for: .communicate() gives the answer."""
    return subprocess.Popen(
        ["curl", "--silent", "--max-time", "20", server.url + path],
        stdout=subprocess.PIPE, text=True,
    )


def hold_a_request(server, path="/held"):
    """Start a request that stays in flight until release(server)."""
    request = request_in_background(server, path)
    wait_until(lambda: (server.directory / "held").exists(), 10, "the request to be in flight")
    return request


def release(server, *requests):
    """Let the held requests finish: their answers ("" if the server died)."""
    (server.directory / "release").touch()
    return [request.communicate(timeout=20)[0] for request in requests]


def no_data_file_within(server, seconds):
    try:
        wait_until(server.data_files, seconds, "a data file")
    except AssertionError:
        return True
    return False


def coverage(directory, *args):
    """Run the real coverage command line in `directory`: its output."""
    done = subprocess.run(
        [sys.executable, "-m", "coverage", *map(str, args)],
        cwd=directory, capture_output=True, text=True, timeout=60,
    )
    return done.stdout + done.stderr


def coverage_json(directory, *args, env=None):
    """`coverage json` of the data files in `directory`, kept: its "files", each
    file's lines and functions. `env` replaces the environment."""
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "json", "--keep-combined", "--quiet", "-o", "-", *args],
        cwd=directory, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(done.stdout)["files"]


def report(directory, *args, file="example_app/lib.py"):
    """`coverage report --show-missing` for `file` in `directory`, keeping the
    data files. Returns a Report: statements, missed, cover ("75%") and missing ("4").
    """
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "report", "--keep-combined", "--show-missing", *args, file],
        cwd=directory, capture_output=True, text=True, timeout=60,
    )
    return Report.parse(done.stdout + done.stderr, file)


def environment(**variables):
    """This process's environment without pytest's own variables, plus `variables`."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return {**kept, **variables}


def contexts(files):
    """Each file's contexts by line, from `coverage json --show-contexts`; for app.py
    only the lines that ran under a test's name (the rest ran at import, under "")."""
    lib = files["example_app/lib.py"]["contexts"]
    app = {line: names for line, names in files["example_app/app.py"]["contexts"].items()
           if names != [""]}
    return {"example_app/lib.py": lib, "example_app/app.py": app}


def run_pytest_cov(directory, *args, env=None):
    """pytest with pytest-cov, as contexts.rst runs it: --cov-context=test, no report."""
    # Without APP_URL the suite's fixture starts a server itself.
    environ = {key: value for key, value in environment().items() if key != "APP_URL"}
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--cov=example_app", "--cov-context=test", "--cov-report=", *args],
        cwd=directory, env=environ, capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


class Server:
    """A gunicorn master with its workers, started by conftest's `launch` fixture.

    `python`: the command that runs ``-m gunicorn`` (this interpreter, another,
    or ``python -m coverage run``); `cwd`: where it runs, if not in `directory`.
    `measuring`: whether its workers say they measure as they boot, which
    wait_for_workers waits for (a test sets it when it knows they will not, or
    no longer will). The master starts a process group of its own, which its
    workers, dirty arbiter and dirty workers share: the teardown stops them all
    at once.
    """

    def __init__(self, directory, args, env, measuring=True, python=(sys.executable,), cwd=None):
        self.directory = directory
        self.measuring = measuring
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "gunicorn.log"
        self.pid_file = directory / "gunicorn.pid"
        command = [
            *python, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            "--pid", str(self.pid_file),
            "--no-control-socket",
            *args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd or directory, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid
        self._seen_workers = set()

    # --- what tests do with a server -------------------------------------

    def curl(self, path, *options, check=True):
        """The real curl binary; returns the response body.

        With check=False a failed request is no error (and returns "").
        """
        done = subprocess.run(
            ["curl", "--silent", "--show-error", "--fail", "--max-time", "10",
             *options, self.url + path],
            capture_output=True, text=True, timeout=15,
        )
        if check:
            assert done.returncode == 0, f"curl {path}: {done.stderr}"
        return done.stdout

    def status(self, path, *options):
        """The HTTP status code that the real curl gets, whatever it is."""
        return int(self.curl(path, "--no-fail", "--output", "/dev/null",
                             "--write-out", "%{http_code}", *options))

    def send(self, sig):
        os.kill(self.pid, sig)

    def send_to_worker(self, pid, sig):
        assert pid in self.workers(), f"{pid} is not a worker of this server"
        os.kill(pid, sig)

    def workers(self):
        pids = children_of(self.pid)
        self._seen_workers.update(pids)
        return pids

    def wait_for_workers(self, count, timeout=15):
        def booted_workers():
            pids = self.workers()
            return pids if len(pids) == count and self.booted(pids) else None

        return wait_until(booted_workers, timeout, f"{count} booted workers")

    def booted(self, pids):
        """Has each worker booted, and (if measuring) started to measure?"""
        log = self.log()
        ready = "coverage: measuring this worker" if self.measuring else "Booting worker"
        return all(
            f"[{pid}] [INFO] {ready}" in log and handles_its_signals(pid) for pid in pids
        )

    def wait_for_exit(self, pids, timeout=15):
        """Wait until these processes are gone: whatever they saved is on disk."""
        wait_until(lambda: not any(process_exists(p) for p in pids), timeout, f"{pids} to exit")

    def log(self):
        return self.log_path.read_text(errors="replace")

    def data_files(self):
        return sorted(p.name for p in self.directory.glob(".coverage.*"))

    def wait_for_data_files(self, count, timeout=10):
        def enough_files():
            files = self.data_files()
            return files if len(files) >= count else None

        return wait_until(enough_files, timeout, f"{count} data files in {self.directory}")

    def coverage(self, *args):
        """Run the real coverage command line in the server's directory."""
        return coverage(self.directory, *args)

    def coverage_json(self, *args, env=None):
        return coverage_json(self.directory, *args, env=env)

    def report(self, *args, file="example_app/lib.py"):
        return report(self.directory, *args, file=file)

    def stop(self, sig=signal.SIGTERM, timeout=30, group=False):
        """Stop the master with `sig` and wait until it and its workers are gone.
        `group`: send it to gunicorn's whole process group, as a terminal's Ctrl+C does."""
        self.workers()
        if self.process.poll() is None:
            if group:
                os.killpg(self.pid, sig)
            else:
                self.send(sig)
        self.process.wait(timeout=timeout)
        self.wait_for_exit(self._seen_workers, timeout)

    def kill_everything(self):
        """Teardown: whatever is left of this server, by process group (a
        daemon's master, whose pid replaced ours, has a group of its own)."""
        groups = {self.process.pid}
        try:
            groups.add(os.getpgid(self.pid))
        except ProcessLookupError:
            pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
