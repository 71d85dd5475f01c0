"""The bare two-hook recipe, as the benchmark measures it: start in post_fork,
stop and save in worker_exit. No snapshots, no request gate, coverage's
default core (unless COVERAGE_CORE says otherwise)."""

import coverage

cov = coverage.Coverage()


def post_fork(server, worker):
    cov.start()


def worker_exit(server, worker):
    cov.stop()
    cov.save()
