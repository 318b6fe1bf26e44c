# want:
import argparse
import sys

parser = argparse.ArgumentParser(description="count words")
parser.add_argument("--top", type=int, default=3)
args = parser.parse_args()
print(sys.stdin.read().split()[: args.top])
