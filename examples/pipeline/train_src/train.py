"""Fits a logistic regression on train.csv, logs with MLflow (the step's job configures it),
and saves the model to the step's output."""

import argparse
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--c", type=float, required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.data, "train.csv"))
with mlflow.start_run():
    mlflow.log_params({"C": args.c, "rows": len(frame)})
    model = LogisticRegression(C=args.c, max_iter=500).fit(frame.drop(columns=["species"]), frame["species"])
    mlflow.sklearn.save_model(model, args.model)
    print(f"trained on {len(frame)} rows; model saved to {args.model}")
