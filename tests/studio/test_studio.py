"""The studio in a real browser: sign in, workspaces, the runs table (filter, sort), a run's
charts, roles (a Reader sees no write actions), sign out. Screenshots of the main pages go to
.test-artifacts/studio/."""

from __future__ import annotations

import re

from conftest import screenshot


def sign_in(page, server, user: str, password: str) -> None:
    page.goto(server.url + "/")
    assert "/login" in page.url, "an anonymous visitor is sent to the sign-in page"
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_sign_in_rejects_a_wrong_password(page, server):
    sign_in(page, server, "admin", "not-the-password")
    assert "/login" in page.url
    assert page.locator("[role=alert]").inner_text() != ""


def test_workspaces_and_creating_one(page, server):
    sign_in(page, server, "admin", server.password)
    assert page.locator("[data-testid=signed-in-user]").inner_text() == "admin"
    names = page.locator("[data-testid=workspaces] tbody td:first-child").all_inner_texts()
    assert "default" in names
    screenshot(page, "workspaces")
    page.fill("input[name=name]", "studio-team")
    page.fill("input[name=description]", "made in the browser")
    page.click("text=Create workspace")
    page.wait_for_load_state()
    assert page.url.endswith("/w/studio-team")
    assert page.locator("h1").inner_text() == "studio-team"
    # A bad name is shown on the page, not as a crash.
    page.goto(server.url + "/")
    page.fill("input[name=name]", "x")
    page.click("text=Create workspace")
    assert "3 to 33" in page.locator("[role=alert]").inner_text()


