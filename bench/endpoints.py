"""Online endpoint figures (issue 6): Atelier's scoring path against `mlflow models serve`, and
Atelier's in-process ONNX path against a bare axum server, on this machine, in one run.

Usage: python3 bench/endpoints.py [--server target/release/atelier] [--loadgen target/release/loadgen]
                                  [--clients 16] [--duration 10]

What it does, in order (one server at a time, so that none competes for the CPUs):

  1. starts a fresh release `atelier server`; trains and registers the scikit-learn example's
     model (examples/sklearn: a job in a uv environment with mlflow 3.17.2 and scikit-learn);
  2. serves it with the example's scoring script (examples/sklearn/endpoint/blue.yml), with one
     instance and then with two, and drives each with the compiled load generator;
  3. serves the same model with `mlflow models serve` (its default single worker), from the
     very environment the job trained it in, and drives it with the same load generator (the
     same two rows, in MLflow's dataframe_split format);
  4. deploys a small ONNX graph (built with the onnx package through `uv run`) and drives it;
  5. starts `loadgen constant-server`, a bare axum server that answers a constant, and drives
     it: the ceiling of any HTTP router here.

Every load: N keep-alive connections (default 16) sending back to back, 2 s of warm-up, then
the measured window. Results go to bench/results/endpoints-<time>.json. A script, not a test.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sklearn"

MAKE_ONNX = """
import sys
from onnx import TensorProto, helper, save
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["z"]),
     helper.make_node("Relu", ["z"], ["y"])],
    "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    initializer=[helper.make_tensor("W", TensorProto.FLOAT, [4, 3], [0.1 * i for i in range(12)]),
                 helper.make_tensor("b", TensorProto.FLOAT, [3], [0.0, 0.5, -0.5])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
