"""Compute instances in a real browser: the Compute page shows an instance to its owner with a
link to its JupyterLab, which opens through the server's proxy; a notebook cell run there logs
an MLflow metric that lands in the owner's workspace."""

from __future__ import annotations

import re
import subprocess
import time

from conftest import screenshot
from test_studio import sign_in

NOTEBOOK = {
    "cells": [{
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "source": [
            "import mlflow\n",
            "mlflow.set_experiment('from-jupyterlab')\n",
            "with mlflow.start_run() as run:\n",
            "    mlflow.log_metric('browser_metric', 0.77)\n",
            "print('LOGGED', run.info.run_id)\n",
        ],
    }],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def wait_running(server, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        shown = server.api("GET", f"/api/v1/workspaces/default/compute-instances/{name}").json()
        if shown["state"] == "Running":
            return shown
        assert shown["state"] != "Failed" and time.monotonic() < deadline, shown
        time.sleep(0.5)


def test_an_owner_opens_jupyterlab_from_the_compute_page_and_a_cell_logs_a_metric(page, server):
    name = "browser-ci"
    created = server.api("POST", "/api/v1/workspaces/default/compute-instances",
                         json={"yaml": f"name: {name}\ntype: computeinstance\nsize: Standard_DS3_v2\n"})
    assert created.status_code == 200, created.text
    try:
        wait_running(server, name, 600)
        # The notebook to open, put in the instance's home through the proxy.
        put = server.api("PUT", f"/ci/default/{name}/api/contents/track.ipynb",
                         json={"type": "notebook", "format": "json", "content": NOTEBOOK})
        assert put.status_code in (200, 201), put.text

        sign_in(page, server, "admin", server.password)
        page.goto(server.url + "/w/default")
        page.click("[data-testid=compute-link]")
        row = page.locator(f"[data-testid=instance-{name}]")
        assert row.locator("[data-testid=instance-state]").inner_text() == "Running"
        assert row.locator("[data-testid=instance-runs-on]").inner_text() == "this server"
        assert row.locator("[data-testid=stop-form]").count() == 1, "its owner may stop it"
        screenshot(page, "compute")
        with page.context.expect_page() as opened:
            row.locator("[data-testid=open-jupyterlab]").click()
        lab = opened.value
        lab.wait_for_load_state()
        assert lab.url.startswith(f"{server.url}/ci/default/{name}/lab"), lab.url
        lab.wait_for_selector(".jp-LauncherCard, .jp-DirListing", timeout=120_000)

        lab.goto(f"{server.url}/ci/default/{name}/lab/tree/track.ipynb")
        lab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        # The notebook's kernel has started and waits for code.
        deadline = time.monotonic() + 120
        while True:
            sessions = server.api("GET", f"/ci/default/{name}/api/sessions").json()
            states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == "track.ipynb"]
            if states == ["idle"]:
                break
            assert time.monotonic() < deadline, sessions
            time.sleep(0.5)
        lab.locator(".jp-Notebook .jp-Cell").first.click()
        lab.keyboard.press("Shift+Enter")
        output = lab.locator(".jp-OutputArea-output").filter(has_text="LOGGED")
        output.wait_for(timeout=120_000)
        screenshot(lab, "jupyterlab")
        run_id = re.search(r"LOGGED (\S+)", output.first.inner_text()).group(1)

        run = server.api("GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
        metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
        assert metrics["browser_metric"] == 0.77, "the metric landed in the owner's workspace"
    finally:
        server.api("DELETE", f"/api/v1/workspaces/default/compute-instances/{name}")
        subprocess.run(["pkill", "-f", f"{server.home}/instances/"], check=False)
