"""The example's lib.foo() run in a gunicorn dirty worker (gunicorn 25+).

The HTTP workers serve /foo by asking a dirty worker to run Lib.foo.
"""

from flask import Flask
from gunicorn.dirty import DirtyApp, get_dirty_client

from example_app import lib


class Lib(DirtyApp):
    def foo(self):
        return lib.foo()


app = Flask(__name__)


@app.route("/foo")
def foo():
    return str(get_dirty_client().execute("example_app.dirty:Lib", "foo"))
