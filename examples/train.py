"""A small training loop that logs to Atelier with the unchanged MLflow client.

Run it with MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN set (see the README).
"""

import math
import random

import mlflow

mlflow.set_experiment("quickstart")

for learning_rate in (0.1, 0.01):
    with mlflow.start_run(run_name=f"lr-{learning_rate}"):
        mlflow.log_params({"learning_rate": learning_rate, "epochs": 20})
        loss = 1.0
        for epoch in range(20):
            loss = loss * (1 - learning_rate) + random.uniform(0, 0.01)
            mlflow.log_metric("loss", loss, step=epoch)
        mlflow.log_metric("accuracy", 1 - loss / 2)
        mlflow.set_tag("model", "toy")
        mlflow.log_text(f"final loss {loss:.4f}\n", "summary.txt")
        print(f"lr={learning_rate}: loss {loss:.4f}, ln(loss) {math.log(loss):.2f}")
