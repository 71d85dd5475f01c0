"""Which core the hook file measures with, and that the choice changes no figure.

The hook file picks coverage's sysmon core where it measures correctly (Python
3.12 and newer; no branch measurement before Python 3.14, no greenlets, no
dynamic_context, no plugins) and ctrace otherwise; a core the user chose is
kept. Each worker logs its core at debug level.
"""

import json
import shutil
import signal
import subprocess
import sys

import pytest

from expected import CORE, LIB_AFTER_FOO, LIB_FOO_LINE_ONLY, Report
from helpers import ROOT, SYSMON, SYSMON_BRANCHES, add_to_coveragerc, cores_logged

NOOP_PLUGIN = "def coverage_init(reg, options):\n    pass\n"


@pytest.mark.parametrize(
    "env, settings, core",
    [
        pytest.param({}, [], CORE.hook_file, id="default"),
        pytest.param({"COVERAGE_CORE": "ctrace"}, [], "ctrace", id="COVERAGE_CORE=ctrace"),
        pytest.param({"COVERAGE_CORE": "pytrace"}, [], "pytrace", id="COVERAGE_CORE=pytrace"),
        pytest.param({}, ["core = pytrace"], "pytrace", id="run-core-pytrace"),
        pytest.param({"COVERAGE_CORE": "ctrace"}, ["core = pytrace"], "ctrace",
                     id="COVERAGE_CORE-wins-over-run-core"),
        pytest.param({}, ["branch = True"], CORE.with_branch, id="branch"),
        pytest.param({}, ["dynamic_context = test_function"], CORE.needs_ctrace, id="dynamic-context"),
        pytest.param({"GUNICORN_COVERAGE_CONTEXT_HEADER": "X-Test-Name"}, [], CORE.hook_file,
                     id="context-header"),
        pytest.param({}, ["plugins = noop_plugin"], CORE.needs_ctrace, id="plugins"),
    ],
)
def test_the_hook_file_chooses_the_core(start, example, env, settings, core):
    (example / "noop_plugin.py").write_text(NOOP_PLUGIN)
    add_to_coveragerc(example, *settings)
    server = start("--log-level", "debug", env=env)
    assert cores_logged(server) == [core, core]
    assert "CoverageWarning" not in server.log()  # coverage never had to overrule the choice.


def test_gevent_concurrency_measures_with_ctrace(start, example):
    pytest.importorskip("gevent", reason="concurrency = gevent needs gevent installed")
    add_to_coveragerc(example, "concurrency = gevent")
    server = start("--log-level", "debug", "--worker-class", "gevent")
    assert cores_logged(server) == [CORE.needs_ctrace, CORE.needs_ctrace]
    assert "CoverageWarning" not in server.log()
    server.curl("/foo")
    server.stop()
    assert server.report() == LIB_AFTER_FOO


def measure_twice_with_an_erase_between(start, env, first, second, *report):
    """One worker serves the paths `first` and snapshots; `coverage <report>`
    reads that (combining and removing the data file) and the data is erased;
    it serves the paths `second`, snapshots again and stops. Both readings must
    count their own requests only, whichever core measured: lines that ran
    before the erase must be reported again. Returns the core the worker
    logged and the two readings."""
    server = start("--log-level", "debug", env=env, workers=1)
    readings = []
    for paths in (first, second):
        for path in paths:
            server.curl(path)
        server.send(signal.SIGUSR1)
        server.wait_for_data_files(1)
        readings.append(server.coverage(*report))
        server.coverage("erase")
    server.stop()
    return cores_logged(server, workers=1), *readings


def foo_and_orders_then_foo(start, env):
    return measure_twice_with_an_erase_between(
        start, env, ["/foo", "/orders"], ["/foo"], "report", "--show-missing"
    )


@pytest.mark.skipif(not SYSMON, reason="sysmon needs Python 3.12 and newer; before, the default is ctrace")
def test_sysmon_reports_what_ctrace_reports(start, example):
    sysmon = foo_and_orders_then_foo(start, {})
    ctrace = foo_and_orders_then_foo(start, {"COVERAGE_CORE": "ctrace"})
    assert sysmon[0] == ["sysmon"] and ctrace[0] == ["ctrace"]
    assert Report.parse(sysmon[1]) == LIB_AFTER_FOO
    assert Report.parse(sysmon[1], "example_app/orders.py").cover == "100%"
    # After the erase only the second /foo counts, and its lines ran before:
    # sysmon must report them again.
    assert Report.parse(sysmon[2]) == LIB_FOO_LINE_ONLY
    assert sysmon[1:] == ctrace[1:]


