"""Prints a few lines, and the first lines of the optional notes file when one is given."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--lines", type=int, required=True)
parser.add_argument("--notes")
args = parser.parse_args()

for number in range(1, args.lines + 1):
    print(f"line {number}")
if args.notes is None:
    print("no notes given")
else:
    with open(args.notes, encoding="utf-8") as notes:
        print("notes:", notes.readline().strip())