def test_runs_table_filters_and_sorts(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("text=studio-e2e")
    page.wait_for_load_state()
    rows = page.locator("[data-testid=runs] tbody tr")
    assert rows.count() == 3
    headers = page.locator("[data-testid=runs] thead th").all_inner_texts()
    assert any("loss" in header for header in headers) and any("lr" in header for header in headers)
    # Which columns are metrics and which are parameters is labelled above them.
    metrics_group = page.locator("[data-testid=metrics-group]")
    assert metrics_group.inner_text().lower() == "metrics" and int(metrics_group.get_attribute("colspan")) >= 2
    assert page.locator("[data-testid=params-group]").inner_text().lower() == "parameters"
    # The experiment's charts view: a chart per metric, a line per run in view.
    page.click("[data-testid=charts-view]")
    page.wait_for_load_state()
    assert "/compare?" in page.url and page.url.count("runs=") == 3
    assert page.locator("[data-metric=loss] svg path.series").count() == 3
    page.go_back()
    page.wait_for_load_state()
    screenshot(page, "runs-table")

    page.fill("input[name=filter]", "params.lr = '0.1'")
    page.click("text=Filter")
    page.wait_for_load_state()
    assert rows.count() == 1
    assert "filter=params.lr" in page.url, "the filter is part of the page's URL"

    page.fill("input[name=filter]", "metrics.loss >")
    page.click("text=Filter")
    page.wait_for_load_state()
    assert page.locator("[data-testid=filter-error]").is_visible()
    assert rows.count() == 0

    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.click("[data-testid=runs] thead th a:text-is('accuracy')")
    page.wait_for_load_state()
    ascending = page.locator("[data-testid=runs] tbody td:nth-child(2)").all_inner_texts()
    page.click("[data-testid=runs] thead th a:has-text('accuracy')")
    page.wait_for_load_state()
    descending = page.locator("[data-testid=runs] tbody td:nth-child(2)").all_inner_texts()
    assert ascending == ["slowest", "slow", "fast"]
    assert descending == list(reversed(ascending))


def test_run_page_draws_a_chart_per_series_and_shows_single_values_as_values(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.click("text=fast")
    page.wait_for_load_state()
    charts = page.locator("[data-testid=charts] .chart")
    assert charts.count() == 1, "loss is a series; accuracy, logged once, is a value"
    values = page.locator("[data-testid=metric-values]").inner_text()
    assert "accuracy" in values and re.search(r"accuracy\s+0\.\d+", values), values
    assert page.locator("[data-metric=accuracy]").count() == 0
    assert page.locator("[data-metric=loss] svg path.series").count() == 1
    hover = page.locator("[data-metric=loss] svg .points circle title").first.text_content()
    assert re.search(r"step 0: [\d.]+\n\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", hover), "hover shows step, value and time"
    assert "lr" in page.locator("[data-testid=params]").inner_text()
    assert "notes" in page.locator("[data-testid=artifacts]").inner_text()
    screenshot(page, "run")
    with page.expect_navigation():
        page.check("input[name=log]")
    assert "log=1" in page.url, "chart settings are part of the page's URL"
    assert page.locator("[data-metric=loss] svg path.series").count() == 1


def test_reader_sees_no_write_actions_and_sign_out(page, server, logged):
    assert server.api("POST", "/api/v1/users", json={"name": "reader1", "password": "reader-password"}).status_code == 201
    assigned = server.api("PUT", "/api/v1/workspaces/default/roles", json={"user": "reader1", "role": "Reader"})
    assert assigned.status_code == 204
    sign_in(page, server, "reader1", "reader-password")
    assert page.locator("text=Create workspace").count() == 0
    page.goto(f"{server.url}/w/default")
    assert page.locator("button:has-text('Delete')").count() == 0
    assert page.locator("button:has-text('Rename')").count() == 0
    assert page.locator("text=Members and roles").count() == 0
    page.goto(server.url + "/")
    names = page.locator("[data-testid=workspaces] tbody td:first-child").all_inner_texts()
    assert names == ["default"], "a Reader sees only the workspaces it has a role on"
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    assert page.locator("[data-testid=runs] tbody tr").count() == 3
    server.api("POST", "/api/v1/workspaces", json={"name": "hidden-from-reader"})
    page.goto(f"{server.url}/w/hidden-from-reader")
    assert re.search("not allowed|no role", page.content(), re.IGNORECASE)
    page.goto(server.url + "/")
    page.click("text=Sign out")
    page.wait_for_load_state()
    assert "/login" in page.url
    page.goto(server.url + "/")
    assert "/login" in page.url, "the session has ended"


def test_forms_need_the_csrf_token(server):
    import requests

    session = requests.Session()
    signed_in = session.post(server.url + "/login", data={"user": "admin", "password": server.password, "next": "/"})
    assert signed_in.status_code == 200
    forged = session.post(server.url + "/workspaces", data={"name": "forged-ws", "csrf": "wrong"})
    assert forged.status_code == 403
    assert server.api("GET", "/api/v1/workspaces/forged-ws").status_code == 404


def test_rename_delete_and_restore_an_experiment(page, server):
    created = server.api("POST", "/api/2.0/mlflow/experiments/create", json={"name": "to-rename"})
    experiment_id = created.json()["experiment_id"]
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    # Rename and Delete wait behind each row's action menu.
    assert not page.locator("input[aria-label='New name of to-rename']").is_visible()
    page.click("summary[aria-label='Actions for to-rename']")
    page.fill("input[aria-label='New name of to-rename']", "renamed-in-studio")
    page.click("input[aria-label='New name of to-rename'] + button")
    page.wait_for_load_state()
    names = page.locator("[data-testid=experiments] tbody td:first-child").all_inner_texts()
    assert "renamed-in-studio" in names and "to-rename" not in names
    row = page.locator("[data-testid=experiments] tbody tr", has_text="renamed-in-studio")
    row.locator("summary").click()
    row.locator("text=Delete").click()
    page.wait_for_load_state()
    assert "renamed-in-studio" not in page.locator("[data-testid=experiments]").inner_text()
    page.click("text=Show deleted experiments")
    page.wait_for_load_state()
    row = page.locator("[data-testid=experiments] tbody tr", has_text="renamed-in-studio")
    row.locator("text=Restore").click()
    page.wait_for_load_state()
    fetched = server.api("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}").json()
    assert fetched["experiment"]["lifecycle_stage"] == "active"
    # Renaming onto a taken name is shown on the page.
    page.goto(f"{server.url}/w/default")
    page.click("summary[aria-label='Actions for renamed-in-studio']")
    page.fill("input[aria-label='New name of renamed-in-studio']", "Default")
    page.click("input[aria-label='New name of renamed-in-studio'] + button")
    page.wait_for_load_state()
    assert "already exists" in page.locator("[role=alert]").inner_text()


def test_owners_manage_members(page, server):
    server.api("POST", "/api/v1/users", json={"name": "member1", "password": "member-password"})
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("text=Members and roles")
    page.wait_for_load_state()
    page.fill("input[name=user]", "member1")
    page.select_option("select[name=role]", "Contributor")
    page.click("text=Assign role")
    page.wait_for_load_state()
    row = page.locator("[data-testid=roles] tbody tr", has_text="member1")
    assert "Contributor" in row.inner_text()
    screenshot(page, "members")
    row.locator("text=Remove").click()
    page.wait_for_load_state()
    assert "member1" not in page.locator("[data-testid=roles]").inner_text()
    page.fill("input[name=user]", "nobody-here")
    page.click("text=Assign role")
    page.wait_for_load_state()
    assert "does not exist" in page.locator("[role=alert]").inner_text()
    # The role changes, from the audit log, beneath the members: newest first, by whom.
    changes = page.locator("[data-testid=audit] tbody tr").all_inner_texts()
    assert "failed" in changes[0] and "RESOURCE_DOES_NOT_EXIST" in changes[0], changes
    assert "roleAssignments/delete" in changes[1] and "succeeded" in changes[1], changes
    assert "roleAssignments/write" in changes[2] and "admin" in changes[2], changes
    page.click("[data-testid=audit-link]")
    page.wait_for_load_state()
    page.fill("input[name=action]", "*/roleAssignments/write")
    page.select_option("select[name=outcome]", "failed")
    page.click("text=Show")
    page.wait_for_load_state()
    failed = page.locator("[data-testid=audit] tbody tr").all_inner_texts()
    assert len(failed) == 1 and "RESOURCE_DOES_NOT_EXIST" in failed[0], failed
    screenshot(page, "audit")


def test_a_reader_cannot_assign_roles_or_read_the_audit_log(page, server):
    import requests

    server.api("POST", "/api/v1/users", json={"name": "reader2", "password": "reader2-password"})
    server.api("PUT", "/api/v1/workspaces/default/roles", json={"user": "reader2", "role": "Reader"})
    sign_in(page, server, "reader2", "reader2-password")
    page.goto(f"{server.url}/w/default/roles")
    assert "reader2" in page.locator("[data-testid=roles]").inner_text()
    assert page.locator("text=Assign role").count() == 0
    assert page.locator("button:has-text('Remove')").count() == 0
    page.goto(f"{server.url}/w/default/audit")
    assert re.search("not permit|not allowed", page.content(), re.IGNORECASE)
    # Posting the form anyway, with the session's own form token, is refused and changes nothing.
    session = requests.Session()
    session.post(server.url + "/login", data={"user": "reader2", "password": "reader2-password", "next": "/"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', session.get(server.url + "/w/default/roles").text).group(1)
    forged = session.post(
        server.url + "/w/default/roles", data={"csrf": csrf, "user": "reader2", "role": "Owner"}, allow_redirects=False
    )
    assert forged.status_code in (303, 403)
    roles = server.api("GET", "/api/v1/workspaces/default/roles").json()
    assert {"user": "reader2", "role": "Owner"} not in roles
    denied = server.api("GET", "/api/v1/workspaces/default/audit?user=reader2&outcome=denied").json()["records"]
    assert any(record["action"] == "Microsoft.Authorization/roleAssignments/write" for record in denied), denied


def test_compare_two_runs(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.check("input[aria-label='Select fast']")
    page.check("input[aria-label='Select slow']")
    page.click("[data-testid=compare]")
    page.wait_for_load_state()
    assert "/compare?" in page.url and page.url.count("runs=") == 2, "the comparison is in the URL"
    assert page.locator("[data-metric=loss] svg path.series").count() == 2, "one series per run"
    assert page.locator("[data-metric=loss] svg .legend-item").count() == 2
    # accuracy, logged once per run, is a bar per run with its value.
    bars = page.locator("[data-testid=metric-bars] [data-metric=accuracy]")
    assert bars.locator("tr").count() == 2 and bars.locator(".bar").count() == 2
    widths = [bar.evaluate("(el) => el.getBoundingClientRect().width") for bar in bars.locator(".bar").all()]
    assert max(widths) > 0 and all(width > 0 for width in widths), widths
    lr_row = page.locator("[data-testid=param-diff] tbody tr", has_text="lr")
    optimizer_row = page.locator("[data-testid=param-diff] tbody tr", has_text="optimizer")
    assert "differs" in (lr_row.get_attribute("class") or "")
    assert "differs" not in (optimizer_row.get_attribute("class") or "")
    assert page.locator("[data-testid=parallel] svg path.run").count() == 2
    screenshot(page, "compare")
    # One run is not a comparison: the page says what to do.
    page.goto(f"{server.url}/w/default/compare?runs=abc")
    assert "two or more runs" in page.locator("[role=alert]").inner_text()


def test_choosing_the_runs_table_columns(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.click("[data-testid=column-picker] summary")
    for label in ("metric accuracy", "param lr", "param optimizer"):
        page.uncheck(f"[data-testid=column-picker] label:has-text('{label}') input")
    page.click("text=Show these columns")
    page.wait_for_load_state()
    headers = [header.strip() for header in page.locator("[data-testid=runs] thead th").all_inner_texts()]
    assert "loss" in headers
    assert "lr" not in headers and "accuracy" not in headers
    assert "col=metrics.loss" in page.url, "the chosen columns are in the URL"
    # Sorting keeps the choice.
    page.click("[data-testid=runs] thead th a:text-is('loss')")
    page.wait_for_load_state()
    assert "col=metrics.loss" in page.url


def test_artifact_previews(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.click("[data-testid=runs] a:text-is('fast')")
    page.wait_for_load_state()
    run_url = page.url.split("?")[0]

    page.click("[data-testid=artifacts] a:text-is('config.json')")
    page.wait_for_load_state()
    preview = page.locator("[data-testid=preview]")
    assert preview.get_attribute("data-kind") == "text"
    assert '"layers"' in preview.inner_text()

    page.goto(run_url + "?path=tables")
    page.click("[data-testid=artifacts] a:text-is('metrics.csv')")
    page.wait_for_load_state()
    assert preview.get_attribute("data-kind") == "table"
    assert preview.locator("th").all_inner_texts() == ["step", "loss", "note"]
    assert "start, slowly" in preview.locator("tbody").inner_text()

    page.goto(run_url + "?path=plots")
    page.click("[data-testid=artifacts] a:text-is('atelier-studio-pixel.png')")
    page.wait_for_load_state()
    image = preview.locator("img")
    assert image.count() == 1
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) == 1
    screenshot(page, "artifact-preview")


def test_drag_zooms_a_chart_and_double_click_resets(page, server, logged):
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/experiments/{logged}")
    page.click("text=fast")
    page.wait_for_load_state()
    area = page.locator("[data-metric=loss] svg rect.plot-area")
    box = area.bounding_box()
    y = box["y"] + box["height"] / 2
    with page.expect_navigation():
        page.mouse.move(box["x"] + box["width"] * 0.25, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
        page.mouse.up()
    match = re.search(r"xmin=(\d+)&xmax=(\d+)", page.url)
    assert match, f"the zoom is in the URL: {page.url}"
    low, high = int(match.group(1)), int(match.group(2))
    assert 8 <= low <= 16 and 33 <= high <= 41, (low, high)  # a quarter to three quarters of steps 0..49
    zoomed = page.locator("[data-metric=loss] svg rect.plot-area")
    assert float(zoomed.get_attribute("data-x-low")) >= low
    assert float(zoomed.get_attribute("data-x-high")) <= high
    assert f"steps {low} to {high}" in page.locator("[data-testid=zoom]").inner_text()
    screenshot(page, "run-zoomed")
    with page.expect_navigation():
        page.locator("[data-metric=loss] svg").dblclick()
    assert "xmin" not in page.url
    assert page.locator("[data-testid=zoom]").count() == 0


def test_a_running_run_refreshes_live(page, server):
    created = server.api("POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": "0", "run_name": "live-one"})
    run_id = created.json()["run"]["info"]["run_id"]

    def log(steps):
        metrics = [{"key": "loss", "value": 1.0 / (step + 1), "timestamp": 1_700_000_000_000 + step, "step": step}
                   for step in steps]
        assert server.api("POST", "/api/2.0/mlflow/runs/log-batch",
                          json={"run_id": run_id, "metrics": metrics}).status_code == 200

    log(range(5))
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/runs/{run_id}")
    assert page.locator("[data-live]").count() == 1
    assert page.locator("[data-metric=loss]").get_attribute("data-points") == "5"
    url = page.url
    log(range(5, 12))
    # The page fetches itself every 5 seconds; the chart updates without a navigation.
    page.wait_for_function("document.querySelector('[data-metric=loss]').dataset.points === '12'", timeout=20_000)
    assert page.url == url
    assert server.api("POST", "/api/2.0/mlflow/runs/update",
                      json={"run_id": run_id, "status": "FINISHED"}).status_code == 200
    page.wait_for_function("document.querySelector('[data-live]') === null", timeout=20_000)
    assert "FINISHED" in page.locator("h1").inner_text()


def test_model_registry_pages_show_versions_and_lineage(page, server, logged):
    runs = server.api("POST", "/api/2.0/mlflow/runs/search",
                      json={"experiment_ids": [logged], "filter": "attributes.run_name = 'fast'"}).json()["runs"]
    run_id = runs[0]["info"]["run_id"]
    name = "fraud-detector"
    assert server.api("POST", "/api/2.0/mlflow/registered-models/create",
                      json={"name": name, "description": "scores card payments",
                            "tags": [{"key": "team", "value": "risk"}]}).status_code == 200
    for _ in range(2):
        created = server.api("POST", "/api/2.0/mlflow/model-versions/create",
                             json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})
        assert created.status_code == 200, created.text
    assert server.api("POST", "/api/2.0/mlflow/registered-models/alias",
                      json={"name": name, "alias": "champion", "version": "2"}).status_code == 200
    assert server.api("POST", "/api/2.0/mlflow/model-versions/transition-stage",
                      json={"name": name, "version": "2", "stage": "Production"}).status_code == 200

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=models-link]")
    page.wait_for_load_state()
    row = page.locator("[data-testid=models] tbody tr", has_text=name)
    assert "@champion → v2" in row.inner_text()
    screenshot(page, "models")
    page.click(f"text={name}")
    page.wait_for_load_state()
    assert page.locator("[data-testid=versions] tbody tr").count() == 2
    newest = page.locator("[data-testid=versions] tr[data-version='2']")
    assert "Production" in newest.inner_text() and "@champion" in newest.inner_text()
    screenshot(page, "model")
    # Each version has its own page: source, lineage, how to load it, where it is deployed.
    newest.locator("[data-testid=version-link]").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/models/{name}/versions/2")
    assert page.locator("[data-testid=version-source]").inner_text() == f"runs:/{run_id}/model"
    assert f'models:/{name}/2' in page.locator("[data-testid=load-snippet]").inner_text()
    assert page.locator("[data-testid=no-version-deployments]").count() == 1
    screenshot(page, "model-version")
    page.go_back()
    page.wait_for_load_state()
    newest.locator("[data-testid=lineage-run]").click()
    page.wait_for_load_state()
    assert f"/runs/{run_id}" in page.url, "a version links to the run that produced it"
    # MLflow's UI links reach the studio's pages.
    page.goto(f"{server.url}/#/models/{name}/versions/2")
    page.wait_for_url(f"**/w/default/models/{name}/versions/2")
    page.goto(f"{server.url}/#/experiments/{logged}/runs/{run_id}")
    page.wait_for_url(f"**/w/default/runs/{run_id}")
    page.goto(f"{server.url}/ws/default/#/experiments/{logged}")
    page.wait_for_url(f"**/w/default/experiments/{logged}")
    # A search that matches nothing says so.
    page.goto(f"{server.url}/w/default/models?q=no-such-model")
    assert page.locator("[data-testid=no-models]").count() == 1


def test_data_pages_list_assets_preview_csv_and_datastores(page, server):
    import uuid

    upload = uuid.uuid4().hex
    csv = "species,petal_length\nsetosa,1.4\nversicolor,4.7\nvirginica,6.0\n"
    put = server.api("PUT", f"/api/v1/workspaces/default/data-uploads/{upload}/iris/iris.csv", data=csv.encode())
    assert put.status_code == 200, put.text
    folder = put.json()["uri"].rsplit("/", 1)[0] + "/"
    for _ in range(2):
        created = server.api("POST", "/api/v1/workspaces/default/data",
                             json={"name": "iris", "type": "uri_folder", "path": folder,
                                   "description": "the iris flowers", "tags": {"source": "uci"}})
        assert created.status_code == 201, created.text

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=data-link]")
    page.wait_for_load_state()
    row = page.locator("[data-testid=data-assets] tbody tr", has_text="iris")
    assert "uri_folder" in row.inner_text() and "2" in row.inner_text()
    page.click("text=iris")
    page.wait_for_load_state()
    assert page.locator("[data-testid=data-versions] tr[data-version]").count() == 2
    assert "iris/iris.csv" in page.locator("[data-testid=data-files]").inner_text()
    preview = page.locator("[data-testid=data-preview]")
    assert preview.locator("thead th").all_inner_texts() == ["species", "petal_length"]
    assert preview.locator("tbody tr").count() == 3
    screenshot(page, "data-asset")
    page.click("[data-version='1'] a")
    page.wait_for_load_state()
    assert "version=1" in page.url and "version 1" in page.locator("h1").inner_text()

    page.goto(f"{server.url}/w/default/datastores")
    assert "workspaceblobstore" in page.locator("[data-testid=datastores]").inner_text()


def test_environment_pages_show_the_spec_and_the_build(page, server):
    headers_body = {"name": "tiny", "python": "3.11", "requirements": ["six==1.16.0"],
                    "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest", "description": "one package"}
    assert server.api("POST", "/api/v1/workspaces/default/environments", json=headers_body).status_code == 201
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=environments-link]")
    page.wait_for_load_state()
    assert "tiny" in page.locator("[data-testid=environments]").inner_text()
    page.click("text=tiny")
    page.wait_for_load_state()
    assert page.locator("[data-testid=build-state]").inner_text() == "not built"
    assert "six==1.16.0" in page.locator("[data-testid=environment-spec]").inner_text()
    assert "no container runtime" in page.locator("[data-testid=build-warning]").inner_text()
    built = server.api("POST", "/api/v1/workspaces/default/environments/tiny/versions/1/build", timeout=300)
    assert built.status_code == 200 and built.json()["state"] == "ready", built.text
    page.reload()
    assert page.locator("[data-testid=build-state]").inner_text() == "ready"
    assert "six" in page.locator("[data-testid=build-log]").inner_text()
    screenshot(page, "environment")


def test_component_pages_show_the_interface_code_and_versions(page, server):
    import uuid

    snapshot = uuid.uuid4().hex
    assert server.api("PUT", f"/api/v1/workspaces/default/code-uploads/{snapshot}/prep.py",
                      data=b"print('prep')\n").status_code == 200
    yaml = (
        "name: prep_data\ndisplay_name: Prepare data\ndescription: cleans the raw table\ncode: ./src\n"
        "inputs:\n  raw: {type: uri_folder, description: the raw table}\n"
        "  rows: {type: integer, default: 100, min: 1, optional: true}\n"
        "  how: {type: string, default: drop, enum: [drop, fill]}\n"
        "outputs:\n  clean: {type: uri_folder}\n"
        "command: python prep.py --raw ${{inputs.raw}} $[[--rows ${{inputs.rows}}]] --how ${{inputs.how}} "
        "--out ${{outputs.clean}}\n"
    )
    created = server.api("POST", "/api/v1/workspaces/default/components", json={"yaml": yaml, "snapshot": snapshot})
    assert created.status_code == 201, created.text
    second = server.api("POST", "/api/v1/workspaces/default/components",
                        json={"yaml": yaml.replace("cleans the raw table", "cleans it better"), "snapshot": snapshot})
    assert second.status_code == 201 and second.json()["version"] == "2", second.text
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=components-link]")
    page.wait_for_load_state()
    listed = page.locator("[data-testid=components]").inner_text()
    assert "prep_data" in listed and "Prepare data" in listed and "atelier-python" in listed
    page.click("text=prep_data")
    page.wait_for_load_state()
    assert "cleans it better" in page.inner_text("main"), "the newest version is shown first"
    inputs = page.locator("[data-testid=component-inputs]").inner_text()
    assert "raw" in inputs and "uri_folder" in inputs and "the raw table" in inputs and "required" in inputs
    assert "100" in inputs and "≥ 1" in inputs and "optional" in inputs and "one of drop, fill" in inputs
    assert "clean" in page.locator("[data-testid=component-outputs]").inner_text()
    assert "--how ${{inputs.how}}" in page.locator("[data-testid=component-command]").inner_text()
    assert page.locator("[data-testid=no-component-pipelines]").count() == 1
    page.click("[data-testid=component-versions] >> text=1")
    page.wait_for_load_state()
    assert "cleans the raw table" in page.inner_text("main")
    with page.expect_download() as download:
        page.click("[data-testid=component-code] >> text=prep.py")
    assert open(download.value.path()).read() == "print('prep')\n"
    screenshot(page, "component")


def test_a_pipelines_page_draws_its_graph_live_and_marks_reused_steps(page, server):
    import time

    yaml = (
        "type: pipeline\ndisplay_name: two-steps\nexperiment_name: studio-pipelines\njobs:\n"
        "  make:\n    command: python3 -c \"import os, sys, time; time.sleep(2); os.makedirs(sys.argv[1], exist_ok=True); "
        "open(os.path.join(sys.argv[1], 'x'), 'w').write('1')\" ${{outputs.table}}\n"
        "    outputs:\n      table:\n"
        "  use:\n    command: cat ${{inputs.rows}}/x\n    inputs:\n      rows: ${{parent.jobs.make.outputs.table}}\n"
    )

    def submit():
        created = server.api("POST", "/api/v1/workspaces/default/jobs", json={"yaml": yaml})
        assert created.status_code == 200, created.text
        return created.json()["name"]

    def wait(name):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = server.api("GET", f"/api/v1/workspaces/default/jobs/{name}").json()
            if job["status"] in ("Completed", "Failed", "Canceled"):
                return job
            time.sleep(0.3)
        raise AssertionError(f"pipeline {name} did not end")

    first = submit()
    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/jobs/{first}")
    graph = page.locator("[data-testid=pipeline-graph]")
    assert graph.locator("[data-step=make]").count() == 1 and graph.locator("[data-step=use]").count() == 1
    assert "table → rows" in graph.inner_text()
    # The page follows the steps live: the last one turns Completed without a reload.
    page.wait_for_selector("[data-testid=pipeline-graph] .node.status-Completed[data-step=use]", timeout=60_000)
    assert wait(first)["status"] == "Completed"

    second = submit()
    assert wait(second)["status"] == "Completed"
    page.goto(f"{server.url}/w/default/jobs/{second}")
    assert page.locator("[data-testid=pipeline-graph] .node.reused").count() == 2
    assert "2 of 2 steps completed (2 reused)" in page.locator("[data-testid=pipeline-summary]").inner_text()
    screenshot(page, "pipeline")
    # A step opens its own job page, which names its pipeline and the job it reused.
    page.click("[data-testid=pipeline-graph] [data-step=use]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=parent-pipeline]").inner_text() == second
    assert f"{first}_use" in page.locator("[data-testid=reused-from]").inner_text()
    page.goto(f"{server.url}/w/default/jobs")
    assert "pipeline · 2 steps" in page.locator("[data-testid=jobs]").inner_text()


def test_schedule_pages_list_fire_times_and_the_jobs_a_schedule_made(page, server):
    import time

    job = "type: command\nexperiment_name: studio-schedules\ncommand: echo scheduled\n"
    schedule = (
        "name: nightly-eval\ndisplay_name: Nightly evaluation\n"
        "trigger:\n  type: cron\n  expression: \"0 3 * * *\"\n  time_zone: UTC\n"
        "create_job: ./job.yml\n"
    )
    created = server.api("POST", "/api/v1/workspaces/default/schedules", json={"yaml": schedule, "job": {"yaml": job}})
    assert created.status_code == 201, created.text
    fired = server.api("POST", "/api/v1/workspaces/default/schedules/nightly-eval/trigger")
    assert fired.status_code == 201, fired.text
    job_name = fired.json()["name"]
    deadline = time.monotonic() + 60
    while server.api("GET", f"/api/v1/workspaces/default/jobs/{job_name}").json()["status"] != "Completed":
        assert time.monotonic() < deadline, "the triggered job did not complete"
        time.sleep(0.3)
    paused = (schedule.replace("nightly-eval", "paused-eval").replace("Nightly evaluation", "Paused"))
    assert server.api("POST", "/api/v1/workspaces/default/schedules",
                      json={"yaml": paused, "job": {"yaml": job}}).status_code == 201
    assert server.api("POST", "/api/v1/workspaces/default/schedules/paused-eval/disable").status_code == 200

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=schedules-link]")
    page.wait_for_load_state()
    rows = page.locator("[data-testid=schedules] tbody tr")
    assert rows.count() == 2
    listed = page.locator("[data-testid=schedules]").inner_text()
    assert "Nightly evaluation" in listed and "Disabled" in listed and "03:00:00" in listed, listed
    page.click("text=nightly-eval")
    page.wait_for_load_state()
    fields = page.locator("[data-testid=schedule-fields]").inner_text()
    assert "cron 0 3 * * *" in fields and "03:00:00 UTC" in page.locator("[data-testid=next-fire]").inner_text()
    jobs = page.locator("[data-testid=fired-jobs]").inner_text()
    assert job_name in jobs and "Completed" in jobs, jobs
    assert "create_job: ./job.yml" in page.locator("[data-testid=schedule-yaml]").inner_text()
    screenshot(page, "schedule")
    page.click(f"[data-testid=fired-jobs] >> text={job_name}")
    page.wait_for_load_state()
    assert page.url.endswith(f"/w/default/jobs/{job_name}")


