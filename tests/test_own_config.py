"""Your own gunicorn config stays yours: docs/own-config.rst, "Add coverage to
your own gunicorn config", on real servers.

A user with a config of their own copies the hook file into their project as
gunicorn_coverage.py and ends their config with ``import gunicorn_coverage``
and ``gunicorn_coverage.add_to(globals())``. Three real configs, each with
hooks of its own (prometheus_client in multiprocess mode, the OpenTelemetry
SDK, and one that defines every hook), each loaded the three ways gunicorn
loads a config (a path given to -c, a module given to -c, ./gunicorn.conf.py
with no -c), prove that their hooks still do what they did, in the process
they did it in, while coverage saves the exact numbers. The other tests show
GUNICORN_COVERAGE=off leaving the config as it is, the one line that says a
hook was defined after add_to, a user's hook that raises, and that add_to
measures what the hook file measures on its own.

The configs and the small apps they serve are in tests/own_configs/.
"""

import json
import re
import shutil
import signal
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from expected import APP, LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, Report
from helpers import ROOT, copy_example, wait_until

OWN_CONFIGS = ROOT / "tests" / "own_configs"

# The three ways gunicorn finds a config: where the user's config lives in the
# project, and the options that name it.
FORMS = {
    "path": ("deploy/gunicorn_settings.py", ["-c", "deploy/gunicorn_settings.py"]),
    "module": ("deploy/gunicorn_settings.py", ["-c", "python:deploy.gunicorn_settings"]),
    "default": ("gunicorn.conf.py", []),  # gunicorn loads ./gunicorn.conf.py by default.
}


def make_project(directory, config, form="path", modules=()):
    """A user's project in `directory`: the example app, the hook file as
    gunicorn_coverage.py, the user's `config` where `form` puts it, and their
    `modules` (a name in tests/own_configs/, or (name, where in the project)).

    Returns the options that make gunicorn load the config.
    """
    directory.mkdir(parents=True, exist_ok=True)
    copy_example(directory)
    # copy_example put the hook file at ./gunicorn.conf.py: the user keeps it
    # under the name their config imports.
    (directory / "gunicorn.conf.py").rename(directory / "gunicorn_coverage.py")
    where, options = FORMS[form]
    (directory / where).parent.mkdir(exist_ok=True)
    shutil.copy(OWN_CONFIGS / config, directory / where)
    if form == "module":
        (directory / "deploy" / "__init__.py").touch()
    for module in modules:
        name, destination = module if isinstance(module, tuple) else (module, module)
        shutil.copy(OWN_CONFIGS / name, directory / destination)
    return options


def serve(launch, project, config, *args, app=APP, env=None):
    """gunicorn as the user runs it in their `project`, with the config that
    the options `config` name (none: ./gunicorn.conf.py): two workers, booted."""
    server = launch(*config, "--workers", "2", *args, app, directory=project, env=env)
    server.wait_for_workers(2)
    return server


@pytest.fixture
def project(tmp_path):
    """Where a test puts a user's project: beside, not in, the copy of the
    example that conftest's `example` fixture makes in tmp_path."""
    return tmp_path / "project"


def restart_workers(server):
    """HUP: wait until the old workers have exited (and saved) and two new ones
    have booted. Returns the new workers' pids."""
    old = server.workers()
    server.send(signal.SIGHUP)
    server.wait_for_exit(old)
    return server.wait_for_workers(2)


def get_foo(server, times):
    for _ in range(times):
        assert server.curl("/foo") == "42"


# gunicorn's log lines: "[<time>] [<pid>] [<LEVEL>] <message>".
LOG_LINE = re.compile(r"^\[[^]]*\] \[(\d+)\] \[(\w+)\] (.*)$", re.MULTILINE)


def log_lines(server):
    """(pid, level, message) for each line gunicorn logged."""
    return [(int(pid), level, message) for pid, level, message in LOG_LINE.findall(server.log())]


# --- prometheus_client in multiprocess mode ---------------------------------


def prometheus(project, launch, form):
    """The user's post_request counts each request; /metrics adds up every
    worker's count, those of the workers a HUP replaced too."""
    options = make_project(project, "prometheus_settings.py", form, ["metrics_app.py"])
    metrics_dir = project / "prometheus"
    metrics_dir.mkdir()
    server = serve(
        launch, project, options, app="metrics_app:app", env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    )
    get_foo(server, 3)
    restart_workers(server)
    get_foo(server, 3)
    # post_request runs once the response is sent: the last count may land a
    # moment after curl returns.
    wait_until(lambda: foo_count(server) >= 6, what="/metrics to count the requests to /foo")
    assert foo_count(server) == 6
    server.stop()
    assert server.report() == LIB_AFTER_FOO


def foo_count(server):
    """What /metrics says of the user's counter for /foo."""
    families = text_string_to_metric_families(server.curl("/metrics"))
    return sum(
        sample.value for family in families for sample in family.samples
        if sample.name == "myapp_requests_total" and sample.labels == {"path": "/foo"}
    )


# --- OpenTelemetry ------------------------------------------------------------


