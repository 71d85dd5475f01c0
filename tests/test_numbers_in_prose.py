"""The numbers in the pages' sentences are the numbers the tests check.

A page shows numbers in four places. Its console blocks are typed by
test_docs_transcripts.py, its tables are written by cog from expected.py
(test_generated_tables.py), and overhead.rst's figures are test_overhead.py's.
This module checks the fourth: the sentences around them ("so coverage is 75%",
"line 4 never ran"). Each sentence below is built from the values that the
tests check on real servers (expected.py), from a row of a console block on the
same page, or from the file it speaks of. A page that says another number fails
here, and so does a value changed in expected.py without the pages.

And every number in a page's sentences must be in one of them, or be one of
the few numbers that name something (PID 1, HTTP 404), listed with why. Not
checked here: numbers in inline code (``--workers 2``, ``kill -9``) and version
numbers (requirements.txt and tox.ini pin those; test_reference.py checks the
reference's list).
"""

import inspect
import re
import runpy

import pytest
from docutils import nodes
from gunicorn.config import Config
from gunicorn.workers.base import Worker

from expected import (
    BAR, BOTH_SIDES, CI_BELOW_THRESHOLD, CI_TESTS_FAILED, DJANGO_TEMPLATE_AFTER_GET, DOES_NOT_WAIT,
    FASTAPI_ITEM, FASTAPI_PRELOADED, FOO, GEVENT_TAKING_TURNS, LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR,
    LIB_FOO_LINE_ONLY, LIB_IMPORTED_ONLY, LIFESPAN_SHUTDOWN, REFUSED_AT_START, SERVER_SIDE,
)
from helpers import HOOK_FILE, ROOT
from transcript import ConsoleBlock, doctree

DOCS = ROOT / "docs"
WORDS = {2: "two", 3: "three", 4: "four"}


def lines(numbers):
    """[1, 3] -> "1 and 3"; [22, 23] -> "22-23": as the pages name lines."""
    first, *_, last = numbers = [int(n) for n in numbers]
    if numbers == list(range(first, last + 1)):
        return f"{first}-{last}"
    return " and ".join(map(str, numbers))


def percent(covered, of):
    return f"{round(100 * covered / of)}%"


# --- What the sentences speak of --------------------------------------------

LIB = runpy.run_path(str(ROOT / "example_app" / "lib.py"))  # foo() and bar(): the answers.
# lib.py's lines by what ran them (contexts.rst's report, as test_contexts.py checks it).
LIB_LINES = BOTH_SIDES["example_app/lib.py"]
(FOO_LINE,) = [line for line, names in LIB_LINES.items() if names == [FOO]]
(BAR_LINE,) = [line for line, names in LIB_LINES.items() if names == [BAR]]
DEF_LINES = [line for line, names in LIB_LINES.items() if names == [""]]  # Run as lib.py is imported.
(FOO_VIEW,) = [line for line, names in SERVER_SIDE["example_app/app.py"].items() if names == [FOO]]

# A row of `coverage report` that a console block of the page shows: the page's
# command output, which test_docs_transcripts.py types on a real server.
BRANCHES_AFTER_A_NAME = ("example_app/greet.py", 4, 1, 2, 1, "67%", "4")
BRANCHES_AFTER_BOTH = ("example_app/greet.py", 4, 0, 2, 0, "100%", "")
_, STATEMENTS, MISSED, BRANCHES, PARTIAL, _, _ = BRANCHES_AFTER_A_NAME
# Statements run, of all; branches taken, of all (an if taken one way is one
# partial branch: one of its two taken); the two together, as Cover counts them.
BRANCHES_COUNTED = (STATEMENTS - MISSED, STATEMENTS, BRANCHES - PARTIAL, BRANCHES,
                    STATEMENTS - MISSED + BRANCHES - PARTIAL, STATEMENTS + BRANCHES)
# The walkthrough's fresh start, /bar alone: as after /foo alone, but line 2 is the one missing.
LIB_AFTER_BAR_ALONE = ("example_app/lib.py", *LIB_AFTER_FOO._replace(missing=FOO_LINE))
STOCK_BEFORE_THE_SHUTDOWN = ("shop/stock.py", 12, 1, "92%", "21")  # Stock.close: line 21.