def test_job_pages_follow_the_log_live_and_cancel(page, server):
    import uuid

    snapshot = uuid.uuid4().hex
    script = "import time\nfor i in range(1, 400):\n    print(f'tick-{i}', flush=True)\n    time.sleep(0.2)\n"
    assert server.api("PUT", f"/api/v1/workspaces/default/code-uploads/{snapshot}/ticker.py",
                      data=script.encode()).status_code == 200
    yaml = "type: command\ndisplay_name: ticker\ncode: .\ncommand: python3 ticker.py\n"
    created = server.api("POST", "/api/v1/workspaces/default/jobs",
                         json={"yaml": yaml, "folder_name": "studio-jobs", "snapshot": snapshot})
    assert created.status_code == 200, created.text
    name = created.json()["name"]

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/jobs")
    page.click(f"text={name}")
    page.wait_for_function("document.querySelector('[data-testid=job-log]').textContent.includes('tick-3')",
                           timeout=30_000)
    url = page.url
    # The log grows without a navigation (server-sent events).
    page.wait_for_function("document.querySelector('[data-testid=job-log]').textContent.includes('tick-12')",
                           timeout=30_000)
    assert page.url == url
    assert "python3 ticker.py" in page.locator("[data-testid=job-yaml]").inner_text()
    assert page.locator("[data-testid=snapshot-files]").inner_text().startswith("ticker.py")
    screenshot(page, "job-running")
    page.click("[data-testid=cancel-form] button")
    page.wait_for_function("document.querySelector('[data-testid=job-status]').textContent === 'Canceled'",
                           timeout=30_000)
    timeline = page.locator("[data-testid=timeline]").inner_text()
    assert "CancelRequested" in timeline and "canceled by admin" in timeline
    assert page.locator("[data-testid=cancel-form]").count() == 0
    assert "system/memory_usage_megabytes" in page.locator("[data-testid=job-metrics]").inner_text()
    screenshot(page, "job-canceled")

    # A job whose output is registered as a model: the model's page names the job.
    yaml = ("command: echo weights > ${{outputs.model}}/w.txt\noutputs:\n  model:\n    type: custom_model\n"
            "    name: studio-job-model\n")
    made = server.api("POST", "/api/v1/workspaces/default/jobs", json={"yaml": yaml, "folder_name": "studio-jobs"})
    assert made.status_code == 200, made.text
    maker = made.json()["name"]
    page.goto(f"{server.url}/w/default/jobs/{maker}")
    page.wait_for_function("document.querySelector('[data-testid=job-status]').textContent === 'Completed'",
                           timeout=30_000)
    assert "model/w.txt" in page.locator("[data-testid=output-files]").inner_text()
    page.goto(f"{server.url}/w/default/models/studio-job-model")
    page.click("[data-testid=lineage-job]")
    assert page.url.endswith(f"/w/default/jobs/{maker}")


