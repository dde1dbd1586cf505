"""Online endpoints end to end: the CLI, the scoring route, real scoring-host workers.

Scoring scripts here run in the built-in environment (the machine's Python) unless a test
needs a model's packages; the scikit-learn example trains, registers and serves a real model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from e2e_util import REPO_ROOT
from test_jobs import own  # noqa: F401  (a fixture)

pytestmark = pytest.mark.atelier_only

EXAMPLES = REPO_ROOT / "examples"


def write_deployment(folder: Path, name: str, endpoint: str, score: str, extra: str = "") -> Path:
    """A deployment file with a scoring script of its own, in the built-in environment."""
    code = folder / f"code-{name}"
    code.mkdir(parents=True, exist_ok=True)
    (code / "score.py").write_text(textwrap.dedent(score))
    path = folder / f"{name}.yml"
    path.write_text(
        f"name: {name}\nendpoint_name: {endpoint}\n"
        f"code_configuration:\n  code: ./code-{name}\n  scoring_script: score.py\n"
        f"instance_type: Standard_DS3_v2\ninstance_count: 1\n" + textwrap.dedent(extra)
    )
    return path


ECHO = """
    import json, os, re, time
    def init():
        global tag
        tag = os.environ.get("TAG", "none")
        print("init done", flush=True)
    def run(raw_data):
        data = json.loads(raw_data)
        if data.get("raise"):
            raise ValueError("asked to raise")
        if data.get("sleep"):
            time.sleep(data["sleep"])
        if data.get("hang"):
            # Regular-expression matching holds the GIL: no thread of the worker answers
            # anything until it ends, and this one takes longer than any test.
            re.match(r"(a|aa)+$", "a" * 64 + "b")
        return {"tag": tag, "echo": data.get("x")}
