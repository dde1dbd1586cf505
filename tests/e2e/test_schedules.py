"""Schedules: Azure ML's schedule files, which submit an ordinary job (a command job or a
pipeline) at each fire time of a cron or recurrence trigger, tagged with the schedule and the
fire time. The firing tests wait for real minute boundaries (cron's granularity), so they run
with one mlflow client per store: the client plays no part in a schedule."""

from __future__ import annotations

import datetime as dt
import textwrap
import time
from zoneinfo import ZoneInfo

import pytest

from test_jobs import full_log, job_of, own, wait_for  # noqa: F401 (own is a fixture)

pytestmark = pytest.mark.atelier_only

ENDED = {"Completed", "Failed", "Canceled"}

HELLO_JOB = """\
    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    type: command
    name: hello-once
    experiment_name: scheduled
    code: src
    command: python3 hello.py ${{inputs.greeting}}
    inputs:
      greeting: hello
    """

HELLO_PY = """\
    import sys
    print("greeting:", sys.argv[1])
    """

NIGHTLY = """\
    $schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
    name: {name}
    display_name: Nightly hello
    trigger:
      type: cron
      expression: "{expression}"
      time_zone: "Pacific Standard Time"
    create_job:
      type: command
      job: ./hello.yml
      inputs:
        greeting: scheduled
    """


def write(folder, files):
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def schedule_of(http, srv, name):
    response = http.get(f"{srv.url}/api/v1/workspaces/default/schedules/{name}")
    assert response.status_code == 200, response.text
    return response.json()


