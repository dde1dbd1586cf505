"""Pipeline jobs: Azure ML's `type: pipeline` files, run as a parent job whose steps are
command jobs (MLflow child runs) that start when their inputs exist; steps that nothing changed
reuse an earlier run's outputs. The steps here are small Python scripts on the machine's
Python, so each test takes seconds."""

from __future__ import annotations

import textwrap
import time

import pytest

from test_jobs import full_log, job_of, own, wait_for  # noqa: F401 (own is a fixture)

pytestmark = pytest.mark.atelier_only

ENDED = {"Completed", "Failed", "Canceled"}

PREP_PY = """\
    import argparse, os, sys, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail", default="no")
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    time.sleep(args.pause)
    if args.fail == "yes":
        print("prep was told to fail", file=sys.stderr)
        sys.exit(4)
    rows = [line.strip() for line in open(os.path.join(args.raw, "rows.csv")) if line.strip()]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "clean.csv"), "w") as out:
        out.write("\\n".join(row.upper() for row in rows) + "\\n")
    print(f"prep cleaned {len(rows)} rows")
    """

TRAIN_PY = """\
    import argparse, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    rows = open(os.path.join(args.data, "clean.csv")).read().split()
    os.makedirs(args.model, exist_ok=True)
    with open(os.path.join(args.model, "model.txt"), "w") as out:
        out.write(f"rows={len(rows)} epochs={args.epochs} lr={args.lr} first={rows[0]}\\n")
    print("trained", len(rows), "rows")
    """

TRAIN_COMPONENT = """\
    $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
    type: command
    name: train_model
    display_name: Train
    inputs:
      training_data: {type: uri_folder}
      max_epochs: {type: integer, min: 1}
      learning_rate: {type: number, optional: true}
    outputs:
      model_output: {type: uri_folder}
    code: ./train_src
    command: >-
      python3 train.py --data ${{inputs.training_data}} --epochs ${{inputs.max_epochs}}
      $[[--lr ${{inputs.learning_rate}}]] --model ${{outputs.model_output}}
    """

REPORT_COMPONENT = """\
    name: report_{suffix}
    inputs:
      model: {{type: uri_folder}}
      title: {{type: string, default: nightly}}
    outputs:
      report: {{type: uri_folder}}
    command: >-
      python3 -c "import sys, shutil, os; os.makedirs(sys.argv[3], exist_ok=True);
      open(os.path.join(sys.argv[3], 'report.txt'), 'w').write(sys.argv[1] + ': ' + open(os.path.join(sys.argv[2], 'model.txt')).read())"
      ${{{{inputs.title}}}} ${{{{inputs.model}}}} ${{{{outputs.report}}}}
    """

PIPELINE = """\
    $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
    type: pipeline
    display_name: prep-train-report
    experiment_name: pipelines
    settings:
      default_compute: azureml:local
      continue_on_step_failure: false
    inputs:
      raw: {{type: uri_folder, path: ./data}}
      epochs: 3
      fail: "no"
    outputs:
      final_report: {{type: uri_folder, name: {report_asset}}}
    jobs:
      prep:
        command: python3 prep.py --raw ${{{{inputs.raw_data}}}} --out ${{{{outputs.clean}}}} --fail ${{{{inputs.fail}}}}
        code: ./prep_src
        inputs:
          raw_data: ${{{{parent.inputs.raw}}}}
          fail: ${{{{parent.inputs.fail}}}}
        outputs:
          clean:
      train:
        type: command
        component: ./train.yml
        inputs:
          training_data: ${{{{parent.jobs.prep.outputs.clean}}}}
          max_epochs: ${{{{parent.inputs.epochs}}}}
      report:
        component: azureml:report_{suffix}@latest
        inputs:
          model: ${{{{parent.jobs.train.outputs.model_output}}}}
        outputs:
          report: ${{{{parent.outputs.final_report}}}}
    """


def write(folder, files):
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def example(tmp_path, cli, suffix, rows="a\nb\nc\n"):
    """The example pipeline's folder: a step inline, one from a component file, one registered."""
    report = tmp_path / "report.yml"
    report.write_text(textwrap.dedent(REPORT_COMPONENT).format(suffix=suffix))
    cli("component", "create", "-f", str(report))
    write(tmp_path, {
        "prep_src/prep.py": PREP_PY,
        "train_src/train.py": TRAIN_PY,
        "train.yml": TRAIN_COMPONENT,
        "data/rows.csv": rows,
        "pipeline.yml": PIPELINE.format(suffix=suffix, report_asset=f"report-{suffix}"),
    })
    return tmp_path / "pipeline.yml"


