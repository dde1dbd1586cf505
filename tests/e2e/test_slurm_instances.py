"""Compute instances on a Slurm compute: the instance's JupyterLab runs as a long batch job on a
node of the real Slurm that scripts/slurm-up.sh starts, listens on the node's address, and is
reached only through the server's proxy, as on this machine; stop is scancel, a job Slurm ends
behind the instance's back fails it with Slurm's words, and its home lasts from one start to
the next."""

from __future__ import annotations

import subprocess
import time

import pytest

from e2e_util import remove_instances
from test_compute_instances import FIRST_START, run_cell
from test_slurm import on_slurm  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.atelier_only, pytest.mark.one_client]


def shown(http, srv, name):
    answer = http.get(f"{srv.url}/api/v1/workspaces/default/compute-instances/{name}", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_state(http, srv, name, states, timeout):
    deadline = time.monotonic() + timeout
    while True:
        now = shown(http, srv, name)
        if now["state"] in states:
            return now
        assert time.monotonic() < deadline, f"{name} stayed {now['state']} ({now.get('reason')})"
        assert now["state"] != "Failed", now
        time.sleep(0.5)


@pytest.fixture
def notebooks(on_slurm, tmp_path):
    """The Slurm server, with a compute `nb` of the same partition and no time limit of its own
    (the fixture's `hpc` ends batch jobs after 10 minutes)."""
    srv, cli, http = on_slurm
    partition = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True).stdout.split()[0]
    (tmp_path / "nb.yml").write_text(f"name: nb\ntype: slurm\npartition: {partition}\n")
    cli("compute", "create", "-f", str(tmp_path / "nb.yml"))
    return srv, cli, http


