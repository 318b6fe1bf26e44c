# want:
class Engine:
    def eval(self, x):
        return x

    def exec(self, x):
        return x


e = Engine()
print(e.eval(1), e.exec(2))
