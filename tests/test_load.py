"""Under load: snapshots and restarts fail no request and lose no line.

Four workers serve a bounded concurrent load from the real curl binary
(--parallel) while the master gets USR1 and HUP several times.
"""

import signal
import subprocess
import threading
import time

from expected import LIB_AFTER_FOO

REQUESTS = 2000
SIGNALS = [signal.SIGUSR1, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR1, signal.SIGHUP]


def test_snapshots_and_restarts_under_load_fail_no_request(start):
    server = start(workers=4)
    load = subprocess.Popen(
        ["curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-max", "8",
         "--max-time", "20", "--output", "/dev/null", "--write-out", "%{http_code}\n",
         f"{server.url}/foo?request=[1-{REQUESTS}]"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    signals_sent = []

    def send_signals_during_the_load():
        for sig in SIGNALS:
            time.sleep(0.3)  # Spread the signals over the load, not a wait for a condition.
            if load.poll() is not None:
                return
            server.send(sig)
            signals_sent.append(sig)

    sender = threading.Thread(target=send_signals_during_the_load)
    sender.start()
    out, err = load.communicate(timeout=120)
    sender.join(timeout=10)
    assert load.returncode == 0, err
    assert out.split() == ["200"] * REQUESTS
    assert len(signals_sent) >= 3, "the load ended before the signals: make it longer"
    server.stop()
    # The load ran lines 1-3 of lib.py, and never line 4: no more, no less.
    assert server.report() == LIB_AFTER_FOO