def test_a_sweeps_page_shows_its_trials_charts_and_early_terminated_reasons(page, server):
    import uuid

    snapshot = uuid.uuid4().hex
    script = (
        "import sys, time\nimport atelier_log\nx = float(sys.argv[1]); y = {'low': 1.0, 'high': 5.0}[sys.argv[2]]\n"
        "for step in range(8):\n    atelier_log.log_metric('score', x * y + step, step=step)\n    time.sleep(0.4)\n"
    )
    assert server.api("PUT", f"/api/v1/workspaces/default/code-uploads/{snapshot}/score.py",
                      data=script.encode()).status_code == 200
    yaml = (
        "type: sweep\ndisplay_name: studio-sweep\ntrial:\n  code: .\n"
        "  command: python3 score.py ${{search_space.x}} ${{search_space.y}}\n"
        "sampling_algorithm: grid\nsearch_space:\n  x: {type: choice, values: [1, 2]}\n"
        "  y: {type: choice, values: [high, low]}\n"
        "objective: {primary_metric: score, goal: maximize}\n"
        "early_termination: {type: bandit, slack_amount: 1, evaluation_interval: 1, delay_evaluation: 2}\n"
        "limits: {max_concurrent_trials: 4}\n"
    )
    created = server.api("POST", "/api/v1/workspaces/default/jobs",
                         json={"yaml": yaml, "folder_name": "studio-sweeps", "snapshot": snapshot})
    assert created.status_code == 200, created.text
    name = created.json()["name"]

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/jobs/{name}")
    # Live: the trials appear and end without a navigation.
    page.wait_for_function("document.querySelectorAll('[data-testid=trial-row]').length === 4", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('[data-testid=sweep-summary]').textContent.includes('best:')"
        " && !document.querySelector('[data-live]') && !document.querySelector('[data-live-log]')",
        timeout=60_000,
    )
    rows = page.locator("[data-testid=trial-row]")
    assert rows.count() == 4
    table = page.locator("[data-testid=trials]").inner_text()
    assert "Canceled" in table and "bandit:" in table, table
    assert page.locator("[data-testid=best-trial]").inner_text() == f"{name}_2", "x=2, y=high scores best"
    assert page.locator("[data-testid=sweep-progress] svg path.series").count() == 2
    assert page.locator("[data-testid=sweep-parallel] svg path.run").count() == 4
    assert page.locator("[data-testid=sweep-curves] svg path.series").count() >= 2
    screenshot(page, "sweep")
    # Sorting by the objective puts the best first; filtering by status keeps the canceled.
    page.click("[data-testid=trials] th a:text('score')")
    page.wait_for_url("**sort=objective&desc=false**")
    page.click("[data-testid=trials] th a:text('score')")
    page.wait_for_url("**sort=objective&desc=true**")
    assert page.locator("[data-testid=trial-row]").first.inner_text().startswith("2")
    page.select_option("[data-testid=trial-filter] select", "Canceled")
    page.wait_for_url("**trial_status=Canceled**")
    canceled = page.locator("[data-testid=trial-row]")
    assert canceled.count() >= 1
    for index in range(canceled.count()):
        assert "Canceled" in canceled.nth(index).inner_text()
    # Each trial links to its own job page.
    page.click("[data-testid=trial-row] a >> nth=0")
    assert f"/w/default/jobs/{name}_" in page.url


