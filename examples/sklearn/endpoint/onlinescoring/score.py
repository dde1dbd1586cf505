"""Scores iris measurements with the registered model, as an Azure ML scoring script does:
init() once per worker, run() per request with the body as a string."""

import json
import logging
import os
import warnings

import mlflow.sklearn
import numpy as np


def init():
    global model
    # The registered folder keeps its name under AZUREML_MODEL_DIR.
    model = mlflow.sklearn.load_model(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model"))
    # Rows arrive as plain arrays in the columns' order (sepal_length, sepal_width,
    # petal_length, petal_width); the model was fitted on a named frame and would warn.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logging.getLogger("score").warning("model loaded")


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return model.predict(np.asarray(rows, dtype=float)).tolist()