GREET = (ROOT / "example_app" / "greet.py").read_text().splitlines()
(IF_LINE,) = [number for number, line in enumerate(GREET, 1) if line.lstrip().startswith("if ")]
TEMPLATE_MISSING = DJANGO_TEMPLATE_AFTER_GET.missing
(TEMPLATE_NO_STATEMENT,) = sorted(  # Within the lines that did not run, the one that is no statement.
    set(range(TEMPLATE_MISSING[0], TEMPLATE_MISSING[-1] + 1)) - set(TEMPLATE_MISSING)
)
CI_SCRIPT = (DOCS / "examples" / "ci" / "ci.sh").read_text()
CI_DEFAULT = dict(re.findall(r"\$\{(\w+):-(\d+)\}", CI_SCRIPT))
CI_REPORT_AT_0 = re.findall(r"^(\S+) .* 0%", (DOCS / "examples" / "ci" / "report.txt").read_text(), re.M)
# What GUNICORN_COVERAGE_SNAPSHOT_SECONDS takes, as the hook file says when it refuses a value.
SNAPSHOT_SECONDS = re.search(r"use (a number of seconds greater than \d+)", HOOK_FILE.read_text())[1]
MAX_CONTEXT_LENGTH = re.search(r"^MAX_CONTEXT_LENGTH = (\d+)$", HOOK_FILE.read_text(), re.M)[1]
GUNICORN = Config()  # gunicorn's settings, at their defaults.
GUNICORN_PIN = re.search(r"^gunicorn==(\d+)\.", (ROOT / "requirements.txt").read_text(), re.M)[1]
# How long gunicorn's worker waits, on INT or QUIT, before it raises SystemExit.
QUIT_DELAY = re.search(r"time\.sleep\(([\d.]+)\)", inspect.getsource(Worker.handle_quit))[1]

SHOWN = {  # page: the console rows its sentences restate.
    "branch-coverage.rst": [BRANCHES_AFTER_A_NAME, BRANCHES_AFTER_BOTH],
    "walkthrough.rst": [LIB_AFTER_BAR_ALONE],
    "fastapi.rst": [STOCK_BEFORE_THE_SHUTDOWN],
}

# --- The sentences ------------------------------------------------------------

