"""Jobs: command jobs from Azure ML YAML, run by the job runtime on the local compute.

Each test that runs jobs uses a server of its own (its own jobs folder and queue)."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import CONFIG, Cli

pytestmark = pytest.mark.atelier_only


@pytest.fixture
def own(make_server, tmp_path, monkeypatch):
    """A fresh server of its own (2 CPUs for jobs), with a CLI, an authenticated session, and
    the mlflow client pointed at it."""
    import mlflow

    srv = make_server()
    srv.extra_args = ["--local-cpus", "2", "--cancel-grace-seconds", "2"]
    srv.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", srv.token)
    mlflow.set_tracking_uri(srv.url)
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {srv.token}"
    yield srv, cli, http
    srv.kill()


def write_job(folder: Path, yaml: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    job = folder / "job.yml"
    job.write_text(textwrap.dedent(yaml))
    return job


def job_of(http, srv, name):
    response = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(http, srv, name, statuses, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_of(http, srv, name)
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {name} did not reach {statuses} in {timeout}s: {job_of(http, srv, name)}\n{srv.log_tail()}")


def full_log(http, srv, name, file="user_logs/std_log.txt"):
    response = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/logs", params={"file": file})
    assert response.status_code == 200, response.text
    return response.json()["text"]


HELLO = """\
    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    type: command
    display_name: hello
    code: src
    command: >-
      python3 hello.py --greeting ${{inputs.greeting}}
      $[[--extra ${{inputs.extra}}]]
      --out ${{outputs.result}}
    inputs:
      greeting: hello
      extra:
        type: uri_file
        optional: true
    outputs:
      result:
        type: uri_folder
        name: hello-result
    environment_variables:
      GREETING_SEEN: "yes"
    """

HELLO_PY = """\
    import os, sys
    import atelier_log
    print("args", sys.argv[1:])
    print("env", os.environ["GREETING_SEEN"], os.environ["MLFLOW_RUN_ID"])
    atelier_log.log_param("greeting", sys.argv[2])
    for step in range(3):
        atelier_log.log_metric("loss", 1.0 / (step + 1), step=step)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/report.txt", "w").write("all good")
    out = sys.argv[sys.argv.index("--out") + 1]
    open(os.path.join(out, "answer.txt"), "w").write("42")
    print("to stderr", file=sys.stderr)
    """


def test_a_job_runs_logs_and_registers_its_output(own, tmp_path):
    srv, cli, http = own
    (tmp_path / "hello" / "src").mkdir(parents=True)
    (tmp_path / "hello" / "src" / "big.bin").write_bytes(b"x" * 1000)
    (tmp_path / "hello" / "src" / ".amlignore").write_text("big.bin\n")
    job_file = write_job(tmp_path / "hello", HELLO, {"src/hello.py": HELLO_PY})

    streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=120)
    assert "args ['--greeting', 'hello', '--out'" in streamed.stdout, streamed.stdout
    assert "Status: Completed" in streamed.stdout
    name = streamed.stdout.split("RunId: ")[1].split()[0]

    job = job_of(http, srv, name)
    assert job["status"] == "Completed" and job["exit_code"] == 0
    assert job["experiment_name"] == "hello", "the experiment defaults to the job file's folder name"
    statuses = [event["status"] for event in job["events"]]
    assert statuses == ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"], statuses
    times = [event["time"] for event in job["events"]]
    assert times == sorted(times)

    log = full_log(http, srv, name)
    assert f"env yes {name}" in log and "to stderr" in log

    # The job's run is an MLflow run named after the job, with what the job logged.
    import mlflow

    run = mlflow.MlflowClient().get_run(name)
    assert run.data.params["greeting"] == "hello"
    history = mlflow.MlflowClient().get_metric_history(name, "loss")
    assert [point.step for point in history] == [0, 1, 2]
    assert run.info.status == "FINISHED"
    assert "system/memory_usage_megabytes" in run.data.metrics, "the runtime samples system metrics"

    # The snapshot honours .amlignore and is browsable.
    files = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/snapshot").json()["files"]
    assert [file["path"] for file in files] == [".amlignore", "hello.py"]

    # Download: artifacts (./outputs, the logs) and the named output.
    target = tmp_path / "download"
    cli("job", "download", "-n", name, "--all", "-p", str(target))
    assert (target / "artifacts" / "outputs" / "report.txt").read_text() == "all good"
    assert "to stderr" in (target / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert (target / "named-outputs" / "result" / "answer.txt").read_text() == "42"

    # The named output was registered as a data asset when the job completed.
    asset = cli.json("data", "show", "-n", "hello-result", "-v", "1", "-o", "json")
    assert asset["path"].endswith(f"/paths/azureml/{name}/result/"), asset
    fetched = tmp_path / "asset"
    cli("data", "download", "-n", "hello-result", "-v", "1", "-p", str(fetched))
    assert any(path.read_text() == "42" for path in fetched.rglob("answer.txt"))

    # A model registered from the job's output, by the job's URI, has the job as its run.
    model = cli.json("model", "create", "-n", "from-job", "--type", "custom_model",
                     "-p", f"azureml://jobs/{name}/outputs/result/paths/answer.txt", "-o", "json")
    assert model["run_id"] == name, model
    cli("model", "download", "-n", "from-job", "-v", "1", "-p", str(tmp_path / "model"))
    assert (tmp_path / "model" / "from-job" / "answer.txt").read_text() == "42"
    artifacts_model = cli.json("model", "create", "-n", "from-artifacts", "--type", "custom_model",
                               "-p", f"azureml://jobs/{name}/outputs/artifacts/paths/outputs", "-o", "json")
    assert artifacts_model["path"] == f"runs:/{name}/outputs"

    # A registered model is an input too, by name and version.
    model_reader = write_job(
        tmp_path / "model-reader",
        """\
        command: cat ${{inputs.model}}
        inputs:
          model:
            type: custom_model
            path: azureml:from-job:1
        """,
    )
    read = cli("job", "create", "-f", str(model_reader), "--name", "reads-a-model", "--stream", timeout=120)
    assert "RunId: reads-a-model" in read.stdout and "42" in read.stdout

    # A later job takes that output as an input, by the job's URI.
    reader = write_job(
        tmp_path / "reader",
        f"""\
        command: cat ${{{{inputs.previous}}}}/answer.txt
        inputs:
          previous:
            type: uri_folder
            path: azureml://jobs/{name}/outputs/result
            mode: download
        """,
    )
    second = cli("job", "create", "-f", str(reader), "--stream", timeout=120)
    assert "42" in second.stdout

    # Archived jobs leave the listing.
    cli("job", "archive", "-n", name)
    listed = [job["name"] for job in cli.json("job", "list", "-o", "json")]
    assert name not in listed
    archived = [job["name"] for job in cli.json("job", "list", "--archived-only", "-o", "json")]
    assert archived == [name]


def test_a_failing_command_fails_the_job_with_its_exit_code_and_last_lines(own, tmp_path):
    srv, cli, http = own
    job_file = write_job(
        tmp_path / "failing",
        """\
        command: 'echo starting; echo "ValueError: the data is wrong" >&2; exit 3'
        """,
    )
    streamed = cli("job", "create", "-f", str(job_file), "--stream", check=False, timeout=120)
    assert streamed.returncode != 0, "job stream's exit code reflects the job's outcome"
    assert "Status: Failed" in streamed.stdout
    name = streamed.stdout.split("RunId: ")[1].split()[0]
    job = job_of(http, srv, name)
    assert job["status"] == "Failed" and job["exit_code"] == 3
    assert "ValueError: the data is wrong" in job["error"], job["error"]
    restream = cli("job", "stream", "-n", name, check=False)
    assert restream.returncode != 0 and "ValueError" in restream.stderr


def test_mistakes_are_reported_before_anything_runs(own, tmp_path):
    srv, cli, http = own
    undefined = write_job(tmp_path / "bad", "command: echo ${{inputs.missing}}\n")
    result = cli("job", "create", "-f", str(undefined), check=False)
    assert result.returncode != 0 and "line 1" in result.stderr and "names no input" in result.stderr

    # The server checks too: an unknown compute names the field and its line.
    yaml = "type: command\ncommand: echo hi\ncompute: azureml:gpu-cluster\n"
    response = http.post(f"{srv.url}/api/v1/workspaces/default/jobs", json={"yaml": yaml})
    assert response.status_code == 400
    assert "line 3" in response.json()["message"] and "gpu-cluster" in response.json()["message"]

    unresolvable = "command: cat ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n    path: azureml:nosuchdata:1\n"
    response = http.post(f"{srv.url}/api/v1/workspaces/default/jobs", json={"yaml": unresolvable})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "line 5: inputs.d.path" in message and "'nosuchdata' does not exist" in message, message
    assert http.get(f"{srv.url}/api/v1/workspaces/default/jobs").json() == [], "nothing was queued"


def test_a_misspelled_reference_is_found_before_the_code_is_uploaded(own, tmp_path):
    srv, cli, http = own
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    cli("data", "create", "-n", "iris-csv", "-t", "uri_file", "-p", str(data))
    job_file = write_job(
        tmp_path / "typo",
        """\
        command: cat ${{inputs.rows}}
        code: src
        inputs:
          rows:
            type: uri_file
            mode: download
            path: azureml:iris-csvx@latest
        """,
        {"src/train.py": "print('never runs')\n"},
    )
    result = cli("job", "create", "-f", str(job_file), check=False)
    assert result.returncode != 0
    assert "line 7: inputs.rows.path" in result.stderr, result.stderr
    assert "data asset 'iris-csvx' does not exist" in result.stderr and "did you mean 'iris-csv'?" in result.stderr
    assert "Uploaded" not in result.stderr, "nothing was uploaded before the check"


def test_a_timeout_cancels_the_job_with_the_reason(own, tmp_path):
    srv, cli, http = own
    job_file = write_job(tmp_path / "slow", "command: echo begun; sleep 60\nlimits:\n  timeout: 2\n")
    created = cli.json("job", "create", "-f", str(job_file), "-o", "json")
    job = wait_for(http, srv, created["name"], {"Completed", "Failed", "Canceled"})
    assert job["status"] == "Canceled"
    assert any("limits.timeout" in (event["message"] or "") for event in job["events"]), job["events"]
    assert "begun" in full_log(http, srv, created["name"]), "the log is kept"


def test_cancel_stops_the_whole_process_tree(own, tmp_path):
    srv, cli, http = own
    marker = f"atelier-cancel-{uuid.uuid4().hex[:8]}"
    job_file = write_job(
        tmp_path / "tree",
        f"command: (sleep 300; echo {marker}) & (sleep 301; echo {marker}) & echo started; wait\n",
    )
    created = cli.json("job", "create", "-f", str(job_file), "-o", "json")
    name = created["name"]
    deadline = time.monotonic() + 60
    while "started" not in full_log(http, srv, name):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    cli("job", "cancel", "-n", name)
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"})
    assert job["status"] == "Canceled"
    assert any(event["status"] == "CancelRequested" for event in job["events"])
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left behind: {left.stdout}"
    assert "started" in full_log(http, srv, name), "the log is kept"


def test_a_queued_job_is_canceled_at_once_and_the_queue_keeps_order(own, tmp_path):
    srv, cli, http = own
    blocker = write_job(tmp_path / "blocker", "command: sleep 30\nresources:\n  cpu: 2\n")
    first = cli.json("job", "create", "-f", str(blocker), "-o", "json")["name"]
    wait_for(http, srv, first, {"Running"})
    waiting = write_job(tmp_path / "waiting", "command: echo waited\n")
    second = cli.json("job", "create", "-f", str(waiting), "-o", "json")["name"]
    time.sleep(1.5)
    assert job_of(http, srv, second)["status"] == "Queued", "no CPU is free"
    computes = cli.json("compute", "show", "-n", "local", "-o", "json")
    assert computes["queued"] == [second] and computes["running"] == [first]
    cli("job", "cancel", "-n", second)
    assert job_of(http, srv, second)["status"] == "Canceled"
    cli("job", "cancel", "-n", first)
    wait_for(http, srv, first, {"Canceled"})


def test_the_job_token_writes_only_its_own_run(own, tmp_path):
    srv, cli, http = own
    other = http.post(f"{srv.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    probe = """\
        import json, os, urllib.request, urllib.error
        base = os.environ["MLFLOW_TRACKING_URI"]
        token = os.environ["MLFLOW_TRACKING_TOKEN"]
        def call(path, body):
            request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
        print("own", call("/api/2.0/mlflow/runs/log-batch", {"run_id": os.environ["MLFLOW_RUN_ID"], "params": [{"key": "k", "value": "v"}]}))
        print("other", call("/api/2.0/mlflow/runs/log-batch", {"run_id": os.environ["OTHER_RUN"], "params": [{"key": "k", "value": "v"}]}))
        print("experiment", call("/api/2.0/mlflow/experiments/create", {"name": "from-a-job"}))
        """
    job_file = write_job(
        tmp_path / "probe",
        f"code: .\ncommand: python3 probe.py\nenvironment_variables:\n  OTHER_RUN: {other}\n",
        {"probe.py": probe},
    )
    streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=120)
    assert "own 200" in streamed.stdout
    assert "other 403" in streamed.stdout
    assert "experiment 403" in streamed.stdout
    name = streamed.stdout.split("RunId: ")[1].split()[0]
    # Only the job's runtime reports for it: not even an administrator may.
    forged = http.post(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/status", json={"status": "Failed"})
    assert forged.status_code == 403, forged.text
    piece = {"file": "user_logs/std_log.txt", "offset": 0, "text": "forged"}
    assert http.post(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/logs", json=piece).status_code == 403
    # After the job, its token is dead.
    token = (srv.home / "jobs" / name / "launch.json")
    assert not token.exists(), "the launch file with the token is removed when the job ends"


def test_killing_the_server_mid_job_loses_nothing(own, tmp_path):
    srv, cli, http = own
    job_file = write_job(
        tmp_path / "survivor",
        "code: .\ncommand: python3 survive.py\n",
        {
            "survive.py": """\
                import os, time
                import atelier_log
                for i in range(1, 9):
                    print(f"line-{i}", flush=True)
                    atelier_log.log_metric("progress", i, step=i)
                    time.sleep(0.5)
                os.makedirs("outputs", exist_ok=True)
                open("outputs/final.txt", "w").write("done")
                """
        },
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while "line-2" not in full_log(http, srv, name):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    srv.kill()
    time.sleep(3)  # the job goes on without the server
    srv.keep_port = True
    srv.start()
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"})
    assert job["status"] == "Completed", job
    log = full_log(http, srv, name)
    assert [line for line in log.splitlines() if line.startswith("line-")] == [f"line-{i}" for i in range(1, 9)], log
    import mlflow

    history = mlflow.MlflowClient().get_metric_history(name, "progress")
    assert sorted(point.step for point in history) == list(range(1, 9)), "metrics logged during the outage arrive"
    assert mlflow.MlflowClient().get_metric_history(name, "system/memory_usage_megabytes"), "system metrics too"
    target = tmp_path / "after"
    cli("job", "download", "-n", name, "-p", str(target))
    assert (target / "artifacts" / "outputs" / "final.txt").read_text() == "done"


def test_priority_goes_first_and_gpus_are_handed_out_one_job_each(make_server, tmp_path, monkeypatch):
    srv = make_server()
    # No GPU on this machine: the server is told it has two, which is what it hands out.
    srv.extra_args = ["--local-cpus", "2", "--local-gpus", "2"]
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {srv.token}"
    try:
        blocker = write_job(tmp_path / "blocker", "command: sleep 3\nresources:\n  cpu: 2\n")
        first = cli.json("job", "create", "-f", str(blocker), "-o", "json")["name"]
        wait_for(http, srv, first, {"Running"})
        # Each takes both CPUs, so they run one after the other, in the queue's order. (Jobs
        # run confined, with a private /tmp: the order is read from their timelines.)
        low = write_job(
            tmp_path / "low",
            "command: echo low\nqueue_settings:\n  priority: low\nresources:\n  cpu: 2\n",
        )
        high = write_job(
            tmp_path / "high",
            "command: echo high\nqueue_settings:\n  priority: high\nresources:\n  cpu: 2\n",
        )
        low_name = cli.json("job", "create", "-f", str(low), "-o", "json")["name"]
        high_name = cli.json("job", "create", "-f", str(high), "-o", "json")["name"]
        for name in (first, low_name, high_name):
            wait_for(http, srv, name, {"Completed"})
        running = {
            name: next(e["time"] for e in job_of(http, srv, name)["events"] if e["status"] == "Running")
            for name in (low_name, high_name)
        }
        finished = next(e["time"] for e in job_of(http, srv, high_name)["events"] if e["status"] == "Completed")
        assert running[high_name] < running[low_name], "the high-priority job, submitted later, ran first"
        assert finished <= running[low_name], "and the low one waited for it"

        gpu_job = write_job(
            tmp_path / "gpu",
            'command: echo "gpus=[$CUDA_VISIBLE_DEVICES]"; sleep 2\nresources:\n  gpu_count: 1\n  cpu: 0.5\n',
        )
        names = [cli.json("job", "create", "-f", str(gpu_job), "-o", "json")["name"] for _ in range(3)]
        seen = []
        for name in names:
            wait_for(http, srv, name, {"Completed"})
            seen.append(full_log(http, srv, name).strip())
        assert sorted(seen[:2]) == ["gpus=[0]", "gpus=[1]"], seen
        assert seen[2] in ("gpus=[0]", "gpus=[1]"), "the third waited for a free GPU"
        starts = [next(e["time"] for e in job_of(http, srv, n)["events"] if e["status"] == "Running") for n in names]
        ends = [next(e["time"] for e in job_of(http, srv, n)["events"] if e["status"] == "Completed") for n in names]
        assert starts[2] >= min(ends[:2]), "no third job ran while both GPUs were taken"
        plain = write_job(tmp_path / "plain", 'command: echo "gpus=[$CUDA_VISIBLE_DEVICES]"\n')
        streamed = cli("job", "create", "-f", str(plain), "--stream", timeout=120)
        assert "gpus=[]" in streamed.stdout, "a job that asks for no GPU sees none"
    finally:
        srv.kill()


def test_a_job_whose_environment_fails_to_build_fails_and_names_the_package(own, tmp_path):
    srv, cli, http = own
    job_file = write_job(
        tmp_path / "badenv",
        """\
        command: echo never
        environment:
          image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
          conda_file: conda.yml
        """,
        {"conda.yml": "dependencies:\n  - python=3.11\n  - pip:\n    - nosuchpkg-atelier-e2e==9.9\n"},
    )
    created = cli.json("job", "create", "-f", str(job_file), "-o", "json")
    assert any("no container runtime" in warning for warning in created["warnings"]), created["warnings"]
    job = wait_for(http, srv, created["name"], {"Completed", "Failed", "Canceled"}, timeout=300)
    assert job["status"] == "Failed" and "nosuchpkg-atelier-e2e" in job["error"], job["error"]
    assert "Running" not in [event["status"] for event in job["events"]], "the command never ran"


def test_fifty_queued_jobs_on_two_cpus(own, tmp_path):
    """None lost, none run twice, never more than two at once."""
    srv, cli, http = own
    # Each job logs when it starts and ends (jobs run confined: they cannot write to the
    # test's folder, so the trace is read from their logs).
    job_file = write_job(
        tmp_path / "many",
        """\
        command: >-
          echo "start $ATELIER_JOB $(date +%s%N)";
          sleep 0.3;
          echo "end $ATELIER_JOB $(date +%s%N)"
        """,
    )
    yaml = job_file.read_text()
    names = []
    for _ in range(50):
        response = http.post(f"{srv.url}/api/v1/workspaces/default/jobs", json={"yaml": yaml, "folder_name": "many"})
        assert response.status_code == 200, response.text
        names.append(response.json()["name"])
    for name in names:
        assert wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=300)["status"] == "Completed"
    events = []
    lines = [line for name in names for line in full_log(http, srv, name).splitlines() if line.strip()]
    for line in lines:
        kind, name, stamp = line.split()
        events.append((int(stamp), 0 if kind == "end" else 1, name))
    starts = [name for _, kind, name in events if kind == 1]
    assert sorted(starts) == sorted(names), "every job ran exactly once"
    running = peak = 0
    for _, kind, _name in sorted(events):
        running += 1 if kind == 1 else -1
        peak = max(peak, running)
    assert peak <= 2, f"{peak} jobs ran at once on a 2-CPU compute"
    first_starts = [name for _, kind, name in sorted(events) if kind == 1]
    assert set(first_starts[:2]) == set(names[:2]), "the first two submitted start first"


def test_an_azure_compute_file_bounds_its_jobs(own, tmp_path):
    srv, cli, http = own
    compute_file = tmp_path / "cluster.yml"
    compute_file.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        "name: cpu-cluster\ntype: amlcompute\nsize: Standard_DS1_v2\nmin_instances: 0\nmax_instances: 1\n"
        "idle_time_before_scale_down: 120\ntier: low_priority\n"
    )
    created = cli.json("compute", "create", "-f", str(compute_file), "-o", "json")
    assert created["max_instances"] == 1 and created["per_job"]["cpus"] == 1
    job_file = write_job(tmp_path / "on-cluster", "command: sleep 2\ncompute: azureml:cpu-cluster\n")
    first = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    second = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    wait_for(http, srv, first, {"Running"})
    time.sleep(1)
    assert job_of(http, srv, second)["status"] == "Queued", "max_instances: 1 runs one job at a time"
    shown = cli.json("compute", "show", "-n", "cpu-cluster", "-o", "json")
    assert shown["running"] == [first] and shown["queued"] == [second]
    assert wait_for(http, srv, second, {"Completed", "Failed"})["status"] == "Completed"
    listed = [job["name"] for job in cli.json("job", "list", "--compute", "azureml:cpu-cluster", "-o", "json")]
    assert sorted(listed) == sorted([first, second])


def test_a_code_snapshot_over_the_limit_is_refused_and_ignored_files_do_not_count(make_server, tmp_path):
    srv = make_server()
    srv.extra_args = ["--max-snapshot-mb", "1"]
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    try:
        folder = tmp_path / "big"
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "train.py").write_text("print('hi')\n")
        (folder / "src" / "data.bin").write_bytes(b"x" * (2 * 1024 * 1024))
        job_file = write_job(folder, "code: src\ncommand: python3 train.py\n")
        refused = cli("job", "create", "-f", str(job_file), check=False)
        assert refused.returncode != 0
        assert "line 1" in refused.stderr and "over this server's limit" in refused.stderr, refused.stderr
        assert ".amlignore" in refused.stderr, "the message says how to leave files out"
        (folder / "src" / ".gitignore").write_text("*.bin\n")
        accepted = cli("job", "create", "-f", str(job_file), "--stream", timeout=120)
        assert "hi" in accepted.stdout
    finally:
        srv.kill()


def test_neither_the_job_nor_its_runtime_sees_the_servers_secrets(make_server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-sentinel")
    srv = make_server()
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    try:
        # The command's parent is the job runtime: neither environment holds the server's secret.
        job_file = write_job(
            tmp_path / "env",
            "command: >-\n  echo own=$(grep -c server-secret-sentinel /proc/$$/environ);\n"
            "  echo runtime=$(grep -c server-secret-sentinel /proc/$PPID/environ)\n",
        )
        streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=120)
        assert "own=0" in streamed.stdout, streamed.stdout
        # Its parent holds none of it, or (a root server's job runs as another user) cannot even
        # be read.
        assert "runtime=0" in streamed.stdout or (
            os.geteuid() == 0 and "environ: Permission denied" in streamed.stdout), streamed.stdout
    finally:
        srv.kill()


def test_cli_tables_show_local_dates_and_short_numbers_and_json_keeps_everything(own, tmp_path):
    srv, cli, http = own
    name = "fmt-" + uuid.uuid4().hex[:8]
    job_file = write_job(
        tmp_path / "fmt",
        """\
        experiment_name: formats
        command: python3 -c "import atelier_log; atelier_log.log_metric('accuracy', 0.987654321)"
        """,
    )
    streamed = cli("job", "create", "-f", str(job_file), "--name", name, "--stream", timeout=120)
    assert "Status: Completed" in streamed.stdout, streamed.stdout

    listed = cli("job", "list").stdout
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", listed), listed
    assert not re.search(r"\b1\d{12}\b", listed), "no epoch milliseconds in a table"
    shown = cli("job", "show", "-n", name).stdout
    assert not re.search(r"\b1\d{12}\b", shown), shown
    as_json = cli.json("job", "show", "-n", name, "-o", "json")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", as_json["created_at"]), as_json
    assert all(re.fullmatch(r"\d{4}-.*Z", event["time"]) for event in as_json["events"])

    runs = cli("run", "list", "--experiment", "formats").stdout
    assert "0.9877" in runs and "0.987654321" not in runs, runs
    assert all(len(line) <= 120 for line in runs.splitlines()), "the table fits 120 columns"
    assert name in runs, "the run's id (its job's name) is short enough to show whole"
    full = cli.json("run", "list", "--experiment", "formats", "-o", "json")
    assert full[0]["metrics"]["accuracy"] == 0.987654321


def test_a_missing_flag_s_usage_line_lists_no_flag_the_environment_gave(tmp_path):
    env = {**os.environ, "ATELIER_HOME": str(tmp_path), "ATELIER_URL": "http://127.0.0.1:9"}
    result = subprocess.run([str(CONFIG.binary), "job", "create"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--file <FILE>" in result.stderr, result.stderr
    usage = next(line for line in result.stderr.splitlines() if line.startswith("Usage:"))
    assert "--home" not in usage and "--url" not in usage, usage
