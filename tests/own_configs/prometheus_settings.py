"""gunicorn settings of the example service, which Prometheus scrapes at /metrics.

prometheus_client runs in multiprocess mode (the service's environment sets
PROMETHEUS_MULTIPROC_DIR): each worker counts into files of its own, and
/metrics (metrics_app.py) adds up the files of every worker, old and new.
"""

from prometheus_client import Counter, multiprocess

# In no registry: /metrics reads the files instead, and gunicorn may run this
# file again on HUP, which would register the counter a second time.
REQUESTS = Counter("myapp_requests", "Requests served, by path.", ["path"], registry=None)


def post_request(worker, req, environ, resp):
    REQUESTS.labels(path=req.path).inc()


def child_exit(server, worker):
    # What prometheus_client asks of a gunicorn config: forget the gauges of a
    # worker that has exited.
    multiprocess.mark_process_dead(worker.pid)


# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
