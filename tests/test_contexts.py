"""Per-request contexts (docs/contexts.rst): which test ran each server line.

With GUNICORN_COVERAGE_CONTEXT_HEADER set, the hook file records what each
request runs under the value of that request header, as coverage's dynamic
context. The client side, the pytest recipe in docs/examples/contexts/, runs
where contexts.rst types it (test_docs_transcripts.py); these tests send its
headers with curl.
"""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from expected import LIB_FOO_LINE_ONLY
from helpers import SYSMON, SYSMON_BRANCHES, add_to_coveragerc, copy_example

HEADER = {"GUNICORN_COVERAGE_CONTEXT_HEADER": "X-Coverage-Context"}


def lib_contexts(server):
    """`coverage json --show-contexts`: for each line of lib.py, the contexts that ran it."""
    out = server.coverage("json", "--show-contexts")
    assert "Wrote JSON report to coverage.json" in out, out + server.log()
    report = json.loads((server.directory / "coverage.json").read_text())
    return report["files"]["example_app/lib.py"]["contexts"]


def environment(**variables):
    """This process's environment without pytest's own variables, plus `variables`."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return {**kept, **variables}


def test_each_line_lists_the_tests_that_ran_it(start):
    """The requests of the docs' two example tests, with the headers their
    fixtures send (contexts.rst types the pytest run itself)."""
    server = start(env=HEADER)
    assert server.curl("/foo", "--header", "X-Coverage-Context: test_app.py::test_foo") == "42"
    assert server.curl("/bar", "--header", "X-Coverage-Context: test_app.py::test_bar") == "43"
    server.stop()

    assert lib_contexts(server) == {
        "1": [""],
        "2": ["test_app.py::test_foo"],  # curl
        "3": [""],
        "4": ["test_app.py::test_bar"],  # urllib
    }
    assert server.report("--contexts=test_foo") == LIB_FOO_LINE_ONLY
    assert "Wrote HTML report to htmlcov/index.html" in server.coverage("html", "--show-contexts")
    (page,) = (server.directory / "htmlcov").glob("*lib_py.html")
    html = page.read_text()
    assert "test_app.py::test_foo" in html and "test_app.py::test_bar" in html
    labels = re.findall(r'<label for="ctxs(\d)" class="ctx">([^<]*)</label>', html)
    assert labels == [("1", "(empty)"), ("2", "1 ctx"), ("3", "(empty)"), ("4", "1 ctx")]


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
    server.curl("/foo", "--header", "X-Coverage-Context: test_app.py::test_foo")
    server.stop()
    assert lib_contexts(server) == {
        "1": ["ci"], "2": ["ci|test_app.py::test_foo"], "3": ["ci"],
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
    assert server.process.wait(timeout=30) == 1
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
    assert server.process.wait(timeout=30) == 1
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
    """`coverage json --show-contexts` of every file (it combines the data files
    first), each line's contexts sorted: the report lists them in the order it met them."""
    out = server.coverage("json", "--show-contexts")
    assert "Wrote JSON report to coverage.json" in out, out + server.log()
    report = json.loads((server.directory / "coverage.json").read_text())["files"]
    for part in _parts_with_contexts(report):
        part["contexts"] = {line: sorted(names) for line, names in part["contexts"].items()}
    return report


def _parts_with_contexts(report):
    """Each file of a JSON report, and each function and class in it."""
    for file in report.values():
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
