"""docs/reference.rst documents the whole hook file, and what it says holds.

The page's index of hooks and of environment variables is written from the
hook file (read without running it) by docs/cog_reference.py, and links each
one to its section; the tests check that every section is linked, that every
line the file logs is on the page, and that the file defines no function that
gunicorn would silently ignore (a misspelt hook is never called, and nothing
says so).

The others start real servers to check what the page says that no other test
covers (test_errors.py checks the refusals, the failed snapshot, GUNICORN_COVERAGE=off
and the server without coverage).
"""

import ast
import re
import sys

import pytest
from gunicorn.config import KNOWN_SETTINGS

from helpers import HOOK_FILE, ROOT, replace_in_coveragerc

REFERENCE = ROOT / "docs" / "reference.rst"

# What writes the page's indexes: a module of the docs' own.
sys.path.insert(0, str(ROOT / "docs"))  # The page's own module, as cog finds it.
import cog_reference  # noqa: E402

# gunicorn's own list of the functions it calls from a configuration file, in
# gunicorn's order, and every setting it knows.
GUNICORN_HOOKS = cog_reference.GUNICORN_HOOKS
GUNICORN_SETTINGS = {s.name for s in KNOWN_SETTINGS}


def public_functions(tree):
    """The functions gunicorn or a user's configuration may call: the hooks and add_to."""
    return sorted(
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    )


# The names a user's own configuration uses to add coverage (docs/own-config.rst).
MECHANISM = ["add_to"]


def sections(prefix):
    """{name: title} of every section of the page labelled `.. _<prefix>-<name>:`."""
    lines = REFERENCE.read_text().splitlines()
    found = {}
    for n, line in enumerate(lines):
        label = re.fullmatch(rf"\.\. _{prefix}-(\w+):", line)
        if not label:
            continue
        rest = [line for line in lines[n + 1:] if line.strip()][:2]
        title, underline = rest if len(rest) == 2 else ("", "")
        is_section = re.fullmatch(r"([=\-~^\"'])\1*", underline) and len(underline) >= len(title)
        found[label.group(1)] = title if is_section else None
    return found


HOOK_TREE = ast.parse(HOOK_FILE.read_text())
FUNCTIONS = [name for name in public_functions(HOOK_TREE) if name not in MECHANISM]


def test_the_lists_come_from_the_real_files():
    assert {"post_fork", "worker_exit", "post_request"} <= set(GUNICORN_HOOKS)
    assert {"post_fork", "worker_exit", "pre_request"} <= set(cog_reference.hooks_defined())
    assert cog_reference.parts_of("pre_request") == ["Snapshots", "Per-request contexts"]
    assert cog_reference.parts_of("on_starting") == ["the core", "Per-request contexts", "Checks at start"]
    assert cog_reference.parts_of("when_ready") == ["the core"]
    assert "GUNICORN_COVERAGE" in cog_reference.environment_variables()
    assert any(re.fullmatch(p, "coverage: wrote .coverage.h.pid1.X2x") for p in MESSAGES)
    assert sections("hook") and sections("env")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_gunicorn_knows_the_hook(name):
    assert name in GUNICORN_HOOKS, (
        f"gunicorn has no hook named {name!r}, so it would never call it: "
        f"a typo? gunicorn's hooks: {', '.join(sorted(GUNICORN_HOOKS))}"
    )


def test_the_file_sets_no_gunicorn_setting_but_hooks():
    # The page says every gunicorn option works as usual with the file.
    # Every name the file defines at top level: gunicorn reads them all.
    settings = (set(cog_reference.defined_at(HOOK_TREE)) & GUNICORN_SETTINGS) - set(GUNICORN_HOOKS)
    assert not settings, f"the hook file overrides gunicorn settings: {sorted(settings)}"


@pytest.mark.parametrize("prefix", ["hook", "env"])
def test_every_section_is_in_the_index_and_the_index_has_every_section(prefix):
    """The index (written from the hook file) links `:ref:`<prefix>-<name>``;
    a section is a label, then the name as its title."""
    linked = set(re.findall(rf":ref:`{prefix}-(\w+)`", REFERENCE.read_text()))
    documented = sections(prefix)
    assert set(documented) == linked, (
        f"docs/reference.rst: sections without an index entry: {set(documented) - linked}; "
        f"index entries without a section (a line `.. _{prefix}-<name>:`, then the title): "
        f"{linked - set(documented)}"
    )
    for name, title in documented.items():
        assert title.lower() == f"``{name}``", f"the section .. _{prefix}-{name}: has the title {title}"