def otel(project, launch, form):
    """The user's post_fork sets up tracing in each worker: every request's
    span is exported, by the worker that served it, old and new."""
    options = make_project(project, "otel_settings.py", form, ["traced_app.py"])
    # An access log that names the worker that served each request.
    access_log = ["--access-logfile", "access.log", "--access-logformat", "%(p)s %(U)s"]
    server = serve(launch, project, options, *access_log, app="traced_app:app")
    old = server.workers()
    get_foo(server, 6)
    new = restart_workers(server)
    get_foo(server, 6)
    served = wait_until(lambda: served_by(project, 12), what="12 lines in the access log")
    # Workers of both generations served: those the HUP replaced, and the new ones.
    assert set(served) & set(old) and set(served) & set(new)
    assert exported_by(project) == served
    server.stop()
    assert server.report() == LIB_AFTER_FOO


def served_by(project, requests):
    """How many requests to /foo each worker served, once the access log
    (written after each response) has `requests` lines."""
    lines = (project / "access.log").read_text().splitlines()
    if len(lines) < requests:
        return None
    assert len(lines) == requests
    return Counter(int(line.strip("<").split(">")[0]) for line in lines if line.endswith(" /foo"))


def exported_by(project):
    """How many /foo spans each worker exported: the pid in every span of a
    worker's file is that worker's."""
    exported = Counter()
    for path in project.glob("spans.*.jsonl"):
        pid = int(path.name.split(".")[1])
        for line in path.read_text().splitlines():
            span = json.loads(line)
            assert (span["name"], span["resource"]["attributes"]["process.pid"]) == ("/foo", pid)
            exported[pid] += 1
    return exported


# --- A config with every hook ---------------------------------------------------

# What the all-hooks config logs for the requests of run_all_hooks: which
# process logged each hook's line, and how many times.
EVERY_HOOK = Counter({
    ("master", "on_starting"): 1,
    ("master", "nworkers_changed"): 2,  # As gunicorn reads the settings: at start, on HUP.
    ("master", "when_ready"): 1,
    ("master", "pre_fork"): 4,  # Two workers, then two more after the HUP.
    ("worker", "post_fork"): 4,
    ("worker", "post_worker_init"): 4,
    ("worker", "pre_request"): 2,
    ("worker", "post_request"): 2,
    ("master", "on_reload"): 1,
    ("worker", "worker_int"): 2,  # INT to the master is QUIT to its last two workers.
    ("worker", "worker_exit"): 4,
    ("master", "child_exit"): 4,
    ("master", "on_exit"): 1,
})


def run_all_hooks(project, launch, form="path", env=None):
    """The all-hooks config: /foo, HUP, /foo, then INT to the master."""
    options = make_project(
        project, "all_hooks_settings.py", form, [("startup.py", "example_app/startup.py")]
    )
    server = serve(launch, project, options, env=env)
    get_foo(server, 1)
    restart_workers(server)
    get_foo(server, 1)
    server.stop(signal.SIGINT)
    return server


def hooks_logged(server):
    """Which process, "master" or "worker", logged each "my hook: ..." line."""
    workers = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", server.log())}
    process = {server.pid: "master", **dict.fromkeys(workers, "worker")}
    return Counter(
        (process.get(pid, pid), message.removeprefix("my hook: "))
        for pid, _, message in log_lines(server) if message.startswith("my hook: ")
    )


def all_hooks(project, launch, form):
    """Every hook of the user's config logs what it logged without coverage,
    from the same process; coverage measures before the user's post_fork runs
    and saves after the user's worker_exit ran (example_app/startup.py)."""
    measured = run_all_hooks(project / "measured", launch, form)
    off = {"GUNICORN_COVERAGE": "off"}
    unmeasured = run_all_hooks(project / "unmeasured", launch, form, env=off)
    assert hooks_logged(measured) == hooks_logged(unmeasured) == EVERY_HOOK
    assert "Traceback" not in measured.log()  # No hook of coverage's failed either.
    assert measured.report() == LIB_AFTER_FOO
    assert measured.report(file="example_app/startup.py") == (5, 0, "100%", "")


SCENARIOS = {"prometheus": prometheus, "otel": otel, "all-hooks": all_hooks}


@pytest.mark.parametrize(
    ("scenario", "form"),
    [pytest.param(scenario, form, id=f"{scenario}-{form}")
     for scenario in SCENARIOS for form in FORMS],
)
def test_your_hooks_work_as_before_and_coverage_is_exact(scenario, form, tmp_path, launch):
    SCENARIOS[scenario](tmp_path / "project", launch, form)


# --- The rest of the page --------------------------------------------------------


def test_off_leaves_your_config_as_it_is(tmp_path, launch):
    """GUNICORN_COVERAGE=off: add_to adds nothing, so nothing is measured or said."""
    server = run_all_hooks(tmp_path / "project", launch, env={"GUNICORN_COVERAGE": "off"})
    assert hooks_logged(server) == EVERY_HOOK
    assert server.data_files() == []
    assert "coverage:" not in server.log()


