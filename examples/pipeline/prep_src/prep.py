"""Splits a CSV into train.csv and test.csv (stratified by the last column), with the standard
library only: it runs on the machine's Python."""

import argparse
import csv
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--raw", required=True)
parser.add_argument("--test-fraction", type=float, required=True)
parser.add_argument("--train", required=True)
parser.add_argument("--test", required=True)
args = parser.parse_args()

with open(args.raw, newline="") as source:
    rows = list(csv.reader(source))
header, rows = rows[0], rows[1:]
by_label: dict[str, list[list[str]]] = {}
for row in rows:
    by_label.setdefault(row[-1], []).append(row)
train, test = [], []
for label in sorted(by_label):
    group = by_label[label]
    random.Random(7).shuffle(group)
    cut = round(len(group) * args.test_fraction)
    test += group[:cut]
    train += group[cut:]
for folder, name, part in ((args.train, "train.csv", train), (args.test, "test.csv", test)):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(part)
print(f"{len(train)} rows to train on, {len(test)} to test on")
