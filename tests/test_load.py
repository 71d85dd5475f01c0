"""Under load: snapshots and restarts fail no request and lose no line.

Four workers serve a bounded concurrent load from the real curl binary
(--parallel) while the master gets USR1 and HUP several times, one signal
in each of five rounds of the load.
"""

import signal
import subprocess

from expected import LIB_AFTER_FOO

REQUESTS_PER_SIGNAL = 400
UNDER_WAY = 20  # Requests served before the signal: the other 380 are yet to come.
SIGNALS = [signal.SIGUSR1, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR1, signal.SIGHUP]


def test_snapshots_and_restarts_under_load_fail_no_request(start):
    server = start(workers=4)
    for n, sig in enumerate(SIGNALS):
        # Each signal lands in a load of its own, once that load is under way
        # (not after a fixed time, which a fast server may outrun).
        first = n * REQUESTS_PER_SIGNAL + 1
        load = subprocess.Popen(
            # stdbuf: curl writes each line at once, not when its pipe buffer is full.
            ["stdbuf", "--output=L", "curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-max", "8",
             "--max-time", "20", "--output", "/dev/null", "--write-out", "%{http_code}\n",
             f"{server.url}/foo?request=[{first}-{first + REQUESTS_PER_SIGNAL - 1}]"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # curl writes a line as each request ends (bounded by --max-time).
        served = [load.stdout.readline() for _ in range(UNDER_WAY)]
        assert load.poll() is None, "the load ended before the signal"
        server.send(sig)
        served += load.stdout.readlines()
        assert load.wait(timeout=60) == 0, load.stderr.read()
        assert [line.strip() for line in served] == ["200"] * REQUESTS_PER_SIGNAL, f"with {sig.name}"
    server.stop()
    # The load ran lines 1-3 of lib.py, and never line 4: no more, no less.
    assert server.report() == LIB_AFTER_FOO
