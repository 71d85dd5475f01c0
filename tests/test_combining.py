"""Combining while the server runs (docs/signals-and-stops.rst, "Combining while the server runs").

Two rounds, each: a request, a snapshot, the combining command; then a report.
The safe commands keep both rounds; a plain `coverage combine` keeps only the last.
"""

import signal

import pytest

from expected import LIB_AFTER_FOO_AND_BAR

COMBINE = {
    "report": [["report"]],
    "combine-append": [["combine", "--append"]],
    "combine-keep-then-report": [["combine", "--keep", "--append"], ["report"]],
}


def round_(server, path, answer, commands):
    assert server.curl(path) == answer
    before = server.log().count("coverage: wrote")
    server.send(signal.SIGUSR1)
    # The worker that served the request writes; on the first round both do.
    server.wait_for_data_files(1)
    for command in commands:
        server.coverage(*command)
    return before


@pytest.mark.parametrize("commands", COMBINE.values(), ids=COMBINE.keys())
def test_combining_twice_while_serving_keeps_both_rounds(start, commands):
    server = start(workers=1)
    round_(server, "/foo", "42", commands)
    round_(server, "/bar", "43", commands)
    assert server.report() == LIB_AFTER_FOO_AND_BAR


def test_a_plain_combine_replaces_what_was_combined_before(start):
    server = start(workers=1)
    round_(server, "/foo", "42", [["combine"]])
    round_(server, "/bar", "43", [["combine"]])
    # Only the second snapshot is left: it holds line 4, which ran since the first.
    assert server.report() == (4, 3, "25%", "1-3")
