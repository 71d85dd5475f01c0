"""The hook file's own functions, called in this process: no server, no curl.

Each test loads hooks/gunicorn.conf.py as gunicorn loads a configuration file
(a module made from the file), in a directory of its own with a .coveragerc,
under the environment it sets, and calls what gunicorn or a user's
configuration would call, with small stand-ins for gunicorn's objects.

Loading the file would start measuring this process (its last lines measure
gunicorn's master). The tests load it as gunicorn loads it again on a HUP, with
a SIGHUP handler in place, so that it starts nothing: coverage never traces
pytest, and a test that needs a Coverage object makes one, or a stand-in.
"""

import contextlib
import functools
import importlib.util
import inspect
import os
import signal
import sys
import threading
import types
from pathlib import Path

import pytest
from gunicorn.config import Config

from expected import CORE, CORES, PYTHON, SYSMON_CAN
from helpers import HOOK_FILE

# What the hook file reads from the environment, and coverage's variables
# that change its settings: unset unless a test sets them.
VARIABLES = [
    "GUNICORN_COVERAGE", "GUNICORN_COVERAGE_SNAPSHOT_SECONDS", "GUNICORN_COVERAGE_CONTEXT_HEADER",
    "COVERAGE_CORE", "COVERAGE_RCFILE", "COVERAGE_FILE",
]