def messages(tree):
    """The lines the hook file prints or logs: strings that start with "coverage: ".

    As patterns: what the code fills in (%s, {...}) matches anything.
    """
    found = set()
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             for part in node.values}
    for node in ast.walk(tree):
        if id(node) in parts:  # A piece of an f-string: the f-string is the message.
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            pattern = re.escape(node.value).replace("%s", ".+")
        elif isinstance(node, ast.JoinedStr):
            pattern = "".join(
                re.escape(part.value) if isinstance(part, ast.Constant) else ".+"
                for part in node.values
            )
        else:
            continue
        if pattern.startswith("coverage:"):
            found.add(pattern)
    return sorted(found)


MESSAGES = messages(HOOK_TREE)


@pytest.mark.parametrize("pattern", MESSAGES)
def test_the_message_is_documented(pattern):
    # The page shows each message as a literal, with <placeholders> for what varies.
    literals = re.findall(r"``(.+?)``", " ".join(REFERENCE.read_text().split()))
    assert any(re.fullmatch(pattern, literal) for literal in literals), (
        f"docs/reference.rst shows no line like {pattern!r} (as a ``literal``)"
    )


@pytest.mark.parametrize("name", MECHANISM)
def test_the_mechanism_is_documented(name):
    assert name in public_functions(HOOK_TREE)
    section = REFERENCE.read_text().split(".. _ref-add-to:")[1].split(".. _ref-hooks:")[0]
    assert f"``gunicorn_coverage.{name}(config)``" in section


# --- What the page says, on real servers -----------------------------------


@pytest.mark.parametrize("parallel, left", [("True", 0), ("False", 2)], ids=["parallel", "not-parallel"])
def test_coverage_erase_removes_the_files_with_parallel(server, parallel, left):
    server.stop()
    assert len(server.data_files()) == 2
    replace_in_coveragerc(server.directory, "parallel = True", f"parallel = {parallel}")
    server.coverage("erase")
    assert len(server.data_files()) == left


def test_the_hook_file_is_never_in_a_report(example, start):
    replace_in_coveragerc(example, "source = example_app", "")  # Measure everything.
    server = start()
    assert server.curl("/foo") == "42"
    server.stop()
    report = server.coverage("report")
    assert "example_app/lib.py" in report
    assert "gunicorn.conf.py" not in report


# --- which versions the suite proves, said once and the same way everywhere ---

def test_the_versions_section_names_what_tox_and_requirements_give():
    """The Pythons and pins that docs/reference.rst names, and the columns of
    its table of what differs by Python, are tox's and requirements.txt's."""
    versions, differences = REFERENCE.read_text().split(".. _ref-versions:")[1].split(".. _ref-pythons:")
    envlist = re.search(r"^envlist = (.*)$", (ROOT / "tox.ini").read_text(), re.M)[1]
    pythons = [f"3.{env[3:]}" for env in re.findall(r"py3\d+", envlist)]
    versions = " ".join(versions.split())
    assert f"on Python {', '.join(pythons[:-1])} and {pythons[-1]}." in versions
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M))
    assert f"gunicorn {pins['gunicorn']}, Flask {pins['Flask']} and coverage {pins['coverage']}" in versions
    columns = re.search(r"^   \* -\n((?:     - Python .*\n)+)", differences, re.M)[1]
    assert re.findall(r"3\.\d+", columns) == pythons


# One phrasing per rule: "Python 3.12 and newer", "before Python 3.14",
# "Python 3.12 and 3.13"; not "3.12+", "3.12 and later", "from 3.14" or "3.11-3.13".
OTHER_PHRASINGS = re.compile(
    r"\b3\.1\d\+|\b3\.1\d,? (?:and|or) (?:later|above|up)|\b(?:[Ff]rom|[Ss]ince) (?:Python )?3\.1\d"
    r"|\b3\.1\d ?[-–] ?3\.1\d"
)


def test_python_versions_are_phrased_one_way():
    places = [*ROOT.glob("docs/*.rst"), *ROOT.glob("hooks/*.py"), ROOT / "README.md"]
    found = [
        f"{path.relative_to(ROOT)}: {match[0]!r}"
        for path in places for match in OTHER_PHRASINGS.finditer(" ".join(path.read_text().split()))
    ]
    assert found == []