"""


def endpoint(cli, folder: Path, name: str, auth_mode: str = "key") -> dict:
    path = folder / f"{name}.endpoint.yml"
    path.write_text(f"name: {name}\nauth_mode: {auth_mode}\n")
    return cli.json("online-endpoint", "create", "-f", str(path), "-o", "json")


def key_of(cli, name: str, which: str = "primaryKey") -> str:
    return cli.json("online-endpoint", "get-credentials", "-n", name, "-o", "json")[which]


def score(uri: str, key: str | None, body, deployment: str | None = None, raw: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(uri, data=data, headers=headers, timeout=30)


def deployment_of(http, srv, endpoint_name: str, name: str) -> dict:
    response = http.get(f"{srv.url}/api/v1/workspaces/default/online-endpoints/{endpoint_name}/deployments/{name}")
    response.raise_for_status()
    return response.json()


def logs_of(cli, endpoint_name: str, name: str, container: str = "inference-server") -> str:
    return cli("online-deployment", "get-logs", "-e", endpoint_name, "-n", name, "-c", container).stdout


def worker_pids(srv) -> list[int]:
    """The scoring-host processes of one server: the Python processes, not the confinement
    (`unshare`, `atelier sandbox`) that starts each of them."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            program = Path(command.split("\0", 1)[0]).name
            if program.startswith("python") and "atelier_scoring_host.py" in command and str(srv.home) in command:
                pids.append(int(entry.name))
    return pids


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_the_scikit_learn_model_served_with_a_script_and_without_one(own, tmp_path):
    srv, cli, http = own
    folder = tmp_path / "sklearn"
    shutil.copytree(EXAMPLES / "sklearn", folder)
    cli("data", "create", "-f", str(folder / "data.yml"))
    cli("environment", "create", "-f", str(folder / "environment.yml"))
    trained = cli("job", "create", "-f", str(folder / "job.yml"), "--stream", timeout=600)
    assert "Status: Completed" in trained.stdout, trained.stdout

    ep = folder / "endpoint"
    created = cli.json("online-endpoint", "create", "-f", str(ep / "endpoint.yml"), "-o", "json")
    assert created["auth_mode"] == "key" and created["scoring_uri"].endswith("/endpoints/iris-ep/score")
    blue = cli.json("online-deployment", "create", "-f", str(ep / "blue.yml"), "--all-traffic", "-o", "json",
                    timeout=600)
    assert blue["provisioning_state"] == "Succeeded" and blue["model"] == "azureml:iris-model:1", blue

    # Through the CLI, as `az ml online-endpoint invoke`.
    invoked = cli("online-endpoint", "invoke", "-n", "iris-ep", "--request-file", str(ep / "sample-request.json"))
    assert json.loads(invoked.stdout) == [0, 2]
    # Through plain HTTP with the key.
    key = key_of(cli, "iris-ep")
    answer = score(created["scoring_uri"], key, json.loads((ep / "sample-request.json").read_text()))
    assert answer.status_code == 200 and answer.json() == [0, 2]
    assert answer.headers["azureml-model-deployment"] == "blue" and answer.headers["x-request-id"]
    assert "model loaded" in logs_of(cli, "iris-ep", "blue"), "the script's own logging reaches get-logs"

    # Green, blue's twin (same model, script and request), rolls out: mirrored first, then live.
    cli("online-deployment", "create", "-f", str(ep / "green.yml"), timeout=600)
    body = json.loads((ep / "sample-request.json").read_text())
    assert score(created["scoring_uri"], key, body, deployment="green").json() == [0, 2]
    cli("online-endpoint", "update", "-n", "iris-ep", "--mirror-traffic", "green=10")
    cli("online-endpoint", "update", "-n", "iris-ep", "--mirror-traffic", "green=0", "--traffic", "blue=90 green=10")
    answered = [score(created["scoring_uri"], key, body) for _ in range(40)]
    assert all(answer.status_code == 200 and answer.json() == [0, 2] for answer in answered), [
        (answer.status_code, answer.text) for answer in answered if answer.status_code != 200]

    # The MLflow model without a script or environment, on its own endpoint: built from its
    # own requirements.
    no_code = folder / "mlflow-endpoint"
    mlflow_ep = cli.json("online-endpoint", "create", "-f", str(no_code / "endpoint.yml"), "-o", "json")
    pyfunc = cli.json("online-deployment", "create", "-f", str(no_code / "deployment.yml"), "--all-traffic",
                      "-o", "json", timeout=600)
    assert pyfunc["provisioning_state"] == "Succeeded" and pyfunc["plan"]["serving"] == "mlflow", pyfunc
    assert pyfunc["plan"]["environment"]["name"] == "mlflow-model:iris-model:1"
    mlflow_key = key_of(cli, "iris-mlflow-ep")
    mlflow_body = json.loads((no_code / "sample-request.json").read_text())
    answer = score(mlflow_ep["scoring_uri"], mlflow_key, mlflow_body)
    assert answer.status_code == 200, answer.text
    assert [int(value) for value in answer.json()] == [0, 2]
    # MLflow's own serving format works too.
    split = {"dataframe_split": mlflow_body["input_data"]}
    assert score(mlflow_ep["scoring_uri"], mlflow_key, split).status_code == 200
    # An unreadable body for the no-code host is the model's 400, passed on as Azure's 424.
    bad = score(mlflow_ep["scoring_uri"], mlflow_key, {"rows": []})
    assert bad.status_code == 424 and bad.headers["ms-azureml-model-error-statuscode"] == "400"
    assert "input_data" in bad.text

    # The model knows where it is deployed.
    where = http.get(f"{srv.url}/api/v1/workspaces/default/models/iris-model/deployments").json()
    assert sorted((item["endpoint_name"], item["name"]) for item in where) == [
        ("iris-ep", "blue"), ("iris-ep", "green"), ("iris-mlflow-ep", "pyfunc")]


