"""gunicorn also calls worker_exit in the master: the hook must do nothing there.

Driven through gunicorn's own Arbiter, as gunicorn's test suite does, in a child
process so that the master's measurement does not trace pytest itself.
"""

import json
import subprocess
import sys
import textwrap

MASTER = """
    import json, os, signal, subprocess, sys
    import coverage
    from gunicorn.app.wsgiapp import WSGIApplication
    from gunicorn.arbiter import Arbiter

    sys.argv = ["gunicorn", "-c", "gunicorn.conf.py", "--preload", "example_app.app:app"]
    application = WSGIApplication()  # Loads the hook file: the master starts measuring.
    arbiter = Arbiter(application)  # --preload: the master imports the app, measured.
    hooks = sys.modules["__config__"]

    gone = subprocess.Popen(["true"])
    gone.wait()  # A pid that no longer exists, as for a worker that died.
    worker = arbiter.worker_class(1, os.getpid(), [], application, 15, arbiter.cfg, arbiter.log)
    worker.pid = gone.pid
    arbiter.WORKERS[worker.pid] = worker
    arbiter.kill_worker(worker.pid, signal.SIGTERM)  # ESRCH: calls worker_exit here.

    print(json.dumps({
        "worker_exit_called": worker.pid not in arbiter.WORKERS,
        "master_still_measuring": coverage.Coverage.current() is hooks._cov,
        "data_files": sorted(f for f in os.listdir() if f.startswith(".coverage.")),
    }))
"""


def test_worker_exit_in_the_master_leaves_the_master_measuring(example):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MASTER)],
        cwd=example, capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "worker_exit_called": True,
        "master_still_measuring": True,
        "data_files": [],
    }