SENTENCES = {
    "alternatives.rst": [
        f"It has {WORDS[LIB_AFTER_FOO.statements]} statements: {LIB_AFTER_FOO.cover} means that the"
        f" request to ``/foo`` was counted, {LIB_IMPORTED_ONLY.cover} that only the module's import was"
        f" (its {WORDS[len(DEF_LINES)]} ``def`` lines), {percent(0, LIB_AFTER_FOO.statements)} that"
        " nothing was.",
        f"``lib.py``'s lines {lines(DEF_LINES)}.",
    ],
    "branch-coverage.rst": [
        f"The ``if`` on line {IF_LINE} has two ways to go and took one, to line {IF_LINE + 1}; line"
        f" {BRANCHES_AFTER_A_NAME[6]} never ran.",
        "``Cover`` counts statements and branches together: {} of {} statements and {} of {} branches,"
        " {} of {}, {}.".format(*BRANCHES_COUNTED, BRANCHES_AFTER_A_NAME[5]),
        f"Both ways of the ``if`` are taken: {BRANCHES_AFTER_BOTH[5]}.",
    ],
    "ci.rst": [
        f"``PORT`` (default {CI_DEFAULT['PORT']}) and ``FAIL_UNDER`` (default {CI_DEFAULT['FAIL_UNDER']})",
        "The files at 0% are the example's entry points",
        f"exits with status {CI_BELOW_THRESHOLD}, coverage's status for a total below the threshold.",
        f"then exits with pytest's status, {CI_TESTS_FAILED}.",
    ],
    "containers.rst": [
        f"The same {LIB_AFTER_FOO.cover} as on the host",
        f"Every worker saves: one file each, {LIB_AFTER_FOO.cover} above.",
        f"the report is still {LIB_AFTER_FOO.cover}: only what the request runs after the stop signal is lost.",
        f"With the data directory on a volume, every worker saves, {LIB_AFTER_FOO.cover}.",
        f"one container served ``/foo``, the other ``/bar``, {LIB_AFTER_FOO_AND_BAR.cover}.",
        f"gunicorn's own ``graceful_timeout`` is {GUNICORN.graceful_timeout} seconds too",
    ],
    "contexts.rst": [
        f"Line {FOO_LINE}, ``return 42``, ran in ``test_foo``, in both processes, and counts once, under"
        f" the one name; line {BAR_LINE}, ``return 43``, ran in ``test_bar``, in the server. Lines"
        f" {lines(DEF_LINES)}, the ``def`` lines,",
        f"in the server (line {FOO_VIEW} of ``app.py``, the ``/foo`` view) and in the test process"
        f" (line {FOO_LINE} of ``lib.py``, which the server ran too).",
        f"At the right end of lines {lines([FOO_LINE, BAR_LINE])} is a button, ``1 ctx``",
        f"Lines {lines(DEF_LINES)} say ``(empty)``",
        f"alone: line {FOO_LINE} of ``lib.py``, which ``test_foo`` ran,",
        f"at most {MAX_CONTEXT_LENGTH} characters of printable ASCII",
        f"it is longer than {MAX_CONTEXT_LENGTH} characters;",
    ],
    "django.rst": [
        f"Lines {TEMPLATE_MISSING[0]} to {TEMPLATE_MISSING[-1]}, the ``{{% if products %}}`` branch, did"
        f" not run (line {TEMPLATE_NO_STATEMENT}, ``{{% endfor %}}``, is no statement)",
    ],
    "fastapi.rst": [
        "Lines {} (the 404) and {} (an item sold out) did not run".format(*FASTAPI_ITEM.missing),
        f"its shutdown half ({lines(LIFESPAN_SHUTDOWN)}, and ``Stock.close`` on line"
        f" {STOCK_BEFORE_THE_SHUTDOWN[4]} of ``stock.py``) has not run yet",
        f"The shutdown half ran ({lines(LIFESPAN_SHUTDOWN)}, and line {STOCK_BEFORE_THE_SHUTDOWN[4]} of"
        " ``stock.py``) and is counted.",
        f"Line {FASTAPI_ITEM.missing[1]}, the answer for an item sold out, ran in one of the new workers",
        f"Only the 404 ({FASTAPI_ITEM.missing[0]}) never ran.",
        f"exits with status {REFUSED_AT_START}:",
        f"The lifespan did not run in the master ({FASTAPI_PRELOADED.missing.split(', ')[0]} missing)",
        "``item()`` always has lines {} and {} missing".format(*FASTAPI_ITEM.missing),
        f"Its shutdown half ({lines(LIFESPAN_SHUTDOWN)}) runs",
    ],
    "own-config.rst": [
        f"The same {LIB_AFTER_FOO.cover} as with the hook file on its own.",
    ],
    "reference.rst": [
        f"{SNAPSHOT_SECONDS} (``30``, ``0.5``)",
        f"status {REFUSED_AT_START} and one line:",
        f"stop gunicorn at start, with status {REFUSED_AT_START}:",
        f"longer than {MAX_CONTEXT_LENGTH} characters, has characters",
        f"than {MAX_CONTEXT_LENGTH} characters; its lines count under the default context",
        f"and exits with status {REFUSED_AT_START}.",
        f"gunicorn stops before it starts, with status {REFUSED_AT_START},",
    ],
    "signals-and-stops.rst": [
        f"``lib.py`` has {WORDS[LIB_AFTER_FOO.statements]} statements; {LIB_AFTER_FOO.cover} means the"
        f" request's line ran and line {LIB_AFTER_FOO.missing} (``return 43``) did not.",
        f"``SystemExit`` {QUIT_DELAY} s after the signal",
    ],
    "snapshots.rst": [
        f"Only line {FOO_LINE}, the body of ``foo()``, ran after the reset",
    ],
    "troubleshooting.rst": [
        f"with ``--preload`` ({LIB_FOO_LINE_ONLY.cover} instead of {LIB_AFTER_FOO.cover})",
        f"request to ``/foo`` gives {LIB_FOO_LINE_ONLY.cover} (``lines {LIB_FOO_LINE_ONLY.missing}"
        f" missing``) instead of {LIB_AFTER_FOO.cover}.",
        f"and line {LIB_AFTER_FOO.missing} stays missing.",
    ],
    "walkthrough.rst": [
        f"``/foo`` returns ``lib.foo()``, {LIB['foo']()}, and ``/bar`` returns ``lib.bar()``,"
        f" {LIB['bar']()}.",
        f"``lib.py`` has {WORDS[LIB_AFTER_FOO.statements]} statements: after a request to ``/foo``"
        f" {WORDS[LIB_AFTER_FOO.statements - LIB_AFTER_FOO.missed]} of them have run (both ``def``"
        f" lines run when the module is imported), so coverage is {LIB_AFTER_FOO.cover}.",
        f"Line {LIB_AFTER_FOO.missing}, ``return 43``, is the one statement no request ran.",
        f"{LIB_AFTER_BAR_ALONE[3]} again, but now line {LIB_AFTER_BAR_ALONE[4]}, ``return 42``, is the"
        " one missing",
    ],
    "worker-classes.rst": [
        f"every worker class gunicorn {GUNICORN_PIN} ships",
        f"{LIB_AFTER_FOO.statements} statements, {LIB_AFTER_FOO.missed} missed (line"
        f" {LIB_AFTER_FOO.missing}, ``return 43``), {LIB_AFTER_FOO.cover}",
        f"the snapshot has lib.py at {DOES_NOT_WAIT.snapshot.cover}, without the line the request runs last",
        f"the worker's file has lib.py at {LIB_AFTER_FOO.cover}: the line that ran on the pool threads",
        "both files are at {} ({} statements, {} missed: lines {} of ``left.py``, lines {} of"
        " ``right.py``)".format(
            GEVENT_TAKING_TURNS["left.py"].cover, GEVENT_TAKING_TURNS["left.py"].statements,
            GEVENT_TAKING_TURNS["left.py"].missed, GEVENT_TAKING_TURNS["left.py"].missing,
            GEVENT_TAKING_TURNS["right.py"].missing,
        ),
        f"(lib.py at {DOES_NOT_WAIT.snapshot.cover}, without the line the request runs last), the request"
        f" completes, and the worker writes the rest as it exits ({DOES_NOT_WAIT.at_stop.cover}).",
        f"each time the worker saves, lib.py at {LIB_AFTER_FOO.cover}.",
        f"lib.py is at {LIB_AFTER_FOO.cover}, line {FOO_LINE} ran only in the dirty worker.",
        f"the dirty worker then saves, and lib.py is at {LIB_AFTER_FOO.cover}; if the dirty arbiter gives"
        f" up first, it kills the dirty worker, whose data is lost: {LIB_IMPORTED_ONLY.cover}.",
        f"only the HTTP workers save, lib.py is at {LIB_IMPORTED_ONLY.cover}.",
        f"its ``def`` lines count as not run: lib.py at {LIB_FOO_LINE_ONLY.cover}.",
        f"measures lib.py exactly ({LIB_AFTER_FOO.statements} statements, {LIB_AFTER_FOO.missed} missed).",
        f"Both timeouts are {GUNICORN.graceful_timeout} seconds by default",
    ],
}