def test_endpoint_pages_show_deployments_traffic_keys_and_a_test_console(page, server):
    import time
    import uuid

    snapshot = uuid.uuid4().hex
    script = ("import json\ndef init():\n    print('studio worker up', flush=True)\n"
              "def run(raw_data):\n    return {'sum': sum(json.loads(raw_data)['data'])}\n")
    assert server.api("PUT", f"/api/v1/workspaces/default/code-uploads/{snapshot}/score.py",
                      data=script.encode()).status_code == 200
    created = server.api("POST", "/api/v1/workspaces/default/online-endpoints",
                         json={"yaml": "name: studio-ep\nauth_mode: key\ndescription: adds numbers\n"})
    assert created.status_code == 200, created.text
    for name in ("blue", "green"):
        yaml = (f"name: {name}\nendpoint_name: studio-ep\ncode_configuration:\n  code: .\n"
                "  scoring_script: score.py\ninstance_count: 1\n")
        made = server.api("POST", "/api/v1/workspaces/default/online-endpoints/studio-ep/deployments",
                          json={"yaml": yaml, "snapshot": snapshot})
        assert made.status_code == 200, made.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [item["provisioning_state"] for item in
                  server.api("GET", "/api/v1/workspaces/default/online-endpoints/studio-ep/deployments").json()]
        if states == ["Succeeded", "Succeeded"]:
            break
        time.sleep(0.3)
    assert states == ["Succeeded", "Succeeded"]

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default")
    page.click("[data-testid=endpoints-link]")
    page.click("text=studio-ep")
    assert page.locator("[data-testid=scoring-uri]").inner_text().endswith("/endpoints/studio-ep/score")
    assert "studio worker up" in page.locator("[data-testid=worker-log]").first.inner_text()

    # Traffic: 100% to blue through the form.
    page.fill("input[name='traffic.blue']", "100")
    page.fill("input[name='traffic.green']", "0")
    page.click("[data-testid=traffic-form] button")
    assert server.api("GET", "/api/v1/workspaces/default/online-endpoints/studio-ep").json()["traffic"] == {"blue": 100}
    # A bad split is refused with the reason.
    page.fill("input[name='traffic.blue']", "60")
    page.click("[data-testid=traffic-form] button")
    assert "sum to 60" in page.content()
    page.go_back()
    page.reload()

    # The test console sends through the router with the endpoint's key.
    page.fill("[data-testid=test-console] textarea", '{"data": [1, 2, 3.5]}')
    page.click("[data-testid=test-console] button")
    page.wait_for_function("document.querySelector('[data-testid=test-response]').textContent.includes('6.5')",
                           timeout=15_000)
    assert page.locator("[data-testid=test-response]").inner_text().startswith("200 from blue")
    page.select_option("[data-testid=test-console] select[name=deployment]", "green")
    page.fill("[data-testid=test-console] textarea", "not json")
    page.click("[data-testid=test-console] button")
    page.wait_for_function("document.querySelector('[data-testid=test-response]').textContent.startsWith('424')",
                           timeout=15_000)
    assert "JSONDecodeError" in page.locator("[data-testid=test-response]").inner_text()

    # Live request counts refresh without a reload; the keys are there for those who may.
    page.wait_for_function(
        "document.querySelector('[data-deployment=blue] [data-testid=requests]').textContent.includes('200: 1')",
        timeout=15_000)
    assert page.locator("[data-testid=keys] [data-testid=primary-key]").count() == 1
    screenshot(page, "endpoint")


