"""Per-request contexts (docs/contexts.rst): which test ran each line, in the
tests and in the server.

With GUNICORN_COVERAGE_CONTEXT_HEADER set, the hook file records what each
request runs under the value of that request header, as coverage's dynamic
context. The recipe of docs/examples/contexts runs its tests with pytest-cov,
whose name for each test the fixtures send: the first tests below run it and
check one report of both sides, and what they rely on in pytest-cov 7.1.0;
contexts.rst types it too (test_docs_transcripts.py), and test_containers.py
runs it against a server apart, in a container. The others send headers with
curl.
"""

import importlib.util
import json
import re
import shutil
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from expected import (
    APP_AFTER_FOO_AND_BAR, APP_FOO_LINE_ONLY, APP_NOT_RUN, BAR, BOTH_SIDES, CORE, FOO,
    LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, LIB_FOO_LINE_ONLY, REFUSED_AT_START, SERVER_SIDE, TESTS_SIDE,
)
from helpers import (
    HOOK_FILE, ROOT, SYSMON, SYSMON_BRANCHES, add_to_coveragerc, contexts, copy_example, coverage_json,
    environment, report, run_pytest_cov,
)

HEADER = {"GUNICORN_COVERAGE_CONTEXT_HEADER": "X-Coverage-Context"}


def lib_contexts(server):
    """For each line of lib.py that ran, the contexts that ran it."""
    return server.coverage_json("--show-contexts")["example_app/lib.py"]["contexts"]


def copy_the_suite(example):
    """docs/examples/contexts, and the hook file where its fixture takes it from,
    in the example project, as a reader has them in a clone."""
    shutil.copytree(ROOT / "docs" / "examples" / "contexts", example / "docs" / "examples" / "contexts")
    (example / "hooks").mkdir()
    shutil.copy(HOOK_FILE, example / "hooks" / "gunicorn.conf.py")


def test_one_pytest_run_gives_one_report_of_both_sides(example):
    """contexts.rst's recipe: the suite's fixture starts the server with the hook
    file and stops it after the last test; pytest-cov combines both sides."""
    copy_the_suite(example)
    run_pytest_cov(example, "--basetemp", str(example / "pytest-tmp"), "docs/examples/contexts",
                   env={"COVERAGE_CORE": "ctrace", "GUNICORN_CMD_ARGS": "--log-level debug"})

    assert list(example.glob(".coverage.*")) == []  # pytest-cov combined the workers' files.
    # The workers measured with the hook file's core, not the tests' ctrace.
    server_log = (example / "pytest-tmp" / "server0" / "gunicorn.log").read_text()
    assert server_log.count(f"coverage: measuring with the {CORE.hook_file} core") == 2, server_log
    assert contexts(coverage_json(example, "--show-contexts")) == BOTH_SIDES
    assert report(example, file="example_app/lib.py") == LIB_AFTER_FOO_AND_BAR
    assert report(example, file="example_app/app.py") == APP_AFTER_FOO_AND_BAR
    assert report(example, "--contexts=test_foo", file="example_app/lib.py") == LIB_FOO_LINE_ONLY
    assert report(example, "--contexts=test_foo", file="example_app/app.py") == APP_FOO_LINE_ONLY

    html = subprocess.run(
        [sys.executable, "-m", "coverage", "html", "--show-contexts"], cwd=example,
        env=environment(), capture_output=True, text=True, timeout=30, check=True,
    )
    assert "Wrote HTML report to htmlcov/index.html" in html.stdout + html.stderr
    (page,) = (example / "htmlcov").glob("*lib_py.html")
    assert what_the_html_page_shows(page.read_text()) == {
        "1": ("(empty)", []), "2": ("1 ctx", [FOO]), "3": ("(empty)", []), "4": ("1 ctx", [BAR]),
    }


def what_the_html_page_shows(html):
    """For each line of a page of `coverage html --show-contexts`: its label, and
    the names that a click on it opens, decoded as coverage's JavaScript does
    (coverage.expand_contexts: a digit, the key width, then the keys)."""
    names = json.loads(re.search(r"contexts = (\{.*?\})\s*</script>", html, re.S)[1])
    shown = {}
    for line, label, keys in re.findall(
        r'<label for="ctxs(\d+)" class="ctx">([^<]*)</label></span>'
        r'(?:<span class="ctxs">(\w+)</span>)?', html,
    ):
        width = int(keys[0]) if keys else 1
        shown[line] = (label, [names[keys[i:i + width]] for i in range(1, len(keys), width)])
    return shown


