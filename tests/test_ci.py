"""The CI recipe of docs/ci.rst, run end to end.

docs/examples/ci/ci.sh starts gunicorn with the hook file, runs the example's
integration tests against it, stops it, combines, writes the HTML report and
checks the total with --fail-under. These tests run that script, as a CI job
would, in a fresh copy of the repository, and check its exit status, its report
and its HTML.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from expected import CI_BELOW_THRESHOLD, CI_TESTS_FAILED
from helpers import ROOT, copy_of_repository, free_port

CI = ROOT / "docs" / "examples" / "ci"
PAGE = ROOT / "docs" / "ci.rst"


@pytest.fixture
def project(tmp_path):
    """A clone of this repository, as a CI job has it."""
    return copy_of_repository(tmp_path)  # docs/examples/ci included.


def run_ci(project, **env):
    port = free_port()
    environment = {
        **os.environ,
        # The tox environment's gunicorn, coverage, python and pytest.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PORT": str(port),
        **env,
    }
    script = subprocess.Popen(
        ["bash", "docs/examples/ci/ci.sh"], cwd=project, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        output, _ = script.communicate(timeout=100)
    finally:
        try:  # The script, and a server it left behind, if any: its process group.
            os.killpg(script.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    with socket.socket() as s:  # The script stopped its server.
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the server still runs"
    return script.returncode, output


def report_in(output):
    """The lines of `coverage report`'s table, from its header to its TOTAL."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Name "))
    end = next(n for n, line in enumerate(lines) if line.startswith("TOTAL "))
    return "\n".join(lines[start:end + 1]) + "\n"


def test_the_job_passes_and_keeps_the_html_report(project):
    status, output = run_ci(project)
    assert status == 0, output
    assert "4 passed" in output
    assert report_in(output) == (CI / "report.txt").read_text()
    index = (project / "htmlcov" / "index.html").read_text()
    assert '<span class="pc_cov">68%</span>' in index


def test_fail_under_above_the_total_fails_the_job(project):
    status, output = run_ci(project, FAIL_UNDER="69")
    assert status == CI_BELOW_THRESHOLD, output
    failure = "Coverage failure: total of 68 is less than fail-under=69"
    assert failure in output.splitlines()
    assert failure in PAGE.read_text()
    assert (project / "htmlcov" / "index.html").exists()


def test_failing_integration_tests_fail_the_job_after_the_report(project):
    tests = project / "docs" / "examples" / "ci"  # The project's copy: one more test, failing.
    with open(tests / "test_app.py", "a") as f:
        f.write("\n\ndef test_bar_is_44():\n    assert get('/bar') == '44'\n")
    status, output = run_ci(project)
    assert status == CI_TESTS_FAILED, output
    assert "1 failed, 4 passed" in output
    assert "TOTAL                          73     23    68%" in report_in(output)
    assert (project / "htmlcov" / "index.html").exists()


def test_the_workflow_runs_this_recipe():
    """The GitHub Actions job the page shows installs what the script needs,
    runs the script, and keeps the directory its HTML report goes to."""
    workflow = (CI / "github-workflow.yml").read_text()
    runs = [line.split("run:", 1)[1].strip() for line in workflow.splitlines() if "run:" in line]
    pytest_pin = next(
        line.strip() for line in (ROOT / "tox.ini").read_text().splitlines()
        if line.strip().startswith("pytest==")
    )
    assert runs == [
        f"python -m pip install -r requirements.txt {pytest_pin}", "bash docs/examples/ci/ci.sh",
    ]
    assert "path: htmlcov/" in workflow
    assert "if: always()" in workflow