def fits_the_window(page, what: str, scrolled_frames: bool = False) -> None:
    """No table is wider than the window, and no cell taller than a few lines. With
    `scrolled_frames`, a table wider than the window may scroll inside its own frame
    (`.table-wrap`), as long as the frame fits the window and the page does not scroll."""
    found = page.evaluate("""(scrolledFrames) => {
        const width = document.documentElement.clientWidth;
        const framed = (table) => {
            const frame = table.closest(".table-wrap");
            return scrolledFrames && frame && frame.getBoundingClientRect().right <= width + 1
                && getComputedStyle(frame).overflowX === "auto";
        };
        const wide = [...document.querySelectorAll("table")]
            .filter((table) => table.getBoundingClientRect().width > width + 1 && !framed(table))
            .map((table) => (table.dataset.testid || table.className) + " " + Math.round(table.getBoundingClientRect().width));
        const tall = [...document.querySelectorAll("td")]
            .filter((cell) => cell.getBoundingClientRect().height > 90)
            .map((cell) => cell.textContent.trim().slice(0, 40) + " " + Math.round(cell.getBoundingClientRect().height));
        const scrolls = document.documentElement.scrollWidth > width + 1;
        return {wide, tall, scrolls};
    }""", scrolled_frames)
    assert not found["wide"] and not found["tall"] and not found["scrolls"], f"{what}: {found}"


