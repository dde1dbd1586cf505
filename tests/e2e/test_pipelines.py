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
    log = full_log(http, srv, name)
    assert "prep: queued as job" in log and "Completed: 3 steps completed (0 reused)" in log, log
