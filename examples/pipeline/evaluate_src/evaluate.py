"""Scores an MLflow model on test.csv, logs its accuracy, writes a report, and fails the step
when the accuracy is below the bar."""

import argparse
import json
import os
import sys

import mlflow
import mlflow.pyfunc
import pandas as pd
from sklearn.metrics import accuracy_score

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--min-accuracy", type=float, required=True)
parser.add_argument("--report", required=True)
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.data, "test.csv"))
model = mlflow.pyfunc.load_model(args.model)
accuracy = accuracy_score(frame["species"], model.predict(frame.drop(columns=["species"])))
with mlflow.start_run():
    mlflow.log_metric("accuracy", accuracy)
os.makedirs(args.report, exist_ok=True)
with open(os.path.join(args.report, "report.json"), "w") as out:
    json.dump({"accuracy": accuracy, "rows": len(frame)}, out)
print(f"accuracy {accuracy:.3f} on {len(frame)} rows")
if accuracy < args.min_accuracy:
    sys.exit(f"accuracy {accuracy:.3f} is below {args.min_accuracy}")
