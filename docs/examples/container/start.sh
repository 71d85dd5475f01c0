#!/bin/sh
# An entrypoint script that prepares, then starts the server. Its last line
# starts gunicorn with exec: gunicorn replaces the shell as the container's
# PID 1 and gets the stop signal. Without exec the shell stays PID 1, and
# ignores it.
set -e
mkdir -p "$(dirname "$COVERAGE_FILE")"
exec gunicorn --bind 0.0.0.0:8000 --workers 2 example_app.app:app