def test_a_server_apart_writes_its_files_elsewhere_to_combine_after(start, example):
    """contexts.rst, "A server that runs apart from the tests": its workers'
    files in a directory of their own; after the server stops, one combine."""
    copy_the_suite(example)
    server = start(env={**HEADER, "COVERAGE_FILE": "server-coverage/.coverage"})
    run_pytest_cov(example, "docs/examples/contexts",
                   env={"APP_URL": server.url, "COVERAGE_CORE": "ctrace"})

    assert not (example / "server-coverage").exists()  # The workers wrote nothing yet.
    assert contexts(coverage_json(example, "--show-contexts")) == TESTS_SIDE
    assert report(example, file="example_app/lib.py") == LIB_AFTER_FOO
    assert report(example, file="example_app/app.py") == APP_NOT_RUN

    server.stop()
    server_side = coverage_json(example, "--show-contexts", "--data-file=server-coverage/.coverage")
    assert contexts(server_side) == SERVER_SIDE
    assert "Combined 2 files" in server.coverage("combine", "--append", "server-coverage")
    assert contexts(coverage_json(example, "--show-contexts")) == BOTH_SIDES
    assert report(example, file="example_app/lib.py") == LIB_AFTER_FOO_AND_BAR
    assert report(example, file="example_app/app.py") == APP_AFTER_FOO_AND_BAR


def test_pytest_cov_deletes_the_files_of_a_server_apart_beside_it(start, example, tmp_path):
    """Why a server apart needs a directory of its own (pytest-cov 7.1.0): its
    workers' files beside .coverage come after pytest-cov combined, and the next
    pytest run deletes them as it starts."""
    copy_the_suite(example)
    first = start(env=HEADER)
    run_pytest_cov(example, "docs/examples/contexts",
                   env={"APP_URL": first.url, "COVERAGE_CORE": "ctrace"})
    first.stop()
    assert len(first.data_files()) == 2
    assert measured_in_coverage_file(example) == TESTS_SIDE_FILES  # Not the server's app.py.
    # Combined into .coverage by hand (and kept), they are in it; until the next run.
    assert "Combined 2 files" in first.coverage("combine", "--append", "--keep")
    assert "example_app/app.py" in measured_in_coverage_file(example)

    second_directory = tmp_path / "second"  # Another server, the same project's tests.
    second_directory.mkdir()
    copy_example(second_directory)
    second = start(env=HEADER, directory=second_directory)
    run_pytest_cov(example, "docs/examples/contexts",
                   env={"APP_URL": second.url, "COVERAGE_CORE": "ctrace"})
    assert first.data_files() == []  # Deleted as it started, .coverage as well:
    assert measured_in_coverage_file(example) == TESTS_SIDE_FILES


# The files of the package that ran in the test process: it imports lib.py only.
TESTS_SIDE_FILES = {"example_app/__init__.py", "example_app/lib.py"}

MEASURED_FILES = """
import coverage
data = coverage.CoverageData()  # .coverage itself: no .coverage.* file combined in.
data.read()
print("\\n".join(path for path in data.measured_files() if data.lines(path)))
"""


def measured_in_coverage_file(directory):
    """The files of which .coverage holds lines that ran, relative to `directory`."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_FILES], cwd=directory, env=environment(),
        capture_output=True, text=True, timeout=30, check=True,
    )
    return {Path(path).relative_to(directory).as_posix() for path in done.stdout.split()}


def test_the_recipe_is_proven_with_the_pytest_cov_that_tox_pins():
    """The tests above run the pytest-cov that tox installs, the one that
    contexts.rst has readers install and the reference names."""
    tox = dict(re.findall(r"^    (pytest|pytest-cov)==(\S+)$", (ROOT / "tox.ini").read_text(), re.M))
    assert metadata.version("pytest-cov") == tox["pytest-cov"]
    assert metadata.version("pytest") == tox["pytest"]
    page = (ROOT / "docs" / "contexts.rst").read_text()
    assert f"pip install pytest=={tox['pytest']} pytest-cov=={tox['pytest-cov']}" in page
    reference = " ".join((ROOT / "docs" / "reference.rst").read_text().split())
    assert f"pytest {tox['pytest']} and pytest-cov {tox['pytest-cov']}" in reference


TWO_TESTS_OF_ONE_LINE = """
from example_app import lib

