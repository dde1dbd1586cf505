"""Atelier's scoring host: runs one deployment instance's model for the endpoint router.

    python atelier_scoring_host.py --socket PATH (--script score.py --app-root DIR | --mlflow-model DIR)

With a scoring script it imports the script the way Azure ML's inference server does (the app
root on sys.path, AZUREML_MODEL_DIR set by the caller), calls init() once, then run(raw_data) per
request with the body as a string; the return value is serialised to JSON. Without one it loads
an MLflow model with pyfunc and accepts {"input_data": ...} and MLflow's serving formats
(dataframe_split, dataframe_records, instances, inputs).

It listens on a Unix socket only after init() has returned: a connectable socket means ready.
Each connection carries requests one after another, framed as

    frame    := length:u32 (big-endian) header:JSON length:u32 body:bytes
    request  := frame with header {"id": n, "kind": "score" | "health"}
    response := frame with header {"id": n, "status": 200 | 400 | 500, "content_type": "..."}

A script that raises gives status 500 with {"error": "<message>"}; the router turns it into the
endpoint's answer. Connections are served on threads, so an instance runs as many requests at
once as the router opens connections.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import struct
import sys
import threading
import traceback

_HEADER = struct.Struct(">I")


class BadRequest(Exception):
    """A request body the no-code host cannot read (status 400); a scoring script's own
    exceptions are 500s, as on Azure ML."""


def _read_exact(connection, size):
    chunks = []
    while size:
        chunk = connection.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(connection):
    prefix = _read_exact(connection, 4)
    if prefix is None:
        return None
    header = _read_exact(connection, _HEADER.unpack(prefix)[0])
    length = _read_exact(connection, 4)
    if header is None or length is None:
        return None
    body = _read_exact(connection, _HEADER.unpack(length)[0])
    if body is None:
        return None
    return json.loads(header), body


def _write_frame(connection, header, body):
    encoded = json.dumps(header).encode("utf-8")
    connection.sendall(_HEADER.pack(len(encoded)) + encoded + _HEADER.pack(len(body)) + body)


def _to_json(value):
    """The JSON text of what run() returned (numpy and pandas values included)."""

    def default(item):
        for method in ("tolist", "to_dict"):
            if hasattr(item, method):
                return getattr(item, method)()
        if hasattr(item, "item"):
            return item.item()
        raise TypeError(f"{type(item).__name__} is not JSON serialisable")

    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        # Azure ML's server sends a returned string as a JSON string.
        return json.dumps(value).encode("utf-8")
    return json.dumps(value, default=default).encode("utf-8")


class ScriptModel:
    def __init__(self, script, app_root):
        if app_root not in sys.path:
            sys.path.insert(0, app_root)
        spec = importlib.util.spec_from_file_location("score", script)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load the scoring script {script}")
        self.module = importlib.util.module_from_spec(spec)
        sys.modules["score"] = self.module
        spec.loader.exec_module(self.module)
        if not callable(getattr(self.module, "run", None)):
            raise RuntimeError(f"the scoring script {script} has no run() function")
        init = getattr(self.module, "init", None)
        if callable(init):
            init()

    def score(self, body):
        return _to_json(self.module.run(body.decode("utf-8")))


class MlflowModel:
    def __init__(self, model_dir):
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(model_dir)

    def score(self, body):
        import pandas as pd

        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError as error:
            raise BadRequest(f"the request body is not JSON: {error}") from None
        if not isinstance(payload, dict):
            raise BadRequest("the request body must be a JSON object")
        if "input_data" in payload:
            data = payload["input_data"]
            if isinstance(data, dict) and "columns" in data and "data" in data:
                data = pd.DataFrame(data["data"], columns=data["columns"], index=data.get("index"))
            elif isinstance(data, list) and data and isinstance(data[0], dict):
                data = pd.DataFrame(data)
        elif "dataframe_split" in payload:
            split = payload["dataframe_split"]
            data = pd.DataFrame(split["data"], columns=split.get("columns"), index=split.get("index"))
        elif "dataframe_records" in payload:
            data = pd.DataFrame(payload["dataframe_records"])
        elif "instances" in payload:
            data = payload["instances"]
        elif "inputs" in payload:
            data = payload["inputs"]
        else:
            raise BadRequest(
                "expected one of input_data, dataframe_split, dataframe_records, instances or inputs in the body"
            )
        return _to_json(self.model.predict(data))


def _serve(connection, model):
    with connection:
        while True:
            frame = _read_frame(connection)
            if frame is None:
                return
            header, body = frame
            answer = {"id": header.get("id"), "status": 200, "content_type": "application/json"}
            if header.get("kind") == "health":
                _write_frame(connection, answer, b"{}")
                continue
            try:
                result = model.score(body)
            except BadRequest as error:
                answer["status"] = 400
                result = json.dumps({"error": str(error)}).encode("utf-8")
            except Exception as error:  # the script's own failure: reported, the host lives on
                traceback.print_exc()
                answer["status"] = 500
                result = json.dumps({"error": f"{type(error).__name__}: {error}"}).encode("utf-8")
            _write_frame(connection, answer, result)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--script")
    parser.add_argument("--app-root")
    parser.add_argument("--mlflow-model")
    args = parser.parse_args()
    try:
        if args.script:
            model = ScriptModel(args.script, args.app_root or os.path.dirname(os.path.abspath(args.script)))
        elif args.mlflow_model:
            model = MlflowModel(args.mlflow_model)
        else:
            parser.error("give --script or --mlflow-model")
    except Exception:
        print("init() failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(3)
    print("init() done; serving", flush=True)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(64)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=_serve, args=(connection, model), daemon=True).start()


if __name__ == "__main__":
    main()