def test_keys_tokens_and_the_front_ends_status_codes(own, tmp_path):
    srv, cli, http = own
    ep = endpoint(cli, tmp_path, "codes-ep")
    uri = ep["scoring_uri"]
    cli("online-deployment", "create", "-f",
        str(write_deployment(tmp_path, "blue", "codes-ep", ECHO, "request_settings:\n  request_timeout_ms: 1500\n")),
        "--all-traffic")
    primary, secondary = key_of(cli, "codes-ep"), key_of(cli, "codes-ep", "secondaryKey")

    ok = score(uri, primary, {"x": 1})
    assert ok.status_code == 200 and ok.json() == {"tag": "none", "echo": 1}
    assert score(uri, secondary, {"x": 2}).json()["echo"] == 2, "the secondary key works too"

    missing = score(uri, None, {"x": 1})
    assert missing.status_code == 401 and "Authorization" in missing.json()["error"]["message"]
    assert missing.headers["x-request-id"]
    wrong = score(uri, "not-a-key", {"x": 1})
    assert wrong.status_code == 401 and "not a key" in wrong.json()["error"]["message"]
    assert score(uri, srv.token, {"x": 1}).status_code == 401, "a user's API token is not an endpoint key"

    cli("online-endpoint", "regenerate-keys", "-n", "codes-ep", "--key-type", "primary")
    assert score(uri, primary, {"x": 1}).status_code == 401, "a regenerated key stops working at once"
    assert score(uri, key_of(cli, "codes-ep"), {"x": 1}).status_code == 200
    assert score(uri, secondary, {"x": 1}).status_code == 200, "the other key is untouched"
    primary = key_of(cli, "codes-ep")

    unknown = score(uri, primary, {"x": 1}, deployment="purple")
    assert unknown.status_code == 404
    assert "no deployment 'purple'" in unknown.json()["error"]["message"] and "blue" in unknown.json()["error"]["message"]
    assert score(srv.url + "/endpoints/nowhere-ep/score", primary, {}).status_code == 404

    malformed = score(uri, primary, None, raw=b"{not json")
    assert malformed.status_code == 424 and malformed.headers["ms-azureml-model-error-statuscode"] == "500"
    assert "JSONDecodeError" in malformed.text
    raised = score(uri, primary, {"raise": True})
    assert raised.status_code == 424 and "ValueError: asked to raise" in raised.text
    assert "asked to raise" in logs_of(cli, "codes-ep", "blue"), "the traceback is in the worker's log"

    hung = score(uri, primary, {"sleep": 5})
    assert hung.status_code == 408 and "request_timeout_ms" in hung.json()["error"]["message"]
    assert score(uri, primary, {"x": 3}).status_code == 200, "the endpoint serves on after a timeout"

    too_big = score(uri, primary, None, raw=b'{"x": "' + b"a" * (6 << 20) + b'"}')
    assert too_big.status_code == 413 and too_big.headers["x-request-id"]

    # Requests are logged with their status and id, bodies are not.
    requests_log = logs_of(cli, "codes-ep", "blue", "requests")
    records = [json.loads(line) for line in requests_log.splitlines()]
    assert {"status": 408, "deployment": "blue"}.items() <= records[-2].items()
    assert ok.headers["x-request-id"] in requests_log and "asked to raise" not in requests_log

    metrics = http.get(f"{srv.url}/metrics").text
    assert 'atelier_endpoint_requests_total{endpoint="codes-ep",deployment="blue",status="200"}' in metrics
    assert 'atelier_endpoint_requests_total{endpoint="codes-ep",deployment="",status="401"} 4' in metrics
    assert 'atelier_endpoint_instances_ready{endpoint="codes-ep",deployment="blue"} 1' in metrics
    assert requests.get(f"{srv.url}/metrics", timeout=10).status_code == 401, "metrics need a signed-in caller"

    # With data collection switched on, the request log keeps the bodies too.
    collect = write_deployment(tmp_path, "collect", "codes-ep", ECHO,
                               "data_collector:\n  collections:\n    request:\n      enabled: true\n"
                               "    response:\n      enabled: 'true'\n")
    cli("online-deployment", "create", "-f", str(collect))
    assert score(uri, primary, {"x": "payload-42"}, deployment="collect").status_code == 200
    record = json.loads(logs_of(cli, "codes-ep", "collect", "requests").splitlines()[-1])
    assert "payload-42" in record["request"] and '"echo": "payload-42"' in record["response"]

    # aml_token endpoints: tokens from get-credentials, which expire; no keys.
    token_ep = endpoint(cli, tmp_path, "token-ep", auth_mode="aml_token")
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "only", "token-ep", ECHO)), "--all-traffic")
    credentials = cli.json("online-endpoint", "get-credentials", "-n", "token-ep", "-o", "json")
    assert credentials["tokenType"] == "Bearer" and credentials["expiryTimeUtc"] > time.time() * 1000
    assert score(token_ep["scoring_uri"], credentials["accessToken"], {"x": 9}).json()["echo"] == 9
    assert score(token_ep["scoring_uri"], credentials["accessToken"][:-4] + "AAAA", {"x": 9}).status_code == 401
    assert score(uri, credentials["accessToken"], {"x": 9}).status_code == 401, "a token is for its own endpoint"
    refused = cli("online-endpoint", "regenerate-keys", "-n", "token-ep", check=False)
    assert refused.returncode != 0 and "aml_token" in refused.stderr


