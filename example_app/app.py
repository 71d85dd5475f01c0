from flask import Flask

from example_app import lib

app = Flask(__name__)


@app.route("/foo")
def foo():
    return str(lib.foo())


@app.route("/bar")
def bar():
    return str(lib.bar())
