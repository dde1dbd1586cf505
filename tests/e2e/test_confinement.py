"""Confinement of users' code: a job's command and a deployment's scoring script run where the
server's home (token, admin password, master key, database, other jobs' folders) is an empty
folder and no other process of the machine is visible. Each attack here is the one a user
would try: scan /proc for `--home`, read ~/.atelier and the server's home by its known path.
Also: a server that cannot confine refuses users' jobs, the first start prints no secret, and a
machine without uv gets one provisioned on first need."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from conftest import CONFIG, Cli
from test_endpoints import endpoint, key_of, score, write_deployment
from test_jobs import job_of, own, wait_for, write_job  # noqa: F401  (own is a fixture)

pytestmark = pytest.mark.atelier_only

SECRETS = ["token", "admin-password", "master-key", "atelier.db"]

# The attack, as Python that a job or a scoring script runs: every home it can find (other
# servers' command lines, ~/.atelier, the path it was told), then the secrets in each.
ATTACK = """
import glob, json, os

def attack(told_home):
    homes = {os.path.expanduser("~/.atelier"), told_home}
    commands = []
    for path in glob.glob("/proc/*/cmdline"):
        try:
            args = open(path, "rb").read().split(b"\\0")
        except OSError:
            continue
        commands.append(b" ".join(args).decode(errors="replace"))
        if b"--home" in args and args.index(b"--home") + 1 < len(args):
            homes.add(args[args.index(b"--home") + 1].decode())
    read = []
    for home in sorted(homes):
        for name in SECRETS:
            try:
                with open(os.path.join(home, name), "rb") as file:
                    file.read(1)
                read.append(os.path.join(home, name))
            except OSError:
                pass
    servers = [command for command in commands if " server " in command and "--home" in command]
    return {"read": read, "servers": servers, "processes": len(commands), "homes": sorted(homes)}
