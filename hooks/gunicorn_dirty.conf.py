"""OPTIONAL: also measure gunicorn's dirty workers (gunicorn 25+, dirty_apps).

Use this file instead of gunicorn.conf.py, which it loads first::

    gunicorn -c hooks/gunicorn_dirty.conf.py --dirty-workers 1 \
        --dirty-app myapp.models:Model:1 myapp:app

It relies on a PRIVATE gunicorn API, DirtyWorker._cleanup, and was proven on
gunicorn 27.0.1 only: check it again when you upgrade gunicorn.

Why it needs one: gunicorn ends a dirty worker with os._exit(), which skips
every exit handler, and calls its public dirty_worker_exit hook in the dirty
arbiter, after the worker is gone. _cleanup() is the last thing a dirty worker
runs; this file saves at its end.

What a dirty worker measured is written when it stops (gunicorn stops, or the
dirty arbiter replaces it). HUP does not replace dirty workers, and USR1 does
not snapshot them. On Python 3.12, 3.13 before 3.13.15 and 3.14 before
3.14.7, a dirty worker that served a request stops only when its dirty arbiter
is gone: see docs/worker-classes.rst, "Dirty workers".
"""

import pathlib

# Run the hook file here, as if gunicorn had loaded it: its hooks and its state
# (_cov, _save, ...) become this file's. With __file__ naming the hook file, it
# leaves itself out of the measurement, as it does when gunicorn loads it.
__file__ = str(pathlib.Path(__file__).with_name("gunicorn.conf.py"))
exec(compile(pathlib.Path(__file__).read_text(), __file__, "exec"))


def on_dirty_starting(arbiter):
    """Dirty arbiter, once, right after gunicorn forked it from the master,
    which was measuring itself: start a new measurement here instead. The dirty
    arbiter forks the dirty workers, which inherit it running, so that it
    measures them from the moment they import their dirty apps."""
    if MEASURE:
        _cov.stop()
        _start_measuring()


def dirty_worker_init(worker):
    """Dirty worker, after it loaded its dirty apps: save when it stops, at the
    end of its (private) _cleanup."""
    if not MEASURE:
        return
    cleanup = worker._cleanup

    def cleanup_and_save():
        cleanup()
        _cov.stop()
        _save(worker.log, last=True)

    worker._cleanup = cleanup_and_save
