"""gunicorn settings of the example service, with code coverage."""

# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())


# Added later, at the end of the file.
def when_ready(server):
    server.log.info("the example service is ready")
