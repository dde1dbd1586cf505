"""Raw HTTP: authentication, wire conventions, error bodies, and artifact path safety."""

from __future__ import annotations

import base64
import http.client
import json
import math
from urllib.parse import quote

import pytest
import requests

from e2e_util import API, ARTIFACTS_API, FLOAT_MAX, assert_error_response, now_ms, unique

atelier_only = pytest.mark.atelier_only

# Routes that need a token (GET with query, POST with JSON), one per family.
PROTECTED = [
    ("GET", f"{API}/experiments/get?experiment_id=0", None),
    ("POST", f"{API}/experiments/search", {"max_results": 1}),
    ("POST", f"{API}/runs/search", {"experiment_ids": ["0"], "max_results": 1}),
    ("GET", f"{API}/metrics/get-history?run_id=abc&metric_key=m", None),
    ("GET", f"{ARTIFACTS_API}?path=0", None),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search", {"max_results": 1}),
    ("PUT", f"{ARTIFACTS_API}/0/x/artifacts/f.txt", None),
]


def _send(server, method, path, body, headers):
    if method == "PUT":  # artifact upload: a raw body
        return requests.put(server.url + path, data=b"x", headers=headers, timeout=30)
    return requests.request(method, server.url + path, json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("path", ["/health", "/healthz", "/readyz"])
def test_health_needs_no_token(server, path):
    if server.reference_mlflow and path != "/health":
        pytest.skip("/healthz and /readyz are Atelier's")
    response = requests.get(server.url + path, timeout=10)
    assert response.status_code == 200, response.text
    if path == "/health":
        assert response.text.strip() == "OK"


@atelier_only
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[p[1] for p in PROTECTED])
def test_no_token_is_401(server, method, path, body):
    response = _send(server, method, path, body, headers={})
    assert response.status_code == 401, response.text


@atelier_only
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[p[1] for p in PROTECTED])
def test_wrong_token_is_401(server, method, path, body):
    response = _send(server, method, path, body,
                     headers={"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 401, response.text


@atelier_only
def test_bad_authorization_headers_are_401(server):
    path = f"{API}/experiments/get?experiment_id=0"
    for header in (
        "Bearer ",
        "Basic " + base64.b64encode(b"admin:wrong-password").decode(),
        "Basic " + base64.b64encode(b"nobody:whatever").decode(),
        "Basic not-base64!!",
        "Token abc",
    ):
        response = requests.get(server.url + path, headers={"Authorization": header}, timeout=30)
        assert response.status_code == 401, (header, response.text)


@atelier_only
def test_admin_basic_auth_with_generated_password(server):
    password = server.read_secret("admin-password")
    response = requests.get(
        server.url + f"{API}/experiments/get?experiment_id=0", auth=("admin", password), timeout=30
    )
    assert response.status_code == 200, response.text


@atelier_only
def test_malformed_json_is_400(api):
    # Stricter than MLflow, which reads an unparsable body as {}.
    for body in ("{not json", '{"name": ', "[1, 2", "\x00\x01"):
        response = api.post(f"{API}/experiments/create", data=body,
                            headers={"Content-Type": "application/json"})
        assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")


def test_post_without_json_content_type_is_400(api):
    body = json.dumps({"name": unique("http-ctype")})
    response = api.post(f"{API}/experiments/create", data=body,
                        headers={"Content-Type": "text/plain"})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.post(f"{API}/experiments/create", data=body.encode())  # no Content-Type
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")


def test_json_with_charset_is_accepted(api):
    response = api.post(f"{API}/experiments/create", data=json.dumps({"name": unique("charset")}),
                        headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert response.json()["experiment_id"]


def test_double_encoded_json_body_is_decoded(api):
    name = unique("http-double")
    response = api.post(f"{API}/experiments/create", data=json.dumps(json.dumps({"name": name})),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    experiment_id = response.json()["experiment_id"]
    response = api.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    assert response.json()["experiment"]["experiment_id"] == experiment_id


def test_int64_as_strings_and_run_uuid(api):
    response = api.post(f"{API}/experiments/create", json={"name": unique("http-int64")})
    experiment_id = response.json()["experiment_id"]
    start = now_ms()
    response = api.post(f"{API}/runs/create",
                        json={"experiment_id": experiment_id, "start_time": str(start)})
    assert response.status_code == 200, response.text
    run = response.json()["run"]
    run_id = run["info"]["run_id"]
    assert int(run["info"]["start_time"]) == start
    assert run["info"]["run_uuid"] == run_id

    response = api.post(f"{API}/runs/log-metric", json={
        "run_id": run_id, "key": "m", "value": 2.5, "timestamp": str(start), "step": "3"})
    assert response.status_code == 200, response.text
    # runs/get takes run_id, or only the legacy run_uuid.
    for params in ({"run_id": run_id}, {"run_uuid": run_id}):
        response = api.get(f"{API}/runs/get", params=params)
        assert response.status_code == 200, response.text
        metrics = response.json()["run"]["data"]["metrics"]
        assert [(m["key"], m["value"], int(m["step"])) for m in metrics] == [("m", 2.5, 3)]


def test_metric_value_validation(api):
    response = api.post(f"{API}/experiments/create", json={"name": unique("http-value")})
    experiment_id = response.json()["experiment_id"]
    run_id = api.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()[
        "run"]["info"]["run_id"]
    for bad in ({"value": "abc"}, {}, {"value": None}):
        body = {"run_id": run_id, "key": "m", "timestamp": now_ms(), "step": 0, **bad}
        response = api.post(f"{API}/runs/log-metric", json=body)
        assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")


def test_nan_and_inf_on_the_wire(api):
    experiment_id = api.post(f"{API}/experiments/create",
                             json={"name": unique("http-nan")}).json()["experiment_id"]
    run_id = api.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()[
        "run"]["info"]["run_id"]
    for key, value in (("nan", "NaN"), ("inf", "Infinity"), ("ninf", "-Infinity")):
        response = api.post(f"{API}/runs/log-metric", json={
            "run_id": run_id, "key": key, "value": value, "timestamp": now_ms(), "step": 0})
        assert response.status_code == 200, (key, response.text)
    response = api.get(f"{API}/runs/get", params={"run_id": run_id})
    metrics = {m["key"]: m["value"] for m in response.json()["run"]["data"]["metrics"]}
    assert metrics["nan"] == "NaN"  # NaN travels as the string "NaN"
    assert metrics["inf"] == FLOAT_MAX
    assert metrics["ninf"] == -FLOAT_MAX
    response = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "nan"})
    (point,) = response.json()["metrics"]
    assert point["value"] == "NaN" or math.isnan(float(point["value"]))


def test_error_body_shape_and_status_codes(api):
    response = api.get(f"{API}/runs/get", params={"run_id": "0" * 32})
    assert_error_response(response, 404, "RESOURCE_DOES_NOT_EXIST")
    response = api.get(f"{API}/experiments/get", params={"experiment_id": "99999999"})
    assert_error_response(response, 404, "RESOURCE_DOES_NOT_EXIST")
    response = api.get(f"{API}/experiments/get-by-name",
                       params={"experiment_name": unique("missing")})
    assert_error_response(response, 404, "RESOURCE_DOES_NOT_EXIST")
    name = unique("http-dup")
    assert api.post(f"{API}/experiments/create", json={"name": name}).status_code == 200
    response = api.post(f"{API}/experiments/create", json={"name": name})
    assert_error_response(response, 400, "RESOURCE_ALREADY_EXISTS")
    response = api.post(f"{API}/experiments/create", json={})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "max_results": 50001})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")
    response = api.post(f"{API}/runs/search",
                        json={"experiment_ids": ["0"], "filter": "metrics.x >>> 1"})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_route_is_404(api):
    assert api.get(f"{API}/no-such-endpoint").status_code == 404
    assert api.post(f"{API}/runs/no-such-verb", json={}).status_code == 404


