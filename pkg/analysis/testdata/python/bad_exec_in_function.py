# want: py.dynamic.exec
def run(code):
    def inner():
        exec(code)
    return inner
