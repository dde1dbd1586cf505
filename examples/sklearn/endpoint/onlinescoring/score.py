"""Scores iris measurements with the registered model, as an Azure ML scoring script does:
init() once per worker, run() per request with the body as a string."""

import json
import logging
import os

import mlflow.sklearn
import pandas as pd

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def init():
    global model
    # The registered folder keeps its name under AZUREML_MODEL_DIR.
    model = mlflow.sklearn.load_model(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model"))
    logging.getLogger("score").warning("model loaded")


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return model.predict(pd.DataFrame(rows, columns=COLUMNS)).tolist()
