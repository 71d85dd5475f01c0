#!/usr/bin/env bash
# Run the integration tests against a measured gunicorn server, then report.
# Run it from the project's top directory: bash docs/examples/ci/ci.sh
set -euo pipefail

PORT="${PORT:-8000}"
FAIL_UNDER="${FAIL_UNDER:-65}"  # The lowest total coverage, in percent, that passes.

coverage erase  # No data files from an earlier run.

# Start the server in the background, measured by the hook file. The control
# socket is of no use here, and parallel CI jobs would share its default path.
gunicorn -c hooks/gunicorn.conf.py --workers 2 --bind "127.0.0.1:$PORT" \
    --no-control-socket example_app.app:app &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' EXIT  # Never leave it running.

# Wait until it answers (any answer, even a 404), for at most 30 seconds.
curl --silent --output /dev/null --retry 30 --retry-delay 1 --retry-connrefused \
    "http://127.0.0.1:$PORT/"

# The integration tests. Keep their result: the server is stopped and the
# report is made whether they pass or not.
tests=0
APP_URL="http://127.0.0.1:$PORT" python -m pytest docs/examples/ci/test_app.py || tests=$?

# Stop the server: each worker writes its data file as it exits.
kill -TERM "$server"
wait "$server"
trap - EXIT

coverage combine
coverage html  # htmlcov/: keep it as the job's artefact, even if the next line fails.
coverage report --fail-under="$FAIL_UNDER"
exit "$tests"
