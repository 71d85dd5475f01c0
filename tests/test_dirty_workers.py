"""Dirty workers (gunicorn 25+, dirty_apps), measured by the hook file's
DirtyWorkers part (docs/worker-classes.rst, "Dirty workers").

example_app/dirty.py serves /foo by running lib.foo() in a dirty worker: the
HTTP worker imports lib.py, only the dirty worker runs its line 2. So lib.py
is at 75% only if the dirty worker's file was written, 50% if not.
"""

import re
import signal
import sys

import pytest

from expected import LIB_AFTER_FOO, LIB_FOO_LINE_ONLY, LIB_IMPORTED_ONLY, asyncio_waits
from helpers import process_exists, wait_until

# On the running release (expected.ASYNCIO_WAITS_UNTIL): does asyncio wait for
# its clients, so that a dirty worker that served waits for its dirty arbiter?
SERVER_WAITS_FOR_CLIENTS = asyncio_waits(sys.version_info[:3])


@pytest.fixture
def serve_dirty(start, example, tmp_path_factory):
    """One HTTP worker and one dirty worker running example_app.dirty:Lib.

    The dirty arbiter and its workers are in the master's process group: the
    teardown stops them with it.
    """

    def serve(spec="example_app.dirty:Lib:1", *options):
        server = start(
            "--dirty-workers", "1", "--dirty-app", spec,
            "--name", example.name, *options,
            workers=1, app="example_app.dirty:app", wait=False,
            # The dirty arbiter writes its pid file in TMPDIR, named after --name.
            env={"TMPDIR": str(tmp_path_factory.mktemp("tmp"))},
        )
        listening = wait_until(lambda: re.search(r"Dirty worker (\d+) listening", server.log()), 20,
                               "the dirty worker")
        server.dirty_worker = int(listening[1])
        wait_until(lambda: len(server.workers()) == 2 and "measuring this worker" in server.log(), 20,
                   "the HTTP worker and the dirty arbiter")
        return server

    return serve


def stop_everything(server, timeout=60):
    server.stop(timeout=timeout)
    wait_until(lambda: not process_exists(server.dirty_worker), timeout, "the dirty worker to exit")


@pytest.mark.skipif(SERVER_WAITS_FOR_CLIENTS, reason="this Python's asyncio waits: see the test below")
def test_a_dirty_worker_saves_when_gunicorn_stops(serve_dirty):
    server = serve_dirty()
    assert server.curl("/foo") == "42"
    stop_everything(server)
    assert len(server.data_files()) == 2  # The HTTP worker's and the dirty worker's.
    assert server.report() == LIB_AFTER_FOO


@pytest.mark.parametrize(
    ("options", "report"),
    [
        pytest.param(("--graceful-timeout", "2", "--dirty-graceful-timeout", "10"), LIB_AFTER_FOO,
                     id="master-gives-up-first"),
        pytest.param(("--graceful-timeout", "10", "--dirty-graceful-timeout", "1"),
                     LIB_IMPORTED_ONLY if SERVER_WAITS_FOR_CLIENTS else LIB_AFTER_FOO,
                     id="dirty-arbiter-kills-first"),
    ],
)
def test_a_dirty_worker_that_served_saves_unless_its_arbiter_kills_it(serve_dirty, options, report):
    """Where asyncio waits for clients, a dirty worker that served a request
    waits for the dirty arbiter's connection to close before it cleans up. It
    saves if the master kills the dirty arbiter first (--graceful-timeout), and
    loses its data if the dirty arbiter kills it first (--dirty-graceful-timeout).
    Elsewhere it stops at once, and saves, whichever timeout is shorter."""
    server = serve_dirty("example_app.dirty:Lib:1", *options)
    assert server.curl("/foo") == "42"
    stop_everything(server)
    assert server.report() == report


def test_hup_does_not_replace_the_dirty_worker(serve_dirty):
    server = serve_dirty()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    server.wait_for_data_files(1)  # The HTTP worker's.
    assert server.report() == LIB_IMPORTED_ONLY
    assert process_exists(server.dirty_worker)


def test_without_a_worker_count_the_master_imports_the_dirty_app(serve_dirty):
    """Given as module:Class, gunicorn imports the dirty app in the master to
    read its `workers` attribute: the workers inherit lib.py imported, and its
    def lines count as not run (as with --preload, without its master file)."""
    server = serve_dirty("example_app.dirty:Lib", "--graceful-timeout", "2", "--dirty-graceful-timeout", "10")
    assert server.curl("/foo") == "42"
    stop_everything(server)
    assert server.report() == LIB_FOO_LINE_ONLY