def replaced_hooks_error(server, hooks):
    """The one ERROR line, from the master, naming the hooks defined after add_to."""
    errors = [(pid, message) for pid, level, message in log_lines(server) if level == "ERROR"]
    assert errors == [(
        server.pid,
        f"coverage: gunicorn.conf.py defines {hooks} after "
        "gunicorn_coverage.add_to(globals()), which replaces coverage's: "
        "move add_to below your last hook",
    )]


def test_a_hook_defined_after_add_to_is_named_in_one_line(project, launch):
    options = make_project(project, "late_hook_settings.py", "default")
    server = serve(launch, project, options)
    replaced_hooks_error(server, "post_request")
    get_foo(server, 1)  # Still serving, and measuring.
    server.stop()
    assert server.report() == LIB_AFTER_FOO


def test_a_late_when_ready_is_named_by_the_master_too(project, launch):
    """Coverage's when_ready is the hook that would have said it: on_starting,
    the first hook gunicorn calls, says it instead, once, in the master."""
    options = make_project(project, "late_when_ready_settings.py", "default")
    server = serve(launch, project, options)
    replaced_hooks_error(server, "when_ready")
    assert "the example service is ready" in server.log()


def test_hooks_named_by_import_path_are_loaded_as_gunicorn_loads_them(project, launch):
    """post_fork = "deploy_hooks.post_fork": add_to loads it the way gunicorn
    does, and coverage still measures before it and saves after worker_exit."""
    options = make_project(
        project, "named_hooks_settings.py",
        modules=["deploy_hooks.py", ("startup.py", "example_app/startup.py")],
    )
    server = serve(launch, project, options)
    get_foo(server, 1)
    server.stop()
    assert server.report() == LIB_AFTER_FOO
    assert server.report(file="example_app/startup.py") == (5, 0, "100%", "")


def test_your_worker_exit_raises_and_coverage_still_saves(project, launch):
    """The user's worker_exit runs first and fails (no stats agent listens);
    coverage's saves all the same, and gunicorn logs the user's exception."""
    options = make_project(project, "stats_settings.py")
    server = serve(launch, project, options)
    get_foo(server, 1)
    server.stop()
    log = server.log()
    assert log.count("[WARNING] Exception during worker exit:") == 2
    assert log.count("FileNotFoundError: [Errno 2] No such file or directory") == 2
    assert log.count("coverage: wrote") == 2
    assert server.report() == LIB_AFTER_FOO


def test_ctrl_c_saves_when_the_masters_quit_comes_while_your_worker_exit_runs(project, launch):
    """Ctrl+C: the terminal's INT reaches the worker, and the master's QUIT
    comes later (on a busy machine, after the worker began to exit): here
    while the user's worker_exit runs. gunicorn's handler would raise
    SystemExit again there, and coverage's save, which runs after the
    user's, would never run."""
    options = make_project(project, "slow_exit_settings.py")
    server = launch(*options, APP, directory=project)
    server.wait_for_workers(1)
    get_foo(server, 1)
    [worker] = server.workers()
    server.send_to_worker(worker, signal.SIGINT)
    wait_until(lambda: f"[{worker}] [INFO] my config: flushing" in server.log(), 10, "the worker's exit")
    server.send_to_worker(worker, signal.SIGQUIT)
    server.wait_for_exit({worker})
    assert f"[{worker}] [INFO] coverage: wrote" in server.log()
    assert server.report() == LIB_AFTER_FOO


def test_add_to_measures_what_the_hook_file_measures(tmp_path, launch):
    """The same requests give the same report whether gunicorn loads the hook
    file itself (-c gunicorn.conf.py) or a user config that calls add_to."""
    on_its_own = tmp_path / "hook-file"
    on_its_own.mkdir()
    copy_example(on_its_own)
    shutil.copy(OWN_CONFIGS / "metrics_app.py", on_its_own)
    added = tmp_path / "own-config"
    own_config = make_project(added, "prometheus_settings.py", modules=["metrics_app.py"])
    reports = [
        same_requests(launch, on_its_own, ["-c", "gunicorn.conf.py"]),
        same_requests(launch, added, own_config),
    ]
    assert Report.parse(reports[0]) == LIB_AFTER_FOO_AND_BAR
    # greet.py greeted Ada only: its line 4, for no name, did not run.
    assert Report.parse(reports[0], file="example_app/greet.py") == (4, 1, "75%", "4")
    assert reports[1] == reports[0]


def same_requests(launch, directory, options):
    """/foo and /hello?name=Ada, HUP, /bar, stop: the whole coverage report."""
    metrics_dir = directory / "prometheus"
    metrics_dir.mkdir()
    server = serve(
        launch, directory, options, app="metrics_app:app", env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    )
    assert server.curl("/foo") == "42"
    assert server.curl("/hello?name=Ada") == "Hello, Ada!"
    restart_workers(server)
    assert server.curl("/bar") == "43"
    server.stop()
    report = server.coverage("report", "--keep-combined", "--show-missing")
    # Not the "Combined 4 files" line: which files coverage skips as copies of
    # others depends on which worker happened to serve which request.
    return "\n".join(line for line in report.splitlines() if not line.startswith("Combined "))
