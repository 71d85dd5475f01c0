"""docs/overhead.rst shows the benchmark's figures, and only the benchmark's.

tests/bench_measure.py writes the figures, one JSON per Python; the page's
tables and findings are what tests/bench_render.py makes of them, written by
cog (tests/test_generated_tables.py checks them), and its charts are drawn from
them when the docs are built. These tests check that the figures say what they
measured, that the page shows every Python's and warns when the hook file
changed since, that the commands it tells readers to run exist, and that the
benchmark runs.
"""

import hashlib
import json
import re
import runpy
import shutil
import subprocess
import sys

import pytest

import bench_render
from helpers import ROOT

PAGE = ROOT / "docs" / "overhead.rst"
RESULTS = sorted(bench_render.RESULTS.glob("*.json"))
STEMS = [path.stem for path in RESULTS]


def test_the_page_shows_results_for_python_3_11_3_13_and_3_14():
    assert STEMS == ["py311", "py313", "py314"]
    page = PAGE.read_text()
    # Each Python's findings and tables (cog writes them) and chart (the plot directive).
    for shown in ("findings", "tables", "chart"):
        assert sorted(re.findall(rf'\b{shown}\(load\("(\w+)"\)\)', page)) == STEMS, (
            f"docs/overhead.rst does not show the {shown} of each of {STEMS} once"
        )


@pytest.mark.parametrize("stem", STEMS)
def test_the_figures_say_what_they_measured(stem):
    """A figure can be traced to the code and the versions it measured."""
    measured = bench_render.load(stem)
    assert re.fullmatch(r"[0-9a-f]{7,} \(\d{4}-\d\d-\d\d\)", measured["hook_file"]["revision"])
    assert re.fullmatch(r"[0-9a-f]{64}", measured["hook_file"]["sha256"])
    assert set(measured["versions"]) == {"coverage", "gunicorn", "Flask"}
    assert measured["python"].startswith(stem[2] + "." + stem[3:] + ".")
    revision = measured["hook_file"]["revision"]
    shown = f'"Hook file","hooks/gunicorn.conf.py at revision {revision}"'
    assert shown in bench_render.setup_table(measured)


def tags_for_the_docs(tmp_path, measured, built_from):
    """The tags docs/conf.py gives Sphinx when the benchmark's JSON says it
    measured the hook file `measured` and the docs are built with `built_from`."""
    (tmp_path / "docs" / "_static" / "overhead").mkdir(parents=True)
    for path in RESULTS:
        results = json.loads(path.read_text())
        results["hook_file"]["sha256"] = hashlib.sha256(measured).hexdigest()
        (tmp_path / "docs" / "_static" / "overhead" / path.name).write_text(json.dumps(results))
    shutil.copy(ROOT / "docs" / "conf.py", tmp_path / "docs" / "conf.py")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "gunicorn.conf.py").write_bytes(built_from)
    tags = set()
    runpy.run_path(str(tmp_path / "docs" / "conf.py"), init_globals={"tags": tags})
    return tags


def test_the_page_warns_when_the_hook_file_changed_since(tmp_path):
    measured = {json.loads(results.read_text())["hook_file"]["sha256"] for results in RESULTS}
    assert len(measured) == 1, "the Pythons' figures measured different hook files"
    hook_file = (ROOT / "hooks" / "gunicorn.conf.py").read_bytes()
    assert tags_for_the_docs(tmp_path / "same", hook_file, hook_file) == set()
    assert tags_for_the_docs(tmp_path / "changed", hook_file, hook_file + b"\n") == {"overhead_stale"}
    assert "\n.. only:: overhead_stale\n\n   .. warning::\n" in PAGE.read_text()


def test_the_tox_commands_on_the_page_exist():
    commands = set(re.findall(r"tox -e ([\w-]+)", PAGE.read_text()))
    assert commands == {"bench", "bench-py313", "bench-py311"}
    section = re.search(r"^\[testenv:bench\{([^}]*)\}\]", (ROOT / "tox.ini").read_text(), re.M)
    assert section, "tox.ini has no [testenv:bench{...}] section"
    names = {"bench" + suffix for suffix in section[1].split(",")}
    assert commands <= names


def test_the_benchmark_runs(tmp_path):
    """A short run of three configurations with the Python client (no wrk
    needed), with the options the page shows; bench_render makes the tables
    that need no other configuration of its JSON."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench_measure.py"), "--rounds", "1", "--seconds", "1",
         "--client", "python", "--only", "baseline,hook,contexts-10", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Load generator: the Python client")
    results = json.loads(next(tmp_path.glob("py3*.json")).read_text())
    assert [c["name"] for c in results["configurations"]] == ["baseline", "hook", "contexts-10"]
    hook_file = (ROOT / "hooks" / "gunicorn.conf.py").read_bytes()
    assert results["hook_file"]["sha256"] == hashlib.sha256(hook_file).hexdigest()
    assert results["load_generator"] == "Python client (4 threads)"
    for config in results["configurations"]:
        (round_,) = config["rounds"]
        assert set(round_["rps"]) == set(round_["cpu_us"]) == {"/foo", "/orders"}
    hook = results["configurations"][1]["rounds"][0]
    assert hook["files"] == 4  # USR1 and TERM, one file from each worker; HUP after the snapshot has nothing new.
    speed = bench_render.speed_table(results)
    for config in results["configurations"]:
        assert f'\n   "{config["label"]}","{config["core"] or "none"}",' in speed
    assert '"coverage combine, 4 files (a new Python process)"' in bench_render.costs_table(results)
    assert '"Load","Python client (4 threads)"' in bench_render.setup_table(results)
