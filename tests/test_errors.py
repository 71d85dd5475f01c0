"""A bad environment gets one clear line, and the server serves where it can."""

import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from expected import APP, LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, REFUSED_AT_START
from helpers import ROOT, add_to_coveragerc, copy_example, replace_in_coveragerc, wait_until


def refused(start, env=None):
    """Start gunicorn with the hook file, expecting it to refuse: its output."""
    server = start(env=env, wait=False)
    assert server.process.wait(timeout=30) == REFUSED_AT_START
    return server.log().strip()


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[run\nparallel = True\n",
         "File contains no section headers. file: '.coveragerc', line: 1 '[run\\n'"),
        ("[run]\nparallel = maybe\n", "Not a boolean: maybe"),
    ],
    ids=["syntax", "value"],
)
def test_a_broken_coveragerc_refuses_to_start(example, start, text, problem):
    """One line that names the file and the problem (docs/troubleshooting.rst)."""
    (example / ".coveragerc").write_text(text)
    assert refused(start) == (
        f"coverage: Couldn't read config file .coveragerc: {problem} "
        "(fix it, or set GUNICORN_COVERAGE=off to serve unmeasured)"
    )


def test_a_coveragerc_broken_while_serving_keeps_the_server_serving(server, example):
    """On HUP gunicorn loads the hook file again: the new workers serve unmeasured,
    the old ones save, and the next HUP after the fix measures again."""
    old_workers = server.workers()
    assert server.curl("/foo") == "42"
    good = (example / ".coveragerc").read_text()
    (example / ".coveragerc").write_text("[run]\nparallel = maybe\n")
    server.send(signal.SIGHUP)
    server.wait_for_exit(old_workers)
    assert server.process.poll() is None
    [error] = [line for line in server.log().splitlines() if "[ERROR]" in line]
    assert error.endswith(
        "[ERROR] coverage: Couldn't read config file .coveragerc: Not a boolean: maybe "
        "(fix it, or set GUNICORN_COVERAGE=off to serve unmeasured); "
        "the new workers serve unmeasured"
    )
    assert server.curl("/bar") == "43"  # Served, not measured.
    assert len(server.data_files()) == 2  # The old workers saved.
    (example / ".coveragerc").write_text(good)
    server.measuring = True  # The workers of the next HUP measure again.
    unmeasured = server.workers()
    server.send(signal.SIGHUP)
    server.wait_for_exit(unmeasured)
    server.wait_for_workers(2)  # Each says "coverage: measuring this worker" again.
    assert server.report() == LIB_AFTER_FOO


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("GUNICORN_COVERAGE", "maybe", "GUNICORN_COVERAGE='maybe' is not valid: use 'on' or 'off'."),
        ("GUNICORN_COVERAGE_SNAPSHOT_SECONDS", "soon",
         "GUNICORN_COVERAGE_SNAPSHOT_SECONDS='soon' is not valid: "
         "use a number of seconds greater than 0, or leave it unset."),
        ("GUNICORN_COVERAGE_SNAPSHOT_SECONDS", "0",
         "GUNICORN_COVERAGE_SNAPSHOT_SECONDS='0' is not valid: "
         "use a number of seconds greater than 0, or leave it unset."),
    ],
    ids=["switch", "seconds-word", "seconds-zero"],
)
def test_an_unknown_value_refuses_to_start(start, name, value, message):
    assert refused(start, {name: value}) == message


def test_off_measures_nothing_and_serves(start):
    server = start(env={"GUNICORN_COVERAGE": "off"})
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    wait_until(lambda: server.log().count("Worker exiting") == 2, what="the old workers to exit")
    server.send(signal.SIGUSR1)
    assert server.curl("/bar") == "43"
    server.stop()
    assert server.data_files() == []
    assert "coverage:" not in server.log()


def test_an_unwritable_data_directory_is_logged_and_the_next_save_writes(start, example):
    """Each failed save names the file and the reason; the data waits in memory."""
    (example / "data").write_text("a file where the data directory should be")
    server = start(env={"COVERAGE_FILE": "data/.coverage"}, workers=1)
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    wait_until(lambda: "coverage: could not write" in server.log(), what="the failed save")
    [error] = [line for line in server.log().splitlines() if "could not write" in line]
    assert "[ERROR] coverage: could not write data/.coverage." in error
    assert error.endswith("[Errno 17] File exists: 'data' (the data is kept for the next save)")
    assert server.curl("/bar") == "43"  # Still serving.
    (example / "data").unlink()
    (example / "data").mkdir()
    server.stop()  # The last save writes what /foo and /bar ran, into data/.
    assert server.report("--data-file", "data/.coverage") == LIB_AFTER_FOO_AND_BAR


