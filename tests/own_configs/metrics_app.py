"""The example app, with its Prometheus metrics at /metrics."""

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from example_app.app import app as example

# What every worker counted, read from the files in PROMETHEUS_MULTIPROC_DIR.
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)

app = DispatcherMiddleware(example, {"/metrics": make_wsgi_app(registry)})
