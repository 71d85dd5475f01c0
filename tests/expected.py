"""What the tests expect and the docs show, as plain data.

The tests take their expected values from here; cog writes the docs' tables
from here too (docs/cog_helpers.py). Change a value here, and both the test
that checks it on a real server and the page that shows it (`tox -e cog`,
checked by tests/test_generated_tables.py) follow. Nothing here imports pytest
or a test module.
"""

import sys
from typing import NamedTuple

PYTHON = sys.version_info[:2]  # The Python the tests run on.
APP = "example_app.app:app"  # The example's WSGI app, as gunicorn names it.
# gunicorn's exit status when it does not start: the hook file refused a
# variable or a worker class, or coverage refused its settings.
REFUSED_AT_START = 1


class Report(NamedTuple):
    """One file's row in ``coverage report --show-missing``."""

    statements: int
    missed: int
    cover: str
    missing: str

    @classmethod
    def parse(cls, report_output, file="example_app/lib.py"):
        """The row of `file` in `coverage report --show-missing`."""
        for line in report_output.splitlines():
            if line.startswith(file + " "):
                _, statements, missed, cover, *missing = line.split(maxsplit=4)
                return cls(int(statements), int(missed), cover, " ".join(missing))
        raise AssertionError(f"no {file} row in the report:\n{report_output}")


# example_app/lib.py (def foo: return 42; def bar: return 43) in the report:
# the walkthrough's three numbers, and what an idle worker measured.
LIB_AFTER_FOO = Report(4, 1, "75%", "4")  # /foo ran line 2; line 4 did not run.
LIB_AFTER_FOO_AND_BAR = Report(4, 0, "100%", "")  # /bar ran line 4 too.
LIB_IMPORTED_ONLY = Report(4, 2, "50%", "2, 4")  # Only the import: the def lines 1 and 3.
# Only /foo's line 2: the def lines ran unmeasured (in a master that imported
# lib.py before the workers forked, or before an erase), or under another context.
LIB_FOO_LINE_ONLY = Report(4, 3, "25%", "1, 3-4")


# --- Cores: which of coverage's cores measures, by Python -------------------
# docs/reference.rst, "The measurement core" and "What differs by Python
# version". sysmon (sys.monitoring) exists from 3.12 and measures branches
# from 3.14; plugins, coverage's own dynamic contexts and greenlets need ctrace.


class Cores(NamedTuple):
    coverages_own: str  # What coverage picks by itself, as the bare recipe measures.
    hook_file: str  # What the hook file picks, unless the user chose a core.
    with_branch: str  # ... with [run] branch = True.
    needs_ctrace: str  # ... with plugins, a dynamic_context or concurrency = gevent.


CORES = {
    (3, 11): Cores(coverages_own="ctrace", hook_file="ctrace", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 12): Cores(coverages_own="ctrace", hook_file="sysmon", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 13): Cores(coverages_own="ctrace", hook_file="sysmon", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 14): Cores(coverages_own="sysmon", hook_file="sysmon", with_branch="sysmon", needs_ctrace="ctrace"),
    (3, 15): Cores(coverages_own="sysmon", hook_file="sysmon", with_branch="sysmon", needs_ctrace="ctrace"),
}
CORE = CORES[PYTHON]  # On the Python the tests run on.


# --- What each signal and stop saves (docs/signals-and-stops.rst) -----------
# Each test of tests/test_signals_and_stops.py serves /foo (and /bar where a row says
# so) and must get the lib.py report of its row.

SNAPSHOT_WITHIN = 2  # Seconds within which every worker writes its snapshot after USR1.


class Saved(NamedTuple):
    """A row of the page's table: an event, what reaches the disk, lib.py then."""

    event: str
    saved: str
    lib: Report