def test_a_deployment_whose_init_fails_leaves_the_old_one_serving(own, tmp_path):
    srv, cli, http = own
    ep = endpoint(cli, tmp_path, "init-ep")
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "blue", "init-ep", ECHO)), "--all-traffic")
    key = key_of(cli, "init-ep")
    broken = """
        def init():
            raise RuntimeError("the model file is missing")
        def run(raw_data):
            return "never"
    """
    # A new version of blue whose init() fails: blue keeps serving its old workers.
    update = cli("online-deployment", "update", "-f", str(write_deployment(tmp_path, "blue", "init-ep", broken)),
                 check=False, timeout=120)
    assert update.returncode != 0 and "init() failed" in update.stderr, update.stderr
    blue = deployment_of(http, srv, "init-ep", "blue")
    assert blue["provisioning_state"] == "Failed" and "init() failed" in blue["error"]
    assert "the model file is missing" in logs_of(cli, "init-ep", "blue")
    assert score(ep["scoring_uri"], key, {"x": 1}).json() == {"tag": "none", "echo": 1}

    # A new deployment whose init() fails never takes requests.
    red = cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "red", "init-ep", broken)),
              check=False, timeout=120)
    assert red.returncode != 0 and "failed" in red.stderr
    assert deployment_of(http, srv, "init-ep", "red")["provisioning_state"] == "Failed"
    assert score(ep["scoring_uri"], key, {"x": 2}, deployment="red").status_code == 503
    assert score(ep["scoring_uri"], key, {"x": 3}).status_code == 200

    # A deployment with traffic cannot be deleted; one without can.
    refused = cli("online-deployment", "delete", "-e", "init-ep", "-n", "blue", check=False)
    assert refused.returncode != 0 and "traffic" in refused.stderr
    cli("online-deployment", "delete", "-e", "init-ep", "-n", "red")
    listed = cli.json("online-deployment", "list", "-e", "init-ep", "-o", "json")
    assert [item["name"] for item in listed] == ["blue"]

    # Deleting the endpoint stops its workers and its scoring URL.
    assert len(worker_pids(srv)) == 1
    cli("online-endpoint", "delete", "-n", "init-ep", "--yes")
    wait_until(lambda: not worker_pids(srv), what="the workers to stop")
    assert score(ep["scoring_uri"], key, {"x": 4}).status_code == 404


