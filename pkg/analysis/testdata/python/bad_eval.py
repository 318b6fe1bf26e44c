# want: py.dynamic.eval
x = eval(input())
