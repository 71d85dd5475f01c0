"""What cog writes into reference.rst from the hook file: its index of hooks
and its index of environment variables.

The hook file is read as text (with ``ast``), never run: writing the docs
measures nothing. cog runs with ``-I docs``
(``tox -e cog``); tests/test_generated_tables.py checks that the page is what
this module writes.
"""

import ast
import re
from pathlib import Path

from gunicorn.config import KNOWN_SETTINGS

from cog_helpers import list_table

HOOK_FILE = Path(__file__).resolve().parent.parent / "hooks" / "gunicorn.conf.py"

# gunicorn's server hooks, in gunicorn's own order: the functions it calls by
# name from a configuration file.
GUNICORN_HOOKS = [setting.name for setting in KNOWN_SETTINGS if setting.section.endswith("Hooks")]

THE_CORE = "the core"


def _part_by_line(source):
    """For each line of the file, the part it belongs to: "the core" under a
    ``# ===`` banner, the title of an optional part under a ``# ---`` banner
    (its first line, up to the first ": ", as in "# Snapshots: kill -USR1 ...")."""
    parts, part, after_dashes = [], THE_CORE, False
    for line in source.splitlines():
        if re.fullmatch(r"# =+", line):
            part = THE_CORE
        elif after_dashes and line.startswith("# "):
            part = line[2:].split(": ")[0]
        after_dashes = bool(re.fullmatch(r"# -+", line))
        parts.append(part)
    return parts


def defined_at(tree):
    """{name: line} of every name the file defines at top level (also in an
    ``if`` or ``try`` there), where it is first defined."""
    lines = {}

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                lines.setdefault(node.name, node.lineno)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for name in (n for target in targets for n in ast.walk(target)):
                    if isinstance(name, ast.Name):
                        lines.setdefault(name.id, node.lineno)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    lines.setdefault((alias.asname or alias.name).split(".")[0], node.lineno)
            elif isinstance(node, (ast.If, ast.Try)):
                visit([*node.body, *node.orelse, *(h for handler in getattr(node, "handlers", [])
                                                  for h in handler.body)])

    visit(tree.body)
    return lines


def parts_of(hook, source=None):
    """The parts of the file that `hook` runs, in its order: the parts under
    whose banners the names it uses are defined."""
    source = source if source is not None else HOOK_FILE.read_text()
    tree = ast.parse(source)
    part_by_line, lines = _part_by_line(source), defined_at(tree)
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == hook]
    used = sorted(
        (node for statement in function.body for node in ast.walk(statement)
         if isinstance(node, ast.Name) and node.id in lines),
        key=lambda node: (node.lineno, node.col_offset),
    )
    return list(dict.fromkeys(part_by_line[lines[node.id] - 1] for node in used))


def hooks_defined(source=None):
    """The hooks the file defines, in gunicorn's order."""
    tree = ast.parse(source if source is not None else HOOK_FILE.read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    return [name for name in GUNICORN_HOOKS if name in functions]


def hooks_index():
    """The page's table of the hooks the file defines, in gunicorn's order,
    and the parts of the file each one runs."""
    source = HOOK_FILE.read_text()
    rows = [
        [f":ref:`hook-{name}`", ", ".join(parts_of(name, source))] for name in hooks_defined(source)
    ]
    return list_table(["Hook", "Parts it runs"], rows, [40, 60])


def environment_variables(source=None):
    """The GUNICORN_COVERAGE* names the file uses as strings: the variables it reads."""
    tree = ast.parse(source if source is not None else HOOK_FILE.read_text())
    return sorted({
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and re.fullmatch(r"GUNICORN_COVERAGE\w*", node.value)
    })


def variables_index():
    links = [f":ref:`env-{name.lower()}`" for name in environment_variables()]
    return f"\nThe file reads {len(links)} variables: {', '.join(links)}.\n\n"