def test_ajax_api_mirror(api):
    name = unique("http-ajax")
    response = api.post("/ajax-api/2.0/mlflow/experiments/create", json={"name": name})
    assert response.status_code == 200, response.text
    response = api.get("/ajax-api/2.0/mlflow/experiments/get-by-name",
                       params={"experiment_name": name})
    assert response.status_code == 200
    assert response.json()["experiment"]["name"] == name


@pytest.mark.parametrize("what", ["experiments", "runs"])
def test_page_tokens_on_the_wire(api, what):
    prefix = unique("http-page")
    experiment_id = None
    for index in range(3):
        if what == "experiments":
            api.post(f"{API}/experiments/create", json={"name": f"{prefix}-{index}"})
        else:
            if experiment_id is None:
                experiment_id = api.post(f"{API}/experiments/create",
                                         json={"name": prefix}).json()["experiment_id"]
            api.post(f"{API}/runs/create", json={"experiment_id": experiment_id,
                                                 "run_name": f"{prefix}-{index}",
                                                 "start_time": 1_000 + index})
    if what == "experiments":
        route, key = f"{API}/experiments/search", "experiments"
        body = {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name ASC"]}
    else:
        route, key = f"{API}/runs/search", "runs"
        body = {"experiment_ids": [experiment_id], "order_by": ["attributes.start_time ASC"]}

    def page(max_results, token=None):
        request = {**body, "max_results": max_results}
        if token:
            request["page_token"] = token
        response = api.post(route, json=request)
        assert response.status_code == 200, response.text
        return response.json()

    first = page(2)
    assert len(first[key]) == 2
    assert first.get("next_page_token"), "a page with more results behind it needs a token"
    second = page(2, first["next_page_token"])
    assert len(second[key]) == 1
    assert not second.get("next_page_token"), "a short last page has no token"

    # An exactly full last page may carry a token (then the next page is empty, with no
    # token); MLflow 3.17.2's SQL store looks one row ahead and sends none.
    exact = page(3)
    assert len(exact[key]) == 3
    if exact.get("next_page_token"):
        after = page(3, exact["next_page_token"])
        assert after.get(key, []) == [] and not after.get("next_page_token")
    assert not page(4).get("next_page_token")


@atelier_only
def test_metric_history_pages_on_the_wire(api):
    """History pages start after the last point of the page before: points that share a step
    page in order, and a point logged meanwhile before the cursor shifts no later page. (MLflow
    3.17.2's tokens are offsets, so there the late point hands a later point out twice.)"""
    experiment_id = api.post(f"{API}/experiments/create", json={"name": unique("http-history")}).json()["experiment_id"]
    run_id = api.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"]["run_id"]
    points = [(step, timestamp) for step in (1, 2, 3) for timestamp in (10, 20)]
    metrics = [{"key": "m", "value": float(i), "timestamp": t, "step": s} for i, (s, t) in enumerate(points)]
    assert api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200

    def page(token=None):
        params = {"run_id": run_id, "metric_key": "m", "max_results": 2}
        if token:
            params["page_token"] = token
        response = api.get(f"{API}/metrics/get-history", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [(m["step"], m["timestamp"]) for m in body.get("metrics", [])], body.get("next_page_token")

    seen, token = page()
    assert seen == [(1, 10), (1, 20)] and token
    # A late point at step 0 lands before the cursor: the following pages do not move.
    late = {"key": "m", "value": -1.0, "timestamp": 5, "step": 0}
    assert api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [late]}).status_code == 200
    while token:
        more, token = page(token)
        seen += more
    assert seen == points, "every point once, in step then time order"
    assert page()[0] == [(0, 5), (1, 10)], "a new first page has the late point"
    garbage = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m", "page_token": "x!"})
    assert garbage.status_code == 400
    assert garbage.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_get_search_routed_too(api):
    response = api.get(f"{API}/experiments/search", params={"max_results": 1})
    assert response.status_code == 200, response.text
    assert len(response.json()["experiments"]) == 1


