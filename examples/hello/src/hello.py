"""Says hello and logs a metric with atelier_log, which every job can import."""

import argparse

import atelier_log

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
args = parser.parse_args()

print(f"Hello, {args.name}!")
atelier_log.log_param("name", args.name)
atelier_log.log_metric("letters", len(args.name))