def test_a_failed_last_save_says_the_data_is_lost(example, start):
    # (The test above shows a failed snapshot, whose data waits for the next save.)
    (example / "data").write_text("a file where the data directory should be")
    server = start(env={"COVERAGE_FILE": "data/.coverage"})
    assert server.curl("/foo") == "42"
    server.stop()  # The workers' last saves fail.
    lost = re.compile(
        r"\[ERROR\] coverage: could not write data/\.coverage\.\S+\.pid\d+\.X\w+x: "
        r".+ \(this worker's data since its last save is lost\)$"
    )
    assert len([line for line in server.log().splitlines() if lost.search(line)]) == 2
    assert "coverage: wrote" not in server.log()


@pytest.fixture(scope="session")
def python_without_coverage(tmp_path_factory):
    """A real virtual environment with Flask and gunicorn, and no coverage."""
    venv = tmp_path_factory.mktemp("no-coverage") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    requirements = [
        line.split(";")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith(("Flask", "gunicorn"))
    ]
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", *requirements],
        check=True, timeout=300,
    )
    return venv / "bin" / "python"


def test_without_coverage_installed_the_server_serves_and_says_why(python_without_coverage, launch):
    server = launch("-c", "gunicorn.conf.py", "--workers", "2", APP, python=[python_without_coverage])
    server.measuring = False
    server.wait_for_workers(2)
    assert server.curl("/foo") == "42"
    warnings = [line for line in server.log().splitlines() if "coverage:" in line]
    assert [w.split("] ", 2)[-1] for w in warnings] == [
        "[WARNING] coverage: not measuring: the coverage package is not installed here "
        "(pip install coverage, or set GUNICORN_COVERAGE=off)"
    ]


# --- Workers that run as another user (--user, --group) ------------------------

NOBODY = ("--user", "nobody", "--group", "nogroup")


def ids_of(user, group):
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        return None


NOBODY_UID, NOBODY_GID = ids_of("nobody", "nogroup") or (None, None)
NOBODY_IS = f"nobody (uid {NOBODY_UID}, gid {NOBODY_GID})"
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or NOBODY_UID is None,
    reason="starting workers as the user nobody (group nogroup) needs root, and that user and group",
)

# Python imports sitecustomize as it starts, in the master, which is root still.
# The workers run as nobody, who may not read this Python's own files (one
# installed under /root, which is root's alone): the master imports what they
# would import later (the example's dependencies, and what Werkzeug imports at
# the first request, and what coverage imports as it saves: on Python 3.14 and
# newer, pathlib's as_uri imports urllib.request), then forgets the example,
# which the workers import and measure as usual.
SITECUSTOMIZE = """
    import sys
    import urllib.request

    import encodings.idna
    import example_app.app

    for name in [name for name in sys.modules if name.split(".")[0] == "example_app"]:
        del sys.modules[name]
"""


