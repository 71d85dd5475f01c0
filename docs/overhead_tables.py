"""The overhead page's tables and charts, made from the benchmark's figures:
the JSON files in docs/_static/overhead/ that tests/bench_measure.py writes.

cog writes the tables into docs/overhead.rst (`python -m cogapp -r -I docs
docs/*.rst`; tests/test_generated_tables.py checks them); matplotlib's plot
directive draws the charts when the docs are built. The page's conclusions are
written by hand, and tests/test_overhead.py checks each of them on the same
figures. This module reads the JSON and nothing else of the repository: it
imports only the standard library, and matplotlib only in `chart`, as only
the docs env has it.
"""

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "_static" / "overhead"


def load(stem):
    """The figures of one Python: load("py314") reads docs/_static/overhead/py314.json."""
    return json.loads((RESULTS / f"{stem}.json").read_text())


# --- figures -----------------------------------------------------------------


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


def medians(results, name, over="baseline"):
    return [statistics.median(ratios(results, name, route, over=over))
            for route in results["routes"]]


def cell(values, digits=2):
    low, middle, high = summary(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def python_version(results):
    return tuple(int(part) for part in results["python"].split(".")[:2])


def own_cost_pairs(results):
    """(core, hook configuration, recipe configuration) measured with the same core."""
    names = {c["name"]: c for c in results["configurations"]}
    pairs = []
    for recipe in ("recipe", "recipe-sysmon", "recipe-ctrace"):
        for hook in ("hook", "hook-ctrace"):
            if recipe in names and hook in names and names[recipe]["core"] == names[hook]["core"]:
                pairs.append((names[hook]["core"], hook, recipe))
    return pairs


# --- tables --------------------------------------------------------------------


def csv_table(title, option, rows):
    """A csv-table directive with its rows inline, as cog writes it into the page."""
    lines = [f".. csv-table:: {title}", f"   {option}", ""]
    lines += ["   " + ",".join('"' + str(c).replace('"', '""') + '"' for c in row)
              for row in rows]
    return "\n".join(lines) + "\n"


def speed_table(results):
    routes = results["routes"]
    rows = [["Configuration", "Core", *routes,
             *(f"CPU per request, {route}" for route in routes), "Memory per worker"]]
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
        rows.append([config["label"], config["core"] or "none", *speed, *cpu, memory])
    return csv_table(
        "Requests per second on each route as a fraction of the no-coverage server's, "
        "median (min-max) over the rounds; the workers' CPU time per request and memory, median",
        ":header-rows: 1", rows,
    )


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
    rows = [["Target", "Goal", *routes, "Met",
             *(f"Per CPU-second, {route}" for route in routes)]]
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
        rows.append([what, shown, *(f"{v:.2f}" for v in speed), met,
                     *(f"{v:.2f}" for v in cpu)])
    return csv_table(
        "The benchmark's targets: medians of the per-round ratios of requests per second, "
        "which the goals apply to, and of requests per second of the workers' CPU time",
        ":header-rows: 1", rows,
    )


def costs_table(results):
    hook = next(c for c in results["configurations"] if c["name"] == "hook")["rounds"]
    files = statistics.median(r["files"] for r in hook)
    rows = [
        ("What (hook file, defaults)", "Time: median (min-max)"),
        ("kill -USR1: a snapshot, until every worker's file is on disk",
         cell([r["usr1_ms"] for r in hook], 0) + " ms"),
        ("kill -HUP: new workers, until every old worker has saved and exited",
         cell([r["hup_ms"] for r in hook], 0) + " ms"),
        (f"coverage combine, {files:.0f} files (a new Python process)",
         cell([r["combine_s"] for r in hook]) + " s"),
        ("coverage report, after it (a new Python process)",
         cell([r["report_s"] for r in hook]) + " s"),
    ]
    return csv_table("Saving and reporting, with the hook file's defaults", ":header-rows: 1", rows)


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
    return csv_table("Measured on", ":stub-columns: 1", rows)


def tables(results):
    """A Python's four tables, for cog. The blank lines around them keep them
    apart from cog's markers, which are reST comments."""
    shown = (speed_table, targets_table, costs_table, setup_table)
    return "\n" + "\n".join(table(results) for table in shown) + "\n"


# --- chart ---------------------------------------------------------------------


def chart(results):
    """The speed table's ratios as horizontal bars, for the plot directive:
    the median, and a whisker from the lowest round to the highest."""
    import matplotlib.pyplot as plt  # Only the docs env has it (docs/requirements.txt).

    configs = [c for c in results["configurations"] if c["name"] != "baseline"]
    routes = results["routes"]
    colours = ["#4c72b0", "#dd8452"]
    bar = 0.4  # Each route's share of a configuration's row.
    figure, axes = plt.subplots(figsize=(7.5, 0.9 + 0.34 * len(configs)), layout="constrained")
    for n, (route, colour) in enumerate(zip(routes, colours)):
        y = [row + (n - (len(routes) - 1) / 2) * bar for row in range(len(configs))]
        low, middle, high = zip(*(summary(ratios(results, c["name"], route)) for c in configs))
        axes.barh(y, middle, height=bar * 0.85, color=colour, label=route)
        axes.hlines(y, low, high, color="black", linewidth=1)
    axes.axvline(0.95, color="#888", linestyle="--", linewidth=1, label="0.95")
    # Beyond 1.2 (a noisy round) bars and whiskers stop at the edge.
    axes.set_xlim(0, 1.2)
    axes.set_xticks([0, 0.25, 0.5, 0.75, 1.0, 1.2], ["0", "0.25", "0.5", "0.75", "1", "1.2"])
    axes.grid(axis="x", color="#ccc")
    axes.set_axisbelow(True)
    labels = []
    for config in configs:
        label = config["label"].replace("COVERAGE_CORE=", "")
        labels.append(label if config["core"] in label else f"{label} ({config['core']})")
    axes.set_yticks(range(len(configs)), labels)
    axes.set_ylim(len(configs) - 0.5, -0.5)  # The first configuration at the top.
    axes.tick_params(axis="y", length=0, labelsize=9)
    bars, names = axes.get_legend_handles_labels()
    axes.legend(bars[1:] + bars[:1], names[1:] + names[:1],  # The routes first.
                loc="lower right", bbox_to_anchor=(1, 1), ncols=3, frameon=False,
                borderaxespad=0.2)
    figure.suptitle(f"Requests per second vs no coverage, Python {results['python']} "
                    f"(median, min-max over {results['rounds']} rounds)", fontsize=11)
    return figure