GRACEFUL_EXITS = {
    "hup": Saved(
        "``kill -HUP`` the master",
        "Every old worker writes its file as it exits; new workers serve on.",
        LIB_AFTER_FOO,
    ),
    "term": Saved(
        "``kill -TERM`` the master",
        "A graceful stop: every worker finishes its request and saves.",
        LIB_AFTER_FOO,
    ),
    "int": Saved(
        "``kill -INT`` the master",
        "A quick stop: every worker saves as it exits.",
        LIB_AFTER_FOO,
    ),
    "ctrl-c": Saved(
        "Ctrl+C in the terminal gunicorn runs in",
        "The terminal sends INT to the master and to every worker, and the master sends the"
        " workers QUIT: each worker stops once, and saves as it exits.",
        LIB_AFTER_FOO,
    ),
    "quit": Saved(
        "``kill -QUIT`` the master",
        "A quick stop: every worker saves as it exits.",
        LIB_AFTER_FOO,
    ),
    "ttou": Saved(
        "``kill -TTOU`` the master",
        "One worker fewer: the oldest worker saves as it exits.",
        LIB_AFTER_FOO,
    ),
    "max-requests": Saved(
        "``--max-requests``",
        "A worker that served its quota saves as it exits; a new one replaces it.",
        LIB_AFTER_FOO,
    ),
}
WORKER_TIMEOUT = Saved(
    "Worker timeout (``--timeout``)",
    "The master aborts a stuck worker (SIGABRT); it saves as it exits, including the request"
    " that hung.",
    LIB_AFTER_FOO,
)
STOPPED_WITH_A_REQUEST_IN_FLIGHT = Saved(
    "``kill -TERM`` or ``-HUP`` the master, a request in flight",
    "A worker told to stop (TERM, which HUP sends the old workers) saves at once what it ran so"
    " far, without waiting for the request in flight as a ``USR1`` snapshot does; as it exits"
    " after the request, it writes what the request ran since: two files. Here ``/foo`` ran"
    " before the stop, and the request in flight ran ``lib.bar()`` last.",
    LIB_AFTER_FOO_AND_BAR,
)
KILLED_WITH_A_REQUEST_IN_FLIGHT = Saved(
    "``kill -TERM`` the master, a request in flight, then ``kill -KILL`` before it ends (a"
    " container engine's grace period)",
    "The file the worker wrote at once: what it ran before the stop. What the request runs"
    " after it is lost. Here ``/foo`` ran before the stop; the request in flight would have run"
    " ``lib.bar()`` last.",
    LIB_AFTER_FOO,
)
PRELOAD = Saved(
    "``--preload``",
    "The master measures the application's import and writes one file when it is ready; the"
    " workers' files hold only what ran in them, so nothing is counted twice. After ``/bar``"
    f" and another HUP: {LIB_AFTER_FOO_AND_BAR.cover}.",
    LIB_AFTER_FOO,
)
USR1 = Saved(
    "``kill -USR1`` the master",
    "A snapshot: every worker that measured something since its last file writes a new one"
    f" within {SNAPSHOT_WITHIN} seconds, busy or idle, and keeps running. Log files are"
    " reopened as usual.",
    LIB_AFTER_FOO,
)
SIGKILL = Saved(
    "``kill -KILL`` a worker",
    "Nothing of what the worker measured since its last file: no code runs in a killed process."
    " Here it served ``/foo`` and wrote no file.",
    LIB_IMPORTED_ONLY,
)
SIGKILL_AFTER_A_PERIODIC_SNAPSHOT = Saved(
    "``kill -KILL`` a worker, with ``GUNICORN_COVERAGE_SNAPSHOT_SECONDS``",
    "Only what ran since the worker's last periodic snapshot is lost. Here ``/foo`` ran"
    " before the snapshot and ``/bar`` after it.",
    LIB_AFTER_FOO,
)
SIGKILL_LOGGED = Saved(
    "``kill -KILL`` a worker: what the master logs",
    "The master, as it reaps the worker, logs since when its data is lost:"
    " ``coverage: worker <pid> ended before its last save: what it measured since it started"
    " at <time> is lost``, or ``... since its last save at <time> ...`` once it wrote a file."
    " A worker that saved as it exited (the graceful exits and the worker timeout above) gets"
    " no such line."
    " Here a worker served ``/foo`` and was killed; the next one served ``/foo``, wrote a"
    " snapshot and was killed.",
    LIB_AFTER_FOO,
)
OUT_OF_MEMORY = Saved(  # The same signal as SIGKILL's row, and so the same report.
    "Out-of-memory kill",
    "As ``kill -KILL``: the kernel's OOM killer sends SIGKILL. Periodic snapshots bound the"
    " loss the same way.",
    SIGKILL.lib,
)
SIGNALS_AND_STOPS = [  # The page's rows, in order.
    *GRACEFUL_EXITS.values(), WORKER_TIMEOUT, STOPPED_WITH_A_REQUEST_IN_FLIGHT,
    KILLED_WITH_A_REQUEST_IN_FLIGHT, PRELOAD, USR1, SIGKILL, SIGKILL_AFTER_A_PERIODIC_SNAPSHOT,
    SIGKILL_LOGGED, OUT_OF_MEMORY,
]


