from flask import Flask, request

from example_app import greet, lib, orders

app = Flask(__name__)


@app.route("/foo")
def foo():
    return str(lib.foo())


@app.route("/bar")
def bar():
    return str(lib.bar())


@app.route("/hello")
def hello():
    return greet.greeting(request.args.get("name", ""))


@app.route("/orders")
def orders_summary():
    return orders.summary()
