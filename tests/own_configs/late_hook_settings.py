"""gunicorn settings of the example service, with code coverage."""

# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())


# Added later, at the end of the file.
def post_request(worker, req, environ, resp):
    worker.log.debug("%s %s: %s", req.method, req.path, resp.status)
