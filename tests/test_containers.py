"""docs/containers.rst: the example's image on a real container engine, and
every way its container stops.

The tests drive the docker command: Docker's where a Docker engine runs, else
podman-docker's, which runs Debian 12's podman with the same commands
(.ci/container-engine installs both). No image registry is reachable here:
the base image is a stand-in for python:3.11-slim, made from Debian 12's
packages by .ci/container-engine (Debian's Python 3.11, a venv in /usr/local
as the official image has it, and pip pointed at wheels downloaded on this
host: nothing is downloaded inside a build). tox runs this module once per
run, in its own environment (tox -e containers): the Python inside the image
is the image's own.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from expected import APP_AFTER_FOO_AND_BAR, BOTH_SIDES, LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, TESTS_SIDE, Report
from helpers import (
    ROOT, contexts, copy_of_repository, coverage, coverage_json, free_port, report, request_in_background,
    run_pytest_cov, wait_until,
)
from transcript import run as run_page

BASE_IMAGE = "localhost/gunicorn-coverage-debian:bookworm"
PYTHON_IMAGE = "localhost/gunicorn-coverage-python:3.11-slim"  # The stand-in.
IMAGE = "localhost/gunicorn-coverage-example:test"
EXAMPLE = ROOT / "docs" / "examples" / "container"


def _engine():
    """The docker command that reaches an engine, or None, and why not. The
    first on PATH may be Docker's client with no Docker engine running: then
    another, such as podman-docker's."""
    commands = []
    for directory in os.get_exec_path():
        command = os.path.join(directory, "docker")
        if os.access(command, os.X_OK) and os.path.realpath(command) not in map(os.path.realpath, commands):
            commands.append(command)
    for docker in commands:
        server = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
            timeout=30,
        )
        if server.returncode == 0 and server.stdout.strip():
            break
    else:
        return None, "no docker command that reaches an engine (.ci/container-engine installs podman and podman-docker)"
    probe = subprocess.run(
        [docker, "run", "--rm", BASE_IMAGE, "true"], capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{docker} cannot run {BASE_IMAGE} ({last}): run .ci/container-engine"
    return docker, None


ENGINE, NO_ENGINE = _engine()
pytestmark = pytest.mark.skipif(ENGINE is None, reason=NO_ENGINE or "")


def engine(*args, check=True, timeout=120):
    done = subprocess.run([ENGINE, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{ENGINE} {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="session")
def image(tmp_path_factory):
    """The page's Dockerfile built on the stand-in base, from a copy of the repository."""
    standin = tmp_path_factory.mktemp("python-image")
    wheels = standin / "wheels"
    python = engine("run", "--rm", BASE_IMAGE, "python3", "-c",
                    "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
    # pip on this host, with its own configuration (its index or mirror).
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
         "--python-version", python, "--platform", "manylinux_2_28_x86_64",
         "--platform", "manylinux2014_x86_64", "--platform", "any",
         "-r", str(ROOT / "requirements.txt"), "-d", str(wheels)],
        check=True, capture_output=True, timeout=300,
    )
    (standin / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\n"
        "RUN python3 -m venv /usr/local\n"
        "COPY wheels /wheels\n"
        "ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1\n"
    )
    engine("build", "--tag", PYTHON_IMAGE, str(standin), timeout=300)
    context = copy_of_repository(tmp_path_factory.mktemp("context"))
    (context / ".coveragerc").write_text(
        (context / ".coveragerc").read_text() + (EXAMPLE / "paths.coveragerc").read_text()
    )
    engine("build", "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}", "--file",
           str(context / "docs/examples/container/Dockerfile"), "--tag", IMAGE, str(context),
           timeout=300)
    return context


class Container:
    def __init__(self, cid, port, data):
        self.cid, self.port, self.data = cid, port, data
        self.url = f"http://127.0.0.1:{port}"

    def logs(self):
        done = subprocess.run([ENGINE, "logs", self.cid], capture_output=True, text=True,
                              timeout=30)
        return done.stdout + done.stderr

    def wait_for_workers(self, ready="coverage: measuring this worker", count=2):
        wait_until(lambda: self.logs().count(ready) >= count, 30, f"{count} workers: {ready}")

    def curl(self, path, *options):
        done = subprocess.run(
            ["curl", "--silent", "--show-error", "--max-time", "40", *options,
             self.url + path],
            capture_output=True, text=True, timeout=45,
        )
        return done.stdout

    def stop(self, *options):
        engine("stop", *options, self.cid, timeout=60)

    def exit_code(self):
        return int(engine("inspect", "--format", "{{.State.ExitCode}}", self.cid))

    def files(self):
        return sorted(p.name for p in self.data.glob(".coverage.*"))


@pytest.fixture
def run(image, tmp_path):
    """run(*options, command=()): a container of the image, its data volume
    (a directory of this test) on /coverage; removed at teardown."""
    started = []

    def run_container(*options, command=(), data=None, volume=True, image=IMAGE):
        data = data or tmp_path / "coverage-data"
        data.mkdir(exist_ok=True)
        port = free_port()
        mount = ["--volume", f"{data}:/coverage"] if volume else []
        cid = engine("run", "--detach", "--publish", f"127.0.0.1:{port}:8000", *mount,
                     *options, image, *command)
        started.append(cid)
        return Container(cid, port, data)

    yield run_container
    for cid in started:
        engine("rm", "--force", cid, check=False)


def combined_report(checkout, data, user=None):
    """Combine the container's files in a checkout (the image's context, say),
    with its [paths], and report lib.py; as another host user if given."""
    (checkout / ".coverage").unlink(missing_ok=True)  # Another test's report.
    env = {**os.environ, "COVERAGE_FILE": str(checkout / ".coverage")}
    python = python_for_another_user(user, checkout.parent / "site", env) if user else sys.executable
    outputs = []
    for command in (["combine", "--keep", str(data)], ["report", "--show-missing", "example_app/lib.py"]):
        done = subprocess.run(
            [*as_user(user), python, "-m", "coverage", *command],
            cwd=checkout, capture_output=True, text=True, timeout=60, env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    return Report.parse(outputs[-1])


def as_user(user):
    """The command prefix that runs a command as that host user (none: as we are)."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []


def python_for_another_user(user, site, env):
    """A Python, with this coverage, that another host user may run. Not
    this one if it lives where only its owner may go (/root/.pyenv, a
    checkout in a private directory): then the system's, with a copy of
    this coverage package that env's PYTHONPATH points at."""
    import coverage
    shutil.copytree(Path(coverage.__file__).parent, site / "coverage")
    for path in [site, *site.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    env["PYTHONPATH"] = str(site)
    for python in (sys.executable, "/usr/bin/python3"):
        check = f"import coverage; assert coverage.__version__ == {coverage.__version__!r}"
        if subprocess.run([*as_user(user), python, "-c", check], env=env, capture_output=True,
                          timeout=60).returncode == 0:
            return python
    pytest.fail(f"no Python that user {user} may run: neither {sys.executable} nor /usr/bin/python3")


SHELL_WARNING = "stopping the container will kill the workers before they save"
PAGE = ROOT / "docs" / "containers.rst"


def line_on_the_page(start):
    """The log line that the page shows, starting with `start`."""
    [line] = [line.strip() for line in PAGE.read_text().splitlines()
              if line.strip().startswith(start)]
    return line


def test_docker_stop_saves_every_worker(run, image):
    container = run()
    container.wait_for_workers()
    assert container.curl("/foo") == "42"
    container.stop()
    assert container.exit_code() == 0
    assert len(container.files()) == 2  # One per worker.
    assert SHELL_WARNING not in container.logs()
    assert combined_report(image, container.data) == LIB_AFTER_FOO


def start_script(tmp_path, exec_=True):
    """docs/examples/container/start.sh, or the same without exec."""
    script = tmp_path / "start.sh"
    text = (EXAMPLE / "start.sh").read_text()
    assert "exec gunicorn " in text
    script.write_text(text if exec_ else text.replace("exec gunicorn ", "gunicorn "))
    script.chmod(0o755)
    return ["--volume", f"{script}:/start.sh:ro"]


@pytest.mark.parametrize("how, saved", [
    ("exec", True),
    ("no-exec", False),
    ("no-exec-with-init", False),
])
def test_a_start_script(run, image, tmp_path, how, saved):
    options = start_script(tmp_path, exec_=how == "exec")
    if how.endswith("with-init"):
        options.append("--init")
    container = run(*options, "--stop-timeout", "2", command=["/start.sh"])
    container.wait_for_workers()
    assert container.curl("/foo") == "42"
    container.stop()
    logs = container.logs()
    if saved:
        assert SHELL_WARNING not in logs
        assert len(container.files()) == 2
        assert combined_report(image, container.data) == LIB_AFTER_FOO
    else:
        # The master said so at start, in one line; then nothing was saved.
        assert logs.count(SHELL_WARNING) == 1
        if how.endswith("with-init"):
            assert "under the container's init" in logs
        else:
            assert line_on_the_page("coverage: gunicorn's parent, PID 1") in logs
            assert container.exit_code() == 137  # The engine's SIGKILL, after the grace.
        assert container.files() == []


def test_a_request_outlasting_the_grace_keeps_what_ran_before_the_stop(run, image, tmp_path):
    """docker stop -t 2 while a request runs that called lib.foo() and then
    waits 30 s: the engine kills everything after 2 s, but the worker saved
    when it was told to stop."""
    slow = tmp_path / "slow_app.py"
    slow.write_text(
        "import time\n"
        "from example_app import lib\n\n\n"
        "def app(environ, start_response):\n"
        "    answer = lib.foo()\n"
        "    open('/flight/in-flight', 'w').close()  # For the test, on the host.\n"
        "    time.sleep(30)\n"
        "    start_response('200 OK', [])\n"
        "    return [str(answer).encode()]\n"
    )
    flight = tmp_path / "flight"
    flight.mkdir()
    container = run("--volume", f"{slow}:/app/slow_app.py:ro", "--volume", f"{flight}:/flight",
                    command=["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "slow_app:app"])
    container.wait_for_workers()
    request = request_in_background(container, "/")
    try:
        wait_until((flight / "in-flight").exists, 30, "the request to have run lib.foo()")
        container.stop("--time", "2")
    finally:
        request.kill()
        request.wait(timeout=10)
    assert container.exit_code() == 137  # The request outlasted the grace: SIGKILL.
    assert combined_report(image, container.data) == LIB_AFTER_FOO


UNWRITABLE = "cannot write to /coverage"


@pytest.mark.parametrize("how", ["docker-run-user", "user-in-the-image", "gunicorn-user"])
def test_workers_that_cannot_write_say_so_at_start(run, image, tmp_path, how):
    data = tmp_path / "root-only"
    data.mkdir(mode=0o755)
    if how == "docker-run-user":
        container = run("--user", "1000:1000", data=data)
    elif how == "user-in-the-image":
        (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nUSER 1000:1000\n")
        engine("build", "--tag", f"{IMAGE}-user", str(tmp_path))
        container = run(data=data, image=f"{IMAGE}-user")
    else:
        container = run(data=data, command=[
            "gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--user", "nobody",
            "--group", "nogroup", "example_app.app:app"])
    container.wait_for_workers("Booting worker")
    logs = container.logs()
    assert logs.count(UNWRITABLE) == 1, logs
    ids = "nobody (uid 65534, gid 65534)" if how == "gunicorn-user" else "(uid 1000, gid 1000)"
    assert f"{ids} and cannot write to /coverage" in logs, logs
    if how == "docker-run-user":
        assert line_on_the_page("coverage: not measuring: the workers run as") in logs
    assert container.curl("/foo") == "42"  # Serving, unmeasured.
    container.stop()
    assert "could not write" not in container.logs()
    assert container.files() == []


def test_a_non_root_container_writes_a_directory_of_its_own(run, image, tmp_path):
    """--user 1000 with a volume it owns: written; another host user (nobody)
    combines them, with --keep since it cannot delete them."""
    shared = Path(tempfile.mkdtemp(prefix="containers-"))  # Not under pytest's 0700 tmp.
    try:
        shared.chmod(0o755)
        data = shared / "theirs"
        data.mkdir()
        os.chown(data, 1000, 1000)
        container = run("--user", "1000:1000", data=data)
        container.wait_for_workers()
        assert UNWRITABLE not in container.logs()
        assert container.curl("/foo") == "42"
        container.stop()
        assert len(container.files()) == 2
        assert {os.stat(data / name).st_uid for name in container.files()} == {1000}
        checkout = shared / "checkout"
        shutil.copytree(image / "example_app", checkout / "example_app")
        shutil.copy(image / ".coveragerc", checkout)
        for path in [checkout, *checkout.rglob("*")]:
            os.chown(path, 65534, 65534)
        assert combined_report(checkout, data, user=65534) == LIB_AFTER_FOO
    finally:
        shutil.rmtree(shared)


@pytest.mark.parametrize("volume, saved", [(True, True), (False, False)])
def test_a_read_only_container(run, image, volume, saved):
    container = run("--read-only", "--tmpfs", "/tmp", volume=volume)
    container.wait_for_workers("coverage: measuring this worker" if saved else "Booting worker")
    logs = container.logs()
    assert ("/ is on a read-only file system" in logs) is not saved, logs
    assert container.curl("/foo") == "42"
    container.stop()
    assert len(container.files()) == (2 if saved else 0)
    if saved:
        assert combined_report(image, container.data) == LIB_AFTER_FOO


def test_a_read_only_container_with_a_tmpfs_for_the_data(run, image, tmp_path):
    """The files live as long as the container: HUP makes the workers save,
    and tar in the container copies them out while it runs."""
    container = run("--read-only", "--tmpfs", "/tmp", "--tmpfs", "/coverage", volume=False)
    container.wait_for_workers()
    assert "read-only file system" not in container.logs()
    assert container.curl("/foo") == "42"
    engine("kill", "--signal", "HUP", container.cid)

    def saved_files():
        listing = engine("exec", container.cid, "ls", "-A", "/coverage")
        return len([name for name in listing.split() if name.startswith(".coverage.")]) == 2

    wait_until(saved_files, 30, "the old workers' 2 files in /coverage")
    data = tmp_path / "copied"
    data.mkdir()
    archive = subprocess.run([ENGINE, "exec", container.cid, "tar", "-C", "/coverage", "-c", "."],
                             capture_output=True, timeout=60, check=True).stdout
    subprocess.run(["tar", "-C", str(data), "-x"], input=archive, check=True, timeout=60)
    assert len(list(data.glob(".coverage.*"))) == 2
    assert combined_report(image, data) == LIB_AFTER_FOO


def test_two_containers_on_one_volume(run, image, tmp_path):
    """Their workers have the same pids; their host names (container ids) differ."""
    data = tmp_path / "shared"
    one, two = run(data=data), run(data=data)
    one.wait_for_workers()
    two.wait_for_workers()
    assert one.curl("/foo") == "42"
    assert two.curl("/bar") == "43"
    one.stop()
    two.stop()
    files = one.files()
    assert len(files) == 4
    assert {name.split(".")[2] for name in files} == {one.cid[:12], two.cid[:12]}
    assert combined_report(image, data) == LIB_AFTER_FOO_AND_BAR


def test_a_server_apart_in_a_container_joins_the_tests_report(run, tmp_path):
    """docs/contexts.rst, a server apart from the tests, in the page's image:
    the tests run with pytest-cov on the host and send their names to the
    container's workers; after it stops, its files, which name the code by its
    path in the image, combine into the tests' .coverage with the [paths] of
    docs/containers.rst. One report of both sides, under the same names."""
    checkout = copy_of_repository(tmp_path / "checkout")
    container = run("--env", "GUNICORN_COVERAGE_CONTEXT_HEADER=X-Coverage-Context")
    container.wait_for_workers()
    run_pytest_cov(checkout, "docs/examples/contexts",
                   env={"APP_URL": container.url, "COVERAGE_CORE": "ctrace"})
    assert contexts(coverage_json(checkout, "--show-contexts")) == TESTS_SIDE
    container.stop()
    assert len(container.files()) == 2

    # Without [paths], the image's files are not the checkout's: the report stops.
    without_paths = shutil.copytree(checkout, tmp_path / "without-paths")
    assert "Combined 2 files" in coverage(without_paths, "combine", "--append", "--keep", container.data)
    failed = subprocess.run([sys.executable, "-m", "coverage", "report"], cwd=without_paths,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "No source for code: '/app/example_app/" in failed.stdout + failed.stderr

    with open(checkout / ".coveragerc", "a") as coveragerc:
        coveragerc.write((EXAMPLE / "paths.coveragerc").read_text())
    assert "Combined 2 files" in coverage(checkout, "combine", "--append", container.data)
    assert contexts(coverage_json(checkout, "--show-contexts")) == BOTH_SIDES
    assert report(checkout, file="example_app/lib.py") == LIB_AFTER_FOO_AND_BAR
    assert report(checkout, file="example_app/app.py") == APP_AFTER_FOO_AND_BAR


def test_the_page_prints_what_it_shows(image, tmp_path):
    """docs/containers.rst, typed as a reader types it. Its docker commands
    run on this machine's engine; its build starts from the stand-in base
    image (a build argument that the page's Dockerfile takes)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = build ]; then shift; exec {ENGINE} build'
        f' --build-arg PYTHON_IMAGE={PYTHON_IMAGE} "$@"; fi\n'
        f'exec {ENGINE} "$@"\n'
    )
    docker.chmod(0o755)
    workdir = copy_of_repository(tmp_path / "clone")
    try:
        run_page(PAGE, workdir, free_port(),
                 env={"PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"})
    finally:
        engine("rm", "--force", "example-app", check=False)