def test_pages_fit_the_window_at_realistic_sizes(page, server):
    """A model with 30 versions with long sources, an experiment with 200 runs and 30 value
    columns, a run with 40 metrics of which 10 are single values."""
    import time

    name = "realistic-model"
    server.api("POST", "/api/2.0/mlflow/registered-models/create", json={"name": name})
    for index in range(30):
        source = f"s3://a-rather-long-bucket-name-for-models/team/projects/fraud/{index:04d}/artifacts/model-{'x' * 40}"
        created = server.api("POST", "/api/2.0/mlflow/model-versions/create",
                             json={"name": name, "source": source, "description": "retrained on the week's data " * 3})
        assert created.status_code == 200, created.text
    experiment = server.api("POST", "/api/2.0/mlflow/experiments/create", json={"name": "realistic"}).json()
    experiment_id = experiment["experiment_id"]
    now = int(time.time() * 1000)
    wide_run = None
    for index in range(200):
        run = server.api("POST", "/api/2.0/mlflow/runs/create",
                         json={"experiment_id": experiment_id, "run_name": f"trial-{index:03d}", "start_time": now})
        run_id = run.json()["run"]["info"]["run_id"]
        wide_run = wide_run or run_id
        metrics = [{"key": f"metric_{key:02d}", "value": index * 0.123456789 + key, "timestamp": now, "step": 0}
                   for key in range(15)]
        params = [{"key": f"param_{key:02d}", "value": f"value-{index}-{key}"} for key in range(15)]
        assert server.api("POST", "/api/2.0/mlflow/runs/log-batch",
                          json={"run_id": run_id, "metrics": metrics, "params": params}).status_code == 200
    # One run with 30 series and 10 single values.
    series = [{"key": f"series_{key:02d}", "value": step / (key + 1), "timestamp": now + step, "step": step}
              for key in range(30) for step in range(20)]
    singles = [{"key": f"final_{key:02d}", "value": 0.9 + key / 1000, "timestamp": now, "step": 0} for key in range(10)]
    for chunk in range(0, len(series), 500):
        server.api("POST", "/api/2.0/mlflow/runs/log-batch", json={"run_id": wide_run, "metrics": series[chunk:chunk + 500]})
    server.api("POST", "/api/2.0/mlflow/runs/log-batch", json={"run_id": wide_run, "metrics": singles})

    sign_in(page, server, "admin", server.password)
    page.goto(f"{server.url}/w/default/models/{name}")
    assert page.locator("[data-testid=versions] tbody tr").count() == 30
    fits_the_window(page, "model page")
    screenshot(page, "realistic-model")
    page.goto(f"{server.url}/w/default/models/{name}/versions/30")
    fits_the_window(page, "model version page")
    page.goto(f"{server.url}/w/default/experiments/{experiment_id}")
    assert page.locator("[data-testid=runs] tbody tr").count() > 0
    page.set_viewport_size({"width": 1400, "height": 900})
    screenshot(page, "realistic-runs")
    # 30 value columns cannot fit 1400 pixels: the table scrolls in its frame, as MLflow's does.
    fits_the_window(page, "runs page", scrolled_frames=True)
    page.goto(f"{server.url}/w/default/runs/{wide_run}")
    assert page.locator("[data-testid=charts] .chart").count() == 30
    assert page.locator("[data-testid=metric-values] > div").count() == 25, "10 single values and the 15 logged once"
    fits_the_window(page, "run page")
    screenshot(page, "realistic-run")


