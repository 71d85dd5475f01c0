"""Which coverage core measures each worker class, and when coverage falls back
(docs/worker-classes.rst, "Coverage cores").

COVERAGE_CORE asks for a core; coverage's own debug output (COVERAGE_DEBUG=core)
says which one it used, in every process that measures.
"""

import shutil

import pytest

from helpers import ROOT, SYSMON, SYSMON_BRANCHES, cores_used

OPTIONS = {
    "sync": (),
    "gthread": ("--worker-class", "gthread", "--threads", "4"),
    "gevent": ("--worker-class", "gevent"),
}


def expected(core, worker_class, branch=False):
    """(the core coverage uses, the reason it gives for not using sysmon) on this Python.

    Unless COVERAGE_CORE names one, the hook file picks sysmon where it measures
    correctly and ctrace elsewhere, with no warning.
    """
    if core is None:
        sysmon_fits = (
            SYSMON and (SYSMON_BRANCHES or not branch) and worker_class != "gevent"
        )
        return ("sysmon" if sysmon_fits else "ctrace"), None
    if core != "sysmon":
        return core, None
    if not SYSMON:
        return "ctrace", "sys.monitoring isn't available in this version"
    if branch and not SYSMON_BRANCHES:
        return "ctrace", "sys.monitoring can't measure branches in this version"
    if worker_class == "gevent":
        return "ctrace", "it doesn't support concurrency=gevent"
    return "sysmon", None


CASES = [
    pytest.param(core, worker_class, False, id=f"{core or 'default'}-{worker_class}")
    for core in (None, "ctrace", "pytrace", "sysmon")
    for worker_class in OPTIONS
    if (core, worker_class) != ("pytrace", "gevent")  # See the last test.
] + [
    pytest.param(core, "sync", True, id=f"{core or 'default'}-sync-branch")
    for core in (None, "sysmon")
]


def start_measured(start, example, core, worker_class, branch=False, wait=True):
    if worker_class == "gevent":
        pytest.importorskip("gevent", reason="gevent needs example_app/requirements-workers.txt")
        shutil.copy(ROOT / "docs" / "config" / "gevent.coveragerc", example / ".coveragerc")
    if branch:
        shutil.copy(ROOT / "docs" / "config" / "branch.coveragerc", example / ".coveragerc")
    env = {"COVERAGE_DEBUG": "core", "COVERAGE_DEBUG_FILE": str(example / "debug.txt")}
    if core:
        env["COVERAGE_CORE"] = core
    return start(*OPTIONS[worker_class], workers=1, env=env, wait=wait)


@pytest.mark.parametrize(("core", "worker_class", "branch"), CASES)
def test_the_core_that_measures_the_workers(start, example, core, worker_class, branch):
    server = start_measured(start, example, core, worker_class, branch)
    assert server.curl("/foo") == "42"
    server.stop()
    used, reason = expected(core, worker_class, branch)
    assert cores_used(example / "debug.txt") == {used}  # The master's and the worker's.
    warning = f"Can't use core=sysmon: {reason}, using default core (no-sysmon)"
    assert (warning in server.log()) == (reason is not None)
    stmts, missed, *_ = server.report()
    assert (stmts, missed) == (4, 1)


def test_pytrace_cannot_follow_gevent_and_gunicorn_does_not_start(start, example):
    server = start_measured(start, example, "pytrace", "gevent", wait=False)
    server.process.wait(timeout=30)
    assert server.process.returncode != 0
    assert "Can't support concurrency=gevent with PyTracer, only threads are supported" in server.log()
    assert server.data_files() == []
