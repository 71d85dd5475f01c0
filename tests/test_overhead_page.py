"""docs/overhead.rst shows the benchmark's figures, and only the benchmark's.

The page's tables, chart and findings are files that tests/bench_overhead.py writes
from its JSON; these tests check that the committed files are exactly what the
JSON gives, that the page shows every one of them and warns when the hook file
changed since it was measured, that the commands it tells readers to run
exist, and that the benchmark runs.
"""

import hashlib
import importlib.util
import json
import re
import runpy
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT

PAGE = ROOT / "docs" / "overhead.rst"
spec = importlib.util.spec_from_file_location("overhead", ROOT / "tests" / "bench_overhead.py")
overhead = importlib.util.module_from_spec(spec)
spec.loader.exec_module(overhead)

RESULTS = sorted(overhead.OUTPUT.glob("*.json"))


def test_the_page_shows_results_for_python_3_11_3_13_and_3_14():
    assert [path.name for path in RESULTS] == ["py311.json", "py313.json", "py314.json"]


@pytest.mark.parametrize("results", RESULTS, ids=lambda path: path.stem)
def test_the_figures_say_what_they_measured(results):
    """A figure can be traced to the code and the versions it measured."""
    measured = json.loads(results.read_text())
    assert re.fullmatch(r"[0-9a-f]{7,} \(\d{4}-\d\d-\d\d\)", measured["hook_file"]["revision"])
    assert re.fullmatch(r"[0-9a-f]{64}", measured["hook_file"]["sha256"])
    assert set(measured["versions"]) == {"coverage", "gunicorn", "Flask"}
    assert measured["python"].startswith(results.stem[2] + "." + results.stem[3:] + ".")
    setup = (overhead.OUTPUT / f"{results.stem}-setup.csv").read_text()
    assert f'"Hook file","hooks/gunicorn.conf.py at revision {measured["hook_file"]["revision"]}"' in setup


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


@pytest.mark.parametrize("results", RESULTS, ids=lambda path: path.stem)
def test_the_committed_tables_are_what_the_json_gives(results):
    for name, text in overhead.render(json.loads(results.read_text())).items():
        assert (overhead.OUTPUT / name).read_text() == text, (
            f"docs/_static/overhead/{name} is not what tests/bench_overhead.py makes of "
            f"{results.name}: run the benchmark again rather than editing its output"
        )


@pytest.mark.parametrize("results", RESULTS, ids=lambda path: path.stem)
def test_the_page_shows_every_table(results):
    page = PAGE.read_text()
    for name in overhead.render(json.loads(results.read_text())):
        assert re.search(rf"(:file:|include::|image::) _static/overhead/{re.escape(name)}\n", page)


def test_the_page_shows_nothing_else_from_the_benchmark():
    shown = set(re.findall(r"_static/overhead/([\w.-]+)", PAGE.read_text()))
    made = {name for results in RESULTS for name in overhead.render(json.loads(results.read_text()))}
    assert shown == made


def test_the_tox_commands_on_the_page_exist():
    commands = set(re.findall(r"tox -e ([\w-]+)", PAGE.read_text()))
    assert commands == {"bench", "bench-py313", "bench-py311"}
    section = re.search(r"^\[testenv:bench\{([^}]*)\}\]", (ROOT / "tox.ini").read_text(), re.M)
    assert section, "tox.ini has no [testenv:bench{...}] section"
    names = {"bench" + suffix for suffix in section[1].split(",")}
    assert commands <= names


def test_the_benchmark_runs(tmp_path):
    """A short run of three configurations with the Python client (no wrk
    needed), with the options the page shows."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench_overhead.py"), "--rounds", "1", "--seconds", "1",
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
