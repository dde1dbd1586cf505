"""Trains a classifier on the iris CSV, logs with MLflow (which the job configures: no
set_tracking_uri or start_run arguments needed), and saves the model to the named output."""

import argparse

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--c", type=float, default=1.0)
parser.add_argument("--model", required=True)
args = parser.parse_args()

frame = pd.read_csv(args.data)
features = frame.drop(columns=["species"])
train_x, test_x, train_y, test_y = train_test_split(
    features, frame["species"], test_size=0.3, random_state=7, stratify=frame["species"]
)

with mlflow.start_run():
    mlflow.log_params({"C": args.c, "rows": len(frame), "solver": "lbfgs"})
    model = LogisticRegression(C=args.c, max_iter=500).fit(train_x, train_y)
    predicted = model.predict(test_x)
    mlflow.log_metric("accuracy", accuracy_score(test_y, predicted))
    mlflow.log_metric("f1_macro", f1_score(test_y, predicted, average="macro"))
    mlflow.sklearn.save_model(model, args.model)
    print(f"accuracy {accuracy_score(test_y, predicted):.3f}; model saved to {args.model}")
