"""Data files from several hosts or containers, combined into one report.

docs/many-hosts.rst: two servers run the same code from two install roots, one
from <tmp>/container/srv/app (the code's place in a container image) and one
from the checkout where the report is made. The container's server writes its
data files straight into a shared directory (a volume, in real life); the
checkout's server writes them where it runs, and they are moved there. The
files are combined in the checkout with the .coveragerc the page shows, and the
report must be the very report of one server that served the same requests.
"""

import shutil
import signal
import subprocess
import sys

import coverage
import pytest

from helpers import ROOT, copy_example

EXAMPLES = ROOT / "docs" / "examples" / "many-hosts"
PAGE = ROOT / "docs" / "many-hosts.rst"

CONFIGS = {"paths": "paths.coveragerc", "relative-files": "relative.coveragerc"}
# With relative file names, the files of the two workers that served nothing
# (one on each host) are the same bytes: coverage combine reads one of them.
COMBINED = {"paths": "Combined 4 files", "relative-files": "Combined 3 files, skipped 1"}


def prepare(directory, config):
    """An install of the example with the hook file and the page's settings."""
    copy_example(directory)
    shutil.copy(EXAMPLES / CONFIGS[config], directory / ".coveragerc")
    return directory


def serve(server, *paths):
    for path in paths:
        server.curl(path)
    server.stop(signal.SIGTERM)


@pytest.mark.parametrize("config", CONFIGS)
def test_two_hosts_give_the_report_of_one(config, start, tmp_path):
    container = prepare(tmp_path / "container" / "srv" / "app", config)
    checkout = prepare(tmp_path / "checkout", config)
    gathered = checkout / "coverage-data"  # The shared volume.
    gathered.mkdir()

    in_container = start(directory=container, env={"COVERAGE_FILE": str(gathered / ".coverage")})
    in_checkout = start(directory=checkout)
    serve(in_container, "/foo")
    serve(in_checkout, "/bar")
    for data_file in checkout.glob(".coverage.*"):  # mv, scp, docker cp, an artefact...
        shutil.move(data_file, gathered)

    combined = in_checkout.coverage("combine", "coverage-data")
    report = in_checkout.coverage("report")

    one_host = start(directory=prepare(tmp_path / "one-host", config))
    serve(one_host, "/foo", "/bar")
    one_host.coverage("combine")
    assert report == one_host.coverage("report")

    # What docs/many-hosts.rst shows: the combine, and the report, in the
    # checkout's file names.
    assert combined == COMBINED[config] + "\n"
    assert COMBINED[config] in PAGE.read_text()
    assert report == (EXAMPLES / "report.txt").read_text()
    assert "example_app/lib.py              4      0   100%" in report.splitlines()


@pytest.mark.parametrize("root", ["/srv/app", "/var/lib/docker/overlay2/abc/merged/srv/app"])
def test_paths_entry_matches_the_container_root(root, tmp_path):
    """The [paths] entry the page shows maps /srv/app, wherever it is, to the
    checkout: a data file measured there, read in the checkout."""
    checkout = prepare(tmp_path, "paths")
    measured = coverage.CoverageData(str(checkout / ".coverage.container.pid1.X000000x"))
    measured.add_lines({f"{root}/example_app/lib.py": [1, 2, 3]})  # def foo, return 42, def bar
    measured.write()
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "report", "example_app/lib.py"],
        cwd=checkout, capture_output=True, text=True, timeout=60,
    )
    assert "example_app/lib.py       4      1    75%" in done.stdout.splitlines(), done
