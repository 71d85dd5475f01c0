"""The example app, with an OpenTelemetry span around each request."""

from opentelemetry import trace

from example_app.app import app as example

tracer = trace.get_tracer(__name__)


def app(environ, start_response):
    with tracer.start_as_current_span(environ["PATH_INFO"]):
        return example(environ, start_response)
