"""docs/overhead.rst: the benchmark's figures, and what follows from them.

tests/bench_measure.py writes the figures, one JSON per Python, into
docs/_static/overhead/; the page's tables (written by cog, checked by
tests/test_generated_tables.py) and charts are what docs/overhead_tables.py
makes of them. The page's conclusions ("What the figures show") are written by
hand: each test of the first part asserts, on the committed figures, the
inequality one of them states, and the page quotes no other figure. The
second part checks that the figures say what they measured, that the page
shows every Python's and warns when the hook file changed since, that the
commands it tells readers to run exist, and that the benchmark runs.
"""

import hashlib
import json
import re
import runpy
import shutil
import statistics
import subprocess
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "docs"))  # The page's own module, as cog and Sphinx find it.
import overhead_tables  # noqa: E402

PAGE = ROOT / "docs" / "overhead.rst"
RESULTS = sorted(overhead_tables.RESULTS.glob("*.json"))
STEMS = [path.stem for path in RESULTS]
FIGURES = {stem: overhead_tables.load(stem) for stem in STEMS}


# --- the conclusions -----------------------------------------------------------
# Each figure the conclusions quote, as the page states it.
SYSMON_KEPT_AT_LEAST = 0.85  # Of the no-coverage server's requests, on both routes.
CTRACE_KEPT_AT_MOST = 0.7  # ... on /orders.
PYTRACE_KEPT_AT_MOST = 0.2  # ... on /orders.
ADDED_KEPT_AT_LEAST = 0.8  # Hook file vs bare recipe, snapshots vs none.
SYSMON_OVER_A_CTRACE_RECIPE_AT_LEAST = 1.2
CONTEXT_PER_TEST_KEPT_AT_LEAST = 0.75
CONTEXT_PER_REQUEST_KEPT_AT_MOST = 0.7  # Of a new value every 10 requests, on /foo.
SYSMON_OVER_CTRACE_WITH_CONTEXTS_AT_LEAST = 1.3  # On /orders.
SNAPSHOT_MS_UNDER = 100
HUP_SECONDS_UNDER = 0.5
REPORT_SECONDS_UNDER = 0.5
MEMORY_MIB_UNDER = 10


def configuration(figures, name):
    return next(c for c in figures["configurations"] if c["name"] == name)


def kept(figures, name, over="baseline"):
    """Per route, the median over the rounds of `name`'s requests per second
    over `over`'s: the ratio the page's tables show."""
    return dict(zip(figures["routes"], overhead_tables.medians(figures, name, over=over)))


def core(figures, name):
    return configuration(figures, name)["core"]


@pytest.mark.parametrize("stem", STEMS)
def test_the_core_decides_the_cost(stem):
    figures = FIGURES[stem]
    without_contexts = [c["name"] for c in figures["configurations"]
                        if c["name"] != "baseline" and not c["name"].startswith("contexts")]
    assert {"hook-branch", "hook-snapshots"} <= set(without_contexts)
    for name in without_contexts:
        ratios = kept(figures, name)
        if core(figures, name) == "sysmon":
            assert min(ratios.values()) >= SYSMON_KEPT_AT_LEAST, name
        elif core(figures, name) == "ctrace":
            assert ratios["/orders"] <= CTRACE_KEPT_AT_MOST, name
        else:
            assert core(figures, name) == "pytrace"
            assert ratios["/orders"] <= PYTRACE_KEPT_AT_MOST, name
    cores = {core(figures, name) for name in without_contexts}
    assert cores == {"ctrace", "pytrace"} | ({"sysmon"} if stem != "py311" else set())


@pytest.mark.parametrize("stem", STEMS)
def test_what_the_hook_file_adds_costs_less_than_the_benchmark_can_tell(stem):
    """Against the bare recipe with the same core, and snapshots against
    none: a median of at least ADDED_KEPT_AT_LEAST, and rounds on both sides of 1."""
    figures = FIGURES[stem]
    names = {c["name"] for c in figures["configurations"]}
    same_core = [
        (hook, recipe)
        for hook in ("hook", "hook-ctrace") for recipe in ("recipe", "recipe-sysmon", "recipe-ctrace")
        if {hook, recipe} <= names and core(figures, hook) == core(figures, recipe)
    ]
    assert same_core, "no bare recipe measured with a core the hook file measured with"
    for name, over in [*same_core, ("hook-snapshots", "hook")]:
        for route, ratio in kept(figures, name, over).items():
            assert ratio >= ADDED_KEPT_AT_LEAST, (name, over, route)
            rounds = overhead_tables.ratios(figures, name, route, over=over)
            assert min(rounds) < 1 < max(rounds), (name, over, route)


def test_the_hook_file_serves_more_than_a_bare_recipe_left_to_ctrace():
    where = [stem for stem in STEMS
             if (core(FIGURES[stem], "recipe"), core(FIGURES[stem], "hook")) == ("ctrace", "sysmon")]
    assert where == ["py313"]  # The page names Python 3.13.
    ratios = kept(FIGURES["py313"], "hook", over="recipe")
    assert min(ratios.values()) >= SYSMON_OVER_A_CTRACE_RECIPE_AT_LEAST


@pytest.mark.parametrize("stem", [s for s in STEMS if core(FIGURES[s], "contexts-same") == "sysmon"])
def test_per_request_contexts_one_value_per_test_not_one_per_request(stem):
    figures = FIGURES[stem]
    assert min(kept(figures, "contexts-10").values()) >= CONTEXT_PER_TEST_KEPT_AT_LEAST
    per_request = kept(figures, "contexts-1", over="contexts-10")
    assert per_request["/foo"] <= CONTEXT_PER_REQUEST_KEPT_AT_MOST
    for name in ("contexts-same", "contexts-10", "contexts-1"):  # However often it changes.
        assert (core(figures, name), core(figures, f"{name}-ctrace")) == ("sysmon", "ctrace")
        over_ctrace = kept(figures, name, over=f"{name}-ctrace")
        assert over_ctrace["/orders"] >= SYSMON_OVER_CTRACE_WITH_CONTEXTS_AT_LEAST, name


