"""Fits a logistic regression on train.csv, logs with MLflow (the step's job configures it) its
3-fold cross-validated accuracy (what a sweep over `c` maximises), and saves the model to the
step's output."""

import argparse
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--c", type=float, required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

frame = pd.read_csv(os.path.join(args.data, "train.csv"))
with mlflow.start_run():
    mlflow.log_params({"C": args.c, "rows": len(frame)})
    features, labels = frame.drop(columns=["species"]), frame["species"]
    accuracy = cross_val_score(LogisticRegression(C=args.c, max_iter=500), features, labels, cv=3).mean()
    mlflow.log_metric("cv_accuracy", accuracy)
    model = LogisticRegression(C=args.c, max_iter=500).fit(features, labels)
    mlflow.sklearn.save_model(model, args.model)
    print(f"trained on {len(frame)} rows with C={args.c}: cross-validated accuracy {accuracy:.3f}")