def parse_time(value):
    """A time of the native API (epoch milliseconds) or of a tag (RFC 3339)."""
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_schedule_verbs_mistakes_and_a_manual_trigger(own, tmp_path):
    srv, cli, http = own
    write(tmp_path, {"hello.yml": HELLO_JOB, "src/hello.py": HELLO_PY,
                     "nightly.yml": NIGHTLY.format(name="nightly", expression="0 3 * * *")})

    # A mistake names its field and line, and nothing is created.
    broken = tmp_path / "broken.yml"
    broken.write_text(textwrap.dedent(NIGHTLY.format(name="broken", expression="0 25 * * *")))
    result = cli("schedule", "create", "-f", str(broken), check=False)
    assert result.returncode != 0 and "trigger.expression" in result.stderr and "line 6" in result.stderr, result.stderr
    missing_job = tmp_path / "missing.yml"
    missing_job.write_text(textwrap.dedent(NIGHTLY.format(name="missing", expression="0 3 * * *")).replace(
        "./hello.yml", "./nowhere.yml"))
    result = cli("schedule", "create", "-f", str(missing_job), check=False)
    assert result.returncode != 0 and "nowhere.yml" in result.stderr, result.stderr
    assert cli.json("schedule", "list", "-o", "json") == []

    created = cli.json("schedule", "create", "-f", str(tmp_path / "nightly.yml"), "-o", "json", timeout=60)
    assert created["status"] == "Enabled" and created["trigger"] == "cron 0 3 * * *"
    assert created["time_zone"] == "America/Los_Angeles" and created["last_fire_time"] is None
    # The next fire is 03:00 in Los Angeles, whatever the offset is that day.
    next_fire = parse_time(created["next_fire_time"]).astimezone(ZoneInfo("America/Los_Angeles"))
    assert (next_fire.hour, next_fire.minute) == (3, 0)
    assert dt.timedelta(0) < next_fire - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    taken = cli("schedule", "create", "-f", str(tmp_path / "nightly.yml"), check=False)
    assert taken.returncode != 0 and "already exists" in taken.stderr, taken.stderr

    disabled = cli.json("schedule", "disable", "-n", "nightly", "-o", "json")
    assert disabled["status"] == "Disabled" and disabled["next_fire_time"] is None
    enabled = cli.json("schedule", "enable", "-n", "nightly", "-o", "json")
    assert enabled["status"] == "Enabled" and enabled["next_fire_time"] == created["next_fire_time"]

    # trigger-now submits an ordinary job, with the schedule's override, tagged with the
    # schedule and the fire time; the schedule's own fire times do not move.
    job = cli.json("schedule", "trigger-now", "-n", "nightly", "-o", "json")
    assert job["name"].startswith("nightly_") and job["name"] != "hello-once"
    done = wait_for(http, srv, job["name"], ENDED)
    assert done["status"] == "Completed", full_log(http, srv, job["name"])
    assert "greeting: scheduled" in full_log(http, srv, job["name"])
    assert done["tags"]["atelier.schedule"] == "nightly" and done["experiment_name"] == "scheduled"
    fired = parse_time(done["tags"]["atelier.schedule.fire_time"])
    assert abs((parse_time(done["created_at"]) - fired).total_seconds()) < 5
    shown = schedule_of(http, srv, "nightly")
    assert [listed["name"] for listed in shown["jobs"]] == [job["name"]]
    assert parse_time(shown["next_fire_time"]) == parse_time(created["next_fire_time"])
    text = cli("schedule", "show", "-n", "nightly").stdout
    assert job["name"] in text and "Completed" in text, text

    # update replaces the trigger and keeps the schedule enabled.
    (tmp_path / "nightly.yml").write_text(textwrap.dedent(NIGHTLY.format(name="nightly", expression="30 4 * * 1")))
    updated = cli.json("schedule", "update", "-n", "nightly", "-f", str(tmp_path / "nightly.yml"), "-o", "json")
    again = parse_time(updated["next_fire_time"]).astimezone(ZoneInfo("America/Los_Angeles"))
    assert (again.weekday(), again.hour, again.minute) == (0, 4, 30) and updated["status"] == "Enabled"

    # create_job may name an existing job: it is submitted again as it was (its code too).
    again_file = tmp_path / "again.yml"
    again_file.write_text(textwrap.dedent(f"""\
        name: again
        trigger:
          type: recurrence
          frequency: day
          interval: 1
          schedule:
            hours: [5]
            minutes: [15]
        create_job: azureml:{job["name"]}
        """))
    again = cli.json("schedule", "create", "-f", str(again_file), "-o", "json")
    assert again["trigger"].startswith("every 1 day")
    resubmitted = cli.json("schedule", "trigger-now", "-n", "again", "-o", "json")
    redone = wait_for(http, srv, resubmitted["name"], ENDED)
    assert redone["status"] == "Completed" and "greeting: scheduled" in full_log(http, srv, resubmitted["name"])
    assert redone["tags"]["atelier.schedule"] == "again"

    listed = {row["name"]: row for row in cli.json("schedule", "list", "-o", "json")}
    assert set(listed) == {"nightly", "again"}
    cli("schedule", "delete", "-n", "again", "--yes")
    assert http.get(f"{srv.url}/api/v1/workspaces/default/schedules/again").status_code == 404
    # The jobs a deleted schedule made stay.
    assert job_of(http, srv, resubmitted["name"])["status"] == "Completed"


RETRAIN_PIPELINE = """\
    type: pipeline
    experiment_name: retraining
    inputs:
      training: {type: uri_folder, path: azureml:iris-sched@latest}
    jobs:
      train:
        command: cat ${{inputs.data}}/rows.csv && cp ${{inputs.data}}/rows.csv ${{outputs.model}}/seen.csv
        inputs:
          data: ${{parent.inputs.training}}
        outputs:
          model:
    """

EVERY_MINUTE = """\
    name: {name}
    trigger:
      type: cron
      expression: "* * * * *"
    create_job: {job}
    """


def seconds_to_next_minute():
    now = time.time()
    return 60 - now % 60


def fires(http, srv, name):
    return sorted(job["fire_time"] for job in schedule_of(http, srv, name)["jobs"])