@pytest.fixture
def load(monkeypatch, tmp_path):
    """load(**environment): the hook file, loaded in tmp_path under that environment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".coveragerc").write_text("[run]\n")
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def load_hook_file(**environment):
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("__config__", HOOK_FILE)  # As gunicorn does.
        hooks = importlib.util.module_from_spec(spec)
        loaded_first = signal.signal(signal.SIGHUP, lambda signum, frame: None)  # As on a HUP.
        try:
            spec.loader.exec_module(hooks)
        finally:
            signal.signal(signal.SIGHUP, loaded_first)
        assert hooks._cov is None, "the hook file measures the test process"
        return hooks

    return load_hook_file


def coveragerc(*lines):
    Path(".coveragerc").write_text("\n".join(["[run]", *lines, ""]))


# --- The core: _core -------------------------------------------------------

# Settings, and the column of expected.CORES that says which core the hook file
# picks with them.
SETTINGS = [
    pytest.param([], "hook_file", id="defaults"),
    pytest.param(["concurrency = thread"], "hook_file", id="threads"),
    pytest.param(["branch = True"], "with_branch", id="branch"),
    pytest.param(["plugins = django_coverage_plugin"], "needs_ctrace", id="plugins"),
    pytest.param(["dynamic_context = test_function"], "needs_ctrace", id="dynamic_context"),
    pytest.param(["concurrency = gevent"], "needs_ctrace", id="gevent"),
    pytest.param(["concurrency = eventlet"], "needs_ctrace", id="eventlet"),
    pytest.param(["concurrency = greenlet,thread"], "needs_ctrace", id="greenlet"),
]


@pytest.mark.parametrize("settings, column", SETTINGS)
def test_the_core_for_the_settings_on_this_python(load, settings, column):
    hooks = load()
    coveragerc(*settings)
    assert hooks._core(hooks._coverage_with_your_settings()) == getattr(CORE, column)


def as_on(python):
    """What _core reads of `sys`, as on another Python: its version, and
    sys.monitoring where it exists."""
    return types.SimpleNamespace(
        version_info=(*python, 0, "final", 0),
        **({"monitoring": object()} if SYSMON_CAN[python].exists else {}),
    )


@pytest.mark.parametrize("python", [p for p in CORES if p != PYTHON], ids=lambda p: "%d.%d" % p)
@pytest.mark.parametrize("settings, column", SETTINGS)
def test_the_core_for_the_settings_on_the_other_pythons(load, monkeypatch, settings, column, python):
    hooks = load()
    coveragerc(*settings)
    cov = hooks._coverage_with_your_settings()
    monkeypatch.setattr(hooks, "sys", as_on(python))
    assert hooks._core(cov) == getattr(CORES[python], column)


@pytest.mark.parametrize("chosen_by", ["COVERAGE_CORE", "[run] core"])
def test_a_core_the_user_chose_is_used_as_it_is(load, chosen_by):
    # pytrace, which the hook file never picks, with settings that make it pick ctrace.
    hooks = load(**({"COVERAGE_CORE": "pytrace"} if chosen_by == "COVERAGE_CORE" else {}))
    coveragerc("plugins = django_coverage_plugin", *(["core = pytrace"] if chosen_by == "[run] core" else []))
    assert hooks._core(hooks._coverage_with_your_settings()) == "pytrace"


def test_coverage_core_wins_over_run_core(load):
    hooks = load(COVERAGE_CORE="pytrace")
    coveragerc("core = ctrace")
    assert hooks._core(hooks._coverage_with_your_settings()) == "pytrace"


# --- _in_order, which add_to joins hooks with -------------------------------


def test_in_order_calls_each_hook_in_turn_with_the_same_arguments(load):
    hooks = load()
    calls = []
    joined = hooks._in_order(
        lambda server, worker: calls.append(("first", server, worker)),
        lambda server, worker: calls.append(("second", server, worker)),
    )
    assert joined("server", "worker") is None
    assert calls == [("first", "server", "worker"), ("second", "server", "worker")]


def test_in_order_calls_every_hook_even_if_one_raised_and_raises_the_first_error(load):
    hooks = load()
    calls = []

    def fails(worker):
        calls.append("fails")
        raise ValueError("the first error")

    def fails_too(worker):
        calls.append("fails too")
        raise KeyError("the second error")

    with pytest.raises(ValueError, match="the first error"):
        hooks._in_order(fails, lambda worker: calls.append("runs"), fails_too)("worker")
    assert calls == ["fails", "runs", "fails too"]


def test_in_order_has_the_signature_of_the_first_hook_for_gunicorns_check(load):
    hooks = load()
    joined = hooks._in_order(lambda server, worker: None, lambda *args: None)
    assert str(inspect.signature(joined)) == "(server, worker)"
    config = Config()
    config.set("post_fork", joined)  # gunicorn checks a hook's number of arguments.
    assert config.post_fork is joined


# --- add_to ------------------------------------------------------------------

# Where coverage's hook runs next to a user's (docs/reference.rst, "Which hook
# runs first"): first where it must already measure what the user's runs,
# last where it saves or counts what the user's ran.
COVERAGE_FIRST = ["on_starting", "pre_fork", "post_fork", "on_dirty_starting", "pre_request"]
COVERAGE_LAST = [
    "when_ready", "on_reload", "post_worker_init", "dirty_worker_init", "post_request",
    "worker_exit", "child_exit",
]


def recording(calls, who, like, raises=None):
    """A hook with the arguments of `like` that notes `who` in `calls`, then raises `raises`."""

    def hook(*args):
        calls.append(who)
        if raises:
            raise raises

    hook.__signature__ = inspect.signature(like)
    return hook


def test_add_to_joins_every_hook_the_file_defines(load):
    hooks = load()
    gunicorns_hooks = {s.name for s in Config().settings.values() if s.section.endswith("Hooks")}
    defined = {name for name in gunicorns_hooks if inspect.isfunction(getattr(hooks, name, None))}
    assert sorted(defined) == sorted(COVERAGE_FIRST + COVERAGE_LAST)


def test_add_to_gives_a_configuration_without_hooks_coverages_own(load):
    hooks = load()
    config = {"__file__": "gunicorn.conf.py", "workers": 2}
    hooks.add_to(config)
    assert config.pop("workers") == 2
    assert {name: hook for name, hook in config.items() if name != "__file__"} == {
        name: getattr(hooks, name) for name in COVERAGE_FIRST + COVERAGE_LAST
    }


def joined_to_coverages(hooks, monkeypatch, name, calls, yours_raise=None):
    """add_to on a configuration with a hook `name` of yours, both recording
    into `calls`: the hook gunicorn then calls, ready to call as gunicorn does."""
    like = getattr(hooks, name)
    monkeypatch.setattr(hooks, name, recording(calls, "coverage's", like=like))
    config = {name: recording(calls, "yours", like=like, raises=yours_raise)}
    hooks.add_to(config)
    return functools.partial(config[name], *[None] * len(inspect.signature(like).parameters))


@pytest.mark.parametrize("name", COVERAGE_FIRST)
def test_coverages_hook_runs_before_yours(load, monkeypatch, name):
    calls = []
    joined_to_coverages(load(), monkeypatch, name, calls)()
    assert calls == ["coverage's", "yours"]


@pytest.mark.parametrize("name", COVERAGE_LAST)
def test_coverages_hook_runs_after_yours_even_if_yours_raised(load, monkeypatch, name):
    calls = []
    gunicorn_calls = joined_to_coverages(load(), monkeypatch, name, calls, yours_raise=ValueError("yours"))
    with pytest.raises(ValueError, match="yours"):  # gunicorn reports it, as it would have.
        gunicorn_calls()
    assert calls == ["yours", "coverage's"]


def test_add_to_changes_nothing_with_gunicorn_coverage_off(load):
    hooks = load(GUNICORN_COVERAGE="off")

    def post_fork(server, worker):
        pass

    config = {"__file__": "gunicorn.conf.py", "post_fork": post_fork, "workers": 2}
    hooks.add_to(config)
    assert config == {"__file__": "gunicorn.conf.py", "post_fork": post_fork, "workers": 2}


@pytest.fixture
def your_hooks(tmp_path, monkeypatch):
    """A module of the user's hooks, importable as your_hooks."""
    (tmp_path / "your_hooks.py").write_text(
        "calls = []\n"
        "def post_fork(server, worker):\n"
        "    calls.append('yours')\n"
        "def one_argument(server):\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    yield
    sys.modules.pop("your_hooks", None)


def test_add_to_loads_a_hook_given_as_module_function(load, monkeypatch, your_hooks):
    hooks = load()
    calls = []
    monkeypatch.setattr(hooks, "post_fork", recording(calls, "coverage's", like=hooks.post_fork))
    config = {"post_fork": "your_hooks.post_fork"}
    hooks.add_to(config)
    config["post_fork"]("server", "worker")
    assert calls == ["coverage's"] and sys.modules["your_hooks"].calls == ["yours"]


@pytest.mark.parametrize("value", [
    "your_hooks.missing", "your_hooks.one_argument", "no_such_module.post_fork", "post_fork", 42,
])
def test_add_to_refuses_a_hook_as_gunicorn_does(load, your_hooks, value):
    hooks = load()
    with pytest.raises(TypeError) as gunicorns:
        Config().set("post_fork", value)
    with pytest.raises(TypeError) as add_tos:
        hooks.add_to({"post_fork": value})
    assert str(add_tos.value) == str(gunicorns.value)


# --- The environment: the switch, the snapshot interval, the context header -


def test_gunicorn_coverage_is_on_or_off(load):
    with pytest.raises(SystemExit) as refusal:
        load(GUNICORN_COVERAGE="yes")
    assert str(refusal.value) == "GUNICORN_COVERAGE='yes' is not valid: use 'on' or 'off'."


@pytest.mark.parametrize("value, seconds", [("", None), ("30", 30.0), ("0.5", 0.5)])
def test_the_snapshot_interval(load, value, seconds):
    assert load(GUNICORN_COVERAGE_SNAPSHOT_SECONDS=value).SNAPSHOT_SECONDS == seconds


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "30s"])
def test_a_snapshot_interval_that_is_no_number_of_seconds_stops_the_load(load, value):
    with pytest.raises(SystemExit) as refusal:
        load(GUNICORN_COVERAGE_SNAPSHOT_SECONDS=value)
    assert str(refusal.value) == (
        f"GUNICORN_COVERAGE_SNAPSHOT_SECONDS={value!r} is not valid: "
        "use a number of seconds greater than 0, or leave it unset."
    )


