"""gunicorn settings of a service whose workers take a moment to stop: each
one flushes what it buffered (here, a second's sleep stands for it)."""

import time


def worker_exit(server, worker):
    worker.log.info("my config: flushing this worker's buffers")
    time.sleep(1)


# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