def no_batch_jobs_left(name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (left := batch_jobs(name)) != []:
        assert time.monotonic() < deadline, f"batch jobs of {name} still there: {left}"
        time.sleep(0.5)


def batch_jobs(name: str) -> list[tuple[str, str]]:
    """The Slurm jobs of an instance that have not ended: (id, state)."""
    answer = subprocess.run(["squeue", "-h", "-n", f"ci-{name}", "-o", "%i|%T"],
                            capture_output=True, text=True, timeout=30, check=True)
    return [tuple(line.split("|")) for line in answer.stdout.split()]


def test_a_compute_instance_runs_as_a_slurm_batch_job_reached_through_the_proxy(notebooks, tmp_path):
    srv, cli, http = notebooks
    name = "hpc-notebook"
    try:
        file = tmp_path / "ci.yml"
        file.write_text(f"name: {name}\ntype: computeinstance\ncompute: azureml:nb\nsize: Standard_DS1_v2\n")
        created = cli.json("compute", "create", "-f", str(file), "-o", "json")
        assert created["state"] == "Creating" and created["compute"] == "nb", created
        [(first_id, state)] = batch_jobs(name)
        assert state in ("PENDING", "RUNNING"), state
        wait_state(http, srv, name, {"Running"}, FIRST_START)

        # JupyterLab listens where the node reaches the server, behind Atelier's proxy and token.
        status = http.get(f"{srv.url}/ci/default/{name}/api/status", timeout=30)
        assert status.status_code == 200 and "started" in status.json(), status.text
        out, error = run_cell(srv, name, "import os\nopen('kept.txt', 'w').write('on the cluster')\n"
                                         "print('job', os.environ.get('SLURM_JOB_ID'))")
        assert error is None and f"job {first_id}" in out, (out, error)
        out, error = run_cell(srv, name, "import mlflow\nmlflow.set_experiment('from-slurm')\n"
                                         "with mlflow.start_run() as run:\n    mlflow.log_metric('loss', 0.5)\n"
                                         "print('RUN_ID=' + run.info.run_id)")
        assert error is None, error
        run_id = out.split("RUN_ID=")[1].split()[0]
        got = http.get(f"{srv.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=30).json()
        assert got["run"]["data"]["metrics"][0]["value"] == 0.5, "the notebook tracked into the workspace"

        # The server's restart leaves it running on its node; the new server reaches it.
        started = status.json()["started"]
        assert srv.stop() == 0
        srv.start()
        time.sleep(5)  # the new server's reconcile passes have looked at it
        assert shown(http, srv, name)["state"] == "Running"
        again = http.get(f"{srv.url}/ci/default/{name}/api/status", timeout=30)
        assert again.status_code == 200 and again.json()["started"] == started, again.text
        assert batch_jobs(name) == [(first_id, "RUNNING")]

        # The compute cannot go while it runs an instance.
        refused = cli("compute", "delete", "-n", "nb", "--yes", check=False)
        assert refused.returncode != 0 and name in refused.stderr, refused.stderr

        # Stop is scancel; start is a new batch job; the home lasts.
        cli("compute", "stop", "-n", name)
        wait_state(http, srv, name, {"Stopped"}, 90)
        no_batch_jobs_left(name)
        cli("compute", "start", "-n", name)
        wait_state(http, srv, name, {"Running"}, 300)
        [(second_id, _)] = batch_jobs(name)
        assert second_id != first_id
        out, error = run_cell(srv, name, "print(open('kept.txt').read())")
        assert error is None and "on the cluster" in out, "the home lasts from one start to the next"

        # A batch job Slurm ends behind the instance's back fails it, in Slurm's words.
        subprocess.run(["scancel", second_id], check=True, timeout=30)
        deadline = time.monotonic() + 90
        while (now := shown(http, srv, name))["state"] != "Failed":
            assert time.monotonic() < deadline and now["state"] == "Running", now
            time.sleep(0.5)
        assert f"Slurm job {second_id}: CANCELLED" in now["reason"], now["reason"]

        cli("compute", "delete", "-n", name, "--yes")
        assert not (srv.home / "instances" / "default" / name).exists()
        cli("compute", "delete", "-n", "nb", "--yes")
    finally:
        remove_instances(srv)
        for job_id, _ in batch_jobs(name):
            subprocess.run(["scancel", job_id], check=False, timeout=30)


def test_an_instance_waiting_for_a_node_shows_slurms_reason_until_it_runs(notebooks, tmp_path):
    srv, cli, http = notebooks
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0])
    nodes = int(subprocess.run(["sinfo", "-h", "-o", "%D"], capture_output=True, text=True).stdout.split()[0])
    partition = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True).stdout.split()[0]
    # Batch jobs of Slurm's own that take every CPU of every node.
    hogs = [subprocess.run(["sbatch", "--parsable", "-p", partition, "-c", str(cpus), "--wrap", "sleep 300"],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
            for _ in range(nodes)]
    name = "waiting-ci"
    try:
        file = tmp_path / "ci.yml"
        file.write_text(f"name: {name}\ntype: computeinstance\ncompute: azureml:nb\n")
        cli("compute", "create", "-f", str(file))
        deadline = time.monotonic() + 60
        while not ((now := shown(http, srv, name)).get("reason") or "").startswith("waiting for a node: PENDING ("):
            assert time.monotonic() < deadline and now["state"] == "Creating", now
            time.sleep(0.3)
        assert now["reason"] in {f"waiting for a node: PENDING ({why})" for why in ("Resources", "Priority")}, now
        for hog in hogs:
            subprocess.run(["scancel", hog], check=True, timeout=30)
        running = wait_state(http, srv, name, {"Running"}, FIRST_START)
        assert running["reason"] is None, "a running instance has nothing holding it back"
        cli("compute", "delete", "-n", name, "--yes")
        no_batch_jobs_left(name)
    finally:
        for hog in hogs:
            subprocess.run(["scancel", hog], check=False, timeout=30)
        remove_instances(srv)


def test_a_slurm_instance_file_is_checked_against_its_compute(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    cases = [
        ("compute: azureml:nowhere\n", "no compute 'nowhere'"),
        ("compute: azureml:hpc\nsize: Standard_XL\n", "unknown size 'Standard_XL'"),
    ]
    for body, expected in cases:
        file = tmp_path / "bad.yml"
        file.write_text("name: bad-ci\ntype: computeinstance\n" + body)
        refused = cli("compute", "create", "-f", str(file), check=False)
        assert refused.returncode != 0 and expected in refused.stderr, refused.stderr
    assert batch_jobs("bad-ci") == []
    assert http.get(f"{srv.url}/api/v1/workspaces/default/compute-instances", timeout=30).json() == []