@pytest.mark.parametrize("value, header", [("", None), ("X-Coverage-Context", "X-Coverage-Context"),
                                           ("x-test-2", "x-test-2")])
def test_the_context_header(load, value, header):
    assert load(GUNICORN_COVERAGE_CONTEXT_HEADER=value).CONTEXT_HEADER == header


@pytest.mark.parametrize("value", ["X_Coverage_Context", "X-Coverage Context", "X-Coverage-Context:", "Kontext-ä"])
def test_a_header_name_that_gunicorn_would_not_pass_on_stops_the_load(load, value):
    with pytest.raises(SystemExit) as refusal:
        load(GUNICORN_COVERAGE_CONTEXT_HEADER=value)
    assert str(refusal.value) == (
        f"GUNICORN_COVERAGE_CONTEXT_HEADER={value!r} is not valid: use a header name of letters, "
        "digits and '-', such as X-Coverage-Context, or leave it unset."
    )


def test_with_gunicorn_coverage_off_no_other_variable_is_read(load):
    hooks = load(GUNICORN_COVERAGE="off", GUNICORN_COVERAGE_SNAPSHOT_SECONDS="soon",
                 GUNICORN_COVERAGE_CONTEXT_HEADER="X_Coverage_Context")
    assert (hooks.SNAPSHOT_SECONDS, hooks.CONTEXT_HEADER) == (None, None)