# --- Where the data files land (docs/where-files-land.rst) ------------------
# One worker, /foo, then TERM: one data file, with LIB_AFTER_FOO, in `place`.

DATA_FILE_SETTING = "data_file = data/.coverage"  # [run]: the files go in data/ of the project.


class Lands(NamedTuple):
    started: str  # How gunicorn is started,
    lands: str  # where the file lands, as the page says it,
    place: str  # and as the test finds it: "the project", "data/" or "elsewhere".


WHERE_FILES_LAND = {
    "chdir": Lands(
        "From another directory, with ``--chdir`` the project directory",
        "the project directory",
        "the project",
    ),
    "elsewhere": Lands(
        "From another directory, without ``--chdir`` (the application found with ``--pythonpath``)",
        "that other directory; the project's ``.coveragerc`` is not read",
        "elsewhere",
    ),
    "coverage-file": Lands(
        "With ``COVERAGE_FILE=/some/dir/.coverage`` in the environment",
        "``/some/dir``",
        "elsewhere",
    ),
    "data-file": Lands(
        f"With ``{DATA_FILE_SETTING}`` under ``[run]``",
        "``data/``, relative to the working directory",
        "data/",
    ),
    "daemon": Lands(
        "With ``--daemon``",
        "the directory it was started in: gunicorn's daemon mode does not change directory",
        "the project",
    ),
}


# --- What each worker class saves (docs/worker-classes.rst) -----------------


class WorkerClass(NamedTuple):
    row: str  # Its name in the page's table.
    options: tuple = ()
    app: str = APP
    held: str = "example_app.held:wsgi_app"  # Its app of tests/apps/ that holds a request in flight.
    needs: str = ""  # The optional module the worker class imports.
    coveragerc: str = ""  # A file of docs/config/ that replaces .coveragerc.

    def command(self):
        """The command the page shows, and the tests run."""
        return " ".join(["gunicorn -c hooks/gunicorn.conf.py", *self.options, self.app])


WORKER_CLASSES = {
    "sync": WorkerClass("``sync``"),
    "gthread": WorkerClass("``gthread``", ("--worker-class", "gthread", "--threads", "4")),
    "gevent": WorkerClass(
        "``gevent``", ("--worker-class", "gevent"), needs="gevent", coveragerc="gevent.coveragerc",
    ),
    "tornado": WorkerClass("``tornado``", ("--worker-class", "tornado"), needs="tornado"),
    "asgi": WorkerClass(
        "``asgi``, native app", ("--worker-class", "asgi"), "example_app.asgi:app",
        "example_app.held:asgi_app",
    ),
    "asgi-flask": WorkerClass(
        "``asgi``, Flask in ``WsgiToAsgi``", ("--worker-class", "asgi"), "example_app.flask_asgi:app",
        "example_app.held_flask_asgi:app", needs="asgiref",
    ),
    "uvicorn": WorkerClass(
        "``uvicorn_worker.UvicornWorker``", ("--worker-class", "uvicorn_worker.UvicornWorker"),
        "example_app.asgi:app", "example_app.held:asgi_app", needs="uvicorn_worker",
    ),
}


class Stopped(NamedTuple):
    """What a worker saves when the master gets a signal that stops it."""

    files: int  # The data files written.
    lib: Report  # lib.py in them.


class InFlight(NamedTuple):
    """A snapshot (USR1) taken while a request is in flight."""

    waits: bool  # Does it wait for the request to finish?
    snapshot: Report  # lib.py in the snapshot.
    at_stop: Report | None = None  # lib.py with the file the worker writes when it stops, too.


class Saves(NamedTuple):
    """After one request to /foo, what a worker class saves."""

    hup: Stopped
    term: Stopped
    int: Stopped
    usr1: tuple  # lib.py in the snapshot, then with a second one taken after /bar.
    in_flight: InFlight


