"""A typed command-line tool: argparse, dataclasses, enum and decimal
money arithmetic."""
import argparse
import enum
from dataclasses import dataclass, field
from decimal import Decimal, ROUND_HALF_EVEN


class Kind(enum.Enum):
    FRUIT = "fruit"
    TOOL = "tool"


@dataclass(order=True)
class Item:
    price: Decimal
    name: str = field(compare=False)
    kind: Kind = field(compare=False, default=Kind.FRUIT)


parser = argparse.ArgumentParser()
parser.add_argument("--tax", default="0.2")
args = parser.parse_args()
items = sorted([Item(Decimal("1.10"), "apple"), Item(Decimal("9.99"), "saw", Kind.TOOL), Item(Decimal("0.35"), "lime")])
total = sum(i.price for i in items) * (1 + Decimal(args.tax))
print([i.name for i in items], total.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))