# --- Per-request contexts -----------------------------------------------------


class Log:
    """gunicorn's logger, as far as the hooks use it: the warnings it got."""

    def __init__(self):
        self.warnings = []

    def warning(self, message, *args):
        self.warnings.append(message % args)


class Request:
    """A request with these values of the X-Coverage-Context header, as
    gunicorn gives it: header names in capitals."""

    def __init__(self, *values, method="GET", path="/foo"):
        self.headers = [("HOST", "127.0.0.1"), *(("X-COVERAGE-CONTEXT", value) for value in values)]
        self.method, self.path = method, path


IGNORED = "coverage: ignored the X-Coverage-Context header of GET /foo: {}; its lines count under the default context"


@pytest.mark.parametrize("values, context, warning", [
    pytest.param([], "", None, id="missing"),
    pytest.param(["test_app.py::test_foo"], "test_app.py::test_foo", None, id="valid"),
    pytest.param(["y" * 200], "y" * 200, None, id="200-characters"),
    pytest.param(["x" * 201], "", "it is longer than 200 characters", id="too-long"),
    pytest.param(["one", "two"], "", "it is sent more than once", id="repeated"),
    pytest.param(["test_café.py::test_foo"], "", "it has characters other than printable ASCII",
                 id="non-ascii"),
    pytest.param(["test\tfoo"], "", "it has characters other than printable ASCII", id="tab"),
])
def test_the_context_of_a_request(load, values, context, warning):
    hooks = load(GUNICORN_COVERAGE_CONTEXT_HEADER="X-Coverage-Context")
    log = Log()
    assert hooks._context_of(Request(*values), log) == context
    assert log.warnings == ([IGNORED.format(warning)] if warning else [])


class CountingCoverage:
    """A stand-in for the worker's Coverage object: the contexts it switched to."""

    def __init__(self):
        self.switched = []

    def switch_context(self, context):
        self.switched.append(context)


class Worker:
    def __init__(self):
        self.log = Log()


class UntouchableRequest:
    def __getattr__(self, name):
        raise AssertionError(f"the hook read req.{name}")


def serve(hooks, request):
    """What a sync worker calls around a request."""
    worker = Worker()
    hooks.pre_request(worker, request)
    hooks.post_request(worker, request, {}, None)


def test_without_the_variable_a_request_is_not_even_looked_at(load, monkeypatch):
    hooks = load()
    cov = CountingCoverage()
    monkeypatch.setattr(hooks, "_cov", cov)
    serve(hooks, UntouchableRequest())
    assert cov.switched == []


