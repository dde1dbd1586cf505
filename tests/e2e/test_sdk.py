"""The Python SDK (python/atelier-sdk, imported as ``atelier``) against a real server: the three
Azure ML scripts under its examples/, and each operation group as a user of azure-ai-ml calls it.

The wheel the test command builds is what these import (scripts/test-e2e.sh installs it)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import conftest
from conftest import CONFIG, Cli
from e2e_util import REPO_ROOT, remove_instances, unique_ident

try:
    import atelier
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("the SDK is not installed: scripts/test-e2e.sh installs its wheel", allow_module_level=True)
from atelier import Input, MLClient, Output, command, dsl, load_job, load_model  # noqa: E402
from atelier.entities import (AmlCompute, ComputeInstance, CronTrigger, Data, Environment, JobSchedule,  # noqa: E402
                              Model, Workspace)
from atelier.exceptions import (ClientAuthenticationError, JobException, PermissionDeniedError,  # noqa: E402
                                ResourceExistsError, ResourceNotFoundError, ValidationError)
from atelier.sweep import Choice  # noqa: E402

pytestmark = [pytest.mark.atelier_only, pytest.mark.one_client]

if os.environ.get("CI") and "site-packages" not in atelier.__file__:
    raise RuntimeError(f"the SDK must come from the built wheel, not {atelier.__file__}")

EXAMPLES = REPO_ROOT / "python" / "atelier-sdk" / "examples"
# The packages of the scikit-learn example environment (examples/sklearn/environment.yml), as
# Azure's curated scikit-learn environment would hold them.
SKLEARN_CONDA = {"channels": ["conda-forge"], "dependencies": [
    "python=3.11", "pip", {"pip": ["mlflow==3.17.2", "scikit-learn==1.9.1", "pandas==3.1.1"]}]}


@pytest.fixture(scope="module")
def srv(tmp_path_factory, databases):
    server = conftest._new_server(tmp_path_factory.mktemp("sdk-server"), databases)
    server.extra_args = ["--local-cpus", "2", "--cancel-grace-seconds", "2"]
    server.start()
    yield server
    remove_instances(server)
    server.kill()


@pytest.fixture
def ml(srv, monkeypatch):
    """A client for a workspace of this test's own, made by the SDK."""
    admin = MLClient(url=srv.url, token=srv.token)
    name = unique_ident("sdk")
    admin.workspaces.begin_create(Workspace(name=name, description="an SDK test's")).result()
    monkeypatch.setenv("ATELIER_URL", srv.url)
    monkeypatch.setenv("ATELIER_TOKEN", srv.token)
    monkeypatch.setenv("ATELIER_WORKSPACE", name)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", srv.token)
    return MLClient(url=srv.url, token=srv.token, workspace_name=name)


