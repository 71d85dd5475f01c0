"""Two routes whose requests overlap under gevent: each waits three times
in the middle of its own module, left.py or right.py, so that the other runs.

In each module, work() runs and unused() does not, at different lines: a line
put on the wrong module shows in the numbers.
"""

from flask import Flask

from example_app import left, right

app = Flask(__name__)


@app.route("/left")
def left_route():
    open("held", "w").close()  # Tell the test that /left is in flight.
    return left.work()


@app.route("/right")
def right_route():
    return right.work()
