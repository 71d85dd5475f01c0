"""Type the console sessions that a docs page shows, and check what they print.

A page shows ``.. code-block:: console`` blocks captioned "Terminal 1" or
"Terminal 2": two shells, as a reader uses them. A line starting with "$ " is a
command; the lines after it are what it prints. A block without a command shows
what the terminal's running command (the server) printed since the last block.
A line "..." stands for any lines (pip's install output, for example).

Outputs are compared after normalising only what must vary from run to run:
times (and pytest's durations), pids, host names, random file-name parts, and
the port (the page shows gunicorn's default, 8000; the run uses a free one).
The lines of a running server are compared as a set: its workers write
concurrently.

Run as a script, it types a page in a fresh copy of the example and prints each
command with its real output: ``python tests/transcript.py docs/walkthrough.rst``.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives

from helpers import copy_of_repository, free_port

DOCUMENTED_PORT = 8000
DONE = "__transcript_command_done__"


@dataclass
class Step:
    terminal: str
    command: str | None  # None: more output of the command still running there.
    expected: list = field(default_factory=list)
    where: str = ""


class ConsoleBlock(nodes.Element):
    """A ``.. code-block:: console`` of a page: caption, lines, first_line."""


class _ConsoleBlocks(Directive):
    """Sphinx's ``code-block`` directive, as far as reading a page needs it:
    docutils parses the page, and each console block becomes a node that
    keeps its caption, its lines and where they start."""

    optional_arguments = 1
    has_content = True
    option_spec = {"caption": directives.unchanged}

    def run(self):
        if self.arguments != ["console"]:
            return []
        block = ConsoleBlock()
        block["caption"] = self.options.get("caption")
        block["lines"] = list(self.content)
        block["first_line"] = self.content_offset + 1
        return [block]


def doctree(text, page):
    """The text of an .rst page, parsed by docutils: its console blocks as
    ConsoleBlock nodes."""
    directives.register_directive("code-block", _ConsoleBlocks)
    # Sphinx's own roles and directives (:ref:, literalinclude, ...) are not
    # docutils': it reports them and goes on, and nothing here needs them.
    settings = {"report_level": 5, "halt_level": 5, "file_insertion_enabled": False}
    return publish_doctree(text, str(page), settings_overrides=settings)


def console_blocks(page):
    """(caption, lines, line number of the first) of each console block of an .rst page."""
    return [
        (block["caption"], block["lines"], block["first_line"])
        for block in doctree(Path(page).read_text(), page).findall(ConsoleBlock)
    ]


def read_steps(page):
    """The console blocks of an .rst page, as steps in reading order."""
    steps = []
    for caption, lines, first_line in console_blocks(page):
        if caption not in ("Terminal 1", "Terminal 2"):
            raise ValueError(f"{page}:{first_line}: a console block needs :caption: Terminal 1 or 2")
        step = None
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            where = f"{page}:{first_line + n}"
            if line.startswith("$ "):
                step = Step(caption, line[2:], [], where)
                steps.append(step)
            else:
                if step is None:  # Output shown before any command of this block.
                    step = Step(caption, None, [], where)
                    steps.append(step)
                step.expected.append(line)
    return steps


NORMALISE = [
    (re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\]"), "[TIME] [PID]"),
    # gunicorn's "(pid: 4712)" and "(4711)"; uvicorn's "Started server process [4712]".
    (re.compile(r"\(pid: \d+\)|pid: \d+|\(\d+\)$|\[\d+\]$"), "PID"),
    (re.compile(r"\.coverage\.[\w-]+\.pid\d+\.X\w+x(\.H\w+h)?"), ".coverage.HOST.pidPID.XRANDOMx"),
    (re.compile(r" in \d+\.\d+s\b"), " in SECONDSs"),  # pytest's "2 passed in 0.12s"
    (re.compile(r"^[0-9a-f]{64}$"), "CONTAINER_ID"),  # docker run --detach
]


def normalise(line, port):
    line = line.rstrip().replace(f":{port}", f":{DOCUMENTED_PORT}")
    for pattern, replacement in NORMALISE:
        line = pattern.sub(replacement, line)
    return line


def matches(expected, actual):
    """Do the lines match, in order, with "..." standing for any lines?"""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[n:]) for n in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


class Terminal:
    """A bash shell that is typed into, and the lines it printed so far."""

    def __init__(self, name, cwd, env):
        self.name = name
        self.shell = subprocess.Popen(
            ["bash", "--norc", "--noprofile"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines = []  # Everything the terminal printed, without the done markers.
        self.shown = 0  # How many of those lines the page has shown so far.
        self.running = False  # Is a command still running (the server)?
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.shell.stdout:
            # Output without a final newline (curl's) shares a line with the marker.
            before, done, _ = line.rstrip("\n").partition(DONE)
            with self._lock:
                if before or not done:
                    self.lines.append(before)
                if done:
                    self.running = False

    def type(self, command):
        self.running = True
        # The marker keeps the command's exit status, for a page's `echo $?`.
        self.shell.stdin.write(f"{command}\n_status=$?; echo {DONE}; (exit $_status)\n")
        self.shell.stdin.flush()

    def wait_until_done(self, timeout):
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.running

    def new_lines(self):
        with self._lock:
            return self.lines[self.shown:]

    def close(self):
        try:
            os.killpg(self.shell.pid, signal.SIGKILL)  # The shell and what it started.
        except ProcessLookupError:
            pass
        self.shell.wait(timeout=10)


class Mismatch(AssertionError):
    pass


def run(page, workdir, port, show=None, timeout=120, env=None):
    """Type every step of `page` in `workdir`; raise Mismatch where output differs.

    `show(text)`, if given, receives each command and its real output. `env`:
    variables to set in the terminals (PATH, say) besides this process's.
    """
    env = {
        key: value for key, value in {**os.environ, **(env or {})}.items()
        if key not in ("VIRTUAL_ENV", "PYTHONHOME", "COVERAGE_PROCESS_START")
    }
    # The page's gunicorn command binds gunicorn's default port; bind a free one
    # instead, and keep the control socket out of the way of parallel runs.
    env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port} --no-control-socket"
    terminals = {}
    try:
        for step in read_steps(page):
            if step.terminal not in terminals:
                terminals[step.terminal] = Terminal(step.terminal, workdir, env)
            terminal = terminals[step.terminal]
            _play(step, terminal, port, show, timeout)
        for terminal in terminals.values():
            if terminal.new_lines():
                raise Mismatch(
                    f"{page}: {terminal.name} printed lines that the page does not show:\n"
                    + "\n".join(terminal.new_lines())
                )
    finally:  # Each terminal's process group: its shell, and the server it runs.
        for terminal in terminals.values():
            terminal.close()


def _play(step, terminal, port, show, timeout):
    expected = [normalise(line, port) for line in step.expected]
    if step.command is not None:
        if terminal.running and not terminal.wait_until_done(timeout):
            raise Mismatch(f"{step.where}: the previous command in {terminal.name} still runs")
        if show:
            show(f"\n[{terminal.name}] $ {step.command}")
        terminal.type(_on_port(step.command, port))
        if _starts_a_server(step.command):
            _wait_for_server_lines(step, terminal, expected, port, show, timeout)
            return
        if not terminal.wait_until_done(timeout):
            raise Mismatch(f"{step.where}: `{step.command}` did not finish in {timeout} s")
        actual = terminal.new_lines()
        terminal.shown += len(actual)
        if show:
            show("\n".join(actual))
        normalised = [normalise(line, port) for line in actual]
        if not matches(expected, normalised):
            raise Mismatch(_difference(step, expected, normalised))
    else:
        if show:
            show(f"\n[{terminal.name}, the server goes on]")
        _wait_for_server_lines(step, terminal, expected, port, show, timeout)


def _on_port(command, port):
    """The command on the run's port: in URLs, and as the host's side of a
    container's published port (--publish 8000:8000)."""
    command = command.replace(f"--publish {DOCUMENTED_PORT}:{DOCUMENTED_PORT}", f"--publish {port}:PORT")
    return command.replace(f":{DOCUMENTED_PORT}", f":{port}").replace(":PORT", f":{DOCUMENTED_PORT}")


