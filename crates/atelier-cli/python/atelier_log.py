"""Atelier's logging helper: log to the job's run with nothing but the standard library.

Every job gets this module on its PYTHONPATH. MLflow code works unchanged in a job; this is for
jobs whose environment has no mlflow installed:

    import atelier_log
    atelier_log.log_param("lr", 0.01)
    atelier_log.log_metric("loss", 0.25, step=3)
    atelier_log.log_metrics({"acc": 0.9, "f1": 0.8}, step=3)
    atelier_log.set_tag("stage", "baseline")

It reads the job's MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN and MLFLOW_RUN_ID, and calls the
server's MLflow API (runs/log-batch), retrying briefly when the server does not answer.
"""

import json
import math
import os
import time
import urllib.error
import urllib.request

__all__ = ["log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags"]


def _post(body):
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").rstrip("/")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
    if not uri or not os.environ.get("MLFLOW_RUN_ID"):
        raise RuntimeError("atelier_log works inside an Atelier job (MLFLOW_TRACKING_URI and MLFLOW_RUN_ID are not set)")
    body["run_id"] = os.environ["MLFLOW_RUN_ID"]
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        uri + "/api/2.0/mlflow/runs/log-batch",
        data=data,
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        method="POST",
    )
    delay = 0.5
    for attempt in range(8):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise RuntimeError(error.read().decode("utf-8", "replace")) from None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(delay)
        delay = min(delay * 2, 10)
    raise RuntimeError("the Atelier server did not answer")


def _number(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def log_metrics(metrics, step=None):
    now = int(time.time() * 1000)
    _post({"metrics": [{"key": key, "value": _number(value), "timestamp": now, "step": int(step or 0)}
                       for key, value in metrics.items()]})


def log_metric(key, value, step=None):
    log_metrics({key: value}, step)


def log_params(params):
    _post({"params": [{"key": key, "value": str(value)} for key, value in params.items()]})


def log_param(key, value):
    log_params({key: value})


def set_tags(tags):
    _post({"tags": [{"key": key, "value": str(value)} for key, value in tags.items()]})


def set_tag(key, value):
    set_tags({key: value})
