from flask import Flask

from example_app import lib, orders

app = Flask(__name__)


@app.route("/foo")
def foo():
    return str(lib.foo())


@app.route("/bar")
def bar():
    return str(lib.bar())


@app.route("/orders")
def orders_summary():
    return orders.summary()
