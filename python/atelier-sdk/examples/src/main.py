"""Trains a scikit-learn SVM on the iris CSV, as Azure ML's iris example does; MLflow's
autologging records the parameters, metrics and model in the job's run."""

import argparse

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

parser = argparse.ArgumentParser()
parser.add_argument("--iris-csv", required=True)
parser.add_argument("--kernel", default="linear")
parser.add_argument("--penalty", type=float, default=1.0)
args = parser.parse_args()

mlflow.sklearn.autolog()
frame = pd.read_csv(args.iris_csv)
features = frame.drop(columns=["species"])
train_x, test_x, train_y, test_y = train_test_split(features, frame["species"], test_size=0.3, random_state=0)
with mlflow.start_run():
    model = SVC(kernel=args.kernel, C=args.penalty).fit(train_x, train_y)
    accuracy = model.score(test_x, test_y)
    mlflow.log_metric("test_accuracy", accuracy)
    print(f"accuracy on the test set: {accuracy:.3f}")
