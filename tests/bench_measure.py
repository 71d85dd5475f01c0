"""tox -e bench: what measuring coverage costs a gunicorn server, side by side.

Each configuration below serves the example app with gunicorn (2 sync workers)
on loopback, while a load generator (wrk where it is installed, otherwise a
bounded Python client) sends requests to /foo, which runs almost no measured
code, and to /orders, which spends most of its time in measured code. With
per-request contexts it sends a context header as a test suite would: the same
value on every request, a new value every 10 requests, or on every request. Rounds
interleave the configurations, so that a machine that slows down or speeds up
during the run affects them all alike: each figure is a configuration's
requests per second divided by the no-coverage baseline's in the same round,
given as median (min-max) over the rounds. Worker CPU time per request comes
from /proc, because on a small machine the load generator competes with the
workers for the CPUs. The hook file's own costs are timed too: a USR1 snapshot
and a HUP until every worker's file is on disk, then `coverage combine` and
`coverage report` on the files.

The results go to docs/_static/overhead/py3XX.json, with the git revision of the
hook file they measured. docs/overhead_tables.py makes the tables and chart of
docs/overhead.rst from that file (tox -e bench runs this, then cog);
tests/test_overhead.py checks the page's conclusions on it.

    python tests/bench_measure.py [--rounds 7] [--seconds 2] [--client wrk|python]
        [--only baseline,hook,... --output DIRECTORY]
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from expected import CORE  # noqa: E402  The suite's.
from helpers import HOOK_FILE, SYSMON, Server, copy_example, process_exists, wait_until  # noqa: E402

OUTPUT = ROOT / "docs" / "_static" / "overhead"
ROUTES = {"/foo": "42", "/orders": "ada: 200 orders, 992.50"}  # Route: start of its answer.
CONNECTIONS = 4
CONTEXT_HEADER = "X-Coverage-Context"


class Config(NamedTuple):
    name: str
    label: str
    core: str  # The core it measures with: the hook file's workers must log it.
    config_file: str = "gunicorn.conf.py"  # The hook file.
    env: dict = {}
    settings: tuple = ()  # Lines added to [run] in .coveragerc.
    # Per-request contexts: None, no header; 0, the same header value on every
    # request; n, a new value every n requests.
    context_every: int | None = None


# The ways a test suite sends the context header: (context_every, name, label).
CONTEXT_PATTERNS = [
    (0, "same", "the same context header on every request"),
    (10, "10", "a new context header every 10 requests"),
    (1, "1", "a new context header on every request"),
]


def configurations():
    default_core = CORE.hook_file
    recipe_core = CORE.coverages_own  # The bare recipe leaves coverage its choice.
    configs = [
        Config("baseline", "no coverage", "", "no-coverage.conf.py"),
        Config("recipe", "bare recipe", recipe_core, "recipe.conf.py"),
    ]
    if SYSMON:  # The recipe with the other core too.
        other = "ctrace" if recipe_core == "sysmon" else "sysmon"
        configs.append(Config(f"recipe-{other}", f"bare recipe, COVERAGE_CORE={other}", other,
                              "recipe.conf.py", {"COVERAGE_CORE": other}))
    configs.append(Config("hook", "hook file, defaults", default_core))
    if SYSMON:
        configs.append(Config("hook-ctrace", "hook file, COVERAGE_CORE=ctrace", "ctrace",
                              env={"COVERAGE_CORE": "ctrace"}))
    configs += [
        Config("hook-pytrace", "hook file, COVERAGE_CORE=pytrace", "pytrace",
               env={"COVERAGE_CORE": "pytrace"}),
        Config("hook-branch", "hook file, branch = True",
               CORE.with_branch, settings=("branch = True",)),
        Config("hook-snapshots", "hook file, snapshots every 1 s", default_core,
               env={"GUNICORN_COVERAGE_SNAPSHOT_SECONDS": "1"}),
    ]
    contexts = {"GUNICORN_COVERAGE_CONTEXT_HEADER": CONTEXT_HEADER}
    for every, name, label in CONTEXT_PATTERNS:
        configs.append(Config(f"contexts-{name}", f"hook file, {label}", default_core,
                              env=contexts, context_every=every))
        if SYSMON:  # What the hook file measured contexts with before it re-armed sysmon.
            configs.append(Config(f"contexts-{name}-ctrace", f"hook file, {label}, ctrace",
                                  "ctrace", env={**contexts, "COVERAGE_CORE": "ctrace"},
                                  context_every=every))
    return configs


# --- load generators --------------------------------------------------------


def context_value(n, every):
    """The context header's value on the n-th request (from 0): pytest-cov's
    name for the run phase of a test, as the recipe of docs/contexts.rst sends it."""
    return f"test_app.py::test_{n // every if every else 0}|run"


# The same values as context_value, from wrk's request() (LuaJIT's Lua 5.1).
WRK_CONTEXTS = f"""
local every, sent = 0, 0
function init(args) every = tonumber(args[1]) end
function request()
  local test = 0
  if every > 0 then test = math.floor(sent / every) end
  sent = sent + 1
  wrk.headers["{CONTEXT_HEADER}"] = "test_app.py::test_" .. test .. "|run"
  return wrk.format()