def test_blue_green_traffic_mirror_and_rollouts_lose_no_request(own, tmp_path):
    srv, cli, http = own
    ep = endpoint(cli, tmp_path, "bg-ep")
    uri = ep["scoring_uri"]
    blue_file = write_deployment(tmp_path, "blue", "bg-ep", ECHO,
                                 "environment_variables:\n  TAG: blue\nrequest_settings:\n"
                                 "  max_concurrent_requests_per_instance: 4\n  max_queue_wait_ms: 5000\n")
    cli("online-deployment", "create", "-f", str(blue_file), "--all-traffic")
    green_file = write_deployment(tmp_path, "green", "bg-ep", ECHO,
                                  "environment_variables:\n  TAG: green\nrequest_settings:\n"
                                  "  max_concurrent_requests_per_instance: 4\n  max_queue_wait_ms: 5000\n")
    cli("online-deployment", "create", "-f", str(green_file))
    key = key_of(cli, "bg-ep")
    assert score(uri, key, {"x": 1}, deployment="green").json()["tag"] == "green", "a 0% deployment by header"

    # Canary: 70/30, checked statistically (400 draws; 30% ± 4.5 standard deviations).
    shown = cli.json("online-endpoint", "update", "-n", "bg-ep", "--traffic", "blue=70 green=30", "-o", "json")
    assert shown["traffic"] == {"blue": 70, "green": 30}
    tags = Counter(score(uri, key, {"x": index}).json()["tag"] for index in range(400))
    assert set(tags) == {"blue", "green"} and 79 <= tags["green"] <= 161, tags

    refused = cli("online-endpoint", "update", "-n", "bg-ep", "--traffic", "blue=70 green=20", check=False)
    assert refused.returncode != 0 and "sum to 90" in refused.stderr
    refused = cli("online-endpoint", "update", "-n", "bg-ep", "--traffic", "blue=50 purple=50", check=False)
    assert refused.returncode != 0 and "no deployment 'purple'" in refused.stderr

    # Shadow: all live traffic to blue, half of it copied to green, whose answers are dropped.
    cli("online-endpoint", "update", "-n", "bg-ep", "--traffic", "blue=100 green=0", "--mirror-traffic", "green=50")
    answers = Counter(score(uri, key, {"x": index}).json()["tag"] for index in range(200))
    assert answers == {"blue": 200}

    def mirrored():
        lines = logs_of(cli, "bg-ep", "green", "requests").splitlines()
        return sum(1 for line in lines if json.loads(line)["mirrored"])

    copies = wait_until(lambda: mirrored() >= 60 and mirrored(), what="mirrored requests")
    assert 60 <= copies <= 140, copies
    refused = cli("online-endpoint", "update", "-n", "bg-ep", "--mirror-traffic", "blue=10", check=False)
    assert refused.returncode != 0 and "live or mirrored" in refused.stderr
    cli("online-endpoint", "update", "-n", "bg-ep", "--mirror-traffic", "green=0")

    # Load through a rollout of blue, a scale-up, and the cut-over to green: nothing fails.
    failures: list[str] = []
    seen: Counter = Counter()
    stop = threading.Event()

    def load():
        session = requests.Session()
        while not stop.is_set():
            response = session.post(uri, json={"x": 1}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
            else:
                seen[response.json()["tag"]] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        blue2 = blue_file.read_text().replace("TAG: blue", "TAG: blue2")
        blue_file.write_text(blue2)
        updated = cli.json("online-deployment", "update", "-f", str(blue_file), "-o", "json", timeout=120)
        assert updated["generation"] == 2 and updated["provisioning_state"] == "Succeeded"
        wait_until(lambda: seen["blue2"] > 20, what="the new generation to serve")
        scaled = cli.json("online-deployment", "update", "-n", "blue", "-e", "bg-ep", "--set", "instance_count=2",
                          "-o", "json", timeout=120)
        assert scaled["live"]["ready_instances"] == 2 and scaled["instance_count"] == 2
        cli("online-endpoint", "update", "-n", "bg-ep", "--traffic", "blue=0 green=100")
        before = seen["green"]
        wait_until(lambda: seen["green"] > before + 50, what="green to take the traffic")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures[:5]
    assert seen["blue"] > 0 and seen["blue2"] > 0 and seen["green"] > 0, seen
    cli("online-deployment", "delete", "-e", "bg-ep", "-n", "blue")
    assert score(uri, key, {"x": 1}).json()["tag"] == "green"


def test_workers_are_restarted_and_deployments_survive_a_server_restart(own, tmp_path):
    srv, cli, http = own
    ep = endpoint(cli, tmp_path, "life-ep")
    probes = "liveness_probe:\n  initial_delay: 1\n  period: 1\n  timeout: 1\n  failure_threshold: 2\n"
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "blue", "life-ep", ECHO, probes)),
        "--all-traffic")
    key = key_of(cli, "life-ep")
    uri = ep["scoring_uri"]

    # A crashed worker is started again.
    [pid] = worker_pids(srv)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: score(uri, key, {"x": 1}).status_code == 200 and deployment_of(
        http, srv, "life-ep", "blue")["live"]["worker_restarts"] >= 1, what="a restarted worker")
    [restarted] = worker_pids(srv)
    assert restarted != pid

    # A hung worker (it holds the GIL, so it answers no probe) fails liveness and is replaced;
    # the request it held fails cleanly.
    hung = score(uri, key, {"hang": True})
    assert hung.status_code in (408, 502), hung.text
    wait_until(lambda: score(uri, key, {"x": 2}).status_code == 200 and restarted not in worker_pids(srv),
               what="the hung worker to be replaced")
    assert "liveness probes" in logs_of(cli, "life-ep", "blue")

    # kill -9 of the server: its workers go with it, and the restarted server brings the
    # deployment back with the same keys.
    srv.kill()
    wait_until(lambda: not worker_pids(srv), what="the workers to end with the server")
    srv.keep_port = True
    srv.start()
    answer = wait_until(lambda: (r := score(uri, key, {"x": 5})).status_code == 200 and r, what="serving again")
    assert answer.json() == {"tag": "none", "echo": 5}
    assert len(worker_pids(srv)) == 1


