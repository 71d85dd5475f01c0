"""The Django project of docs/django.rst, measured: its templates through
django_coverage_plugin, which needs the ctrace core; --preload; and what
disables the plugin.

Each test serves docs/examples/django (its database migrated, as the page does)
with the hook file, requests / and reads the data as `coverage json` gives it.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from expected import (
    DJANGO_APP, DJANGO_FORCED_SYSMON, DJANGO_PAGE, DJANGO_PLUGIN_DISABLED_BY, DJANGO_PRELOADED,
    DJANGO_RUN_BY_THE_REQUEST, DJANGO_TEMPLATE, DJANGO_TEMPLATE_AFTER_GET, DJANGO_TEMPLATE_UNMEASURED,
    DJANGO_VIEW, DJANGO_VIEW_AFTER_GET, PLUGIN_DISABLED, PYTHON, Lines,
)
from helpers import HOOK_FILE, copy_docs_example, cores_logged, replace_in_coveragerc

@pytest.fixture
def project(tmp_path):
    """A copy of the Django project, its database migrated, the hook file as
    ./gunicorn.conf.py."""
    directory = copy_docs_example("django", tmp_path / "django")
    subprocess.run([sys.executable, "manage.py", "migrate"], cwd=directory, check=True,
                   capture_output=True, timeout=60)
    return directory


@pytest.fixture
def serve(start, project):
    """Start gunicorn on the project with the hook file, request / once."""

    def serve_the_project(*args, env=None, workers=2):
        server = start("--log-level", "debug", *args, env=env, workers=workers, app=DJANGO_APP,
                       directory=project)
        assert server.curl("/").rstrip("\n") == DJANGO_PAGE
        return server

    return serve_the_project


def measured(server, *args, env=None):
    """{file: Lines} from `coverage json`; `env` replaces the environment."""
    return {path: Lines(data["executed_lines"], data["missing_lines"])
            for path, data in server.coverage_json(*args, env=env).items()}


def test_the_hook_file_measures_the_view_and_the_template(serve):
    server = serve()
    assert cores_logged(server) == ["ctrace", "ctrace"]  # What runs the plugin, on every Python.
    server.send(signal.SIGHUP)
    server.wait_for_data_files(2)
    files = measured(server)
    assert files[DJANGO_TEMPLATE] == DJANGO_TEMPLATE_AFTER_GET
    assert files[DJANGO_VIEW] == DJANGO_VIEW_AFTER_GET
    assert "CoverageWarning" not in server.log()


def test_the_report_needs_no_django_settings_module(serve):
    """The plugin reads templates with Django's default settings if none are set."""
    server = serve()
    server.stop()
    without = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    assert measured(server, env=without) == measured(
        server, env={**without, "DJANGO_SETTINGS_MODULE": "mysite.settings"}
    )


@pytest.mark.parametrize("how", ["COVERAGE_CORE", "run-core"])
def test_a_forced_sysmon_core(serve, project, how):
    """The table of docs/django.rst, on the Python of the test."""
    forced = DJANGO_FORCED_SYSMON[PYTHON]
    if how == "run-core":
        replace_in_coveragerc(project, "[run]\n", "[run]\ncore = sysmon\n")
    server = serve(env={"COVERAGE_CORE": "sysmon"} if how == "COVERAGE_CORE" else {})
    assert cores_logged(server) == [forced.core, forced.core]
    assert f"CoverageWarning: {forced.warning}" in server.log()
    server.stop()
    assert measured(server)[DJANGO_TEMPLATE] == forced.template


def files_run(files):
    return sorted(path for path, lines in files.items() if lines.executed)


def test_preload_saves_the_import_in_the_master(serve):
    """The master imports the project and saves it at when_ready; the file
    of the worker that served holds only what ran in it."""
    server = serve("--preload")
    server.stop()
    (master,) = [name for name in server.data_files() if f".pid{server.pid}." in name]
    (worker,) = [name for name in server.data_files() if name != master]  # The other did nothing.
    assert files_run(measured(server, "--data-file", master)) == DJANGO_PRELOADED
    assert files_run(measured(server, "--data-file", worker)) == DJANGO_RUN_BY_THE_REQUEST
    combined = measured(server)
    assert combined[DJANGO_TEMPLATE] == DJANGO_TEMPLATE_AFTER_GET
    assert combined[DJANGO_VIEW] == DJANGO_VIEW_AFTER_GET


def open_database_files(pid):
    return [fd for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.resolve().name == "db.sqlite3"]


def test_a_preloaded_master_holds_no_database_connection(serve):
    """Django connects at the first query, and closes at the end of the request."""
    server = serve("--preload")
    assert open_database_files(server.pid) == []


QUERY_AT_IMPORT = """
    def ready(self):  # A query as the project is imported: the master opens the database.
        from shop.models import Product
        Product.objects.exists()
"""


@pytest.mark.parametrize("config, workers_hold_it", [
    pytest.param("gunicorn.conf.py", True, id="the-hook-file-alone"),
    pytest.param("deploy/gunicorn.conf.py", False, id="the-projects-config"),
])
def test_post_fork_closes_the_connection_a_preloaded_master_opened(project, launch, config, workers_hold_it):
    """A project that queries while it is imported opens a connection in a
    --preload master, which every worker inherits; the post_fork of the
    project's config (docs/django.rst) closes the workers' copies."""
    with open(project / "shop" / "apps.py", "a") as apps:
        apps.write(QUERY_AT_IMPORT)
    shutil.copy(HOOK_FILE, project / "gunicorn_coverage.py")  # What the project's config imports.
    server = launch("-c", config, "--preload", "--workers", "2", DJANGO_APP, directory=project)
    workers = server.wait_for_workers(2)
    assert open_database_files(server.pid) != []
    assert [bool(open_database_files(worker)) for worker in workers] == [workers_hold_it] * 2


@pytest.mark.parametrize("setting", DJANGO_PLUGIN_DISABLED_BY)
def test_what_disables_the_plugin(serve, project, setting):
    line, error = DJANGO_PLUGIN_DISABLED_BY[setting]
    with open(project / "mysite" / "settings.py", "a") as settings:
        settings.write(f"{line}\n")
    server = serve()
    server.stop()
    assert PLUGIN_DISABLED in server.log()
    assert error in server.log()
    assert measured(server)[DJANGO_TEMPLATE] == DJANGO_TEMPLATE_UNMEASURED