STOPPING = ("hup", "term", "int")  # The fields of Saves that stop the worker.
SAVED = Stopped(1, LIB_AFTER_FOO)
SNAPSHOTS = (LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR)
# The worker classes that call pre_request and post_request, so that a snapshot
# waits for the requests in flight; tornado's and uvicorn's do not, so a
# snapshot misses the line that the request runs last, and the next file has it.
WAITS = InFlight(True, LIB_AFTER_FOO)
DOES_NOT_WAIT = InFlight(False, LIB_IMPORTED_ONLY, LIB_AFTER_FOO)

WORKER_CLASS_SAVES = {
    #                    HUP    TERM   INT    USR1       a snapshot while a request runs
    "sync":       Saves(SAVED, SAVED, SAVED, SNAPSHOTS, WAITS),
    "gthread":    Saves(SAVED, SAVED, SAVED, SNAPSHOTS, WAITS),
    "gevent":     Saves(SAVED, SAVED, SAVED, SNAPSHOTS, WAITS),
    "tornado":    Saves(SAVED, SAVED, SAVED, SNAPSHOTS, DOES_NOT_WAIT),
    "asgi":       Saves(SAVED, SAVED, SAVED, SNAPSHOTS, WAITS),
    "asgi-flask": Saves(SAVED, SAVED, SAVED, SNAPSHOTS, WAITS),
    "uvicorn":    Saves(SAVED, SAVED, SAVED, SNAPSHOTS, DOES_NOT_WAIT),
}


# gevent workers, two requests that take turns (tests/apps/left.py and right.py,
# one request to each): each file's report when the numbers are right.
GEVENT_TAKING_TURNS = {
    "left.py": Report(9, 3, "67%", "11-13"),
    "right.py": Report(9, 3, "67%", "5-7"),
}


# --- The four ways of measuring gunicorn (docs/alternatives.rst) ------------


class PerApproach(NamedTuple):
    """One of something per approach, in the order of the table's columns."""

    hook_file: str
    coverage_run: str
    patch_fork: str
    process_start: str


APPROACH_COLUMNS = PerApproach("hook file", "coverage run", "patch = fork", "COVERAGE_PROCESS_START")
EVERYWHERE_75 = PerApproach("75%", "75%", "75%", "75%")

# Each event's rows of the table: {row heading: what each approach measures}.
# Percentages are lib.py's.
ALTERNATIVES = {
    "term": {
        "/foo, then TERM": EVERYWHERE_75,
        "data files after TERM": PerApproach(
            "2: 1 per worker", "3: 1 per worker, 1 from the master",
            "5: 2 per worker, 1 from the master", "3: 1 per worker, 1 from the master",
        ),
        "the master's data file after TERM": PerApproach(
            "none", "no lines run", "no lines run", "no lines run",
        ),
        "warnings printed, start to TERM": PerApproach(
            "none", "1 × No data was collected.", "3 × No data was collected.", "none",
        ),
    },
    "hup": {"/foo, then HUP (the server keeps running)": EVERYWHERE_75},
    "usr1": {
        "/foo, then USR1 (the server keeps running)": PerApproach(
            "75%", "no data file", "no data file", "no data file",
        ),
    },
    "sigkill": {
        "/foo, SIGKILL of the worker that served it, then TERM": PerApproach("50%", "50%", "50%", "50%"),
    },
    "usr1-sigkill": {
        "/foo, USR1, SIGKILL of the worker that served it, then TERM": PerApproach(
            "75%", "50%", "50%", "50%",
        ),
    },
    "preload": {
        "--preload, /foo, then TERM": EVERYWHERE_75,
        "the master's data file, --preload": PerApproach(
            "lib.py lines 1, 3", "lib.py lines 1, 3", "lib.py lines 1, 3", "lib.py lines 1, 3",
        ),
    },
    "gthread": {"gthread workers, /foo, then TERM": EVERYWHERE_75},
}


# --- Which core measures each worker class (docs/worker-classes.rst) --------
# COVERAGE_CORE asks for a core; coverage's debug output says which one it used.


class Sysmon(NamedTuple):
    """What coverage's sysmon core can do on a Python."""

    exists: bool  # sys.monitoring: Python 3.12 and newer.
    measures_branches: bool  # Python 3.14 and newer.


