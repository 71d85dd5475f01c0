"""Which core the hook file measures with, and that the choice changes no figure.

The hook file picks coverage's sysmon core where it measures correctly (Python
3.12+, no branch measurement before 3.14, no greenlets, no changing contexts, no
plugins) and otherwise lets coverage choose; a core the user chose is kept.
Each worker logs its core at debug level.
"""

import re
import signal
import sys

import pytest

from conftest import Report, wait_until

SYSMON = hasattr(sys, "monitoring")
DEFAULT = "sysmon" if SYSMON else "ctrace"
BRANCH = "ctrace" if sys.version_info < (3, 14) else DEFAULT  # sysmon measures branches from 3.14.

NOOP_PLUGIN = "def coverage_init(reg, options):\n    pass\n"


def cores_logged(server, workers=2):
    """The core each worker logged that it measures with (after gunicorn's
    "Booting worker" line, so wait for every worker's)."""
    return wait_until(
        lambda: found if len(
            found := re.findall(r"coverage: measuring with the (\w+) core", server.log())
        ) >= workers else None,
        what=f"{workers} workers to log their core",
    )


@pytest.mark.parametrize(
    "env, settings, core",
    [
        pytest.param({}, [], DEFAULT, id="default"),
        pytest.param({"COVERAGE_CORE": "ctrace"}, [], "ctrace", id="COVERAGE_CORE=ctrace"),
        pytest.param({"COVERAGE_CORE": "pytrace"}, [], "pytrace", id="COVERAGE_CORE=pytrace"),
        pytest.param({}, ["core = pytrace"], "pytrace", id="run-core-pytrace"),
        pytest.param({"COVERAGE_CORE": "ctrace"}, ["core = pytrace"], "ctrace",
                     id="COVERAGE_CORE-wins-over-run-core"),
        pytest.param({}, ["branch = True"], BRANCH, id="branch"),
        pytest.param({}, ["dynamic_context = test_function"], "ctrace", id="dynamic-context"),
        pytest.param({"GUNICORN_COVERAGE_CONTEXT_HEADER": "X-Test-Name"}, [], "ctrace",
                     id="context-header"),
        pytest.param({}, ["plugins = noop_plugin"], "ctrace", id="plugins"),
    ],
)
def test_the_hook_file_chooses_the_core(start, example, env, settings, core):
    (example / "noop_plugin.py").write_text(NOOP_PLUGIN)
    with open(example / ".coveragerc", "a") as rc:
        rc.write("".join(f"{line}\n" for line in settings))
    server = start("--log-level", "debug", env=env)
    assert cores_logged(server) == [core, core]
    assert "CoverageWarning" not in server.log()  # coverage never had to overrule the choice.


def test_gevent_concurrency_keeps_coverages_choice(start, example):
    pytest.importorskip("gevent", reason="concurrency = gevent needs gevent installed")
    with open(example / ".coveragerc", "a") as rc:
        rc.write("concurrency = gevent\n")
    server = start("--log-level", "debug", "--worker-class", "gevent")
    assert cores_logged(server) == ["ctrace", "ctrace"]
    assert "CoverageWarning" not in server.log()
    server.curl("/foo")
    server.stop()
    assert server.report() == (4, 1, "75%", "4")


def measure_foo_then_orders_then_foo_after_an_erase(start, env):
    """One worker serves /foo and /orders, snapshots, the data is erased, it serves /foo
    again and stops: the report must count the second /foo, whichever core measured."""
    server = start("--log-level", "debug", env=env, workers=1)
    server.curl("/foo")
    server.curl("/orders")
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    first = server.coverage("report", "--show-missing")
    server.coverage("erase")
    server.curl("/foo")
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    server.stop()
    return cores_logged(server, workers=1), first, server.coverage("report", "--show-missing")


@pytest.mark.skipif(not SYSMON, reason="sysmon needs Python 3.12+; below, the default is ctrace")
def test_sysmon_reports_what_ctrace_reports(start, example):
    sysmon = measure_foo_then_orders_then_foo_after_an_erase(start, {})
    for path in example.glob(".coverage*"):
        if path.name != ".coveragerc":
            path.unlink()
    ctrace = measure_foo_then_orders_then_foo_after_an_erase(start, {"COVERAGE_CORE": "ctrace"})
    assert sysmon[0] == ["sysmon"] and ctrace[0] == ["ctrace"]
    assert Report.parse(sysmon[1]) == (4, 1, "75%", "4")
    assert Report.parse(sysmon[1], "example_app/orders.py").cover == "100%"
    # After the erase only the second /foo counts, and its lines ran before:
    # sysmon must report them again.
    assert Report.parse(sysmon[2]) == (4, 3, "25%", "1, 3-4")
    assert sysmon[1:] == ctrace[1:]