def tiny_onnx_model(path: Path):
    """relu(x · W + b) for x of shape [N, 2], built with the onnx package; returns (W, b)."""
    from onnx import TensorProto, helper, save

    weights = [[1.0, -1.0], [0.5, 2.0]]
    bias = [0.0, 0.1]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z"]),
            helper.make_node("Relu", ["z"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[
            helper.make_tensor("W", TensorProto.FLOAT, [2, 2], [value for row in weights for value in row]),
            helper.make_tensor("b", TensorProto.FLOAT, [2], bias),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save(model, str(path))
    return weights, bias


def test_an_onnx_model_is_served_in_process_without_python(own, tmp_path):
    srv, cli, http = own
    weights, bias = tiny_onnx_model(tmp_path / "tiny.onnx")
    cli("model", "create", "--name", "tiny-onnx", "--path", str(tmp_path / "tiny.onnx"), "--type", "custom_model")
    ep = endpoint(cli, tmp_path, "onnx-ep")
    deployment = tmp_path / "onnx.yml"
    deployment.write_text("name: native\nendpoint_name: onnx-ep\nmodel: azureml:tiny-onnx:1\n"
                          "instance_type: Standard_DS3_v2\ninstance_count: 1\n")
    created = cli.json("online-deployment", "create", "-f", str(deployment), "--all-traffic", "-o", "json")
    assert created["provisioning_state"] == "Succeeded" and created["plan"]["serving"] == "onnx", created
    key = key_of(cli, "onnx-ep")

    rows = [[1.0, 2.0], [3.0, -4.0], [0.0, 0.0]]
    expected = [
        [max(0.0, sum(row[k] * weights[k][j] for k in range(2)) + bias[j]) for j in range(2)] for row in rows
    ]
    for body in ({"input_data": rows}, {"inputs": {"x": rows}}, rows):
        answer = score(ep["scoring_uri"], key, body)
        assert answer.status_code == 200, answer.text
        got = answer.json()["y"]
        assert [len(row) for row in got] == [2, 2, 2]
        assert [value for row in got for value in row] == pytest.approx(
            [value for row in expected for value in row], abs=1e-5)
    assert not worker_pids(srv), "no worker process: the model runs in the server"

    wrong_shape = score(ep["scoring_uri"], key, {"input_data": [[1.0, 2.0, 3.0]]})
    assert wrong_shape.status_code == 424 and wrong_shape.headers["ms-azureml-model-error-statuscode"] == "400"
    ragged = score(ep["scoring_uri"], key, {"input_data": [[1.0], [2.0, 3.0]]})
    assert ragged.status_code == 424 and "ragged" in ragged.text
    words = score(ep["scoring_uri"], key, {"input_data": [["a", "b"]]})
    assert words.status_code == 424 and "not a string" in words.text
    refused = tmp_path / "onnx-env.yml"
    refused.write_text(deployment.read_text().replace("name: native", "name: withenv")
                       + "environment: azureml:anything:1\n")
    failed = cli("online-deployment", "create", "-f", str(refused), check=False)
    assert failed.returncode != 0 and "takes no environment" in failed.stderr


def test_roles_decide_who_manages_endpoints_and_reads_keys(own, tmp_path):
    srv, cli, http = own
    ep = endpoint(cli, tmp_path, "roles-ep")
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "blue", "roles-ep", ECHO)), "--all-traffic")
    tokens = {}
    for name, role in (("reader1", "Reader"), ("contrib1", "Contributor")):
        cli("user", "create", name, "--password", "a-long-password")
        tokens[name] = cli.json("token", "create", "--user", name, "-o", "json")["token"]
        cli("role", "assign", "--user", name, "--role", role, "--workspace", "default")
    base = f"{srv.url}/api/v1/workspaces/default/online-endpoints"

    def as_user(name, method, path, **kwargs):
        return requests.request(method, base + path, headers={"Authorization": f"Bearer {tokens[name]}"},
                                timeout=30, **kwargs)

    # A Reader sees endpoints and deployments, but not the keys, and changes nothing.
    assert as_user("reader1", "GET", "/roles-ep").json()["scoring_uri"] == ep["scoring_uri"]
    assert [d["name"] for d in as_user("reader1", "GET", "/roles-ep/deployments").json()] == ["blue"]
    for method, path, body in (("POST", "/roles-ep/get-credentials", {}),
                               ("POST", "/roles-ep/regenerate-keys", {"key_type": "primary"}),
                               ("PATCH", "/roles-ep", {"traffic": {"blue": 0}}),
                               ("POST", "", {"yaml": "name: reader-ep\n"}),
                               ("DELETE", "/roles-ep", None)):
        refused = as_user("reader1", method, path, json=body)
        assert refused.status_code == 403, (method, path, refused.text)
    # A Contributor reads the keys and manages endpoints.
    keys = as_user("contrib1", "POST", "/roles-ep/get-credentials", json={}).json()
    assert score(ep["scoring_uri"], keys["primaryKey"], {"x": 1}).status_code == 200
    assert as_user("contrib1", "POST", "", json={"yaml": "name: contrib-ep\n"}).status_code == 200
    assert as_user("contrib1", "DELETE", "/contrib-ep").status_code == 200