@pytest.fixture
def project_for_nobody():
    """The example in a directory of root's, 0o755, that nobody may read and not
    write (pytest's own temp directories are root's alone, 0o700: the workers
    could not import the application). Removed at the end, after the servers,
    as the tests ask for it before `start` or `launch`."""
    directory = Path(tempfile.mkdtemp(dir="/tmp", prefix="gunicorn-coverage-"))
    try:
        directory.chmod(0o755)
        copy_example(directory)
        (directory / "sitecustomize").mkdir()
        (directory / "sitecustomize" / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
        yield directory
    finally:
        shutil.rmtree(directory)


def nobodys_path(directory):
    """PYTHONPATH for a server whose workers run as nobody: the master's
    sitecustomize (above), and the project."""
    return {"PYTHONPATH": f"{directory / 'sitecustomize'}:{directory}"}


def start_as_nobody(start, directory, env=None, measuring=True):
    """gunicorn in `directory`, its workers as nobody (and group nogroup),
    who measure only if they can write where their data goes."""
    env = {**nobodys_path(directory), **(env or {})}
    server = start(*NOBODY, directory=directory, env=env, wait=False)
    server.measuring = measuring
    server.wait_for_workers(2)
    return server


def writable_by_all(directory):
    directory.mkdir(exist_ok=True)
    directory.chmod(0o777)
    return directory


def cannot_write(directory):
    """What the master says of a directory of root's, 0o755, that the workers cannot write."""
    owner = directory.stat()
    assert (owner.st_uid, stat.filemode(owner.st_mode)) == (0, "drwxr-xr-x")
    return (
        f"the workers run as {NOBODY_IS} and cannot write to {directory} "
        f"(owner uid 0, drwxr-xr-x), where their data files go: make it writable for them "
        "(chown it, or a volume of theirs), or set COVERAGE_FILE (or [run] data_file) to a "
        "file in a directory they can write"
    )


def coverage_lines(server, but=""):
    """The lines the hook file logged, "[<LEVEL>] coverage: ...", but those of level `but`."""
    lines = [line.split("] ", 2)[-1] for line in server.log().splitlines() if "coverage:" in line]
    return [line for line in lines if not (but and line.startswith(f"[{but}]"))]


@needs_root
def test_a_data_directory_the_workers_cannot_write_is_said_once_and_they_serve(
    project_for_nobody, start
):
    server = start_as_nobody(start, project_for_nobody, measuring=False)
    assert server.curl("/foo") == "42"
    server.stop()
    # One line before the first worker forks; no error per worker as it exits.
    assert coverage_lines(server) == [
        f"[WARNING] coverage: not measuring: {cannot_write(project_for_nobody)}"
    ]
    assert server.data_files() == []


@needs_root
def test_workers_measure_as_their_user_where_they_can_write(project_for_nobody, start):
    data = writable_by_all(project_for_nobody / "data")
    server = start_as_nobody(start, project_for_nobody, env={"COVERAGE_FILE": str(data / ".coverage")})
    assert server.curl("/foo") == "42"
    server.stop()
    files = list(data.glob(".coverage.*"))
    assert len(files) == 2
    assert {file.stat().st_uid for file in files} == {NOBODY_UID}
    assert coverage_lines(server, but="INFO") == []
    assert server.report("--data-file", str(data / ".coverage")) == LIB_AFTER_FOO


@needs_root
def test_on_hup_a_data_directory_the_new_workers_cannot_write_is_said_once(project_for_nobody, start):
    """The old workers save where they did; the new ones serve unmeasured."""
    writable_by_all(project_for_nobody / "data")
    add_to_coveragerc(project_for_nobody, "data_file = data/.coverage")
    server = start_as_nobody(start, project_for_nobody)
    old_workers = server.workers()
    assert server.curl("/foo") == "42"
    # From now on into the project directory, which they cannot write.
    replace_in_coveragerc(project_for_nobody, "data_file = data/.coverage", "data_file = .coverage")
    server.send(signal.SIGHUP)
    server.wait_for_exit(old_workers)
    server.measuring = False
    server.wait_for_workers(2)
    assert server.curl("/bar") == "43"  # Served, not measured.
    server.stop()
    assert coverage_lines(server, but="INFO") == [
        f"[ERROR] coverage: the new workers serve unmeasured: {cannot_write(project_for_nobody)}"
    ]
    assert len(list((project_for_nobody / "data").glob(".coverage.*"))) == 2  # The old workers'.
    assert server.data_files() == []
    assert server.report("--data-file", "data/.coverage") == LIB_AFTER_FOO


@needs_root
def test_on_hup_a_data_directory_made_writable_is_measured_again(project_for_nobody, start):
    server = start_as_nobody(start, project_for_nobody, measuring=False)
    unmeasured = server.workers()
    project_for_nobody.chmod(0o777)
    server.send(signal.SIGHUP)
    server.wait_for_exit(unmeasured)
    server.measuring = True
    server.wait_for_workers(2)  # Each says "coverage: measuring this worker".
    assert server.curl("/foo") == "42"
    server.stop()
    assert len(server.data_files()) == 2
    assert server.report() == LIB_AFTER_FOO


@needs_root
def test_with_chdir_the_check_reads_the_settings_the_workers_read(project_for_nobody, launch, tmp_path):
    """Started elsewhere, with --chdir the project: the workers read the
    project's .coveragerc, whose data/ they can write, not the project directory."""
    data = writable_by_all(project_for_nobody / "data")
    add_to_coveragerc(project_for_nobody, "data_file = data/.coverage")
    server = launch(
        "-c", str(project_for_nobody / "gunicorn.conf.py"), "--chdir", str(project_for_nobody),
        *NOBODY, "--workers", "2", APP,
        directory=project_for_nobody, env=nobodys_path(project_for_nobody), cwd=tmp_path,
    )
    server.wait_for_workers(2)
    assert server.curl("/foo") == "42"
    server.stop()
    assert coverage_lines(server, but="INFO") == []
    assert len(list(data.glob(".coverage.*"))) == 2
    assert server.report("--data-file", "data/.coverage") == LIB_AFTER_FOO
