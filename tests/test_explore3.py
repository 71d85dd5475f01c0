import shutil, signal, subprocess, pytest, time, sys
from conftest import ROOT, wait_until

@pytest.mark.parametrize("core", ["ctrace", "pytrace", "sysmon"])
@pytest.mark.parametrize("cls", ["sync", "gevent", "gthread"])
def test_core(start, example, core, cls):
    if cls == "gevent":
        with open(example / ".coveragerc", "a") as f:
            f.write("concurrency = gevent\n")
    env = {"COVERAGE_CORE": core, "COVERAGE_DEBUG": "core", "COVERAGE_DEBUG_FILE": str(example / "debug.txt")}
    args = {"sync": [], "gevent": ["-k", "gevent"], "gthread": ["-k", "gthread", "--threads", "4"]}[cls]
    server = start(*args, workers=1, env=env, wait=False)
    try:
        server.wait_for_workers(1)
        print(server.curl("/foo"))
        server.stop()
    finally:
        print(sys.version, core, cls)
        print(server.log())
        print((example / "debug.txt").read_text() if (example / "debug.txt").exists() else "no debug")
        print(server.coverage("report", "--keep-combined", "example_app/lib.py"))
    assert 0