@pytest.mark.parametrize("stem", STEMS)
def test_saving_and_reporting_take_moments(stem):
    rounds = configuration(FIGURES[stem], "hook")["rounds"]
    assert max(r["usr1_ms"] for r in rounds) < SNAPSHOT_MS_UNDER
    assert max(r["hup_ms"] for r in rounds) < HUP_SECONDS_UNDER * 1000
    assert max(r["combine_s"] for r in rounds) < REPORT_SECONDS_UNDER
    assert max(r["report_s"] for r in rounds) < REPORT_SECONDS_UNDER


@pytest.mark.parametrize("stem", STEMS)
def test_measuring_adds_little_memory_to_a_worker(stem):
    def memory(config):
        return statistics.median(r["rss_mib"] for r in config["rounds"])

    baseline, *measured = FIGURES[stem]["configurations"]
    assert baseline["name"] == "baseline"
    for config in measured:
        assert memory(config) - memory(baseline) < MEMORY_MIB_UNDER, config["name"]


def numbers_in(text):
    """The numbers a reader sees: "0.85", "50"; not the 1 of USR1."""
    return set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?!\w)", text))


def test_the_conclusions_quote_only_figures_the_tests_check():
    page = PAGE.read_text()
    conclusions = page[page.index(".. _overhead-advice:"):page.index(".. _overhead-py314:")]
    checked = {
        SYSMON_KEPT_AT_LEAST, CTRACE_KEPT_AT_MOST, PYTRACE_KEPT_AT_MOST, ADDED_KEPT_AT_LEAST,
        SYSMON_OVER_A_CTRACE_RECIPE_AT_LEAST, CONTEXT_PER_TEST_KEPT_AT_LEAST,
        CONTEXT_PER_REQUEST_KEPT_AT_MOST, SYSMON_OVER_CTRACE_WITH_CONTEXTS_AT_LEAST,
        SNAPSHOT_MS_UNDER, HUP_SECONDS_UNDER, REPORT_SECONDS_UNDER, MEMORY_MIB_UNDER,
    }
    # Besides them: the Python the recipe test names, and the configuration
    # "a new context header every 10 requests".
    named = {"3.13", "10"}
    assert "a new context header every 10 requests" in [
        c["label"].removeprefix("hook file, ") for c in FIGURES["py314"]["configurations"]
    ]
    assert numbers_in(conclusions) == {f"{n:g}" for n in checked} | named


def test_the_figures_measured_the_coverage_the_project_pins():
    """Every Python's figures come from one coverage, the pinned one, as the page says:
    when the pin moves, measure again."""
    page = " ".join(PAGE.read_text().split())
    (measured,) = {figures["versions"]["coverage"] for figures in FIGURES.values()}
    pinned = re.search(r"^coverage==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)[1]
    said = re.search(r"The figures were measured with coverage (\S+), the version the project pins", page)
    assert said[1] == measured == pinned


# --- the figures and the page -----------------------------------------------


def test_the_page_shows_results_for_python_3_11_3_13_3_14_and_3_15():
    assert STEMS == ["py311", "py313", "py314", "py315"]
    page = PAGE.read_text()
    # Each Python's tables (cog writes them) and chart (the plot directive).
    for shown in ("tables", "chart"):
        assert sorted(re.findall(rf'\b{shown}\(load\("(\w+)"\)\)', page)) == STEMS, (
            f"docs/overhead.rst does not show the {shown} of each of {STEMS} once"
        )


@pytest.mark.parametrize("stem", STEMS)
def test_the_figures_say_what_they_measured(stem):
    """A figure can be traced to the code and the versions it measured."""
    measured = FIGURES[stem]
    assert re.fullmatch(r"[0-9a-f]{7,} \(\d{4}-\d\d-\d\d\)", measured["hook_file"]["revision"])
    assert re.fullmatch(r"[0-9a-f]{64}", measured["hook_file"]["sha256"])
    assert set(measured["versions"]) == {"coverage", "gunicorn", "Flask"}
    assert measured["python"].startswith(stem[2] + "." + stem[3:] + ".")
    revision = measured["hook_file"]["revision"]
    shown = f'"Hook file","hooks/gunicorn.conf.py at revision {revision}"'
    assert shown in overhead_tables.setup_table(measured)


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
    assert commands == {"bench", "bench-py315", "bench-py313", "bench-py311"}
    section = re.search(r"^\[testenv:bench\{([^}]*)\}\]", (ROOT / "tox.ini").read_text(), re.M)
    assert section, "tox.ini has no [testenv:bench{...}] section"
    names = {"bench" + suffix for suffix in section[1].split(",")}
    assert commands <= names


def test_the_benchmark_runs(tmp_path):
    """A short run of three configurations with the Python client (no wrk
    needed), with the options the page shows; docs/overhead_tables.py makes
    the tables that need no other configuration of its JSON."""
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
    speed = overhead_tables.speed_table(results)
    for config in results["configurations"]:
        assert f'\n   "{config["label"]}","{config["core"] or "none"}",' in speed
    assert '"coverage combine, 4 files (a new Python process)"' in overhead_tables.costs_table(results)
    assert '"Load","Python client (4 threads)"' in overhead_tables.setup_table(results)