def steps_of(http, srv, name):
    return job_of(http, srv, name)["pipeline"]["steps"]


def output_text(http, srv, job, output, path):
    response = http.get(f"{srv.url}/api/v1/workspaces/default/jobs/{job}/outputs/{output}/files/{output}/{path}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_example_pipeline_runs_its_steps_in_order_and_registers_its_output(own, tmp_path):
    srv, cli, http = own
    suffix = f"{time.time_ns() % 10**9}"
    pipeline_file = example(tmp_path, cli, suffix)
    created = cli.json("job", "create", "-f", str(pipeline_file), "-o", "json", timeout=120)
    name = created["name"]
    assert created["type"] == "pipeline"
    done = wait_for(http, srv, name, ENDED, timeout=180)
    assert done["status"] == "Completed", (done, full_log(http, srv, name))
    steps = done["pipeline"]["steps"]
    assert {step: info["status"] for step, info in steps.items()} == {
        "prep": "Completed", "train": "Completed", "report": "Completed"}
    assert steps["report"]["component"] == f"report_{suffix}:1"
    assert [(edge["from"], edge["to"]) for edge in done["pipeline"]["edges"]] == [("prep", "train"), ("train", "report")]
    # Each step is a job of its own, a child run of the pipeline's, started after its inputs existed.
    prep, train, report = (job_of(http, srv, steps[step]["job"]) for step in ("prep", "train", "report"))
    assert prep["parent_job_name"] == name and train["step_name"] == "train"
    assert train["start_time"] >= prep["end_time"] and report["start_time"] >= train["end_time"]
    assert "rows=3 epochs=3 lr=None first=A" in output_text(http, srv, train["name"], "model_output", "model.txt")
    # The pipeline's output is the report step's, registered as a data asset.
    assert output_text(http, srv, name, "final_report", "report.txt").startswith("nightly: rows=3")
    asset = cli.json("data", "show", "-n", f"report-{suffix}", "--label", "latest", "-o", "json")
    assert report["name"] in asset["path"]
    cli("job", "download", "-n", name, "--output-name", "final_report", "-p", str(tmp_path / "downloaded"))
    downloaded = list((tmp_path / "downloaded").rglob("report.txt"))
    assert len(downloaded) == 1 and downloaded[0].read_text().startswith("nightly: rows=3"), downloaded
    shown = cli("job", "show", "-n", name).stdout
    assert "Completed: 3" in shown and f"report_{suffix}:1" in shown and train["name"] in shown, shown
    log = full_log(http, srv, name)
    assert "prep: queued as job" in log and "Completed: 3 steps completed (0 reused)" in log, log


def run_pipeline(cli, http, srv, pipeline_file, *set_args, timeout=180):
    args = ["job", "create", "-f", str(pipeline_file), "-o", "json"]
    for assignment in set_args:
        args += ["--set", assignment]
    name = cli.json(*args, timeout=120)["name"]
    return wait_for(http, srv, name, ENDED, timeout=timeout)


def reused(done):
    return {step: info["reused_from"] is not None for step, info in done["pipeline"]["steps"].items()}


def test_a_step_is_reused_only_when_nothing_it_depends_on_changed(own, tmp_path):
    srv, cli, http = own
    suffix = f"{time.time_ns() % 10**9}"
    pipeline_file = example(tmp_path, cli, suffix)
    first = run_pipeline(cli, http, srv, pipeline_file)
    assert first["status"] == "Completed" and not any(reused(first).values())

    # The same pipeline again: every step reuses the first run's, and says so.
    second = run_pipeline(cli, http, srv, pipeline_file)
    assert second["status"] == "Completed" and all(reused(second).values()), second["pipeline"]
    train = second["pipeline"]["steps"]["train"]
    assert train["reused_from"] == first["pipeline"]["steps"]["train"]["job"]
    train_job = job_of(http, srv, train["job"])
    assert train_job["events"][-1]["message"] == f"reused from job {train['reused_from']}"
    # A reused step's outputs are the original's, for downstream steps and for readers.
    assert "first=A" in output_text(http, srv, train["job"], "model_output", "model.txt")
    assert output_text(http, srv, second["name"], "final_report", "report.txt").startswith("nightly: rows=3")

    # A changed parameter runs the steps it reaches, and reuses the rest.
    third = run_pipeline(cli, http, srv, pipeline_file, "inputs.epochs=4")
    assert third["status"] == "Completed"
    assert reused(third) == {"prep": True, "train": False, "report": False}
    assert "epochs=4" in output_text(http, srv, third["pipeline"]["steps"]["train"]["job"], "model_output", "model.txt")

    # One changed byte of input data runs every step that reads it, directly or not.
    (tmp_path / "data" / "rows.csv").write_text("z\nb\nc\n")
    fourth = run_pipeline(cli, http, srv, pipeline_file)
    assert reused(fourth) == {"prep": False, "train": False, "report": False}
    # One changed byte of a step's code runs that step; a step whose inputs came out the same
    # as before is reused.
    (tmp_path / "prep_src" / "prep.py").write_text((tmp_path / "prep_src" / "prep.py").read_text() + "\n# changed\n")
    fifth = run_pipeline(cli, http, srv, pipeline_file)
    assert reused(fifth) == {"prep": False, "train": True, "report": True}

    # force_rerun runs everything.
    forced = run_pipeline(cli, http, srv, pipeline_file, "settings.force_rerun=true")
    assert forced["status"] == "Completed" and not any(reused(forced).values())


BRANCHES = """\
    type: pipeline
    experiment_name: branches
    settings:
      continue_on_step_failure: {continue_on_failure}
    jobs:
      broken:
        command: python3 -c "import sys, time; time.sleep(0.5); sys.exit(3)" ${{{{outputs.out}}}}
        outputs:
          out:
      after_broken:
        command: ls ${{{{inputs.data}}}}
        inputs:
          data: ${{{{parent.jobs.broken.outputs.out}}}}
      slow:
        command: python3 -c "import time; time.sleep({slow})"
    """


def test_a_failed_step_stops_the_pipeline_unless_told_to_continue(own, tmp_path):
    srv, cli, http = own
    stop = tmp_path / "stop.yml"
    stop.write_text(textwrap.dedent(BRANCHES).format(continue_on_failure="false", slow=30))
    done = run_pipeline(cli, http, srv, stop, timeout=60)
    steps = done["pipeline"]["steps"]
    assert done["status"] == "Failed" and "step broken did not complete" in done["error"], done
    assert steps["broken"]["status"] == "Failed"
    assert steps["slow"]["status"] == "Canceled", "what runs is canceled"
    assert steps["after_broken"]["status"] == "NotStarted" and steps["after_broken"]["job"] is None

    go_on = tmp_path / "continue.yml"
    go_on.write_text(textwrap.dedent(BRANCHES).format(continue_on_failure="true", slow=2))
    done = run_pipeline(cli, http, srv, go_on, timeout=60)
    steps = done["pipeline"]["steps"]
    assert done["status"] == "Failed", done
    assert steps["slow"]["status"] == "Completed", "an independent branch runs to its end"
    assert steps["after_broken"]["status"] == "NotStarted"


def test_canceling_a_pipeline_cancels_its_steps(own, tmp_path):
    srv, cli, http = own
    job_file = tmp_path / "cancel.yml"
    job_file.write_text(textwrap.dedent(BRANCHES).format(continue_on_failure="false", slow=60)
                        .replace("sys.exit(3)", "time.sleep(60)"))
    name = cli.json("job", "create", "-f", str(job_file), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while job_of(http, srv, name)["pipeline"]["steps"]["slow"]["status"] != "Running":
        assert time.monotonic() < deadline, job_of(http, srv, name)
        time.sleep(0.2)
    cli("job", "cancel", "-n", name)
    done = wait_for(http, srv, name, ENDED, timeout=60)
    steps = done["pipeline"]["steps"]
    assert done["status"] == "Canceled", done
    assert steps["slow"]["status"] == "Canceled" and steps["broken"]["status"] == "Canceled"
    assert steps["after_broken"]["job"] is None


def test_a_restarted_server_loses_no_step_and_runs_none_twice(own, tmp_path):
    srv, cli, http = own
    chain = tmp_path / "chain.yml"
    chain.write_text(textwrap.dedent("""\
        type: pipeline
        experiment_name: chain
        jobs:
          first:
            command: python3 -c "import time, os, sys; time.sleep(3); os.makedirs(sys.argv[1], exist_ok=True); open(os.path.join(sys.argv[1], 'n'), 'w').write('1')" ${{outputs.out}}
            outputs:
              out:
          second:
            command: cat ${{inputs.data}}/n
            inputs:
              data: ${{parent.jobs.first.outputs.out}}
        """))
    name = cli.json("job", "create", "-f", str(chain), "-o", "json")["name"]
    deadline = time.monotonic() + 60
    while job_of(http, srv, name)["pipeline"]["steps"]["first"]["status"] != "Running":
        assert time.monotonic() < deadline, job_of(http, srv, name)
        time.sleep(0.1)
    srv.kill()
    time.sleep(4)  # the step ends while the server is down
    srv.keep_port = True
    srv.start()
    done = wait_for(http, srv, name, ENDED, timeout=90)
    assert done["status"] == "Completed", (done, full_log(http, srv, name))
    children = http.get(f"{srv.url}/api/v1/workspaces/default/jobs",
                        params={"parent_job_name": name}).json()
    assert sorted(child["step_name"] for child in children) == ["first", "second"]
    assert full_log(http, srv, done["pipeline"]["steps"]["second"]["job"]).strip().endswith("1")


def test_mistakes_are_found_before_anything_runs(own, tmp_path):
    srv, cli, http = own
    suffix = f"{time.time_ns() % 10**9}"
    pipeline_file = example(tmp_path, cli, suffix)
    text = pipeline_file.read_text()
    # A folder output into an integer input: found by the CLI, with the step, field and line.
    pipeline_file.write_text(text.replace("max_epochs: ${{parent.inputs.epochs}}", "max_epochs: ${{parent.jobs.prep.outputs.clean}}"))
    refused = cli("job", "create", "-f", str(pipeline_file), check=False)
    assert refused.returncode != 0
    assert "line 28: jobs.train.inputs.max_epochs: step 'prep''s uri_folder output 'clean' cannot feed the integer input" in refused.stderr, refused.stderr
    assert "Uploaded" not in refused.stderr
    # A registered component's interface is the server's to check, before anything is uploaded.
    pipeline_file.write_text(text.replace("model: ${{parent.jobs.train", "modell: ${{parent.jobs.train"))
    refused = cli("job", "create", "-f", str(pipeline_file), check=False)
    assert "jobs.report.inputs.modell: the step's component has no input 'modell' (it has model, title)" in refused.stderr, refused.stderr
    assert "Uploaded" not in refused.stderr
    pipeline_file.write_text(text.replace(f"azureml:report_{suffix}@latest", "azureml:no_such_component@latest"))
    refused = cli("job", "create", "-f", str(pipeline_file), check=False)
    assert "jobs.report.component" in refused.stderr and "no_such_component" in refused.stderr, refused.stderr
    assert http.get(f"{srv.url}/api/v1/workspaces/default/jobs", params={"experiment_name": "pipelines"}).json() == []


def test_a_job_that_holds_a_steps_name_is_found_at_submission(own, tmp_path):
    srv, cli, http = own
    hello = tmp_path / "hello.yml"
    hello.write_text("command: echo taken\n")
    cli("job", "create", "-f", str(hello), "--name", "clash_first")
    chain = tmp_path / "clash.yml"
    chain.write_text("type: pipeline\njobs:\n  first:\n    command: echo first\n")
    refused = cli("job", "create", "-f", str(chain), "--name", "clash", check=False)
    assert refused.returncode != 0 and "a job named 'clash_first' already exists" in refused.stderr, refused.stderr
    # Under another name it runs.
    name = cli.json("job", "create", "-f", str(chain), "--name", "clash2", "-o", "json")["name"]
    assert wait_for(http, srv, name, ENDED, timeout=60)["status"] == "Completed"


TUNE_COMPONENT = """\
    name: tune_c
    inputs:
      data: {type: uri_folder}
      c: {type: number, min: 0}
      kernel: {type: string, default: linear, enum: [linear, rbf]}
    outputs:
      model: {type: uri_folder}
    code: ./tune_src
    command: >-
      python3 tune.py --data ${{inputs.data}} --c ${{inputs.c}} --kernel ${{inputs.kernel}}
      --model ${{outputs.model}}
    """

TUNE_PY = """\
    import argparse, os
    import atelier_log
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--c", type=float, required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    rows = open(os.path.join(args.data, "clean.csv")).read().split()
    score = args.c * (2 if args.kernel == "rbf" else 1)
    atelier_log.log_metric("score", score)
    print(f"trial c={args.c} kernel={args.kernel}")
    os.makedirs(args.model, exist_ok=True)
    open(os.path.join(args.model, "model.txt"), "w").write(f"c={args.c} kernel={args.kernel} rows={len(rows)}")
    """

SWEEP_PIPELINE = """\
    type: pipeline
    experiment_name: pipeline-sweeps
    outputs:
      best_model: {type: uri_folder}
    jobs:
      prep:
        command: python3 -c "import os, sys; os.makedirs(sys.argv[1], exist_ok=True); open(os.path.join(sys.argv[1], 'clean.csv'), 'w').write('a b c')" ${{outputs.clean}}
        outputs:
          clean:
      tune:
        type: sweep
        trial: ./tune.yml
        inputs:
          data: ${{parent.jobs.prep.outputs.clean}}
        outputs:
          model: ${{parent.outputs.best_model}}
        search_space:
          c: {type: choice, values: [0.5, 3, 1.5]}
          kernel: {type: choice, values: [linear, rbf]}
        sampling_algorithm: grid
        objective: {goal: maximize, primary_metric: score}
        limits: {max_total_trials: 6, max_concurrent_trials: 3, trial_timeout: 120}
      report:
        command: cat ${{inputs.model}}/model.txt
        inputs:
          model: ${{parent.jobs.tune.outputs.model}}
    """


def test_a_sweep_step_tunes_its_component_and_hands_on_the_best_trials_output(own, tmp_path):
    srv, cli, http = own
    write(tmp_path, {"tune.yml": TUNE_COMPONENT, "tune_src/tune.py": TUNE_PY, "pipeline.yml": SWEEP_PIPELINE})
    name = cli.json("job", "create", "-f", str(tmp_path / "pipeline.yml"), "-o", "json", timeout=120)["name"]
    done = wait_for(http, srv, name, ENDED, timeout=240)
    assert done["status"] == "Completed", (done, full_log(http, srv, name))
    steps = done["pipeline"]["steps"]
    # The sweep step is a sweep job, a child of the pipeline; its trials are children of it.
    tune = job_of(http, srv, steps["tune"]["job"])
    assert tune["type"] == "sweep" and tune["parent_job_name"] == name and tune["step_name"] == "tune"
    trials = cli.json("job", "list", "--parent-job-name", tune["name"], "-o", "json")
    assert len(trials) == 6 and all(trial["status"] == "Completed" for trial in trials), trials
    assert all(trial.get("step_name") is None for trial in trials)
    best = tune["sweep"]["best_trial"]
    assert best["value"] == 6.0, tune["sweep"]
    # The step after it, and the pipeline's output, get the best trial's output.
    assert full_log(http, srv, steps["report"]["job"]).strip().endswith("c=3.0 kernel=rbf rows=3")
    assert output_text(http, srv, name, "best_model", "model.txt") == "c=3.0 kernel=rbf rows=3"
    # Each trial ran the component with its own values, passed as the component's inputs.
    ran = sorted(line for trial in trials for line in full_log(http, srv, trial["name"]).splitlines()
                 if line.startswith("trial "))
    assert ran == sorted(f"trial c={c} kernel={k}" for c in (0.5, 3.0, 1.5) for k in ("linear", "rbf")), ran

    # A mistake in the sweep step is found before anything runs, with its field and line.
    broken = tmp_path / "broken.yml"
    broken.write_text(textwrap.dedent(SWEEP_PIPELINE).replace("values: [0.5, 3, 1.5]", "values: [-1, 3]"))
    result = cli("job", "create", "-f", str(broken), check=False)
    assert result.returncode != 0, result.stdout
    assert "jobs.tune.search_space.c" in result.stderr and "line 18" in result.stderr, result.stderr


def test_cancelling_a_pipeline_cancels_its_sweep_step_and_the_trials_that_run(own, tmp_path):
    srv, cli, http = own
    slow = TUNE_PY.replace('    atelier_log.log_metric("score", score)\n',
                           '    import time\n    time.sleep(60)\n    atelier_log.log_metric("score", score)\n')
    write(tmp_path, {"tune.yml": TUNE_COMPONENT, "tune_src/tune.py": slow, "pipeline.yml": SWEEP_PIPELINE})
    name = cli.json("job", "create", "-f", str(tmp_path / "pipeline.yml"), "-o", "json", timeout=120)["name"]
    deadline = time.monotonic() + 60
    while True:
        tune = job_of(http, srv, name)["pipeline"]["steps"]["tune"]["job"]
        trials = cli.json("job", "list", "--parent-job-name", tune, "-o", "json") if tune else []
        if any(trial["status"] == "Running" for trial in trials):
            break
        assert time.monotonic() < deadline, job_of(http, srv, name)
        time.sleep(0.2)
    cli("job", "cancel", "-n", name)
    done = wait_for(http, srv, name, ENDED, timeout=60)
    assert done["status"] == "Canceled"
    assert wait_for(http, srv, tune, ENDED, timeout=30)["status"] == "Canceled"
    for trial in cli.json("job", "list", "--parent-job-name", tune, "-o", "json"):
        assert wait_for(http, srv, trial["name"], ENDED, timeout=30)["status"] == "Canceled", trial
    assert done["pipeline"]["steps"]["report"]["job"] is None
