# The well-known two-hook recipe that the hook file grew from. It loses data
# in the cases the troubleshooting page lists; use hooks/gunicorn.conf.py.
import coverage

cov = coverage.Coverage()


def post_fork(server, worker):
    cov.start()


def worker_exit(server, worker):
    cov.stop()
    cov.save()