end
"""


def wrk(url, seconds, context_every):
    """wrk, one thread and CONNECTIONS connections: (requests, errors, seconds)."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if context_every is not None:
            script.write(WRK_CONTEXTS)
            script.flush()
            command[1:1] = ["-s", script.name]
            command += ["--", str(context_every)]
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 30, check=True,
        ).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not done:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    elapsed = float(done[2]) / (1000 if done[3] == "ms" else 1)
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout): (\d+)", out))
    return int(done[1]), errors, elapsed


def python_client(url, seconds, context_every, max_requests=1_000_000):
    """CONNECTIONS threads, each sending one request per connection, as wrk
    does with gunicorn's sync workers (they close each connection), until
    `seconds` passed or `max_requests` were sent: (requests, errors, seconds)."""
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)", url).groups()

    def request(n):
        header = ("" if context_every is None
                  else f"{CONTEXT_HEADER}: {context_value(n, context_every)}\r\n")
        return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                f"{header}\r\n").encode()

    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def send():
        while time.monotonic() < deadline:
            with lock:
                if counts["requests"] >= max_requests:
                    return
                n = counts["requests"]
                counts["requests"] += 1
            try:
                with socket.create_connection((host, int(port)), timeout=5) as s:
                    s.sendall(request(n))
                    answer = b""
                    while chunk := s.recv(65536):
                        answer += chunk
                ok = answer.startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            if not ok:
                with lock:
                    counts["errors"] += 1

    threads = [threading.Thread(target=send) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    return counts["requests"], counts["errors"], time.monotonic() - start


def wrk_version():
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return out.split()[1] if out.startswith("wrk ") else "?"


# --- what /proc says about the workers ------------------------------------


def cpu_seconds(pids):
    """User + system CPU time the processes used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


# --- one configuration, one round -----------------------------------------


def prepare(directory, config):
    """A directory with the example, the hook file, the recipe and the settings."""
    directory.mkdir()
    copy_example(directory)
    shutil.copy(ROOT / "docs" / "examples" / "recipe.conf.py", directory / "recipe.conf.py")
    (directory / "no-coverage.conf.py").write_text("# gunicorn's defaults: no hooks.\n")
    if config.settings:
        with open(directory / ".coveragerc", "a") as rc:
            rc.write("".join(f"{line}\n" for line in config.settings))


def start(directory, config, *extra_args):
    environment = {**os.environ, **config.env}
    environment.pop("GUNICORN_CMD_ARGS", None)
    server = Server(
        directory, ["-c", config.config_file, "--workers", "2", *extra_args, "example_app.app:app"],
        environment, measuring=config.config_file == "gunicorn.conf.py",
    )
    try:
        server.wait_for_workers(2, timeout=60)
        for route, answer in ROUTES.items():
            if not server.curl(route).startswith(answer):
                raise RuntimeError(f"{route} did not answer {answer!r}")
    except BaseException:
        server.kill_everything()
        raise
    return server


def core_in_use(directory, config):
    """The core the hook file's workers log (at debug level) that they use."""
    server = start(directory, config, "--log-level", "debug")
    try:
        found = set(wait_until(
            lambda: lines if len(
                lines := re.findall(r"coverage: measuring with the (\w+) core", server.log())
            ) == 2 else None,
            30, "both workers to log their core",
        ))
    finally:
        server.stop()
        remove_data_files(directory)
    if len(found) != 1:
        raise RuntimeError(f"{config.name}: the workers logged these cores: {found}")
    return found.pop()


def measure(directory, config, routes, seconds, load):
    """Serve `routes` under load, one after the other: what one round records."""
    result = {"rps": {}, "cpu_us": {}}
    server = start(directory, config)
    try:
        workers = server.workers()
        for route in routes:
            url = server.url + route
            python_client(url, 0.5, config.context_every)  # Warm up: first requests cost more.
            cpu = cpu_seconds(workers)
            requests, errors, elapsed = load(url, seconds, config.context_every)
            cpu = cpu_seconds(workers) - cpu
            if errors or not requests:
                raise RuntimeError(f"{config.name} {route}: {errors} errors in {requests} requests")
            if server.workers() != workers:
                raise RuntimeError(f"{config.name} {route}: a worker was replaced under load")
            result["rps"][route] = requests / elapsed
            result["cpu_us"][route] = cpu / requests * 1e6
        result["rss_mib"] = statistics.mean(rss_mib(pid) for pid in workers)
        if config.name == "hook":
            result.update(time_saves(server, workers))
    finally:
        server.stop()
        server.kill_everything()
    if config.name == "hook":
        result.update(time_reports(server))
    remove_data_files(directory)
    return result


def time_saves(server, workers):
    """USR1: until every worker's snapshot is on disk (both served the load).
    HUP: until every old worker has saved and exited (after the snapshot, with
    nothing new to save, that is the cost of the restart itself)."""
    times = {}
    before = len(server.data_files())
    started = time.monotonic()
    server.send(signal.SIGUSR1)
    while len(server.data_files()) < before + len(workers):
        if time.monotonic() > started + 30:
            raise RuntimeError("no new data files 30 s after USR1")
        time.sleep(0.001)
    times["usr1_ms"] = (time.monotonic() - started) * 1000
    started = time.monotonic()
    server.send(signal.SIGHUP)
    while any(process_exists(pid) for pid in workers):
        if time.monotonic() > started + 30:
            raise RuntimeError("the old workers still run 30 s after HUP")
        time.sleep(0.001)
    times["hup_ms"] = (time.monotonic() - started) * 1000
    server.wait_for_workers(2, timeout=60)
    return times


def time_reports(server):
    """`coverage combine` and `coverage report` on the files the server wrote."""
    times = {"files": len(server.data_files())}
    for name, args in (("combine_s", ["combine"]), ("report_s", ["report"])):
        started = time.monotonic()
        out = server.coverage(*args)
        times[name] = time.monotonic() - started
        if "example_app" not in out and name == "report_s":
            raise RuntimeError(f"coverage report printed:\n{out}")
    return times


def remove_data_files(directory):
    for path in directory.glob(".coverage*"):
        if path.name != ".coveragerc":
            path.unlink()


# --- the run ----------------------------------------------------------------


def run(rounds, seconds, client, only):
    load = wrk if client == "wrk" else python_client
    configs = [c for c in configurations() if not only or c.name in only]
    if configs[0].name != "baseline":
        raise SystemExit("the baseline must be among the configurations")
    results = {c.name: [] for c in configs}
    routes = list(ROUTES)
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        directories = {c.name: Path(work) / c.name for c in configs}
        for config in configs:
            prepare(directories[config.name], config)
            if config.config_file == "gunicorn.conf.py":
                core = core_in_use(directories[config.name], config)
                if core != config.core:
                    raise RuntimeError(f"{config.name}: expected {config.core}, got {core}")
        for n in range(rounds):
            # Each round starts with another configuration and another route.
            order = configs[n % len(configs):] + configs[: n % len(configs)]
            for config in order:
                print(f"round {n + 1}/{rounds}: {config.label}", flush=True)
                results[config.name].append(
                    measure(directories[config.name], config, routes, seconds, load)
                )
            routes.reverse()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in ("coverage", "gunicorn", "Flask")},
        "hook_file": hook_file_measured(),
        "load_generator": (
            f"wrk {wrk_version()} (-t1 -c{CONNECTIONS})" if client == "wrk"
            else f"Python client ({CONNECTIONS} threads)"
        ),
        "rounds": rounds,
        "seconds": seconds,
        "workers": 2,
        "routes": list(ROUTES),
        "configurations": [
            {"name": c.name, "label": c.label, "core": c.core, "rounds": results[c.name]}
            for c in configs
        ],
    }