# Numbers that name something, rather than measure it: page -> {where: why}.
NAMES = {
    "ci.rst": {"a 404 too": "an HTTP status"},
    "containers.rst": {
        "PID 1": "the process a container engine signals",
        "(10 seconds;": "docker stop's default grace period, which the containers tests do not wait out",
        "(30 seconds by default)": "Kubernetes' default grace period: the section says it is on paper",
    },
    "contexts.rst": {"400 Bad Request": "an HTTP status (test_contexts.py sends such a request)"},
    "fastapi.rst": {"Terminal 1": "a terminal's name"},
    "reference.rst": {
        "PID 1": "the process a container engine signals",
        "gunicorn 25+": "the release that added dirty workers",
    },
    "worker-classes.rst": {"gunicorn 25": "the release that added dirty workers"},
}


# --- Reading the pages ----------------------------------------------------------

# What is not running text: console blocks (test_docs_transcripts.py types
# them), other code, comments, and messages about Sphinx's own directives,
# which docutils does not know (literalinclude, toctree).
NOT_SENTENCES = (ConsoleBlock, nodes.literal_block, nodes.comment, nodes.system_message, nodes.target)


def sentences(page):
    """The page's running text, as docutils reads it, its whitespace joined; its
    inline code kept as ``code``. Without what cog writes: test_generated_tables.py
    checks that."""
    text = re.sub(r"^\.\. \[\[\[cog.*?^\.\. \[\[\[end\]\]\]$", "", page.read_text(), flags=re.M | re.S)
    return " ".join(_text_of(doctree(text, page)).split())