def test_one():
    assert lib.foo() == 42

def test_two():
    assert lib.foo() == 42
"""


@pytest.mark.parametrize("core", ["", "ctrace"], ids=["coverages-default", "ctrace"])
def test_pytest_cov_records_every_test_with_ctrace(example, core):
    """Why contexts.rst runs pytest with COVERAGE_CORE=ctrace: pytest-cov switches
    contexts through coverage's API, which the sysmon core, coverage's default on
    Python 3.14 and newer, does not follow (pytest-cov #755)."""
    (example / "test_two.py").write_text(TWO_TESTS_OF_ONE_LINE)
    out = run_pytest_cov(example, "test_two.py", env={"COVERAGE_CORE": core})
    line_2 = sorted(coverage_json(example, "--show-contexts")["example_app/lib.py"]["contexts"]["2"])
    if core == "" and CORE.coverages_own == "sysmon":
        assert line_2 == ["test_two.py::test_one|run"]  # test_two's run is lost,
        assert "(no-sysmon-context)" in out, out  # and coverage warns once.
    else:
        assert line_2 == ["test_two.py::test_one|run", "test_two.py::test_two|run"]
        assert "CoverageWarning" not in out, out


def test_the_html_report_run_again_shows_the_contexts_of_now(start, example):
    """contexts.rst: the same lines run again under another test, the HTML
    report written again into the same htmlcov. coverage 7.17.5 kept such a
    page as it was, with the contexts of before (coverage.py #2372, fixed in 7.18.0)."""
    for test in ("test_app.py::test_one", "test_app.py::test_two"):
        server = start(env=HEADER, workers=1)
        assert server.curl("/foo", "--header", f"X-Coverage-Context: {test}") == "42"
        server.stop()
        (example / ".coverage").unlink(missing_ok=True)  # Only this server's file: a fresh start.
        assert "Wrote HTML report to htmlcov/index.html" in server.coverage("html", "--show-contexts")
        (page,) = (example / "htmlcov").glob("*lib_py.html")
        assert test in page.read_text()
    assert "test_app.py::test_one" not in page.read_text()


def test_bad_values_are_ignored_with_one_line_each(start):
    server = start(env=HEADER, workers=1)
    for value in ["x" * 201, "test_café.py::test_foo", "test_app.py::test\tfoo"]:
        assert server.curl("/foo", "--header", f"X-Coverage-Context: {value}") == "42"
    assert server.curl(
        "/foo", "--header", "X-Coverage-Context: one", "--header", "X-Coverage-Context: two"
    ) == "42"
    assert server.curl("/foo") == "42"  # No header: the default context, and no log line.
    assert server.curl("/bar", "--header", f"X-Coverage-Context: {'y' * 200}") == "43"
    # Control characters other than tab: gunicorn refuses the request itself.
    assert server.status("/foo", "--header", "X-Coverage-Context: a\x01b") == 400
    server.stop()

    ignored = [line[line.index("[WARNING]"):] for line in server.log().splitlines()
               if "coverage: ignored" in line]
    reason = "its lines count under the default context"
    assert ignored == [
        f"[WARNING] coverage: ignored the X-Coverage-Context header of GET /foo: {problem}; {reason}"
        for problem in [
            "it is longer than 200 characters",
            "it has characters other than printable ASCII",
            "it has characters other than printable ASCII",
            "it is sent more than once",
        ]
    ]
    assert lib_contexts(server) == {"1": [""], "2": [""], "3": [""], "4": ["y" * 200]}


def test_snapshots_keep_each_requests_context(start):
    """A snapshot writes the contexts so far; the next file goes on from there."""
    server = start(env=HEADER, workers=1)
    server.curl("/foo", "--header", "X-Coverage-Context: first")
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    server.curl("/bar", "--header", "X-Coverage-Context: second")
    server.stop()
    assert len(server.data_files()) == 2
    assert lib_contexts(server) == {"1": [""], "2": ["first"], "3": [""], "4": ["second"]}


def test_a_static_context_comes_first(start, example):
    add_to_coveragerc(example, "context = ci")
    server = start(env=HEADER, workers=1)
    server.curl("/foo", "--header", f"X-Coverage-Context: {FOO}")
    server.stop()
    assert lib_contexts(server) == {
        "1": ["ci"], "2": [f"ci|{FOO}"], "3": ["ci"],
    }


def _installed(module):
    return importlib.util.find_spec(module) is not None


OTHER_WORKERS = [
    pytest.param(["--threads", "4"], "--worker-class gthread --threads 4", id="threads-4"),
    pytest.param(["--worker-class", "gthread"], "--worker-class gthread", id="gthread-1"),
    pytest.param(["--worker-class", "asgi"], "--worker-class asgi", id="asgi"),
    pytest.param(
        ["--worker-class", "gevent"], "--worker-class gevent", id="gevent",
        marks=pytest.mark.skipif(not _installed("gevent"), reason="gevent is not installed"),
    ),
    pytest.param(
        ["--worker-class", "tornado"], "--worker-class tornado", id="tornado",
        marks=pytest.mark.skipif(not _installed("tornado"), reason="tornado is not installed"),
    ),
]


@pytest.mark.parametrize(("options", "named"), OTHER_WORKERS)
def test_refuses_workers_other_than_sync(start, options, named):
    server = start(*options, env=HEADER, wait=False)
    assert server.process.wait(timeout=30) == REFUSED_AT_START
    assert (
        "[ERROR] Reason: GUNICORN_COVERAGE_CONTEXT_HEADER needs sync workers, which serve "
        f"one request at a time, not {named}"
    ) in server.log()
    assert "Booting worker" not in server.log()
    assert not server.pid_file.exists()


GTHREAD_LOSS = """
import threading, coverage
cov = coverage.Coverage(data_file=None, source=["example_app"])
cov.start()
def request():  # What a gthread worker's thread does for a request with the header.
    cov.switch_context("test_app.py::test_foo")
    from example_app import lib
    lib.foo()
    cov.switch_context("")
thread = threading.Thread(target=request)
thread.start()
thread.join()
cov.stop()
data = cov.get_data()  # The worker's last save, in its main thread.
print(sum(len(data.lines(path)) for path in data.measured_files()))
"""


def test_coverage_loses_what_an_ended_thread_wrote_in_memory(example):
    """Why gthread is refused even with one thread (coverage 7.18.0).

    If this fails, coverage keeps that data now: gthread --threads 1 could be allowed.
    """
    done = subprocess.run(
        [sys.executable, "-c", GTHREAD_LOSS], cwd=example, env=environment(),
        capture_output=True, text=True, timeout=30,
    )
    assert done.stdout.split() == ["0"], done.stdout + done.stderr


@pytest.mark.parametrize("name", ["X_Coverage_Context", "X-Coverage Context"])
def test_refuses_a_header_name_that_gunicorn_would_not_pass_on(start, name):
    server = start(env={"GUNICORN_COVERAGE_CONTEXT_HEADER": name}, wait=False)
    assert server.process.wait(timeout=30) == REFUSED_AT_START
    assert (
        f"GUNICORN_COVERAGE_CONTEXT_HEADER={name!r} is not valid: use a header name of letters, "
        "digits and '-', such as X-Coverage-Context, or leave it unset."
    ) in server.log()


@pytest.mark.skipif(not SYSMON, reason="coverage's sysmon core needs Python 3.12 and newer")
@pytest.mark.parametrize("asked_by", ["COVERAGE_CORE", "coveragerc"])
def test_sysmon_asked_for_records_contexts(start, example, asked_by):
    env = dict(HEADER)
    if asked_by == "COVERAGE_CORE":
        env["COVERAGE_CORE"] = "sysmon"
    else:
        add_to_coveragerc(example, "core = sysmon")
    server = start("--log-level", "debug", env=env, workers=1)
    # sysmon reports a line only the first time it runs: "one" needs the re-arming.
    server.curl("/foo")
    server.curl("/foo", "--header", "X-Coverage-Context: one")
    server.stop()
    assert "coverage: measuring with the sysmon core" in server.log()
    assert "CoverageWarning" not in server.log()
    assert lib_contexts(server) == {"1": [""], "2": ["", "one"], "3": [""]}


def full_report(server):
    """`coverage json --show-contexts` of every file, each line's contexts
    sorted: the report lists them in the order it met them."""
    files = server.coverage_json("--show-contexts")
    for part in _parts_with_contexts(files):
        part["contexts"] = {line: sorted(names) for line, names in part["contexts"].items()}
    return files


def _parts_with_contexts(files):
    """Each file of a JSON report, and each function and class in it."""
    for file in files.values():
        yield file
        for kind in ("functions", "classes"):
            yield from file.get(kind, {}).values()


def serve_a_test_session(server):
    """Requests as an integration suite sends them: tests of several requests,
    requests without the header, a context that comes back, a USR1 snapshot
    and a HUP in between."""
    def test(context, *paths):
        header = ["--header", f"X-Coverage-Context: {context}"] if context else []
        for path in paths:
            server.curl(path, *header)

    test("test_foo", "/foo", "/foo", "/foo")
    test("", "/bar", "/hello?name=ada")
    test("test_orders", "/orders", "/orders", "/foo")
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    test("test_foo", "/bar", "/hello")
    old_workers = server.workers()
    server.send(signal.SIGHUP)
    server.wait_for_exit(old_workers)
    server.wait_for_workers(2)
    test("test_hello", "/hello?name=bob", "/hello", "/foo")
    test("test_orders", "/orders", "/bar")
    server.stop()


BRANCH = [
    pytest.param(False, id="lines"),
    pytest.param(True, id="branches", marks=pytest.mark.skipif(
        not SYSMON_BRANCHES, reason="sysmon measures branches on Python 3.14 and newer")),
]


@pytest.mark.skipif(not SYSMON, reason="coverage's sysmon core needs Python 3.12 and newer")
@pytest.mark.parametrize("branch", BRANCH)
@pytest.mark.parametrize("preload", [[], ["--preload"]], ids=["", "preload"])
def test_sysmon_records_what_ctrace_records(start, tmp_path, branch, preload):
    """The same requests, measured with each core: the same report, line by
    line and context by context (and branch by branch)."""
    reports = {}
    for core in ("ctrace", "sysmon"):
        directory = tmp_path / core
        directory.mkdir()
        copy_example(directory)
        if branch:
            add_to_coveragerc(directory, "branch = True")
        server = start(*preload, "--log-level", "debug", directory=directory,
                       env={**HEADER, "COVERAGE_CORE": core})
        serve_a_test_session(server)
        assert server.log().count(f"coverage: measuring with the {core} core") == 4
        assert "CoverageWarning" not in server.log()
        reports[core] = full_report(server)
    assert reports["sysmon"] == reports["ctrace"]
    lib = reports["sysmon"]["example_app/lib.py"]["contexts"]
    assert lib == {"1": [""], "2": ["test_foo", "test_hello", "test_orders"],
                   "3": [""], "4": ["", "test_foo", "test_orders"]}


SYSMON_CONTEXTS = """
import sys, coverage
cov = coverage.Coverage(data_file=None, source=["example_app"])
cov.set_option("run:core", "sysmon")
cov.start()
from example_app import lib
lib.foo()
cov.switch_context("switched")
lib.foo()
cov.switch_context("switched and re-armed")
sys.monitoring.restart_events()
lib.foo()
cov.stop()
data = cov.get_data()
(path,) = [path for path in data.measured_files() if path.endswith("lib.py")]
print(sorted(data.contexts_by_lineno(path)[2]))
"""


@pytest.mark.skipif(not SYSMON, reason="coverage's sysmon core needs Python 3.12 and newer")
def test_coverage_sysmon_needs_re_arming_for_contexts(example):
    """Why the hook file re-arms sys.monitoring at each context switch, and why it
    silences one warning (coverage 7.18.0).

    If this fails, coverage changed how sysmon records contexts: the hook file
    must be checked again before its users' reports are trusted.
    """
    done = subprocess.run(
        [sys.executable, "-c", SYSMON_CONTEXTS], cwd=example, env=environment(),
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    # Without the re-arming a line that ran before is not recorded again.
    assert done.stdout.split("\n")[0] == "['', 'switched and re-armed']", done.stdout
    # coverage says so, once, under the name that the hook file disables.
    assert done.stderr.count("CoverageWarning") == 1, done.stderr
    assert "context data may be incomplete (no-sysmon-context)" in done.stderr, done.stderr
