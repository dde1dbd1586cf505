"""A scoring script as Azure ML defines one: init() once per worker, run() per request."""

import json
import logging
import os

import numpy as np


def init():
    global coefficients, intercept
    # AZUREML_MODEL_DIR is the registered model's folder; the file keeps its name.
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "linear_model.json")
    with open(path) as handle:
        model = json.load(handle)
    coefficients, intercept = np.asarray(model["coefficients"]), model["intercept"]
    logging.info("Init complete")


def run(raw_data):
    logging.info("model 1: request received")
    data = np.asarray(json.loads(raw_data)["data"], dtype=float)
    result = data @ coefficients + intercept
    logging.info("Request processed")
    return result.tolist()