def _text_of(node):
    if isinstance(node, NOT_SENTENCES):
        return ""
    if isinstance(node, nodes.literal):
        return f"``{node.astext()}``"
    if isinstance(node, nodes.Text):
        return str(node)
    # Inline parts join as they are; paragraphs, titles and list items with a space.
    return ("" if isinstance(node, nodes.TextElement) else " ").join(map(_text_of, node.children))


def numbers_left(text):
    """The numbers in `text` other than in inline code, cross-references,
    version numbers, issue numbers and names such as USR1 or gh-123720: each
    with the words around it."""
    text = re.sub(r":\w+:`[^`]*`|``.*?``", "", text)
    text = re.sub(r"\b\d+(\.\d+)+\b(?! m?s\b)|#\d+|gh-\d+|\b[\w-]*[A-Za-z_]\d[\w]*", "", text)
    return [f"...{text[max(0, n.start() - 50):n.end() + 20]}..." for n in re.finditer(r"\d+%?", text)]


PAGES = sorted(page for page in DOCS.glob("*.rst") if page.name != "overhead.rst")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_every_number_in_the_sentences_is_checked(page):
    text = sentences(page)
    for sentence in SENTENCES.get(page.name, []) + list(NAMES.get(page.name, {})):
        assert sentence in text, f"docs/{page.name} does not say: {sentence}"
        text = text.replace(sentence, " ")
    assert numbers_left(text) == [], (
        f"docs/{page.name} has numbers in its sentences that no test checks: put each sentence in"
        " SENTENCES, built from the value that a test checks (inline code left out)"
    )


@pytest.mark.parametrize("page", sorted(SHOWN), ids=lambda name: name.removesuffix(".rst"))
def test_the_rows_the_sentences_restate_are_on_the_page(page):
    """The console block that the page's transcript test types shows them."""
    text = (DOCS / page).read_text()
    for row in SHOWN[page]:
        assert re.search(r"^   " + r"\s+".join(re.escape(str(cell)) for cell in row if cell != "") + "$",
                         text, re.M), f"docs/{page} shows no row {row}"


def test_what_the_sentences_say_of_the_files_they_speak_of():
    # branch-coverage.rst: "The if ... took one, to line 3", the line right after it.
    assert GREET[IF_LINE].lstrip().startswith("return ")
    # ... "4 of 6, 67%": coverage's own arithmetic.
    assert percent(*BRANCHES_COUNTED[4:]) == BRANCHES_AFTER_A_NAME[5]
    # ci.rst: "The files at 0% are the example's entry points for other worker classes".
    assert CI_REPORT_AT_0 and all(file.startswith("example_app/") for file in CI_REPORT_AT_0)
    # worker-classes.rst: "Both timeouts are 30 seconds by default", gunicorn's and the dirty arbiter's.
    assert GUNICORN.settings["dirty_graceful_timeout"].default == GUNICORN.graceful_timeout
    # walkthrough.rst, contexts.rst: return 42 is line 2 and return 43 line 4.
    source = (ROOT / "example_app" / "lib.py").read_text().splitlines()
    assert source[int(FOO_LINE) - 1].strip() == "return 42"
    assert source[int(BAR_LINE) - 1].strip() == "return 43"