def lines_and_arcs(server_json):
    """Per file of `coverage json`: the lines and branches run and missed."""
    keys = ("executed_lines", "missing_lines", "executed_branches", "missing_branches")
    files = json.loads(server_json)["files"]
    return {path: {key: measured[key] for key in keys} for path, measured in files.items()}


def greet_ada_then_nobody(start, env):
    cores, first, second = measure_twice_with_an_erase_between(
        start, env, ["/foo", "/orders", "/hello?name=Ada"], ["/foo", "/hello"],
        "json", "--quiet", "-o", "-",
    )
    return cores, lines_and_arcs(first), lines_and_arcs(second)


@pytest.mark.skipif(not SYSMON_BRANCHES, reason="sysmon measures branches on Python 3.14 and newer; "
                    "before, the hook file measures them with ctrace")
def test_sysmon_measures_branches_as_ctrace_does(start, example):
    shutil.copy(ROOT / "docs" / "config" / "branch.coveragerc", example / ".coveragerc")
    sysmon = greet_ada_then_nobody(start, {})
    ctrace = greet_ada_then_nobody(start, {"COVERAGE_CORE": "ctrace"})
    assert sysmon[0] == ["sysmon"] and ctrace[0] == ["ctrace"]
    # greet.py's `if name:` on line 2 went to line 3 for Ada, to line 4 for nobody.
    assert sysmon[1]["example_app/greet.py"] == {
        "executed_lines": [1, 2, 3], "missing_lines": [4],
        "executed_branches": [[2, 3]], "missing_branches": [[2, 4]],
    }
    assert sysmon[2]["example_app/greet.py"] == {
        "executed_lines": [2, 4], "missing_lines": [1, 3],
        "executed_branches": [[2, 4]], "missing_branches": [[2, 3]],
    }
    assert sysmon[1:] == ctrace[1:]  # Every file, every line and branch.


def serve_a_django_template(start, example, env):
    """The page of tests/apps/django_page.py, measured with django_coverage_plugin."""
    shutil.copy(ROOT / "tests" / "apps" / "django_page.py", example / "example_app")
    shutil.copytree(ROOT / "tests" / "apps" / "templates", example / "example_app" / "templates")
    add_to_coveragerc(example, "plugins = django_coverage_plugin")
    server = start("--log-level", "debug", env=env, workers=1, app="example_app.django_page:app")
    assert server.curl("/?name=Ada").strip() == "Hello, Ada!"
    server.stop()
    return server


TEMPLATE = "example_app/templates/hello.html"


def test_a_file_tracer_plugin_measures_templates(start, example):
    """On every Python, ctrace, which runs the plugin: on Python 3.14 and
    newer, coverage's own default would be sysmon, which does not."""
    server = serve_a_django_template(start, example, {})
    assert cores_logged(server, workers=1) == ["ctrace"]
    assert "CoverageWarning" not in server.log()
    # Line 4, "Hello, world!", is the only one of the template not rendered.
    assert server.report(file=TEMPLATE) == (3, 1, "67%", "4")


@pytest.mark.skipif(not SYSMON, reason="sysmon needs Python 3.12 and newer")
def test_sysmon_runs_no_file_tracer_plugin(start, example):
    """Why the hook file avoids sysmon with plugins. If this fails, coverage's
    sysmon core runs plugins now, and the hook file can stop avoiding it."""
    server = serve_a_django_template(start, example, {"COVERAGE_CORE": "sysmon"})
    assert cores_logged(server, workers=1) == ["sysmon"]
    assert (
        "CoverageWarning: Plugin file tracers (django_coverage_plugin.DjangoTemplatePlugin) "
        "aren't supported with SysMonitor"
    ) in server.log()
    assert server.report(file=TEMPLATE) == (3, 3, "0%", "1-4")


def test_coverages_own_default_core():
    """Without the hook file's choice coverage uses ctrace before Python 3.14,
    and sysmon on Python 3.14 and newer."""
    code = (
        "import coverage; cov = coverage.Coverage(data_file=None); cov.start(); "
        "print(dict(cov.sys_info())['core']); cov.stop()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    class_name = {"sysmon": "SysMonitor", "ctrace": "CTracer"}[CORE.coverages_own]
    assert done.stdout.split() == [class_name], done.stderr
