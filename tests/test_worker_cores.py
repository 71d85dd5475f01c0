"""Which coverage core measures each worker class, and when coverage falls back
(docs/worker-classes.rst, "Coverage cores").

COVERAGE_CORE asks for a core; coverage's own debug output (COVERAGE_DEBUG=core)
says which one it used, in every process that measures. expected() says what
happens on each Python: the tests ask it about the running one, the docs' table
about every one.
"""

import shutil
import typing

import pytest

from helpers import (
    PYTHON, PYTHON_COLUMNS, ROOT, column_cells, cores_used, has_sysmon, hook_file_core, list_table,
    sysmon_measures_branches,
)

OPTIONS = {
    "sync": (),
    "gthread": ("--worker-class", "gthread", "--threads", "4"),
    "gevent": ("--worker-class", "gevent"),
}
CORES = (None, "ctrace", "pytrace", "sysmon")  # What COVERAGE_CORE asks for; None: not set.
# (COVERAGE_CORE, worker class, branch = True?): every combination the tests run.
COMBINATIONS = [(core, worker_class, False) for core in CORES for worker_class in OPTIONS] + [
    (core, "sync", True) for core in (None, "sysmon")
]

# What coverage writes to gunicorn's output.
SYSMON_WARNING = "Can't use core=sysmon: {reason}, using default core (no-sysmon)"
PYTRACE_REFUSES_GEVENT = "Can't support concurrency=gevent with PyTracer, only threads are supported"


class Outcome(typing.NamedTuple):
    core: str | None  # The core coverage measures with; None: it refuses to start, and so does gunicorn.
    reason: str = ""  # Why not the core asked for: in coverage's warning, or its error.

    @property
    def message(self):
        """What coverage says in gunicorn's output, if anything."""
        if self.core is None or not self.reason:
            return self.reason
        return SYSMON_WARNING.format(reason=self.reason)


def expected(core, worker_class, branch=False, python=PYTHON):
    """What coverage does, asked for `core`, on that Python (major, minor): an Outcome.

    Unless COVERAGE_CORE names one, the hook file picks sysmon where it measures
    correctly and ctrace elsewhere, with no warning.
    """
    if core is None:  # Its gevent workers measure with concurrency = gevent.
        return Outcome(hook_file_core(python, branch, needs_ctrace=worker_class == "gevent"))
    if core == "pytrace" and worker_class == "gevent":
        return Outcome(None, PYTRACE_REFUSES_GEVENT)
    if core != "sysmon":
        return Outcome(core)
    if not has_sysmon(python):
        return Outcome("ctrace", "sys.monitoring isn't available in this version")
    if branch and not sysmon_measures_branches(python):
        return Outcome("ctrace", "sys.monitoring can't measure branches in this version")
    if worker_class == "gevent":
        return Outcome("ctrace", "it doesn't support concurrency=gevent")
    return Outcome("sysmon")


def combination_id(core, worker_class, branch):
    return f"{core or 'default'}-{worker_class}{'-branch' if branch else ''}"


# On this Python: the combinations where gunicorn starts, and those where it does not.
STARTS = [combo for combo in COMBINATIONS if expected(*combo).core]
REFUSED = [combo for combo in COMBINATIONS if not expected(*combo).core]


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


@pytest.mark.parametrize(("core", "worker_class", "branch"), STARTS, ids=[combination_id(*c) for c in STARTS])
def test_the_core_that_measures_the_workers(start, example, core, worker_class, branch):
    server = start_measured(start, example, core, worker_class, branch)
    assert server.curl("/foo") == "42"
    server.stop()
    outcome = expected(core, worker_class, branch)
    assert cores_used(example / "debug.txt") == {outcome.core}  # The master's and the worker's.
    if outcome.reason:
        assert outcome.message in server.log()
    else:
        assert "Can't use core=" not in server.log()
    stmts, missed, *_ = server.report()
    assert (stmts, missed) == (4, 1)


@pytest.mark.parametrize(("core", "worker_class", "branch"), REFUSED, ids=[combination_id(*c) for c in REFUSED])
def test_coverage_refuses_and_gunicorn_does_not_start(start, example, core, worker_class, branch):
    server = start_measured(start, example, core, worker_class, branch, wait=False)
    server.process.wait(timeout=30)
    assert server.process.returncode != 0
    assert expected(core, worker_class, branch).message in server.log()
    assert server.data_files() == []


# --- the docs page, written by cog from the same values ------------------------

# How the table names what differs from a sync worker.
LABELS = {("gthread", False): "gthread", ("gevent", False): "gevent", ("sync", True): "``branch = True``"}


def docs_cell(core, python):
    """What COVERAGE_CORE=core does on that Python: sync's outcome, then the others'."""
    outcomes = {combo[1:]: expected(*combo, python=python) for combo in COMBINATIONS if combo[0] == core}
    sync = outcomes.pop(("sync", False))
    cell = sync.core + (f", with the warning ``{sync.message}``" if sync.reason else "")
    others = {}  # outcome: the labels of the combinations that have it
    for combo, outcome in outcomes.items():
        if outcome != sync:
            others.setdefault(outcome, []).append(LABELS[combo])
    for outcome, labels in others.items():
        with_ = f"with {' or '.join(labels)}"
        if outcome.core is None:
            cell += f"; {with_}, gunicorn does not start"
        elif outcome.reason:
            cell += f"; {outcome.core} {with_} (warning ``... {outcome.reason} ...``)"
        else:
            cell += f"; {outcome.core} {with_}, without a warning"
    return cell


def docs_table():
    """The table of docs/worker-classes.rst, "Coverage cores"."""
    rows = []
    for core in CORES:
        rows.append([f"``{core}``" if core else "not set",
                     *column_cells(lambda python: docs_cell(core, python))])
    return list_table(["``COVERAGE_CORE``", *PYTHON_COLUMNS], rows, [16, 28, 28, 28])


def docs_refusal():
    """What coverage says when it refuses to measure gevent with pytrace."""
    return f"\n.. code-block:: text\n\n   {PYTRACE_REFUSES_GEVENT}\n\n"
