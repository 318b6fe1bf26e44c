# want:
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


def where(p: Point) -> str:
    match p:
        case Point(x=0, y=0):
            return "origin"
        case _:
            return "elsewhere"


if (n := len([1, 2])) > 1:
    print(where(Point(0, 0)), n)