def _starts_a_server(command):
    """`gunicorn ...`, possibly after environment settings: `NAME=value gunicorn ...`."""
    return re.match(r"(\w+=\S+ )*gunicorn ", command) is not None


def _wait_for_server_lines(step, terminal, expected, port, show, timeout):
    """A server prints from several processes at once: compare as a set."""
    deadline = time.monotonic() + min(timeout, 30)
    while len(terminal.new_lines()) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # Let a line that is not shown arrive, so that it is noticed.
    actual = terminal.new_lines()[: len(expected)]
    terminal.shown += len(actual)
    if show:
        show("\n".join(actual))
    normalised = [normalise(line, port) for line in actual]
    if sorted(normalised) != sorted(expected):
        raise Mismatch(_difference(step, expected, normalised))


def _difference(step, expected, actual):
    what = f"`{step.command}`" if step.command else f"{step.terminal}'s server"
    return (
        f"{step.where}: {what} printed something else than the page shows.\n"
        "--- the page (normalised)\n" + "\n".join(expected)
        + "\n--- the real output (normalised)\n" + "\n".join(actual)
    )




def main(page):
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as directory:
        print(f"Typing {page} in a fresh copy of the example: {directory}")
        try:
            run(page, copy_of_repository(directory), free_port(), show=print)
        except Mismatch as mismatch:
            print(f"\n{mismatch}", file=sys.stderr)
            return 1
    print(f"\nEvery command of {page} printed what the page shows.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