SYSMON_CAN = {
    (3, 11): Sysmon(exists=False, measures_branches=False),
    (3, 12): Sysmon(exists=True, measures_branches=False),
    (3, 13): Sysmon(exists=True, measures_branches=False),
    (3, 14): Sysmon(exists=True, measures_branches=True),
    (3, 15): Sysmon(exists=True, measures_branches=True),
}

ASKED = (None, "ctrace", "pytrace", "sysmon")  # What COVERAGE_CORE asks for; None: not set.
# (COVERAGE_CORE, worker class, branch = True?): every combination the tests run.
CORE_COMBINATIONS = [
    *((asked, worker_class, False) for asked in ASKED for worker_class in ("sync", "gthread", "gevent")),
    *((asked, "sync", True) for asked in (None, "sysmon")),
]

# What coverage writes to gunicorn's output.
SYSMON_WARNING = "Can't use core=sysmon: {reason}, using default core (no-sysmon)"
PYTRACE_REFUSES_GEVENT = "Can't support concurrency=gevent with PyTracer, only threads are supported"


class Outcome(NamedTuple):
    core: str | None  # The core coverage measures with; None: it refuses to start, and so does gunicorn.
    reason: str = ""  # Why not the core asked for: in coverage's warning, or its error.

    @property
    def message(self):
        """What coverage says in gunicorn's output, if anything."""
        if self.core is None or not self.reason:
            return self.reason
        return SYSMON_WARNING.format(reason=self.reason)


def core_outcome(asked, worker_class, branch=False, python=PYTHON):
    """What coverage does, asked for a core with COVERAGE_CORE, on that Python."""
    if asked is None:  # The hook file's choice; its gevent workers have concurrency = gevent.
        cores = CORES[python]
        if worker_class == "gevent":
            return Outcome(cores.needs_ctrace)
        return Outcome(cores.with_branch if branch else cores.hook_file)
    if asked == "pytrace" and worker_class == "gevent":
        return Outcome(None, PYTRACE_REFUSES_GEVENT)
    if asked != "sysmon":
        return Outcome(asked)
    if not SYSMON_CAN[python].exists:
        return Outcome("ctrace", "sys.monitoring isn't available in this version")
    if branch and not SYSMON_CAN[python].measures_branches:
        return Outcome("ctrace", "sys.monitoring can't measure branches in this version")
    if worker_class == "gevent":
        return Outcome("ctrace", "it doesn't support concurrency=gevent")
    return Outcome("sysmon")


# gevent workers without concurrency = gevent, two requests that overlap, the
# hook file's own core: are the numbers right? With sysmon, which records each
# line by its code object, not through a stack of frames that greenlets mix
# up: yes. With ctrace: no (docs/worker-classes.rst, "gevent").
OVERLAPPING_GREENLETS_RIGHT = {(3, 11): False, (3, 12): True, (3, 13): True, (3, 14): True, (3, 15): True}


# --- Dirty workers (docs/worker-classes.rst, "Dirty workers") ---------------
# Does a cancelled asyncio server wait for its clients' connections to close?
# Yes on Python 3.12, and on 3.13 and 3.14 until CPython fixed it (gh-123720):
# a dirty worker that served then waits for its dirty arbiter when gunicorn
# stops, and saves only if the master gives up first. For each Python that
# waits, the first release with the fix (None: no release of 3.12 has it).
ASYNCIO_WAITS_UNTIL = {(3, 12): None, (3, 13): (3, 13, 15), (3, 14): (3, 14, 7)}


def asyncio_waits(release):
    """Does asyncio wait for clients on this release, (3, x, y)?"""
    if release[:2] not in ASYNCIO_WAITS_UNTIL:
        return False
    fixed_in = ASYNCIO_WAITS_UNTIL[release[:2]]
    return fixed_in is None or release < fixed_in


# --- The CI job (docs/ci.rst, docs/examples/ci/ci.sh) ---------------------
# Its exit status: coverage's when the total is below FAIL_UNDER, pytest's when
# an integration test failed.
CI_BELOW_THRESHOLD = 2
CI_TESTS_FAILED = 1


# --- Django (docs/django.rst) -----------------------------------------------
# The project of docs/examples/django, its database migrated and empty: GET /
# renders the template's {% else %} branch, "No products yet.".

