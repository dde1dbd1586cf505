"""The README's first fifteen minutes as a test: every ```sh block of README.md runs in order,
as a newcomer would paste it, in one shell, on a fresh home, against a server started the way the
first command starts it (the embedded defaults under ~/.atelier). The blocks are read from the
README itself, so it cannot drift from what works.

A block may be marked by an HTML comment on the line before it:
  <!-- readme-test: server (…) -->  the block that builds and starts the server: the test starts
                                     the binary under test the same way, on the fresh home;
  <!-- readme-test: skip (…) -->    a block that needs what the machine lacks (a GPU); the
                                     reason is part of the mark.
An unknown mark fails the test. The only change made to the blocks' text is the server's
address: the test server's port stands for 7420."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from conftest import CONFIG
from e2e_util import ServerProcess

pytestmark = pytest.mark.atelier_only

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<mark>[^\n]*?) -->\n)?```sh\n(?P<body>.*?)```", re.S)


def readme_blocks() -> list[tuple[int, str | None, str]]:
    """(line, mark, text) of every sh block of the README, in order."""
    text = (REPO / "README.md").read_text()
    return [(text.count("\n", 0, m.start("body")) + 1, m.group("mark"), m.group("body"))
            for m in BLOCK.finditer(text)]


def test_the_readme_has_blocks_and_only_known_marks():
    blocks = readme_blocks()
    assert len(blocks) >= 10, "the README's command blocks were found"
    for line, mark, _ in blocks:
        assert mark is None or mark.startswith(("server", "skip (")), f"line {line}: unknown mark {mark!r}"
    assert [mark for _, mark, _ in blocks if mark and mark.startswith("server")], "the server block is marked"


@pytest.mark.skipif(CONFIG.store != "sqlite" or not mlflow.__version__.startswith("3."),
                    reason="the README runs once, with its own defaults (SQLite) and the newest client")
def test_every_command_block_of_the_readme_runs_in_order(tmp_path):
    user_home = tmp_path / "user"
    work = tmp_path / "checkout"
    user_home.mkdir()
    work.mkdir()
    # A checkout as the README assumes one: its examples and README, nothing built in it.
    for name in ["examples", "README.md"]:
        (work / name).symlink_to(REPO / name)

    # `pip install mlflow` installs into this test's Python (a uv environment, which has no pip
    # of its own), where mlflow already is.
    uv = shutil.which("uv")
    assert uv, "uv is on PATH (scripts/python-env.sh installs it)"
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pip").write_text(f'#!/bin/sh\nexec {shlex.quote(uv)} pip "$@" --python {shlex.quote(sys.executable)}\n')
    (tools / "pip").chmod(0o755)

    srv = ServerProcess(CONFIG.binary, user_home / ".atelier", None, tmp_path / "server.log")
    srv.extra_env = {"HOME": str(user_home)}
    srv.start()
    try:
        script = ["set -eo pipefail"]
        for line, mark, body in readme_blocks():
            if mark and mark.startswith(("server", "skip (")):
                script.append(f"echo {shlex.quote(f'== README line {line}: {mark}')}")
                continue
            script.append(f"echo {shlex.quote(f'== README line {line}')}")
            script.append(body.replace("http://127.0.0.1:7420", srv.url))
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("MLFLOW_", "ATELIER_", "PYTEST_", "VIRTUAL_ENV"))}
        env.update({
            "HOME": str(user_home),
            # This test's Python (with mlflow, as `pip install mlflow` leaves it) and the binary
            # under test, as `export PATH="$PWD/target/release:$PATH"` finds it after a build.
            "PATH": f"{tools}:{Path(sys.executable).parent}:{CONFIG.binary.parent}:{env.get('PATH', '')}",
        })
        done = subprocess.run(["bash", "-x", "-c", "\n".join(script)], cwd=work, env=env, text=True,
                              capture_output=True, timeout=1800)
        output = done.stdout + done.stderr
        blocks_run = re.findall(r"^== README line (\d+)$", done.stdout, re.M)
        assert done.returncode == 0, (
            f"the README block at line {blocks_run[-1] if blocks_run else '?'} failed "
            f"(exit {done.returncode}):\n{output[-6000:]}")
        # What the blocks promise, read back.
        assert "[0, 2]" in done.stdout, "the endpoint answered the README's sample request"
        assert (work / "out" / "fraud").is_dir() and (work / "out" / "iris-raw" / "iris.csv").is_file()
    finally:
        srv.kill()
