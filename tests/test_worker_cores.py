"""Which coverage core measures each worker class, and when coverage falls back
(docs/worker-classes.rst, "Coverage cores").

COVERAGE_CORE asks for a core; coverage's own debug output (COVERAGE_DEBUG=core)
says which one it used, in every process that measures. expected.core_outcome()
says what happens on each Python: the tests ask it about the running one, the
page's table (docs/cog_helpers.py) about every one.
"""

import shutil

import pytest

from expected import CORE_COMBINATIONS, REFUSED_AT_START, WORKER_CLASSES, core_outcome
from helpers import ROOT, cores_used

def combination_id(asked, worker_class, branch):
    return f"{asked or 'default'}-{worker_class}{'-branch' if branch else ''}"


# Every combination with its outcome on this Python, then those where gunicorn
# starts and those where it does not.
CASES = [pytest.param(*combination, core_outcome(*combination), id=combination_id(*combination))
         for combination in CORE_COMBINATIONS]
STARTS = [case for case in CASES if case.values[-1].core]
REFUSED = [case for case in CASES if not case.values[-1].core]


def start_measured(start, example, asked, worker_class, branch=False, wait=True):
    if worker_class == "gevent":
        pytest.importorskip("gevent", reason="gevent needs example_app/requirements-workers.txt")
        shutil.copy(ROOT / "docs" / "config" / "gevent.coveragerc", example / ".coveragerc")
    if branch:
        shutil.copy(ROOT / "docs" / "config" / "branch.coveragerc", example / ".coveragerc")
    env = {"COVERAGE_DEBUG": "core", "COVERAGE_DEBUG_FILE": str(example / "debug.txt")}
    if asked:
        env["COVERAGE_CORE"] = asked
    return start(*WORKER_CLASSES[worker_class].options, workers=1, env=env, wait=wait)


@pytest.mark.parametrize("asked, worker_class, branch, outcome", STARTS)
def test_the_core_that_measures_the_workers(start, example, asked, worker_class, branch, outcome):
    server = start_measured(start, example, asked, worker_class, branch)
    assert server.curl("/foo") == "42"
    server.stop()
    assert cores_used(example / "debug.txt") == {outcome.core}  # The master's and the worker's.
    if outcome.reason:
        assert outcome.message in server.log()
    else:
        assert "Can't use core=" not in server.log()
    stmts, missed, *_ = server.report()
    assert (stmts, missed) == (4, 1)


@pytest.mark.parametrize("asked, worker_class, branch, outcome", REFUSED)
def test_coverage_refuses_and_gunicorn_does_not_start(start, example, asked, worker_class, branch, outcome):
    server = start_measured(start, example, asked, worker_class, branch, wait=False)
    assert server.process.wait(timeout=30) == REFUSED_AT_START
    assert outcome.message in server.log()
    assert server.data_files() == []