DJANGO_APP = "mysite.wsgi"
DJANGO_PAGE = "<h1>Shop</h1><p>No products yet.</p>"


class Lines(NamedTuple):
    """One file, or one function, in ``coverage json``: the lines run and the statements missed."""

    executed: list
    missing: list


DJANGO_TEMPLATE = "shop/templates/shop/product_list.html"
DJANGO_VIEW = "shop/views.py"
# With --preload: the files whose lines ran in the master, as it imported
# mysite.wsgi (Django's setup imports the settings, the apps and their models),
# and in the worker that served / (Django imports the URLs at the first request).
DJANGO_PRELOADED = ["mysite/settings.py", "mysite/wsgi.py", "shop/apps.py", "shop/models.py"]
DJANGO_RUN_BY_THE_REQUEST = ["mysite/urls.py", DJANGO_TEMPLATE, DJANGO_VIEW]
# Lines 4-8, the {% if products %} branch, did not run; 7, {% endfor %}, is no statement.
DJANGO_TEMPLATE_AFTER_GET = Lines([1, 2, 3, 10], [4, 5, 6, 8])
DJANGO_TEMPLATE_UNMEASURED = Lines([], [1, 2, 3, 4, 5, 6, 8, 10])
DJANGO_VIEW_AFTER_GET = Lines([1, 3, 6, 7, 8], [])

# What coverage says when sysmon measures a project with a file tracer plugin.
PLUGIN_NOT_ON_SYSMON = (
    "Plugin file tracers (django_coverage_plugin.DjangoTemplatePlugin) aren't supported with SysMonitor"
)


class ForcedCore(NamedTuple):
    """With core = sysmon (or COVERAGE_CORE=sysmon): the core, coverage's warning, the template."""

    core: str
    warning: str
    template: Lines


DJANGO_FORCED_SYSMON = {
    (3, 11): ForcedCore(
        "ctrace", SYSMON_WARNING.format(reason="sys.monitoring isn't available in this version"),
        DJANGO_TEMPLATE_AFTER_GET,
    ),
    **{
        python: ForcedCore("sysmon", PLUGIN_NOT_ON_SYSMON, DJANGO_TEMPLATE_UNMEASURED)
        for python in ((3, 12), (3, 13), (3, 14), (3, 15))
    },
}

# A project setting that disables the plugin in each worker: what coverage's
# warning, "Disabling plug-in ... due to an exception", ends with. The
# template is then unmeasured.
PLUGIN_DISABLED = "CoverageWarning: Disabling plug-in 'django_coverage_plugin.DjangoTemplatePlugin' due to an exception:"
DJANGO_PLUGIN_DISABLED_BY = {
    "debug-off": (
        'TEMPLATES[0]["OPTIONS"]["debug"] = False',
        "DjangoTemplatePluginException: Template debugging must be enabled in settings.",
    ),
    "jinja2": (
        'TEMPLATES.append({"BACKEND": "django.template.backends.jinja2.Jinja2"})',
        'ImportError: Module "django.template.backends.jinja2" does not define a "Jinja2" attribute/class',
    ),
}


# --- FastAPI under uvicorn's worker class (docs/fastapi.rst) ----------------
# The shop of docs/examples/fastapi, two workers. Each test requests /health
# (a sync endpoint) and /items/apple (the async endpoint item(), which awaits
# the stock, then answers from one of its branches), then stops or snapshots.

FASTAPI_APP = "shop.main:app"
FASTAPI_WORKER_CLASS = "uvicorn_worker.UvicornWorker"
FASTAPI_REQUESTS = {
    "/health": '{"status":"ok"}',
    "/items/apple": '{"item":"apple","available":true,"count":3}',
}


# shop/main.py, item(): the await (43) and the lines after it ran; the 404 (45)
# and the answer for an item sold out (47) did not.
FASTAPI_ITEM = Lines([43, 44, 46, 48], [45, 47])
# shop/main.py, lifespan(): its startup half, up to the yield, and its shutdown half.
LIFESPAN_STARTUP = [18, 19, 20]
LIFESPAN_SHUTDOWN = [22, 23]


