import time


def work():
    for _ in range(3):
        time.sleep(0.2)  # Under gevent, /right runs meanwhile.
    return "left"


def unused():
    a = 1
    b = 2
    return a + b