def test_server_info(api):
    response = api.get("/api/3.0/mlflow/server-info")
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.json().get("multipart_uploads_enabled") in (False, None)


# ---------------------------------------------------------------------------------------------
# Artifact path safety


@pytest.fixture
def artifact_base(api):
    experiment_id = api.post(f"{API}/experiments/create",
                             json={"name": unique("http-paths")}).json()["experiment_id"]
    run_id = api.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()[
        "run"]["info"]["run_id"]
    return f"{experiment_id}/{run_id}/artifacts"


def raw_request(server, method: str, raw_path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send a path exactly as given (requests/urllib3 would normalise '..' segments away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {server.token}"}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        connection.request(method, raw_path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "listing_path",
    ["../..", "0/../../..", "/etc", "/", "..", "a/../../b"],
)
def test_listing_outside_the_store_is_400(api, listing_path):
    response = api.get(ARTIFACTS_API, params={"path": listing_path})
    assert_error_response(response, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize(
    "suffix",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/sub/../../../x.txt",
    ],
)
def test_dot_dot_in_artifact_paths_is_400(server, artifact_base, method, suffix):
    body = b"payload" if method == "PUT" else None
    status, content = raw_request(server, method, f"{ARTIFACTS_API}/{artifact_base}{suffix}", body)
    assert status == 400, (status, content[:300])
    assert json.loads(content)["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("path", ["%2Fetc%2Fpasswd", "%2Ftmp%2Fatelier-e2e-escape.txt"])
def test_absolute_artifact_paths_are_400(server, method, path):
    body = b"payload" if method == "PUT" else None
    status, content = raw_request(server, method, f"{ARTIFACTS_API}/{path}", body)
    assert status == 400, (status, content[:300])
    assert json.loads(content)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_safe_artifact_names_still_work(server, artifact_base):
    name = quote("dots..in..name.txt")
    status, _ = raw_request(server, "PUT", f"{ARTIFACTS_API}/{artifact_base}/{name}", b"ok")
    assert status == 200
    status, content = raw_request(server, "GET", f"{ARTIFACTS_API}/{artifact_base}/{name}")
    assert (status, content) == (200, b"ok")


@atelier_only
def test_upload_cut_off_midway_stores_nothing(server, artifact_base):
    """A client that disconnects mid-upload leaves no file, not even a partial one."""
    import socket
    import time

    file_name = f"{unique('cut-off')}.bin"
    path = f"{ARTIFACTS_API}/{artifact_base}/partial/{file_name}"
    declared = 20 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = b"x" * (1024 * 1024)
        for _ in range(7):  # more than one 5 MiB multipart part, less than declared
            sock.sendall(chunk)
    # Give the server time to notice the disconnect and abort the upload.
    time.sleep(1.5)
    status, _ = raw_request(server, "GET", path)
    listing = requests.get(
        server.url + ARTIFACTS_API,
        params={"path": f"{artifact_base}/partial"},
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert status == 404, "a cut-off upload must not leave a file behind"
    assert listing.json().get("files", []) == []
    # Nor a staging file on disk (the blob store is the folder blobs/ under the home).
    leftovers = [str(found) for found in (server.home / "blobs").rglob(f"{file_name}*")]
    assert leftovers == [], leftovers
    # The same path still accepts a complete upload afterwards.
    status, _ = raw_request(server, "PUT", path, b"complete")
    assert status == 200
    assert raw_request(server, "GET", path) == (200, b"complete")