def test_my_account_makes_and_revokes_tokens_and_changes_the_password(page, server):
    import requests

    server.api("POST", "/api/v1/users", json={"name": "acct1", "password": "acct1-password"})
    sign_in(page, server, "acct1", "acct1-password")
    page.click("[data-testid=signed-in-user]")
    page.wait_for_load_state()
    assert "/account" in page.url
    assert page.locator("[data-testid=no-tokens]").count() == 1
    page.fill("input[name=description]", "laptop")
    page.click("text=Create token")
    page.wait_for_load_state()
    secret = page.locator("[data-testid=new-token-secret]").inner_text().strip()
    whoami = requests.get(server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert whoami.status_code == 200 and whoami.json()["user"] == "acct1"
    screenshot(page, "account")
    page.goto(server.url + "/account")
    row = page.locator("[data-testid=tokens] tbody tr", has_text="laptop")
    assert secret not in page.content(), "a secret is shown once, on the page that made it"
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=no-tokens]").count() == 1
    gone = requests.get(server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert gone.status_code == 401

    page.fill("input[name=current]", "not-my-password")
    page.fill("input[name=password]", "acct1-new-password")
    page.fill("input[name=confirm]", "acct1-new-password")
    page.click("text=Change password")
    page.wait_for_load_state()
    assert "not right" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=current]", "acct1-password")
    page.fill("input[name=password]", "acct1-new-password")
    page.fill("input[name=confirm]", "acct1-new-password")
    page.click("text=Change password")
    page.wait_for_load_state()
    assert "password changed" in page.locator("[role=status]").inner_text()
    assert requests.get(server.url + "/api/v1/whoami", auth=("acct1", "acct1-new-password"), timeout=30).status_code == 200
    assert requests.get(server.url + "/api/v1/whoami", auth=("acct1", "acct1-password"), timeout=30).status_code == 401


def test_administrators_manage_users_and_their_tokens(page, server):
    import requests

    sign_in(page, server, "admin", server.password)
    page.click("[data-testid=users-link]")
    page.wait_for_load_state()
    page.fill("form[action='/users'] input[name=name]", "made1")
    page.fill("form[action='/users'] input[name=password]", "made1-password")
    page.click("text=Create user")
    page.wait_for_load_state()
    assert "user created" in page.locator("[role=status]").inner_text()
    row = page.locator("[data-testid=users] tbody tr", has_text="made1")
    row.locator("input[name=password]").fill("made1-reset-password")
    row.locator("button:has-text('Set')").click()
    page.wait_for_load_state()
    assert "password set" in page.locator("[role=status]").inner_text()
    assert requests.get(server.url + "/api/v1/whoami", auth=("made1", "made1-reset-password"), timeout=30).status_code == 200
    page.click("button[aria-label='New token for made1']")
    page.wait_for_load_state()
    secret = page.locator("[data-testid=new-token-secret]").inner_text().strip()
    whoami = requests.get(server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert whoami.json()["user"] == "made1"
    screenshot(page, "users")
    page.goto(server.url + "/users")
    token_row = page.locator("[data-testid=tokens] tbody tr", has_text="made1")
    assert token_row.count() == 1
    # The token was just used: its row says when (the use is written moments after it).
    for _ in range(50):
        if "never" not in token_row.locator("td").nth(6).inner_text():
            break
        page.wait_for_timeout(100)
        page.reload()
    assert re.match(r"\d{4}-\d\d-\d\d", token_row.locator("td").nth(6).inner_text().strip())
    token_row.locator("button:has-text('Revoke')").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=tokens] tbody tr", has_text="made1").count() == 0

    # A user who is not an administrator is refused the page, and the form.
    session = requests.Session()
    session.post(server.url + "/login", data={"user": "made1", "password": "made1-reset-password", "next": "/"})
    assert session.get(server.url + "/users").status_code == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', session.get(server.url + "/account").text).group(1)
    forged = session.post(server.url + "/users", data={"csrf": csrf, "name": "sneaky"}, allow_redirects=False)
    assert forged.status_code == 303 and "administrator" in forged.headers["location"]
    assert server.api("GET", "/api/v1/users").json() and "sneaky" not in str(server.api("GET", "/api/v1/users").json())

    # Disabled, the user's session ends and their password is refused; enabled, it works again.
    page.goto(server.url + "/users")
    page.click("button[aria-label='Disable made1']")
    page.wait_for_load_state()
    assert "user disabled" in page.locator("[role=status]").inner_text()
    assert page.locator("[data-testid=users] tbody tr", has_text="made1").locator("button[aria-label='Enable made1']").count() == 1
    assert page.locator("button[aria-label='Disable admin']").count() == 1
    answer = session.get(server.url + "/account", allow_redirects=False)
    assert answer.status_code == 303 and "/login" in answer.headers["location"], answer.status_code
    assert requests.get(server.url + "/api/v1/whoami", auth=("made1", "made1-reset-password"), timeout=30).status_code == 401
    page.click("button[aria-label='Enable made1']")
    page.wait_for_load_state()
    assert "user enabled" in page.locator("[role=status]").inner_text()
    assert requests.get(server.url + "/api/v1/whoami", auth=("made1", "made1-reset-password"), timeout=30).status_code == 200
    # An administrator cannot disable themselves: the page says why.
    page.click("button[aria-label='Disable admin']")
    page.wait_for_load_state()
    assert "cannot disable yourself" in page.locator("[role=alert]").inner_text()