""".replace("SECRETS", repr(SECRETS))


def test_a_job_cannot_read_the_servers_secrets_nor_see_its_process(own, tmp_path):
    srv, cli, http = own
    job_file = write_job(
        tmp_path / "attack",
        f"""\
        command: python3 attack.py
        code: src
        environment_variables:
          SERVER_HOME: {srv.home}
        """,
        {"src/attack.py": ATTACK + "\nimport sys\nfound = attack(os.environ['SERVER_HOME'])\n"
                          "print('ATTACK', json.dumps(found))\nsys.exit(1 if found['read'] or found['servers'] else 0)\n"},
    )
    streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=180, check=False)
    assert "ATTACK" in streamed.stdout, streamed.stdout + streamed.stderr
    line = next(line for line in streamed.stdout.splitlines() if line.startswith("ATTACK"))
    assert '"read": []' in line and '"servers": []' in line, line
    assert "Status: Completed" in streamed.stdout, streamed.stdout
    # The files are there, for the server: the job saw an empty folder in their place (the
    # database is a file of the home only on SQLite).
    for name in SECRETS if CONFIG.store == "sqlite" else [name for name in SECRETS if name != "atelier.db"]:
        assert (srv.home / name).exists(), name
    assert stat.S_IMODE(srv.home.stat().st_mode) == 0o700, "the home is its owner's alone"


def test_a_job_cannot_read_another_running_jobs_folder(own, tmp_path):
    srv, cli, http = own
    victim = "victim-" + os.urandom(4).hex()
    victim_file = write_job(tmp_path / "victim", "command: echo classified > mine.txt && sleep 120\n")
    cli("job", "create", "-f", str(victim_file), "--name", victim)
    wait_for(http, srv, victim, {"Running"})
    deadline = time.monotonic() + 30
    while not (srv.home / "jobs" / victim / "wd" / "mine.txt").exists():
        assert time.monotonic() < deadline, "the victim job never wrote its file"
        time.sleep(0.2)
    thief_file = write_job(
        tmp_path / "thief",
        f"""\
        command: >-
          echo "LISTING $(ls $SERVER_HOME/jobs | tr '\\n' ' ')";
          if cat $SERVER_HOME/jobs/$VICTIM/wd/mine.txt; then echo STOLEN; exit 1; fi;
          echo SAFE
        environment_variables:
          SERVER_HOME: {srv.home}
          VICTIM: {victim}
        """,
    )
    try:
        streamed = cli("job", "create", "-f", str(thief_file), "--stream", timeout=180, check=False)
        assert "SAFE" in streamed.stdout and "STOLEN" not in streamed.stdout, streamed.stdout
        assert "Status: Completed" in streamed.stdout, streamed.stdout
        listing = next(line for line in streamed.stdout.splitlines() if line.startswith("LISTING"))
        assert victim not in listing, f"the thief sees only its own job's folder: {listing}"
    finally:
        cli("job", "cancel", "-n", victim)
        wait_for(http, srv, victim, {"Canceled"})


def test_a_job_writes_only_its_own_folders_and_runs_unprivileged(own, tmp_path):
    """Outside its job folder, its private /tmp (its HOME) and /dev, a job cannot write, not
    even in a folder open to everyone (Landlock); on a server that runs as root, it runs as an
    unprivileged user, whose files the server can still read."""
    srv, cli, http = own
    open_to_all = Path.cwd() / f".e2e-open-{os.urandom(4).hex()}"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    job_file = write_job(
        tmp_path / "writer",
        f"""\
        command: >-
          echo "UID $(id -u)";
          if echo escaped > {open_to_all}/escaped; then echo ESCAPED; fi;
          echo kept > $HOME/note && echo "HOME OK $HOME";
          echo made > ./outputs/made.txt && echo "FOLDER OK"
        """,
    )
    try:
        streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=180, check=False)
        assert "Status: Completed" in streamed.stdout, streamed.stdout
        assert "ESCAPED" not in streamed.stdout and not (open_to_all / "escaped").exists(), streamed.stdout
        assert "HOME OK /tmp" in streamed.stdout and "FOLDER OK" in streamed.stdout, streamed.stdout
        uid = int(next(line for line in streamed.stdout.splitlines() if line.startswith("UID")).split()[1])
        if os.geteuid() == 0:
            assert uid != 0, "a root server runs jobs as an unprivileged user"
            assert f"uid={uid}" in srv.log_tail() or "unprivileged user" in srv.log_tail()
    finally:
        shutil.rmtree(open_to_all, ignore_errors=True)


def test_a_scoring_script_cannot_read_the_servers_secrets(own, tmp_path):
    srv, cli, http = own
    endpoint(cli, tmp_path, "confined-ep")
    script = ATTACK + textwrap.dedent(f"""
        def init():
            global found
            found = attack({str(srv.home)!r})

        def run(raw_data):
            return found
        """)
    cli("online-deployment", "create", "-f", str(write_deployment(tmp_path, "blue", "confined-ep", script)),
        "--all-traffic")
    uri = cli.json("online-endpoint", "show", "-n", "confined-ep", "-o", "json")["scoring_uri"]
    answer = score(uri, key_of(cli, "confined-ep"), {})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["read"] == [] and found["servers"] == [], found
    assert str(srv.home) in found["homes"], "the script knew where to look"


def test_a_server_that_cannot_confine_runs_only_administrators_jobs(make_server, tmp_path):
    srv = make_server()
    # No unshare: the probe fails, as on a machine without user namespaces.
    srv.extra_env = {"ATELIER_UNSHARE": "/bin/false"}
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    try:
        cli("user", "create", "carol", "--password", "carol-password")
        cli("role", "assign", "--user", "carol", "--role", "Contributor", "--workspace", "default")
        carol = cli.json("token", "create", "--user", "carol", "-o", "json")["token"]
        job_file = write_job(tmp_path / "job", "command: echo hello\n")
        refused = cli("job", "create", "-f", str(job_file), token=carol, check=False)
        assert refused.returncode != 0
        assert "cannot confine" in refused.stderr and "--allow-unconfined-jobs" in refused.stderr, refused.stderr
        assert "cannot be confined" in srv.log_tail(), "the server's log says why at start"
        admins = cli("job", "create", "-f", str(job_file), "--stream", timeout=120)
        assert "Status: Completed" in admins.stdout, "an administrator's job still runs"
        srv.kill()
        srv.extra_args = ["--allow-unconfined-jobs"]
        srv.start()
        allowed = cli("job", "create", "-f", str(job_file), "--stream", token=carol, url=srv.url, timeout=120)
        assert "Status: Completed" in allowed.stdout, allowed.stdout
    finally:
        srv.kill()


def test_the_first_start_prints_where_the_secrets_are_not_the_secrets(make_server):
    srv = make_server()
    srv.start()
    try:
        output = srv.log_path.read_text()
        assert srv.read_secret("token") not in output
        assert srv.read_secret("admin-password") not in output
        assert f"saved in {srv.home / 'token'}" in output and f"saved in {srv.home / 'admin-password'}" in output
        for name in ["token", "admin-password", "master-key"]:
            assert stat.S_IMODE((srv.home / name).stat().st_mode) == 0o600, name
    finally:
        srv.kill()


def test_a_machine_without_uv_gets_one_on_first_need(make_server, tmp_path):
    """uv hidden from PATH (only python3 and the system's folders remain): the first job with
    packages installs the pinned uv from PyPI into the home's tools/, says so in its log, and
    builds its environment; the server's log says so at start."""
    python = Path(shutil.which("python3") or sys.executable).resolve()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    path = [str(bin_dir)] + [folder for folder in ["/usr/bin", "/bin"] if not (Path(folder) / "uv").exists()]
    srv = make_server()
    srv.extra_env = {"PATH": ":".join(path)}
    srv.start()
    (tmp_path / "cli-home").mkdir()
    cli = Cli(CONFIG.binary, srv.url, srv.token, tmp_path / "cli-home")
    try:
        assert "uv is not installed" in srv.log_tail()
        job_file = write_job(
            tmp_path / "job",
            """\
            command: python -c "import six; print('six', six.__version__)"
            environment:
              image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
              conda_file: conda.yml
            """,
            {"conda.yml": "dependencies:\n  - python=3.11\n  - pip:\n    - six==1.16.0\n"},
        )
        streamed = cli("job", "create", "-f", str(job_file), "--stream", timeout=600, check=False)
        assert "six 1.16.0" in streamed.stdout, streamed.stdout + streamed.stderr
        # The build's own progress streams into the job's log before the command runs.
        build_lines = [line for line in streamed.stdout.splitlines() if line.startswith("environment: ")]
        assert any("six==1.16.0" in line for line in build_lines), streamed.stdout
        assert streamed.stdout.index(build_lines[0]) < streamed.stdout.index("six 1.16.0")
        name = next(line for line in streamed.stdout.splitlines() if line.startswith("RunId:")).split()[1]
        system_log = requests.get(f"{srv.url}/api/v1/workspaces/default/jobs/{name}/logs",
                                  params={"file": "system_logs/runtime.txt"},
                                  headers={"Authorization": f"Bearer {srv.token}"}, timeout=30)
        assert system_log.status_code == 200, system_log.text
        assert "uv is not installed: installing uv" in system_log.json()["text"], system_log.json()["text"]
        assert list((srv.home / "tools").glob("uv-*/bin/uv")), "uv lives under the home's tools/"
    finally:
        srv.kill()
