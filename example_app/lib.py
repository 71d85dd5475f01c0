def foo():
    return 42
def bar():
    return 43
