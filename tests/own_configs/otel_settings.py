"""gunicorn settings of the example service, which traces its requests with
OpenTelemetry (traced_app.py opens a span per request)."""

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor


def post_fork(server, worker):
    # Each worker sets up its own tracing, after the fork: its own span file,
    # and its pid on every span it exports.
    pid = os.getpid()
    resource = Resource.create({"service.name": "example", "process.pid": pid})
    provider = TracerProvider(resource=resource)
    spans = open(f"spans.{pid}.jsonl", "a")  # One JSON span a line.
    exporter = ConsoleSpanExporter(out=spans, formatter=lambda span: span.to_json(indent=None) + "\n")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