def test_with_the_variable_a_request_switches_only_to_another_context(load, monkeypatch):
    hooks = load(GUNICORN_COVERAGE_CONTEXT_HEADER="X-Coverage-Context")
    cov = CountingCoverage()
    monkeypatch.setattr(hooks, "_cov", cov)
    for values in [["test_foo"], ["test_foo"], [], ["test_bar"], ["x" * 201], ["test_bar"]]:
        serve(hooks, Request(*values))
    assert cov.switched == ["test_foo", "", "test_bar", "", "test_bar"]


def test_with_the_sysmon_core_each_switch_re_arms_sys_monitoring(load, monkeypatch):
    hooks = load(GUNICORN_COVERAGE_CONTEXT_HEADER="X-Coverage-Context")
    cov = CountingCoverage()
    re_armed = []
    monitoring = types.SimpleNamespace(restart_events=lambda: re_armed.append(cov.switched[-1]))
    monkeypatch.setattr(hooks, "sys", types.SimpleNamespace(monitoring=monitoring))
    monkeypatch.setattr(hooks, "_cov", cov)
    monkeypatch.setattr(hooks, "_core_in_use", "sysmon")
    for values in [["test_foo"], ["test_foo"], ["test_bar"]]:
        serve(hooks, Request(*values))
    assert re_armed == ["test_foo", "test_bar"]


# --- Snapshots: requests and snapshots take turns -----------------------------


def snapshot_in_a_thread(turns):
    """Start a snapshot in another thread, as the snapshot thread does: an
    Event set once it is written."""
    written = threading.Event()

    def snapshot():
        with turns.snapshot():
            written.set()

    threading.Thread(target=snapshot, daemon=True).start()
    return written


def test_a_snapshot_waits_for_the_request_in_flight(load):
    turns = load()._Turns()
    turns.request_starts()
    written = snapshot_in_a_thread(turns)
    assert not written.wait(0.3)
    turns.request_ends()
    assert written.wait(1)


def test_a_worker_told_to_stop_writes_its_snapshot_at_once(load):
    turns = load()._Turns()
    turns.request_starts()
    turns.stopping = True  # As the TERM handler does.
    assert snapshot_in_a_thread(turns).wait(1)


@pytest.mark.parametrize("own_system_thread", [True, False], ids=["thread", "greenlet"])
def test_the_snapshot_thread_runs_untraced(load, own_system_thread):
    """The snapshot thread runs only coverage's own code, so it turns off the
    trace function that the ctrace core gives every new thread: traced, it
    sometimes spun without ending a snapshot while a request waited for it
    (Python 3.11, under load with snapshots every second: the worker hung on
    TERM until gunicorn killed it). Not where it runs in the requests' system
    thread, as a greenlet under gevent: that would untrace the requests."""
    hooks = load()
    traced_by = []

    class Written(Exception):
        pass

    def save(log):  # The thread writes a snapshot: which trace function runs then?
        traced_by.append(sys.gettrace())
        raise Written  # Ends the thread's loop.

    starter = threading.get_native_id()

    def snapshot_thread():
        requests_thread = starter if own_system_thread else threading.get_native_id()
        with contextlib.suppress(Written):
            hooks._write_snapshots(None, requests_thread)

    hooks._save, hooks._turns = save, hooks._Turns()
    hooks._wakeup_read, wakeup_write = os.pipe()
    os.write(wakeup_write, b"!")  # As the USR1 handler does.

    def tracer(frame, event, arg):
        return tracer

    threading.settrace(tracer)  # As coverage's ctrace core does for every new thread.
    try:
        thread = threading.Thread(target=snapshot_thread)
        thread.start()
        thread.join(10)
    finally:
        threading.settrace(None)
        os.close(hooks._wakeup_read)
        os.close(wakeup_write)
    assert traced_by == [None if own_system_thread else tracer]