def wait_for_fires(http, srv, name, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(fires(http, srv, name)) >= count:
            return fires(http, srv, name)
        time.sleep(0.25)
    pytest.fail(f"schedule {name} did not fire {count} times in {timeout}s: {schedule_of(http, srv, name)}"
                f"\n{srv.log_tail()}")


@pytest.mark.one_client
def test_cron_schedules_catch_up_once_after_downtime_fire_on_time_and_pick_up_new_data(own, tmp_path):
    srv, cli, http = own
    write(tmp_path, {
        "hello.yml": HELLO_JOB, "src/hello.py": HELLO_PY,
        "retrain.yml": RETRAIN_PIPELINE,
        "v1/rows.csv": "version one\n", "v2/rows.csv": "version two\n",
        "tick.yml": textwrap.dedent(EVERY_MINUTE).format(name="tick", job="\n  type: command\n  job: ./hello.yml"),
        "paused.yml": textwrap.dedent(EVERY_MINUTE).format(name="paused", job="\n  type: command\n  job: ./hello.yml"),
        "retrain-schedule.yml": textwrap.dedent(EVERY_MINUTE).format(name="retrain", job="\n  job: ./retrain.yml"),
    })
    cli("data", "create", "-n", "iris-sched", "-p", str(tmp_path / "v1"))
    if seconds_to_next_minute() < 15:  # all three are made before the same boundary
        time.sleep(seconds_to_next_minute() + 1)
    for name in ("tick", "paused", "retrain"):
        file = tmp_path / ("retrain-schedule.yml" if name == "retrain" else f"{name}.yml")
        cli("schedule", "create", "-f", str(file), timeout=60)
    cli("schedule", "disable", "-n", "paused")

    # The server is down over two fire times; back up, each schedule submits the latest of
    # them, once (not one job per missed minute).
    srv.stop()
    down_from = time.time()
    time.sleep(seconds_to_next_minute() + 61)
    srv.keep_port = True
    srv.start()
    up_at = time.time()
    missed = max(boundary for boundary in (down_from - down_from % 60 + 60 * k for k in (1, 2, 3))
                 if boundary <= up_at)
    caught_up = wait_for_fires(http, srv, "tick", 1, timeout=15)
    assert [parse_time(fire).timestamp() for fire in caught_up] == [missed], caught_up
    first = wait_for_fires(http, srv, "retrain", 1, timeout=15)
    assert [parse_time(fire).timestamp() for fire in first] == [missed], first

    # The first retraining resolved iris-sched@latest (version 1) when it was submitted; a new
    # version registered before the next fire is what the second one trains on.
    cli("data", "create", "-n", "iris-sched", "-p", str(tmp_path / "v2"))
    second = wait_for_fires(http, srv, "retrain", 2, timeout=75)
    ticks = wait_for_fires(http, srv, "tick", 2, timeout=15)
    # One job per fire time, on the minute, a minute apart; the disabled schedule made none.
    times = [parse_time(fire) for fire in ticks]
    assert times[1] - times[0] == dt.timedelta(minutes=1) and all(t.second == 0 for t in times), ticks
    assert [parse_time(fire) for fire in second] == times
    assert fires(http, srv, "paused") == []
    shown = schedule_of(http, srv, "tick")
    assert shown["last_fire_time"] == ticks[1] and shown["last_error"] is None
    assert parse_time(shown["next_fire_time"]) == times[1] + dt.timedelta(minutes=1)
    for name in ("tick", "retrain"):
        cli("schedule", "disable", "-n", name)
    # Each fire is in the audit log, as its creator's submission of a job.
    audited = [record for record in cli.json("audit", "list", "--workspace", "default", "-o", "json")
               if record["target"].startswith("POST schedule tick fire")]
    assert len(audited) == len(ticks), audited
    assert all(record["user"] == "admin" and record["outcome"] == "succeeded" for record in audited), audited

    retrain_jobs = sorted(schedule_of(http, srv, "retrain")["jobs"], key=lambda job: job["fire_time"])
    assert [job["type"] for job in retrain_jobs] == ["pipeline", "pipeline"]
    runs = [wait_for(http, srv, job["name"], ENDED, timeout=120) for job in retrain_jobs]
    assert [run["status"] for run in runs] == ["Completed", "Completed"], runs
    steps = [run["pipeline"]["steps"]["train"] for run in runs]
    # The second run read the new version: it ran (reuse did not skip it) and printed it.
    assert steps[1]["reused_from"] is None
    assert "version one" in full_log(http, srv, steps[0]["job"])
    assert "version two" in full_log(http, srv, steps[1]["job"])