class FastapiStop(NamedTuple):
    """A row of the page's table: a stop or a snapshot, and what it saves."""

    event: str
    saved: str
    files: int  # Data files written, by the two workers.
    shutdown_ran: bool  # Did the lifespan's shutdown half run before the worker saved?
    main: Report  # shop/main.py in ``coverage report``.

    @property
    def lifespan(self):
        if self.shutdown_ran:
            return Lines(LIFESPAN_STARTUP + LIFESPAN_SHUTDOWN, [])
        return Lines(LIFESPAN_STARTUP, LIFESPAN_SHUTDOWN)


FASTAPI_STOPPED = Report(26, 2, "92%", "45, 47")  # All but item()'s two other answers.
FASTAPI_RUNNING = Report(26, 4, "85%", "22-23, 45, 47")  # ... and the lifespan's shutdown.
FASTAPI_STOPS = {
    "hup": FastapiStop(
        "``kill -HUP``", "Each old worker saves at once, stops gracefully, runs the shutdown, and"
        " saves again; new workers start and serve.", 4, True, FASTAPI_STOPPED,
    ),
    "term": FastapiStop(
        "``kill -TERM``", "Each worker saves at once, finishes its requests, runs the shutdown,"
        " and saves again.", 4, True, FASTAPI_STOPPED,
    ),
    "int": FastapiStop(
        "``kill -INT``", "The master sends the workers ``QUIT``, which the hook file turns into"
        " ``TERM``'s graceful stop: as ``kill -TERM``.", 4, True, FASTAPI_STOPPED,
    ),
    "ctrl-c": FastapiStop(
        "Ctrl+C in gunicorn's terminal", "``SIGINT`` to the master and to each worker:"
        " as ``kill -TERM``.", 4, True, FASTAPI_STOPPED,
    ),
    "usr1": FastapiStop(
        "``kill -USR1``", "A snapshot: each worker saves and serves on; the shutdown has not run.",
        2, False, FASTAPI_RUNNING,
    ),
}

# --preload: the master imports the shop and saves that before it forks the
# workers; it runs neither half of the lifespan, which runs in each worker.
FASTAPI_PRELOADED = Report(26, 13, "50%", "18-23, 31, 37, 43-48")  # The master's file alone.

# What gunicorn prints last, and exits with 1, with GUNICORN_COVERAGE_CONTEXT_HEADER set.
FASTAPI_NO_CONTEXTS = (
    "Reason: GUNICORN_COVERAGE_CONTEXT_HEADER needs sync workers, which serve one request at a"
    f" time, not --worker-class {FASTAPI_WORKER_CLASS}"
)


# --- One report for the whole test run (docs/contexts.rst) ------------------
# The two tests of docs/examples/contexts, run with pytest-cov (--cov-context=test)
# against two workers with the hook file. pytest-cov names a test's lines
# "<node id>|run"; the tests' fixtures send that name to the server.
FOO = "test_app.py::test_foo|run"
BAR = "test_app.py::test_bar|run"
# The contexts of each line that ran, as `coverage json --show-contexts` lists
# them; for app.py, only its views' lines (the rest ran at import, under "").
# The tests' own side: test_foo calls lib.foo() itself; nothing here imports app.py.
TESTS_SIDE = {
    "example_app/lib.py": {"1": [""], "2": [FOO], "3": [""]},
    "example_app/app.py": {},
}
# The workers' side: /foo under test_foo, /bar under test_bar.
SERVER_SIDE = {
    "example_app/lib.py": {"1": [""], "2": [FOO], "3": [""], "4": [BAR]},
    "example_app/app.py": {"10": [FOO], "15": [BAR]},
}
# Both, combined: the tests' side ran nothing that the workers did not run under
# the same name, so each line keeps one context.
BOTH_SIDES = {
    "example_app/lib.py": {"1": [""], "2": [FOO], "3": [""], "4": [BAR]},
    "example_app/app.py": {"10": [FOO], "15": [BAR]},
}
# The page's reports of app.py and lib.py: pytest-cov's data alone, then with
# the workers' files combined, then only what test_foo ran (--contexts=test_foo).
APP_NOT_RUN = Report(15, 15, "0%", "1-25")
APP_AFTER_FOO_AND_BAR = Report(15, 2, "87%", "20, 25")  # /hello and /orders did not run.
APP_FOO_LINE_ONLY = Report(15, 14, "7%", "1-9, 13-25")  # Only line 10, the /foo view's.
