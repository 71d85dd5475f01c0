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
hook file they measured, and from there to the table, chart and findings that
docs/overhead.rst shows (`render` below; the test suite checks that the
committed files are what `render` makes of the JSON).

    python tests/bench_overhead.py [--rounds 7] [--seconds 2] [--client wrk|python]
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
from helpers import (  # noqa: E402  The suite's.
    HOOK_FILE, SYSMON, SYSMON_BRANCHES, Server, copy_example, process_exists, wait_until,
)

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
    default_core = "sysmon" if SYSMON else "ctrace"
    # The bare recipe measures with coverage's default core: sysmon from Python
    # 3.14 on, ctrace before.
    recipe_core = "sysmon" if sys.version_info >= (3, 14) else "ctrace"
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
               "sysmon" if SYSMON_BRANCHES else "ctrace", settings=("branch = True",)),
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
    """The context header's value on the n-th request (from 0)."""
    return f"test_{n // every if every else 0}"


# The same values as context_value, from wrk's request() (LuaJIT's Lua 5.1).
WRK_CONTEXTS = f"""
local every, sent = 0, 0
function init(args) every = tonumber(args[1]) end
function request()
  local test = 0
  if every > 0 then test = math.floor(sent / every) end
  sent = sent + 1
  wrk.headers["{CONTEXT_HEADER}"] = "test_" .. test
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


def run(rounds, seconds, client, only, show=print):
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
                show(f"round {n + 1}/{rounds}: {config.label}", flush=True)
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


# --- from the JSON to what the docs show -------------------------------------


def summary(values):
    return min(values), statistics.median(values), max(values)


def ratios(results, name, route, over="baseline", per="rps"):
    """Per round, a configuration's requests per second over another's; with
    per="cpu", its requests per second of worker CPU time over the other's."""
    configs = {c["name"]: c["rounds"] for c in results["configurations"]}
    if per == "cpu":
        return [b["cpu_us"][route] / a["cpu_us"][route]
                for a, b in zip(configs[name], configs[over])]
    return [a["rps"][route] / b["rps"][route] for a, b in zip(configs[name], configs[over])]


