def greeting(name):
    if name:
        return f"Hello, {name}!"
    return "Hello!"