def run_example(script: str, folder: Path) -> str:
    done = subprocess.run([sys.executable, script], cwd=folder, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{script}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_azures_command_job_script_runs_with_its_imports_and_client_changed(ml, tmp_path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    # What the script names, as an Azure workspace would have it: a curated environment and a
    # compute cluster.
    ml.environments.create_or_update(
        Environment(name="AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", conda_file=SKLEARN_CONDA))
    ml.compute.begin_create_or_update(AmlCompute(name="cpu-cluster", size="Standard_DS3_v2", max_instances=1)).result()
    out = run_example("command_job.py", folder)
    assert "Status: Completed" in out and "accuracy on the test set" in out, out
    name = out.split("submitted ")[1].split(":")[0]
    job = ml.jobs.get(name)
    assert job.status == "Completed" and job.compute == "cpu-cluster"
    assert job.display_name == "sklearn-iris-example" and job.experiment_name == "sklearn-iris-example"
    assert job.studio_url.endswith(f"/w/{ml.workspace_name}/jobs/{name}")
    import mlflow

    run = mlflow.MlflowClient(tracking_uri=f"{ml.url}/ws/{ml.workspace_name}/").get_run(name)
    assert run.data.metrics["test_accuracy"] > 0.8 and run.data.params["kernel"] == "linear"


def test_azures_model_registration_script_runs_with_its_imports_and_client_changed(ml, tmp_path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    out = run_example("register_model.py", folder)
    assert "registered local-file-example version 1" in out, out
    model = ml.models.get("local-file-example", version="1")
    assert model.type == "custom_model" and model.description == "Model created from local file."
    downloaded = folder / "downloaded" / "linear_model.json"
    assert downloaded.read_text() == (EXAMPLES / "model-1" / "model" / "linear_model.json").read_text()
    # Run again: the next version.
    assert "registered local-file-example version 2" in run_example("register_model.py", folder)


def test_azures_online_deployment_script_runs_with_its_imports_and_client_changed(ml, tmp_path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder)
    out = run_example("online_deployment.py", folder)
    # [1..10]·w + 3 and [10..1]·w + 3 with the JSON model's coefficients.
    assert "response: [11.25, 22.25]" in out, out
    assert "init() done" in out, "the deployment's logs were read"
    assert not list(ml.online_endpoints.list()), "the script deletes its endpoint"
    # The inline model was registered under the name Azure gives it.
    names = {model.name for model in ml.models.list()}
    assert any(name.endswith("-blue-model") for name in names), names


def test_the_client_finds_the_server_and_token_as_the_cli_does(srv, tmp_path, monkeypatch):
    for variable in ("ATELIER_URL", "ATELIER_TOKEN", "ATELIER_WORKSPACE"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ATELIER_HOME", str(home))
    with pytest.raises(ValidationError, match="ATELIER_TOKEN"):
        MLClient()
    # What a local server writes to its home.
    (home / "url").write_text(srv.url + "\n")
    (home / "token").write_text(srv.token + "\n")
    assert MLClient().workspaces.get().name == "default"
    # The environment wins over the home; a wrong token is a 401 with the server's words.
    monkeypatch.setenv("ATELIER_TOKEN", "atk_not_a_token")
    with pytest.raises(ClientAuthenticationError) as refused:
        MLClient().workspaces.get()
    assert refused.value.status_code == 401 and "token" in refused.value.message.lower()
    monkeypatch.delenv("ATELIER_TOKEN")
    # Azure's config.json, found from a subfolder.
    (tmp_path / "project" / "notebooks").mkdir(parents=True)
    (tmp_path / "project" / "config.json").write_text(json.dumps(
        {"url": srv.url, "workspace_name": "default", "subscription_id": "ignored", "resource_group": "ignored"}))
    client = MLClient.from_config(path=tmp_path / "project" / "notebooks")
    assert client.workspace_name == "default" and client.url == srv.url
    assert "atk" not in repr(client) and srv.token not in repr(client._connection), "no token in reprs"


def test_errors_are_azures_exceptions_with_the_servers_message_and_code(ml, srv, tmp_path):
    with pytest.raises(ResourceNotFoundError) as missing:
        ml.models.get("no-such-model", version="1")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST" and "no-such-model" in str(missing.value)
    with pytest.raises(ResourceExistsError):
        ml.workspaces.begin_create(Workspace(name=ml.workspace_name)).result()
    # A job file's mistake names its field and line, before anything is uploaded.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("print(1)\n")
    bad = command(code=str(tmp_path / "src"), command="python a.py --x ${{inputs.missing}}", inputs={"x": 1})
    with pytest.raises(ValidationError) as invalid:
        ml.jobs.create_or_update(bad)
    assert invalid.value.status_code == 400 and "missing" in invalid.value.message and "line" in invalid.value.message
    assert not list(ml.jobs.list()), "nothing was submitted"
    # A Reader may read, not write.
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    (tmp_path / "cli-home").mkdir()
    reader = unique_ident("reader")
    cli("user", "create", reader, "--password", "reader-password-1")
    token = cli.json("token", "create", "--user", reader, "-o", "json")["token"]
    cli("role", "assign", "--user", reader, "--role", "Reader", "--workspace", ml.workspace_name)
    as_reader = MLClient(url=srv.url, token=token, workspace_name=ml.workspace_name)
    assert list(as_reader.models.list()) == []
    (tmp_path / "m.txt").write_text("weights\n")
    with pytest.raises(PermissionDeniedError) as denied:
        as_reader.models.create_or_update(Model(name="m", path=str(tmp_path / "m.txt")))
    assert denied.value.status_code == 403


def test_assets_register_list_archive_restore_and_download(ml, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "w.json").write_text('{"w": [1, 2]}\n')
    (weights / "nested").mkdir()
    (weights / "nested" / "b.txt").write_text("bias\n")
    first = ml.models.create_or_update(Model(name="clf", path=str(weights), type="custom_model", tags={"team": "a"}))
    second = ml.models.create_or_update(Model(name="clf", path=str(weights), description="second"))
    assert (first.version, second.version) == ("1", "2") and first.tags == {"team": "a"}
    assert ml.models.get("clf", label="latest").version == "2"
    ml.models.archive("clf", version="2")
    assert ml.models.get("clf", label="latest").version == "1", "latest skips archived versions"
    assert [m.version for m in ml.models.list(name="clf")] == ["1"]
    assert sorted(m.version for m in ml.models.list(name="clf", include_archived=True)) == ["1", "2"]
    ml.models.restore("clf", version="2")
    ml.models.download("clf", version="2", download_path=tmp_path / "out")
    assert (tmp_path / "out" / "weights" / "nested" / "b.txt").read_text() == "bias\n"
    with pytest.raises(ValidationError, match="already exists"):
        ml.models.create_or_update(Model(name="clf", version="2", path=str(weights)))

    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n1,2\n")
    data = ml.data.create_or_update(Data(name="rows", path=str(csv), type="uri_file", description="two columns"))
    assert data.version == "1" and data.path.startswith("azureml://datastores/workspaceblobstore/")
    with pytest.raises(ValidationError, match="uri_file names one file"):
        ml.data.create_or_update(Data(name="rows", path=str(weights), type="uri_file"))

    conda = tmp_path / "conda.yml"
    conda.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - requests==2.34.2\n")
    environment = ml.environments.create_or_update(Environment(name="req-env", conda_file=str(conda)))
    assert environment._rest["python"] == "3.11" and environment._rest["requirements"] == ["requests==2.34.2"]
    assert [e.name for e in ml.environments.list()] == ["req-env"]


def test_a_command_job_with_an_inline_environment_runs_streams_and_downloads(ml, tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(textwrap.dedent("""\
        import argparse, pathlib, requests
        parser = argparse.ArgumentParser()
        parser.add_argument("--text")
        parser.add_argument("--out")
        args = parser.parse_args()
        print("requests", requests.__version__, "read", pathlib.Path(args.text).read_text().strip())
        pathlib.Path(args.out, "copy.txt").write_text(pathlib.Path(args.text).read_text())
        """))
    (tmp_path / "src" / ".amlignore").write_text("secrets/\n")
    (tmp_path / "src" / "secrets").mkdir()
    (tmp_path / "src" / "secrets" / "key.txt").write_text("do not upload\n")
    (tmp_path / "note.txt").write_text("hello from a local input\n")
    (tmp_path / "conda.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - requests==2.34.2\n")
    job = command(
        code=str(tmp_path / "src"),
        command="python main.py --text ${{inputs.text}} --out ${{outputs.copy}}",
        inputs={"text": Input(type="uri_file", path=str(tmp_path / "note.txt"))},
        outputs={"copy": Output(type="uri_folder")},
        environment=Environment(conda_file=str(tmp_path / "conda.yml")),
        experiment_name="sdk-inline", display_name="inline-env")
    submitted = ml.create_or_update(job)
    assert submitted.status in ("Queued", "Preparing", "Running") and submitted.name
    out = io.StringIO()
    ml.jobs.stream(submitted.name, out=out)
    assert "requests 2.34.2 read hello from a local input" in out.getvalue(), out.getvalue()
    done = ml.jobs.get(submitted.name)
    assert done.status == "Completed" and done.experiment_name == "sdk-inline"
    snapshot = ml._connection.get(f"/workspaces/{ml.workspace_name}/jobs/{done.name}/snapshot")
    paths = [entry["path"] for entry in snapshot["files"]]
    assert "main.py" in paths and not any("secrets" in path for path in paths), paths
    ml.jobs.download(done.name, download_path=tmp_path / "got", all=True)
    assert (tmp_path / "got" / "named-outputs" / "copy" / "copy.txt").read_text() == "hello from a local input\n"

    failing = command(command="python3 -c 'import sys; sys.exit(3)'", experiment_name="sdk-inline")
    with pytest.raises(JobException, match="Failed"):
        ml.jobs.stream(ml.jobs.create_or_update(failing).name, out=io.StringIO())
    sleeper = ml.jobs.create_or_update(command(command="sleep 60", experiment_name="sdk-inline"))
    assert ml.jobs.begin_cancel(sleeper.name).result(timeout=60).status == "Canceled"


def test_a_dsl_pipeline_and_a_sweep_run_on_the_server(ml, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "step.py").write_text(textwrap.dedent("""\
        import argparse, pathlib
        parser = argparse.ArgumentParser()
        parser.add_argument("--x", type=float)
        parser.add_argument("--data")
        parser.add_argument("--out")
        args = parser.parse_args()
        if args.out:
            pathlib.Path(args.out, "x.txt").write_text(f"{args.x * 2}\\n")
        if args.data:
            print("upstream wrote", pathlib.Path(args.data, "x.txt").read_text().strip())
        if args.x is not None:
            import atelier_log  # every job can import it
            atelier_log.log_metric("x", args.x)
        """))
    code = str(tmp_path / "src")
    produce = command(name="produce", code=code, command="python3 step.py --x ${{inputs.x}} --out ${{outputs.out}}",
                      inputs={"x": 1.0}, outputs={"out": Output(type="uri_folder")})
    consume = command(name="consume", code=code, command="python3 step.py --data ${{inputs.data}}",
                      inputs={"data": Input(type="uri_folder")})

    @dsl.pipeline(default_compute="local", experiment_name="sdk-pipeline", description="produce, then consume")
    def produce_then_consume(x):
        made = produce(x=x)
        consume(data=made.outputs.out)
        return {"doubled": made.outputs.out}

    pipeline = produce_then_consume(x=21.0)
    assert set(pipeline.jobs) == {"made", "consume"}, "steps are named after their variables"
    submitted = ml.jobs.create_or_update(pipeline)
    ml.jobs.stream(submitted.name, out=io.StringIO())
    assert ml.jobs.get(submitted.name).status == "Completed"
    ml.jobs.download(submitted.name, download_path=tmp_path / "p", output_name="doubled")
    assert (tmp_path / "p" / "named-outputs" / "doubled" / "x.txt").read_text() == "42.0\n"

    trial = command(code=code, command="python3 step.py --x ${{inputs.x}} --out ${{outputs.out}}",
                    inputs={"x": 0.0}, outputs={"out": Output(type="uri_folder")}, experiment_name="sdk-sweep")
    sweep = trial(x=Choice([1, 2])).sweep(primary_metric="x", goal="Maximize", sampling_algorithm="grid")
    sweep.set_limits(max_total_trials=2, max_concurrent_trials=2)
    assert sweep._to_dict()["trial"]["command"].count("${{search_space.x}}") == 1
    sweep_job = ml.jobs.create_or_update(sweep)
    ml.jobs.stream(sweep_job.name, out=io.StringIO())
    trials = list(ml.jobs.list(parent_job_name=sweep_job.name))
    assert sorted(t.name for t in trials) == [f"{sweep_job.name}_0", f"{sweep_job.name}_1"]
    assert all(t.status == "Completed" for t in trials)


def test_yaml_files_load_as_azures_load_functions_read_them(ml):
    job = load_job(REPO_ROOT / "examples" / "hello" / "job.yml")
    assert job.display_name == "hello-world" and job.inputs["name"] == "Atelier"
    submitted = ml.jobs.create_or_update(job)
    out = io.StringIO()
    ml.jobs.stream(submitted.name, out=out)
    assert "Hello, Atelier!" in out.getvalue()
    model = ml.models.create_or_update(load_model(REPO_ROOT / "examples" / "model" / "model.yml"))
    assert (model.name, model.version, model.tags) == ("fraud", "1", {"team": "risk"})


def test_components_schedules_workspaces_and_computes(ml, tmp_path):
    echo = command(name="echo_n", command="echo n=${{inputs.n}}", inputs={"n": 3}, display_name="echo n")
    component = ml.components.create_or_update(echo)
    assert (component.name, component.version) == ("echo_n", "1")
    assert ml.components.create_or_update(echo).version == "1", "the same content is the same version"
    registered = ml.components.get("echo_n", label="latest")

    @dsl.pipeline(default_compute="local", experiment_name="sdk-components")
    def twice():
        registered(n=5)

    ran = ml.jobs.create_or_update(twice())
    ml.jobs.stream(ran.name, out=io.StringIO())

    schedule = JobSchedule(name="nightly", trigger=CronTrigger(expression="0 3 * * *", time_zone="UTC"),
                           create_job=command(command="echo scheduled", experiment_name="sdk-schedule"))
    created = ml.schedules.begin_create_or_update(schedule).result()
    assert created.is_enabled and created.next_fire_time
    fired = ml.schedules.trigger("nightly")
    assert fired.name.startswith("nightly_")
    assert not ml.schedules.begin_disable("nightly").result().is_enabled
    ml.schedules.begin_delete("nightly").result()
    with pytest.raises(ResourceNotFoundError):
        ml.schedules.get("nightly")

    assert ml.workspace_name in {w.name for w in ml.workspaces.list()}
    assert ml.workspaces.get().mlflow_tracking_uri.startswith(ml.url)
    cluster = ml.compute.begin_create_or_update(AmlCompute(name="small", size="Standard_DS3_v2",
                                                           max_instances=1)).result()
    assert cluster.type == "amlcompute" and {c.name for c in ml.compute.list()} >= {"local", "small"}
    ml.compute.begin_delete("small").result()
    with pytest.raises(ResourceNotFoundError):
        ml.compute.get("small")


def test_a_compute_instance_is_created_stopped_started_and_deleted(ml):
    poller = ml.compute.begin_create_or_update(
        ComputeInstance(name="sdk-ci", size="Standard_DS3_v2", idle_time_before_shutdown_minutes=30))
    running = poller.result(timeout=600)
    assert running.state == "Running" and running.jupyterlab_url == f"/ci/{ml.workspace_name}/sdk-ci/lab"
    assert isinstance(ml.compute.get("sdk-ci"), ComputeInstance)
    assert ml.compute.begin_stop("sdk-ci").result(timeout=60).state == "Stopped"
    assert ml.compute.begin_start("sdk-ci").result(timeout=120).state == "Running"
    assert "sdk-ci" in {compute.name for compute in ml.compute.list()}
    ml.compute.begin_delete("sdk-ci").result()
    with pytest.raises(ResourceNotFoundError):
        ml.compute.get("sdk-ci")