def hook_file_measured():
    """Which hook file the figures are of: its last commit, and its content's
    hash, which docs/conf.py compares with the hook file the docs are built from."""
    revision = "not in a git checkout"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        git = ["git", "-C", str(ROOT)]
        revision = subprocess.run(
            [*git, "log", "-1", "--format=%h (%cs)", "--", str(HOOK_FILE)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        changed = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", str(HOOK_FILE)])
        if changed.returncode:
            revision += " with uncommitted changes"
    return {"revision": revision, "sha256": hashlib.sha256(HOOK_FILE.read_bytes()).hexdigest()}


def machine():
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=2, help="per route, round and configuration")
    parser.add_argument("--client", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--only", help="comma-separated configuration names (baseline first)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.only and args.output == OUTPUT:
        # The page's tables need every configuration: keep its figures whole.
        parser.error("--only measures some configurations: write them elsewhere with --output")
    started = time.monotonic()
    if args.client == "wrk":
        print(f"Load generator: wrk {wrk_version()}", flush=True)
    else:
        print("Load generator: the Python client, which needs more CPU than wrk for the "
              "same load" + ("" if shutil.which("wrk") else
                             " (wrk is not installed here; Debian: apt-get install wrk)"),
              flush=True)
    results = run(args.rounds, args.seconds, args.client,
                  args.only.split(",") if args.only else None)
    args.output.mkdir(parents=True, exist_ok=True)
    stem = "py" + "".join(results["python"].split(".")[:2])
    (args.output / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"Wrote {args.output / stem}.json in {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
