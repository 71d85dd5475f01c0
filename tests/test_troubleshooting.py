"""The symptoms docs/troubleshooting.rst describes, reproduced for real.

Each test shows the loss with the well-known recipe (docs/examples/recipe.conf.py)
or with coverage.py alone; test_signals_and_stops.py shows the hook file avoids it.
"""

import shutil
import signal
import subprocess
import sys
import textwrap

from expected import LIB_AFTER_FOO, LIB_FOO_LINE_ONLY, Report
from helpers import ROOT


def test_the_recipe_with_preload_reports_25_percent(start, example):
    shutil.copy(ROOT / "docs" / "examples" / "recipe.conf.py", example / "gunicorn.conf.py")
    server = start("--preload", wait=False)
    server.measuring = False  # The recipe says nothing as a worker starts to measure.
    server.wait_for_workers(2)
    old_workers = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    server.wait_for_exit(old_workers)
    # The def lines ran in the master, which the recipe does not measure.
    assert server.report() == LIB_FOO_LINE_ONLY


SAVE_COMBINE_SAVE = """
    import subprocess, sys
    import coverage

    cov = coverage.Coverage(data_suffix=True)
    cov.start()
    from example_app import lib
    lib.foo()
    cov.save()  # Writes .coverage.<host>.pid<pid>.X...x
    subprocess.run([sys.executable, "-m", "coverage", "combine"], check=True)  # Deletes it.
    lib.bar()
    cov.stop()
    cov.save()  # Writes again, into a file that no longer exists.
"""


def test_saving_again_after_a_deleting_combine_loses_lines(example):
    """coverage.py alone: a second save() after `coverage combine` removed the file."""
    (example / "save_combine_save.py").write_text(textwrap.dedent(SAVE_COMBINE_SAVE))
    subprocess.run([sys.executable, "save_combine_save.py"], cwd=example, check=True, timeout=60)
    report = subprocess.run(
        [sys.executable, "-m", "coverage", "report", "--show-missing", "example_app/lib.py"],
        cwd=example, capture_output=True, text=True, timeout=60,
    ).stdout
    # lib.bar() ran, but its line 4 is not counted.
    assert Report.parse(report) == LIB_AFTER_FOO
