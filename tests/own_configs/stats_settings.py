"""gunicorn settings of the example service, which sends a count to the local
stats agent each time a worker stops."""

import socket


def worker_exit(server, worker):
    # One datagram to the agent's socket (stats-agent.sock, where it runs).
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as agent:
        agent.sendto(b"example.workers.exited:1|c", "stats-agent.sock")


# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