def cell(values, digits=2):
    low, middle, high = summary(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def csv_row(*cells):
    return ",".join('"' + str(c).replace('"', '""') + '"' for c in cells) + "\n"


def speed_table(results):
    routes = results["routes"]
    text = csv_row(
        "Configuration", "Core", *routes,
        *(f"CPU per request, {route}" for route in routes), "Memory per worker",
    )
    for config in results["configurations"]:
        rounds = config["rounds"]
        if config["name"] == "baseline":
            speed = [f"1 = {statistics.median(r['rps'][route] for r in rounds):.0f} req/s"
                     for route in routes]
        else:
            speed = [cell(ratios(results, config["name"], route)) for route in routes]
        cpu = [f"{statistics.median(r['cpu_us'][route] for r in rounds):.0f} µs"
               for route in routes]
        memory = f"{statistics.median(r['rss_mib'] for r in rounds):.1f} MiB"
        text += csv_row(config["label"], config["core"] or "none", *speed, *cpu, memory)
    return text


def own_cost_pairs(results):
    """(core, hook configuration, recipe configuration) measured with the same core."""
    names = {c["name"]: c for c in results["configurations"]}
    pairs = []
    for recipe in ("recipe", "recipe-sysmon", "recipe-ctrace"):
        for hook in ("hook", "hook-ctrace"):
            if recipe in names and hook in names and names[recipe]["core"] == names[hook]["core"]:
                pairs.append((names[hook]["core"], hook, recipe))
    return pairs


def costs_table(results):
    hook = next(c for c in results["configurations"] if c["name"] == "hook")["rounds"]
    files = statistics.median(r["files"] for r in hook)
    rows = [
        ("kill -USR1: a snapshot, until every worker's file is on disk",
         cell([r["usr1_ms"] for r in hook], 0) + " ms"),
        ("kill -HUP: new workers, until every old worker has saved and exited",
         cell([r["hup_ms"] for r in hook], 0) + " ms"),
        (f"coverage combine, {files:.0f} files (a new Python process)",
         cell([r["combine_s"] for r in hook]) + " s"),
        ("coverage report, after it (a new Python process)",
         cell([r["report_s"] for r in hook]) + " s"),
    ]
    return csv_row("What (hook file, defaults)", "Time: median (min-max)") + "".join(
        csv_row(*row) for row in rows
    )


def setup_table(results):
    versions = results["versions"]
    rows = [
        ("Date", results["date"]),
        ("Hook file", f"hooks/gunicorn.conf.py at revision {results['hook_file']['revision']}"),
        ("Machine", results["machine"]),
        ("Software", f"Python {results['python']}, coverage {versions['coverage']}, "
                     f"gunicorn {versions['gunicorn']}, Flask {versions['Flask']}"),
        ("Server", f"gunicorn, {results['workers']} sync workers, loopback"),
        ("Load", results["load_generator"]),
        ("Method", f"{results['rounds']} rounds, each configuration {results['seconds']} s per "
                   "route in each round after a warm-up, configurations interleaved"),
    ]
    return "".join(csv_row(*row) for row in rows)


def medians(results, name, over="baseline"):
    return [statistics.median(ratios(results, name, route, over=over))
            for route in results["routes"]]


def python_version(results):
    return tuple(int(part) for part in results["python"].split(".")[:2])


def findings(results):
    """What follows from the figures, need by need, in words the figures
    choose: an .rst fragment."""
    names = {c["name"]: c for c in results["configurations"]}
    routes = results["routes"]

    def both(values, digits=2):
        return " and ".join(f"{v:.{digits}f} on ``{r}``" for v, r in zip(values, routes))

    def cpu(name):
        return [statistics.median(r["cpu_us"][route] for r in names[name]["rounds"])
                for route in routes]

    def core(name):
        return f"``{names[name]['core']}``"

    hook, recipe = medians(results, "hook"), medians(results, "recipe")
    more_cpu = [
        f"{abs(change):.0f}% {'more' if change >= 0 else 'less'}"
        for change in (100 * (h / b - 1) for h, b in zip(cpu("hook"), cpu("baseline")))
    ]
    lines = [
        f"* **Line coverage.** With its defaults the hook file measured with {core('hook')} and "
        f"kept {both(hook)} of the requests per second of the server without coverage; "
        f"its workers needed {more_cpu[0]} CPU time per request on ``{routes[0]}`` "
        f"and {more_cpu[1]} on ``{routes[1]}``. The bare "
        f"recipe, with coverage's default core {core('recipe')}, kept {both(recipe)}.",
    ]
    if "hook-ctrace" in names:
        ctrace = medians(results, "hook-ctrace")
        if all(s > c for s, c in zip(hook, ctrace)):
            lines.append(
                f"  With ``ctrace`` instead, the hook file kept {both(ctrace)}. ``sysmon`` is "
                "the cheaper core on both routes: keep the hook file's choice."
            )
        else:
            lines.append(
                f"  With ``ctrace`` instead, the hook file kept {both(ctrace)}: in this run "
                "``sysmon`` was not the cheaper core on both routes."
            )
    else:
        pytrace = medians(results, "hook-pytrace")
        cheapest = all(c > p for c, p in zip(hook, pytrace))
        lines.append(
            f"  Python {results['python']} has no ``sys.monitoring``, so ``sysmon`` is not "
            "available" + (": ``ctrace`` is the cheapest core here." if cheapest else ".")
        )
    for pair_core, hook_name, recipe_name in own_cost_pairs(results):
        own = medians(results, hook_name, over=recipe_name)
        lines.append(
            f"  Against the bare recipe, both with ``{pair_core}``, the hook file kept "
            f"{both(own)} of the recipe's requests per second (what it adds: the snapshot "
            "thread and the request gate)."
        )
    branch = medians(results, "hook-branch")
    if names["hook-branch"]["core"] == "sysmon":
        close = all(abs(b - h) <= 0.05 for b, h in zip(branch, hook))
        advice = "``sysmon`` measures branches from Python 3.14 on" + (
            ": here branch coverage cost about what line coverage cost." if close else ".")
    else:
        advice = ("``sysmon`` measures branches only from Python 3.14 on: before, the hook "
                  "file measures them with ``ctrace``. Where that is too slow, measure "
                  "branches on Python 3.14 or newer (:ref:`overhead-py314`).")
    lines.append(f"* **Branch coverage.** With ``branch = True`` the hook file measured with "
                 f"{core('hook-branch')} and kept {both(branch)}. {advice}")
    kept = "; ".join(f"{label}, {both(medians(results, f'contexts-{name}'))}"
                     for _, name, label in CONTEXT_PATTERNS)
    lines.append(f"* **Per-request contexts** (with {core('contexts-same')}). The hook "
                 f"file kept: with {kept}.")
    if "contexts-1-ctrace" in names:
        ctrace = "; ".join(f"{label}, {both(medians(results, f'contexts-{name}-ctrace'))}"
                           for _, name, label in CONTEXT_PATTERNS)
        worst = medians(results, "contexts-1", over="contexts-1-ctrace")
        verdict = (
            f"even with a new value on every request ``sysmon`` served {both(worst)} times "
            "the requests that ``ctrace`` served: keep the hook file's choice"
            if all(w > 1 for w in worst) else
            f"with a new value on every request ``sysmon`` served {both(worst)} times the "
            "requests that ``ctrace`` served"
        )
        lines.append(f"  With ``COVERAGE_CORE=ctrace`` it kept: with {ctrace}. So {verdict}.")
    changing = medians(results, "contexts-1", over="contexts-same")
    if all(c < 1 for c in changing):
        lines.append(
            f"  A new value on every request kept {both(changing)} of the requests per second "
            "of the same value on every request: the request that changes the context costs "
            "more. Send one value per test, not one per request."
        )
    lines.append(f"* **Snapshots.** With a snapshot every second ({core('hook-snapshots')}) "
                 f"the hook file kept {both(medians(results, 'hook-snapshots'))}.")
    lines.append(f"* **pytrace.** With ``COVERAGE_CORE=pytrace`` the hook file kept "
                 f"{both(medians(results, 'hook-pytrace'))}: only where no other core works.")
    above_one = sum(max(medians(results, c["name"])) > 1 for c in results["configurations"][1:])
    if above_one:
        lines.append(
            f"* {above_one} of the {len(results['configurations']) - 1} configurations "
            "kept more than 1 on a route. Measuring cannot make a server faster: such figures "
            "show how much the machine's speed varied during the run, as the brackets in the "
            "table do. Read the differences between configurations, not the last digit."
        )
    return "\n".join(lines) + "\n"


def targets(results):
    """(what, goal or None, configuration, over which): the benchmark's targets
    on this run's Python. A goal is (">=" or ">", a ratio)."""
    names = {c["name"] for c in results["configurations"]}
    sysmon = python_version(results) >= (3, 12)
    rows = [("Hook file, defaults, vs no coverage", (">=", 0.95) if sysmon else None,
             "hook", "baseline")]
    rows += [(f"Hook file vs bare recipe, both {core}", (">=", 0.98), hook, recipe)
             for core, hook, recipe in own_cost_pairs(results)]
    rows.append(("A new context header every 10 requests, vs no coverage",
                 (">=", 0.90) if sysmon else None, "contexts-10", "baseline"))
    if "contexts-1-ctrace" in names:
        rows.append(("A new context header on every request, sysmon vs ctrace", (">", 1.0),
                     "contexts-1", "contexts-1-ctrace"))
    rows.append(("branch = True vs no coverage",
                 (">=", 0.95) if python_version(results) >= (3, 14) else None,
                 "hook-branch", "baseline"))
    return rows


def targets_table(results):
    """The benchmark's targets, met or not by the medians of this run; and the
    same ratios of requests per CPU-second, which a busy machine disturbs less."""
    routes = results["routes"]
    text = csv_row("Target", "Goal", *routes, "Met",
                   *(f"Per CPU-second, {route}" for route in routes))
    for what, goal, name, over in targets(results):
        speed = medians(results, name, over=over)
        cpu = [statistics.median(ratios(results, name, r, over=over, per="cpu")) for r in routes]
        if goal is None:
            shown, met = "none", "no goal"
        else:
            compare, threshold = goal
            shown = f"{compare} {threshold:g}"
            met = "yes" if all(v >= threshold if compare == ">=" else v > threshold
                               for v in speed) else "no"
        text += csv_row(what, shown, *(f"{v:.2f}" for v in speed), met,
                        *(f"{v:.2f}" for v in cpu))
    return text


def chart(results):
    """A horizontal bar chart of the ratios: median bars, min-max whiskers, as SVG."""
    configs = [c for c in results["configurations"] if c["name"] != "baseline"]
    routes = results["routes"]
    colours = ["#4c72b0", "#dd8452"]
    left, width, bar, gap = 300, 420, 12, 14
    top = 40
    height = top + len(configs) * (bar * len(routes) + gap) + 40
    scale = width / 1.2

    def x(ratio):  # Beyond 1.2 (a noisy round), bars and whiskers stop at the edge.
        return left + min(ratio, 1.2) * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="14">Requests per second vs no coverage, Python '
        f'{results["python"]} (median, min-max over {results["rounds"]} rounds)</text>',
    ]
    for n, route in enumerate(routes):
        out.append(f'<rect x="{left + 130 * n}" y="26" width="10" height="10" '
                   f'fill="{colours[n]}"/><text x="{left + 14 + 130 * n}" y="35">{route}</text>')
    out.append(f'<text x="{left + 260}" y="35">dashed: 0.95</text>')
    y = top
    for config in configs:
        label = config["label"].replace("COVERAGE_CORE=", "")
        if config["core"] not in label:
            label += f' ({config["core"]})'
        out.append(f'<text x="{left - 8}" y="{y + bar + 4}" text-anchor="end">{label}</text>')
        for n, route in enumerate(routes):
            low, middle, high = summary(ratios(results, config["name"], route))
            out.append(f'<rect x="{left}" y="{y}" width="{x(middle) - left:.1f}" '
                       f'height="{bar - 2}" fill="{colours[n]}"/>')
            out.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y + bar / 2 - 1}" '
                       f'y2="{y + bar / 2 - 1}" stroke="black"/>')
            y += bar
        y += gap
    for tick in (0, 0.25, 0.5, 0.75, 0.95, 1.0, 1.2):
        dash = ' stroke-dasharray="4 3"' if tick == 0.95 else ""
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}" y2="{y}" '
                   f'stroke="#888"{dash}/>')
        if tick != 0.95:
            out.append(f'<text x="{x(tick):.1f}" y="{y + 14}" text-anchor="middle">{tick:g}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render(results):
    """Every file the docs show, from the JSON: {file name: text}."""
    stem = "py" + "".join(results["python"].split(".")[:2])
    return {
        f"{stem}-speed.csv": speed_table(results),
        f"{stem}-targets.csv": targets_table(results),
        f"{stem}-costs.csv": costs_table(results),
        f"{stem}-setup.csv": setup_table(results),
        f"{stem}-findings.txt": findings(results),
        f"{stem}.svg": chart(results),
    }


def print_table(results):
    for table in (setup_table, speed_table, targets_table, costs_table):
        text = table(results)
        rows = [re.findall(r'"((?:[^"]|"")*)"', line) for line in text.splitlines()]
        widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
        print()
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print()
    print(findings(results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=2, help="per route, round and configuration")
    parser.add_argument("--client", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--only", help="comma-separated configuration names (baseline first)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="measure nothing: write the tables of an earlier run's JSON again")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.render:
        results = json.loads(args.render.read_text())
    else:
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
    if args.only:  # Not every configuration: a table, but nothing for the docs.
        print(speed_table(results))
    else:
        for name, text in render(results).items():
            (args.output / name).write_text(text)
        print_table(results)
    print(f"Wrote {args.output}/{stem}.* in {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