save(model, sys.argv[1])
"""


def free_port() -> int:
    return 20_000 + random.randint(0, 20_000)


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def load(loadgen: str, url: str, path: str, body: Path, clients: int, duration: float,
         token: str = "", headers: tuple[str, ...] = ()) -> dict:
    command = [loadgen, "--url", url, "--token", token, "post", "--path", path, "--body-file", str(body),
               "--clients", str(clients), "--warmup", "2", "--duration", str(duration)]
    for header in headers:
        command += ["--header", header]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    if report["failures"]:
        raise RuntimeError(f"{path}: {report['failures']} failed requests: {report['errors'][:3]}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=str(ROOT / "target" / "release" / "atelier"))
    parser.add_argument("--loadgen", default=str(ROOT / "target" / "release" / "loadgen"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="atelier-endpoints-bench."))
    home = work / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([args.server, "server", "--addr", f"127.0.0.1:{port}", "--home", str(home)],
                              stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "wb"))
    results: dict = {"clients": args.clients, "duration_s": args.duration, "cpus": os.cpu_count()}
    mlflow_server = constant = None
    try:
        wait_http(f"{url}/healthz")
        token = (home / "token").read_text().strip()
        env = {**os.environ, "ATELIER_URL": url, "ATELIER_TOKEN": token, "ATELIER_HOME": str(home)}

        def cli(*words: str, timeout: float = 900) -> str:
            done = subprocess.run([args.server, *words], env=env, capture_output=True, text=True, timeout=timeout)
            if done.returncode != 0:
                raise RuntimeError(f"atelier {' '.join(words)}: {done.stderr}")
            return done.stdout

        # 1. The model, trained and registered by the jobs example.
        example = work / "sklearn"
        shutil.copytree(EXAMPLE, example)
        cli("data", "create", "-f", str(example / "data.yml"))
        cli("environment", "create", "-f", str(example / "environment.yml"))
        trained = cli("job", "create", "-f", str(example / "job.yml"), "--stream")
        if "Status: Completed" not in trained:
            raise RuntimeError(trained)
        endpoint_dir = example / "endpoint"
        cli("online-endpoint", "create", "-f", str(endpoint_dir / "endpoint.yml"))
        key = json.loads(cli("online-endpoint", "get-credentials", "-n", "iris-ep", "-o", "json"))["primaryKey"]
        request = endpoint_dir / "sample-request.json"

        # 2. Atelier with the scoring script: one instance, then two (one per CPU here).
        settings = ("--set", "request_settings.max_concurrent_requests_per_instance=2",
                    "--set", "request_settings.max_queue_wait_ms=5000")
        cli("online-deployment", "create", "-f", str(endpoint_dir / "blue.yml"), "--all-traffic", *settings)
        answer = requests.post(f"{url}/endpoints/iris-ep/score", data=request.read_bytes(),
                               headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert answer.status_code == 200 and answer.json() == [0, 2], answer.text
        results["atelier_script_1"] = load(args.loadgen, url, "/endpoints/iris-ep/score", request,
                                           args.clients, args.duration, token=key)
        cli("online-deployment", "update", "-n", "blue", "-e", "iris-ep", "--set", "instance_count=2")
        results["atelier_script_2"] = load(args.loadgen, url, "/endpoints/iris-ep/score", request,
                                           args.clients, args.duration, token=key)
        cli("online-deployment", "update", "-n", "blue", "-e", "iris-ep", "--set", "instance_count=1")

        # 3. The same model with `mlflow models serve`, from the environment that trained it.
        [mlflow_bin] = [path for path in glob.glob(str(home / "envs" / "*" / "bin" / "mlflow"))]
        python = str(Path(mlflow_bin).parent / "python")
        model_dir = work / "model"
        fetch = (f"import mlflow; print(mlflow.artifacts.download_artifacts('models:/iris-model/1', "
                 f"dst_path='{model_dir}'))")
        fetched = subprocess.run([python, "-c", fetch], check=True, capture_output=True, text=True,
                                 env={**env, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token})
        local_model = fetched.stdout.strip().splitlines()[-1]
        mlflow_port = free_port()
        mlflow_server = subprocess.Popen(
            [mlflow_bin, "models", "serve", "-m", local_model, "--env-manager", "local", "--host", "127.0.0.1",
             "--port", str(mlflow_port)],
            stdout=subprocess.DEVNULL, stderr=open(work / "mlflow.log", "wb"), start_new_session=True,
            # It starts uvicorn by name: the environment's bin folder comes first on PATH.
            env={**os.environ, "PATH": f"{Path(mlflow_bin).parent}:{os.environ.get('PATH', '')}"})
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        wait_http(f"{mlflow_url}/ping")
        rows = json.loads(request.read_text())["data"]
        columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        mlflow_request = work / "mlflow-request.json"
        mlflow_request.write_text(json.dumps({"dataframe_split": {"columns": columns, "data": rows}}))
        answer = requests.post(f"{mlflow_url}/invocations", data=mlflow_request.read_bytes(),
                               headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["predictions"] == [0, 2], answer.text
        results["mlflow_models_serve"] = load(args.loadgen, mlflow_url, "/invocations", mlflow_request,
                                              args.clients, args.duration)
        os.killpg(mlflow_server.pid, signal.SIGTERM)
        mlflow_server.wait(timeout=30)
        mlflow_server = None

        # 4. ONNX in process.
        onnx_file = work / "tiny.onnx"
        subprocess.run(["uv", "run", "--no-project", "--quiet", "--with", "onnx==1.23.2", "python", "-c", MAKE_ONNX,
                        str(onnx_file)], check=True)
        cli("model", "create", "--name", "bench-onnx", "--path", str(onnx_file), "--type", "custom_model")
        (work / "onnx-ep.yml").write_text("name: onnx-ep\nauth_mode: key\n")
        cli("online-endpoint", "create", "-f", str(work / "onnx-ep.yml"))
        (work / "onnx.yml").write_text(
            "name: native\nendpoint_name: onnx-ep\nmodel: azureml:bench-onnx:1\ninstance_count: 1\n"
            "request_settings:\n  max_concurrent_requests_per_instance: 64\n")
        cli("online-deployment", "create", "-f", str(work / "onnx.yml"), "--all-traffic")
        onnx_key = json.loads(cli("online-endpoint", "get-credentials", "-n", "onnx-ep", "-o", "json"))["primaryKey"]
        onnx_request = work / "onnx-request.json"
        onnx_request.write_text(json.dumps({"input_data": rows}))
        answer = requests.post(f"{url}/endpoints/onnx-ep/score", data=onnx_request.read_bytes(),
                               headers={"Authorization": f"Bearer {onnx_key}"}, timeout=30)
        assert answer.status_code == 200 and len(answer.json()["y"]) == 2, answer.text
        results["atelier_onnx"] = load(args.loadgen, url, "/endpoints/onnx-ep/score", onnx_request,
                                       args.clients, args.duration, token=onnx_key)

        # 5. The ceiling: a bare axum server answering a constant.
        constant_port = free_port()
        constant_url = f"http://127.0.0.1:{constant_port}"
        constant = subprocess.Popen([args.loadgen, "--url", constant_url, "constant-server"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{constant_url}/")
        results["bare_axum_constant"] = load(args.loadgen, constant_url, "/score", onnx_request,
                                             args.clients, args.duration)
    finally:
        for process in (mlflow_server, constant):
            if process is not None:
                process.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    script, script2, peer = results["atelier_script_1"], results["atelier_script_2"], results["mlflow_models_serve"]
    onnx, ceiling = results["atelier_onnx"], results["bare_axum_constant"]
    results["ratios"] = {
        "script_1_vs_mlflow_throughput": round(script["requests_per_s"] / peer["requests_per_s"], 1),
        "script_2_vs_mlflow_throughput": round(script2["requests_per_s"] / peer["requests_per_s"], 1),
        "script_1_p99_share_of_mlflow": round(script["p99_ms"] / peer["p99_ms"], 3),
        "script_2_p99_share_of_mlflow": round(script2["p99_ms"] / peer["p99_ms"], 3),
        "onnx_share_of_bare_axum_throughput": round(onnx["requests_per_s"] / ceiling["requests_per_s"], 3),
    }
    print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}   ({args.clients} connections, {os.cpu_count()} CPUs)")
    for label, report in [("Atelier, script, 1 instance", script), ("Atelier, script, 2 instances", script2),
                          ("mlflow models serve (1 worker)", peer), ("Atelier, ONNX in process", onnx),
                          ("bare axum, constant answer", ceiling)]:
        print(f"{label:34} {report['requests_per_s']:>9.0f} {report['p50_ms']:>8.2f} {report['p99_ms']:>8.2f}")
    print(json.dumps(results["ratios"], indent=2))
    out = ROOT / "bench" / "results" / f"endpoints-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
