"""Slurm computes: jobs run as Slurm batch jobs by the same job runtime, on the real Slurm that
scripts/slurm-up.sh starts (scripts/test.sh does).

The server runs on the Slurm node itself here, so `--public-url` names the loopback address."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

from conftest import CONFIG, Cli
from e2e_util import free_port
from test_jobs import full_log, job_of, wait_for, write_job

pytestmark = [pytest.mark.atelier_only, pytest.mark.one_client]


def slurm_partition() -> str:
    if shutil.which("sinfo") is None:
        pytest.fail("Slurm's tools are not installed: run scripts/slurm-up.sh (scripts/test.sh does)")
    answer = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30)
    if answer.returncode != 0 or not answer.stdout.strip():
        pytest.fail(f"Slurm does not answer ({answer.stderr.strip()}): run scripts/slurm-up.sh")
    return answer.stdout.split()[0]


def reachable_server(make_server, tmp_path):
    """A server whose nodes reach it at --public-url; with a CLI and an HTTP session."""
    srv = make_server()
    port = free_port()
    srv.port, srv.keep_port = port, True
    srv.extra_args = ["--public-url", f"http://127.0.0.1:{port}", "--cancel-grace-seconds", "2"]
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {srv.token}"
    return srv, cli, http


@pytest.fixture
def on_slurm(make_server, tmp_path):
    """A server with a Slurm compute `hpc`."""
    partition = slurm_partition()
    srv, cli, http = reachable_server(make_server, tmp_path)
    compute = tmp_path / "hpc.yml"
    compute.write_text(
        f"name: hpc\ntype: slurm\npartition: {partition}\nmax_instances: 4\nmax_nodes_per_job: 2\n"
        "default_time_limit: '10:00'\n"
    )
    created = cli.json("compute", "create", "-f", str(compute), "-o", "json")
    assert created["type"] == "slurm" and created["slurm"]["partition"] == partition
    assert created["slurm"]["default_time_limit_minutes"] == 10
    yield srv, cli, http
    srv.kill()


def slurm_state(job_id: int) -> str:
    answer = subprocess.run(["squeue", "-h", "-t", "all", "-j", str(job_id), "-o", "%T"],
                            capture_output=True, text=True, timeout=30)
    return answer.stdout.strip()


def test_a_slurm_compute_is_checked_against_the_cluster_before_it_is_stored(make_server, tmp_path):
    partition = slurm_partition()
    srv = make_server()
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    good = tmp_path / "good.yml"
    good.write_text(f"name: hpc\ntype: slurm\npartition: {partition}\n")
    refused = cli("compute", "create", "-f", str(good), check=False)
    assert refused.returncode != 0
    assert "--public-url" in refused.stderr, "a server on loopback is out of the nodes' reach"

    srv.kill()
    srv.extra_args = ["--public-url", srv.url]
    srv.keep_port = True
    srv.start()
    missing = tmp_path / "missing.yml"
    missing.write_text("name: hpc\ntype: slurm\npartition: no-such-partition\n")
    refused = cli("compute", "create", "-f", str(missing), check=False)
    assert refused.returncode != 0
    assert "no partition 'no-such-partition'" in refused.stderr and partition in refused.stderr, refused.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(f"name: hpc\ntype: slurm\npartition: {partition}\nmax_nodes_per_job: 0\n")
    refused = cli("compute", "create", "-f", str(bad), check=False)
    assert "max_nodes_per_job" in refused.stderr and "line 4" in refused.stderr, refused.stderr
    names = [compute["name"] for compute in cli.json("compute", "list", "-o", "json")]
    assert names == ["local"], "nothing refused was stored"
    cli("compute", "create", "-f", str(good))
    shown = cli.json("compute", "show", "-n", "hpc", "-o", "json")
    assert shown["type"] == "slurm" and shown["slurm"]["partition"] == partition
    table = cli("compute", "list").stdout
    assert "hpc" in table and "(Slurm)" in table, table


def test_a_job_runs_as_a_slurm_batch_job_with_its_logs_and_metrics(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    job_file = write_job(
        tmp_path / "on-slurm",
        """\
        command: >-
          python3 -c "import os, atelier_log;
          print('slurm job', os.environ['SLURM_JOB_ID'], 'cpus', os.environ['SLURM_CPUS_PER_TASK']);
          atelier_log.log_metric('loss', 0.25)"
        compute: azureml:hpc
        resources:
          cpu: 2
        """,
    )
    created = cli.json("job", "create", "-f", str(job_file), "-o", "json")
    job = wait_for(http, srv, created["name"], {"Completed", "Failed", "Canceled"}, timeout=120)
    log = full_log(http, srv, created["name"])
    assert job["status"] == "Completed", (job, log)
    assert "slurm job" in log and "cpus 2" in log, log
    slurm_id = int(log.split("slurm job ")[1].split()[0])
    assert slurm_state(slurm_id) in {"RUNNING", "COMPLETING", "COMPLETED"}, "Slurm ran it"
    statuses = [event["status"] for event in job["events"]]
    assert statuses[:3] == ["NotStarted", "Queued", "Preparing"] and statuses[-1] == "Completed", statuses
    run = http.get(f"{srv.url}/api/2.0/mlflow/runs/get", params={"run_id": created["name"]}).json()["run"]
    assert ("loss", 0.25) in [(m["key"], m["value"]) for m in run["data"]["metrics"]], run


def test_a_pending_job_shows_slurms_reason_and_cancels_with_scancel(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0])
    nodes = int(subprocess.run(["sinfo", "-h", "-o", "%D"], capture_output=True, text=True).stdout.split()[0])
    hog = write_job(tmp_path / "hog", f"command: echo begun; sleep 300\ncompute: azureml:hpc\nresources:\n  cpu: {cpus}\n")
    # One job that takes every CPU of each node, then one more.
    hogs = [cli.json("job", "create", "-f", str(hog), "-o", "json")["name"] for _ in range(nodes)]
    first = hogs[0]
    deadline = time.monotonic() + 90
    while not all("begun" in full_log(http, srv, name) for name in hogs):
        assert time.monotonic() < deadline, f"the first jobs never started: {[job_of(http, srv, n) for n in hogs]}"
        time.sleep(0.3)
    second = cli.json("job", "create", "-f", str(hog), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while not (job_of(http, srv, second).get("cluster_state") or "").startswith("PENDING ("):
        assert time.monotonic() < deadline, f"no pending reason: {job_of(http, srv, second)}"
        time.sleep(0.3)
    waiting = job_of(http, srv, second)
    assert waiting["status"] == "Queued", "a job Slurm holds back is queued"
    assert waiting["cluster_state"] in {"PENDING (Resources)", "PENDING (Priority)"}, waiting
    assert "RUNNING" in job_of(http, srv, first)["cluster_state"]
    shown = cli.json("compute", "show", "-n", "hpc", "-o", "json")
    assert shown["queued"] == [second] and sorted(shown["running"]) == sorted(hogs)
    refused = cli("compute", "delete", "-n", "hpc", check=False)
    assert refused.returncode != 0 and "unfinished job" in refused.stderr, refused.stderr

    cli("job", "cancel", "-n", second)
    ended = wait_for(http, srv, second, {"Completed", "Failed", "Canceled"}, timeout=60)
    assert ended["status"] == "Canceled", ended
    for name in hogs:
        cli("job", "cancel", "-n", name)
    for name in hogs:
        ended = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=60)
        assert ended["status"] == "Canceled", ended
    assert "begun" in full_log(http, srv, first), "the log is kept"


def started_on_slurm(http, srv, cli, folder) -> tuple[str, str]:
    """Submits a long job to `hpc`; its name and Slurm job id once it has begun."""
    job_file = write_job(folder, "command: echo begun; sleep 300\ncompute: azureml:hpc\n")
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    deadline = time.monotonic() + 90
    while "begun" not in full_log(http, srv, name):
        assert time.monotonic() < deadline, f"the job never started: {job_of(http, srv, name)}"
        time.sleep(0.3)
    slurm_id = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True).stdout.strip()
    assert slurm_id, "the job is a Slurm job named after it"
    return name, slurm_id


def test_a_job_slurm_ends_behind_the_runtimes_back_ends_with_slurms_state(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    # An administrator's scancel: the runtime gets SIGTERM and cancels as on request.
    name, slurm_id = started_on_slurm(http, srv, cli, tmp_path / "scanceled")
    subprocess.run(["scancel", slurm_id], check=True, timeout=30)
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=60)
    assert job["status"] == "Canceled", job
    assert f"Slurm canceled batch job {slurm_id}" in job["events"][-1]["message"], job["events"]
    assert "begun" in full_log(http, srv, name)

    # As a node failure would: the runtime dies without a word, and Slurm ends the job.
    name, slurm_id = started_on_slurm(http, srv, cli, tmp_path / "doomed")
    runtime = subprocess.run(["pgrep", "-f", f"job-runtime .*/{name}$"], capture_output=True, text=True).stdout.split()
    assert runtime, "the runtime runs on the node"
    subprocess.run(["kill", "-9", *runtime], check=True)
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=90)
    assert job["status"] == "Failed", job
    assert f"the cluster ended job {slurm_id} before the runtime reported" in job["error"], job["error"]
    assert "FAILED" in job["error"], job["error"]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def node_state(node: str) -> str:
    return subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True).stdout.strip()


def test_a_job_whose_node_dies_fails_with_slurms_node_failure(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    name, slurm_id = started_on_slurm(http, srv, cli, tmp_path / "stranded")
    shown = subprocess.run(["scontrol", "show", "job", slurm_id], capture_output=True, text=True).stdout
    assert "Requeue=0" in shown, "a node failure must not start the job again"
    node = subprocess.run(["squeue", "-h", "-j", slurm_id, "-o", "%N"], capture_output=True, text=True).stdout.strip()
    pidfile = Path(f"/run/slurmd-{node}.pid")
    if not pidfile.exists():
        pytest.fail(f"node {node}'s slurmd has no pid file at {pidfile}: run SLURM_NODES=2 scripts/slurm-up.sh")
    # The node dies: its slurmd, and the job's step daemon with everything under it.
    stepd = subprocess.run(["pgrep", "-f", f"slurmstepd: \\[{slurm_id}\\."], capture_output=True, text=True)
    doomed = [int(pid) for pid in stepd.stdout.split()]
    assert doomed, "the batch step runs on the node"
    doomed += [below for pid in doomed for below in descendants(pid)]
    subprocess.run(["kill", "-9", pidfile.read_text().strip(), *map(str, doomed)], check=True)
    try:
        job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=150)
        assert job["status"] == "Failed", job
        assert f"the cluster ended job {slurm_id} before the runtime reported: NODE_FAIL" in job["error"], job["error"]
        assert "begun" in full_log(http, srv, name), "what it logged before is kept"
        assert "down" in node_state(node), node_state(node)
    finally:
        # The node comes back, as after a reboot (ReturnToService=2).
        subprocess.run(["slurmd", "-N", node], check=True, timeout=30)
        deadline = time.monotonic() + 60
        while node_state(node) not in {"idle", "mixed", "allocated"}:
            assert time.monotonic() < deadline, f"node {node} did not return: {node_state(node)}"
            time.sleep(1)


def test_a_job_killed_for_memory_fails_with_slurms_reason(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    job_file = write_job(
        tmp_path / "hungry",
        """\
        command: python3 -c "print('allocating', flush=True); block = bytearray(900 * 1024 * 1024); print('survived')"
        compute: azureml:hpc
        resources:
          memory_gb: 0.25
        """,
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    assert job["status"] == "Failed", job
    assert "killed for memory (OUT_OF_MEMORY)" in job["error"], job["error"]
    assert "allocating" in full_log(http, srv, name) and "survived" not in full_log(http, srv, name)


def test_a_job_past_slurms_time_limit_ends_with_slurms_reason(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    brief = tmp_path / "brief.yml"
    brief.write_text(f"name: brief\ntype: slurm\npartition: {slurm_partition()}\ndefault_time_limit: 1\n")
    cli("compute", "create", "-f", str(brief))
    job_file = write_job(tmp_path / "slow", "command: echo begun; sleep 300\ncompute: azureml:brief\n")
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=150)
    assert job["status"] == "Canceled", job
    assert "at its time limit (TIMEOUT)" in job["events"][-1]["message"], job["events"]
    assert "begun" in full_log(http, srv, name)


def test_a_pipeline_runs_a_step_on_slurm_and_hands_its_output_on(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(textwrap.dedent("""\
        type: pipeline
        experiment_name: slurm-pipeline
        settings:
          default_compute: azureml:hpc
        jobs:
          make:
            command: echo "made in batch job $SLURM_JOB_ID" > ${{outputs.out}}/made.txt
            outputs:
              out:
          use:
            command: cat ${{inputs.got}}/made.txt
            compute: azureml:local
            inputs:
              got: ${{parent.jobs.make.outputs.out}}
        """))
    name = cli.json("job", "create", "-f", str(pipeline), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    assert job["status"] == "Completed", job
    steps = {step: detail["job"] for step, detail in job["pipeline"]["steps"].items()}
    assert job_of(http, srv, steps["make"]).get("cluster_state"), "the first step ran on Slurm"
    assert job_of(http, srv, steps["use"]).get("cluster_state") is None, "the second on this machine"
    assert "made in batch job " in full_log(http, srv, steps["use"])


def test_slurm_jobs_running_across_a_server_restart_complete_and_are_recorded(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    short = write_job(tmp_path / "short", "command: echo begun; sleep 6; echo finished\ncompute: azureml:hpc\n")
    running = cli.json("job", "create", "-f", str(short), "-o", "json")["name"]
    deadline = time.monotonic() + 90
    while "begun" not in full_log(http, srv, running):
        assert time.monotonic() < deadline, job_of(http, srv, running)
        time.sleep(0.3)
    srv.kill()
    time.sleep(3)
    srv.start()
    # The job Slurm ran while the server was down completes once, and Slurm jobs go on.
    later = cli.json("job", "create", "-f", str(short), "-o", "json")["name"]
    for job_name in (running, later):
        job = wait_for(http, srv, job_name, {"Completed", "Failed", "Canceled"}, timeout=120)
        assert job["status"] == "Completed", job
        assert "finished" in full_log(http, srv, job_name)
        statuses = [event["status"] for event in job["events"]]
        assert statuses.count("Running") == 1 and statuses[-1] == "Completed", statuses

RENDEZVOUS = """\
    import os, socket, time
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    print("rank", rank, "local", os.environ["LOCAL_RANK"], "node", os.environ["NODE_RANK"],
          "world", world, "slurm node", os.environ["SLURMD_NODENAME"], flush=True)
    address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
    if rank == 0:
        server = socket.create_server(address)
        seen = sorted(int(server.accept()[0].recv(16)) for _ in range(world - 1))
        print("rank 0 met ranks", seen, flush=True)
    else:
        for _ in range(300):
            try:
                socket.create_connection(address).sendall(str(rank).encode())
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("rank 0 never listened")
    """


def test_a_pytorch_job_over_two_nodes_runs_every_rank_with_azures_variables(on_slurm, tmp_path):
    srv, cli, http = on_slurm
    nodes = int(subprocess.run(["sinfo", "-h", "-o", "%D"], capture_output=True, text=True).stdout.split()[0])
    if nodes < 2:
        pytest.fail("the Slurm of the tests has two nodes: run SLURM_NODES=2 scripts/slurm-up.sh")
    job_file = write_job(
        tmp_path / "ddp",
        """\
        code: src
        command: python3 rendezvous.py
        compute: azureml:hpc
        resources:
          instance_count: 2
        distribution:
          type: pytorch
          process_count_per_instance: 2
        """,
        {"src/rendezvous.py": RENDEZVOUS},
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    assert job["status"] == "Completed", (job, full_log(http, srv, name, "system_logs/runtime.txt"))
    nodes_seen = set()
    for rank in range(4):
        log = full_log(http, srv, name, f"user_logs/std_log_process_{rank}.txt")
        assert f"rank {rank} local {rank % 2} node {rank // 2} world 4" in log, (rank, log)
        nodes_seen.add(log.split("slurm node ")[1].split()[0])
    assert len(nodes_seen) == 2, f"two nodes ran the ranks: {nodes_seen}"
    assert "rank 0 met ranks [1, 2, 3]" in full_log(http, srv, name), "every rank reached MASTER_ADDR:MASTER_PORT"


TF_RENDEZVOUS = """\
    import json, os, socket, time
    config = json.loads(os.environ["TF_CONFIG"])
    task, cluster = config["task"], config["cluster"]
    me = cluster[task["type"]][task["index"]]
    host, port = me.rsplit(":", 1)
    print("task", task["type"], task["index"], "cluster", json.dumps(cluster, sort_keys=True), flush=True)
    server = socket.create_server((host, int(port)))
    if task == {"type": "worker", "index": 0}:
        others = [address for kind in cluster for address in cluster[kind] if address != me]
        for address in others:
            other_host, other_port = address.rsplit(":", 1)
            for _ in range(300):
                try:
                    socket.create_connection((other_host, int(other_port))).close()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SystemExit(address + " never listened")
        print("worker 0 reached", len(others), flush=True)
    else:
        server.accept()
    """


@pytest.mark.parametrize("where", ["local", "slurm"])
def test_a_tensorflow_job_tells_each_process_the_cluster_in_tf_config(on_slurm, tmp_path, where):
    srv, cli, http = on_slurm
    compute = "compute: azureml:hpc\nresources:\n  instance_count: 2\n" if where == "slurm" else ""
    job_file = write_job(
        tmp_path / "tf",
        f"code: src\ncommand: python3 rendezvous.py\n{compute}"
        "distribution:\n  type: tensorflow\n  worker_count: 3\n  parameter_server_count: 1\n",
        {"src/rendezvous.py": TF_RENDEZVOUS},
    )
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    assert job["status"] == "Completed", (job, full_log(http, srv, name, "system_logs/runtime.txt"))
    tasks = []
    for rank in range(4):
        log = full_log(http, srv, name, f"user_logs/std_log_process_{rank}.txt")
        words = log.split()
        tasks.append((words[1], int(words[2])))
        cluster = json.loads(log.split("cluster ", 1)[1].splitlines()[0])
        assert len(cluster["worker"]) == 3 and len(cluster["ps"]) == 1, cluster
    assert tasks == [("worker", 0), ("worker", 1), ("worker", 2), ("ps", 0)]
    assert "worker 0 reached 3" in full_log(http, srv, name)

    mistake = write_job(tmp_path / "uneven", "command: echo\ncompute: azureml:hpc\nresources:\n  instance_count: 2\n"
                        "distribution:\n  type: tensorflow\n  worker_count: 2\n  parameter_server_count: 1\n")
    refused = cli("job", "create", "-f", str(mistake), check=False)
    assert refused.returncode != 0 and "do not spread evenly over 2 instances" in refused.stderr, refused.stderr


MPI_ALLREDUCE = """\
    import os
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    total = world.allreduce(world.Get_rank(), op=MPI.SUM)
    if os.environ.get("SERVER_HOME"):
        try:
            open(os.path.join(os.environ["SERVER_HOME"], "token")).read()
            print("the server's token is readable", flush=True)
        except OSError:
            print("the server's token is hidden", flush=True)
    print("rank", world.Get_rank(), "of", world.Get_size(), "local", os.environ["OMPI_COMM_WORLD_LOCAL_RANK"],
          "sum", total,
          "master", os.environ["AZ_BATCHAI_MPI_MASTER_NODE"], "nodes", os.environ["AZUREML_NODE_COUNT"],
          "slurm node", os.environ.get("SLURMD_NODENAME"), flush=True)
    """


def submit_mpi_job(cli, tmp_path, nodes: int | None, more: str = "") -> str:
    """An mpi job of 2 processes per instance on `nodes` nodes of `hpc` (None: the local compute)."""
    compute = f"compute: azureml:hpc\nresources:\n  instance_count: {nodes}\n{more}" if nodes else more
    # Debian's mpi4py is built for the system's Python.
    job_file = write_job(
        tmp_path / "mpi",
        f"code: src\ncommand: /usr/bin/python3 allreduce.py\n{compute}"
        "distribution:\n  type: mpi\n  process_count_per_instance: 2\n",
        {"src/allreduce.py": MPI_ALLREDUCE},
    )
    return cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]


def check_mpi_ranks(http, srv, name, nodes: int, where: str):
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    assert job["status"] == "Completed", (job["error"], full_log(http, srv, name, "system_logs/runtime.txt"))
    world = 2 * nodes
    for rank in range(world):
        log = full_log(http, srv, name, f"user_logs/std_log_process_{rank}.txt")
        assert f"rank {rank} of {world} local {rank % 2} sum {sum(range(world))} " in log, (rank, log)
        assert f" nodes {nodes} " in log, "every process was told the node count"
        if nodes == 1:
            assert "master 127.0.0.1" in log
        else:
            # Slurm's nodes here are slurmds on this machine, named n1 and n2.
            assert f"slurm node n{rank // 2 + 1}" in log, (rank, log)
    assert (job.get("cluster_state") is not None) == (where != "local"), job.get("cluster_state")
    assert f"rank 0 of {world}" in full_log(http, srv, name) and f"rank 1 of {world}" not in full_log(http, srv, name)


def require_mpi():
    if shutil.which("mpirun") is None:
        pytest.fail("Open MPI is not installed: scripts/test.sh installs openmpi-bin and python3-mpi4py")


@pytest.mark.parametrize("where", ["local", "slurm"])
def test_an_mpi_job_on_one_machine_runs_its_processes_with_mpirun_and_they_all_reduce(on_slurm, tmp_path, where):
    srv, cli, http = on_slurm
    require_mpi()
    name = submit_mpi_job(cli, tmp_path, 1 if where == "slurm" else None)
    check_mpi_ranks(http, srv, name, 1, where)

    bare = write_job(tmp_path / "bare", "command: echo\ndistribution:\n  type: mpi\n")
    refused = cli("job", "create", "-f", str(bare), check=False)
    assert refused.returncode != 0 and "needs process_count_per_instance" in refused.stderr, refused.stderr
    if where == "slurm":
        # This server runs as root and confines jobs as its job user, whom Slurm's PMIx server
        # would not admit as a rank of root's batch job.
        spread = write_job(tmp_path / "spread", "command: echo\ncompute: azureml:hpc\nresources:\n  instance_count: 2\n"
                           "distribution:\n  type: mpi\n  process_count_per_instance: 2\n")
        refused = cli("job", "create", "-f", str(spread), check=False)
        assert refused.returncode != 0 and "run the server as an unprivileged user" in refused.stderr, refused.stderr


def test_an_mpi_job_over_two_slurm_nodes_runs_its_ranks_with_srun_and_they_all_reduce(make_server, tmp_path):
    """A server run as an unprivileged user (as on a cluster's login node): Slurm starts the ranks
    of both nodes (srun --mpi=pmix), each confined, and they reach each other through PMIx."""
    require_mpi()
    partition = slurm_partition()
    nobody = pwd.getpwnam("nobody")
    srv = make_server()
    # Its home where that user may go (pytest's folders are root's alone).
    home = Path(tempfile.mkdtemp(prefix="atelier-unprivileged-"))
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    srv.home = home
    srv.command_prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--"]
    srv.extra_env = {"HOME": str(home)}
    port = free_port()
    srv.port, srv.keep_port = port, True
    srv.extra_args = ["--public-url", f"http://127.0.0.1:{port}"]
    try:
        srv.start()
        (tmp_path / "cli-home").mkdir()
        cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {srv.token}"
        compute = tmp_path / "hpc.yml"
        compute.write_text(f"name: hpc\ntype: slurm\npartition: {partition}\nmax_nodes_per_job: 2\n")
        cli.json("compute", "create", "-f", str(compute), "-o", "json")
        name = submit_mpi_job(cli, tmp_path, 2, f"environment_variables:\n  SERVER_HOME: {home}\n")
        check_mpi_ranks(http, srv, name, 2, "slurm")
        for rank in range(4):
            log = full_log(http, srv, name, f"user_logs/std_log_process_{rank}.txt")
            assert "the server's token is hidden" in log, (rank, log)
        # The ranks ran as the server's user, as Slurm's batch job did.
        owner = (home / "jobs" / name / "slurm.out").stat().st_uid
        assert owner == nobody.pw_uid, owner
    finally:
        srv.kill()
        shutil.rmtree(home, ignore_errors=True)


def test_a_slurm_compute_reached_through_slurmrestd_runs_and_cancels_jobs(make_server, tmp_path):
    """A server that is not a submit host: the same batch jobs, over Slurm's REST API."""
    partition = slurm_partition()
    rest_env = Path("/run/atelier-slurm/rest.env")
    if not rest_env.exists():
        pytest.fail("slurmrestd is not running: run SLURM_REST=1 scripts/slurm-up.sh (scripts/test.sh does)")
    url = dict(line.split("=", 1) for line in rest_env.read_text().splitlines() if "=" in line)["SLURMRESTD_URL"]
    minted = subprocess.run(["scontrol", "token", "username=root", "lifespan=7200"],
                            capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    token_file = tmp_path / "slurm.jwt"
    token_file.write_text(minted + "\n")
    token_file.chmod(0o600)
    srv, cli, http = reachable_server(make_server, tmp_path)

    def compute_file(name, partition_name, token_path):
        path = tmp_path / f"{name}.yml"
        path.write_text(f"name: {name}\ntype: slurm\npartition: {partition_name}\nmax_instances: 2\nslurmrestd:\n"
                        f"  url: {url}\n  user_name: root\n  token_file: {token_path}\n")
        return path

    # Checked through the REST API before anything is stored: the token, then the partition.
    (tmp_path / "stale.jwt").write_text("not-a-token\n")
    refused = cli("compute", "create", "-f", str(compute_file("stale", partition, tmp_path / "stale.jwt")), check=False)
    assert refused.returncode != 0 and "slurmrestd at" in refused.stderr, refused.stderr
    assert "not-a-token" not in refused.stderr, "the token is never shown"
    refused = cli("compute", "create", "-f", str(compute_file("nowhere", "no-such-partition", token_file)), check=False)
    assert refused.returncode != 0 and f"it has {partition}" in refused.stderr, refused.stderr
    created = cli.json("compute", "create", "-f", str(compute_file("rest", partition, token_file)), "-o", "json")
    assert created["slurm"]["slurmrestd"] == {"url": url, "user_name": "root", "token_file": str(token_file)}

    job_file = write_job(tmp_path / "over-rest", """\
        command: >-
          python3 -c "import os, atelier_log; print('rest job', os.environ['SLURM_JOB_ID']);
          atelier_log.log_metric('loss', 0.5)"
        compute: azureml:rest
        """)
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    job = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=120)
    log = full_log(http, srv, name)
    assert job["status"] == "Completed", (job, log)
    slurm_id = int(log.split("rest job ")[1].split()[0])
    assert slurm_state(slurm_id) in {"RUNNING", "COMPLETING", "COMPLETED"}, "Slurm ran it"
    run = http.get(f"{srv.url}/api/2.0/mlflow/runs/get", params={"run_id": name}).json()["run"]
    assert ("loss", 0.5) in [(m["key"], m["value"]) for m in run["data"]["metrics"]], run

    # Its state read over REST, and a cancel.
    long = write_job(tmp_path / "long-rest", "command: echo begun; sleep 300\ncompute: azureml:rest\n")
    name = cli.json("job", "create", "-f", str(long), "-o", "json")["name"]
    deadline = time.monotonic() + 90
    while not (job_of(http, srv, name).get("cluster_state") or "").startswith("RUNNING on "):
        assert time.monotonic() < deadline, job_of(http, srv, name)
        time.sleep(0.3)
    cli("job", "cancel", "-n", name)
    ended = wait_for(http, srv, name, {"Completed", "Failed", "Canceled"}, timeout=60)
    assert ended["status"] == "Canceled", ended
    srv.kill()
