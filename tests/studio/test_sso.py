"""Single sign-on against a real OpenID provider: oidc-provider (a certified implementation),
run by tests/oidc/provider.mjs on loopback. Its development sign-in page takes any login name;
`name+group1+group2` signs in as `name` in those groups.

Covered: a good sign-in in the browser (user created, roles from the groups mapping, audited),
a user without a mapped group, a replayed `state`, a round trip begun in another browser, and
for ID tokens exchanged by the CLI: wrong audience, expiry, a tampered token, key rotation, and
roles following the groups at every sign-in."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import stat
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from conftest import ROOT, Server, _free_port, screenshot

OIDC = ROOT / "tests" / "oidc"
GROUPS = """\
groups:
  ml:
    - { workspace: default, role: Contributor }
  readers:
    - { workspace: default, role: Reader }
"""


class Provider:
    """The OpenID provider, on its own port, with the clients Atelier uses."""

    def __init__(self, home: Path, server_port: int):
        self.home = home
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys = home / "keys.json"
        self.clients = home / "clients.json"
        self.clients.write_text(json.dumps([
            {"client_id": "atelier", "client_secret": "atelier-client-secret",
             "redirect_uris": [f"http://127.0.0.1:{server_port}/login/oidc/callback"],
             "grant_types": ["authorization_code"], "response_types": ["code"]},
            {"client_id": "atelier-cli", "token_endpoint_auth_method": "none",
             "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
             "response_types": []},
            {"client_id": "another-app", "client_secret": "another-secret",
             "redirect_uris": ["http://127.0.0.1:1/cb"], "grant_types": ["authorization_code"],
             "response_types": ["code"]},
        ]))
        self.proc = None

    def start(self, *extra: str) -> None:
        log = open(self.home / "provider.log", "a")
        self.proc = subprocess.Popen(
            ["node", str(OIDC / "provider.mjs"), "--port", str(self.port), "--keys", str(self.keys),
             "--clients", str(self.clients), *extra],
            cwd=OIDC, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the OpenID provider did not start: " + (self.home / "provider.log").read_text())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)

    def sign(self, **claims) -> str:
        """An ID token with these claims, signed with the provider's current key."""
        answer = requests.post(self.issuer + "/test/sign", data=json.dumps(claims), timeout=10)
        answer.raise_for_status()
        return answer.json()["id_token"]


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    home = tmp_path_factory.mktemp("sso")
    port = _free_port()
    provider = Provider(home, port)
    provider.start()
    (home / "client-secret").write_text("atelier-client-secret\n")
    (home / "groups.yml").write_text(GROUPS)
    server_home = home / "server"
    server_home.mkdir()
    server = Server(server_home, port=port, extra_args=(
        "--oidc-issuer", provider.issuer, "--oidc-client-id", "atelier",
        "--oidc-client-secret-file", str(home / "client-secret"), "--oidc-cli-client-id", "atelier-cli",
        "--oidc-auto-create", "--oidc-groups-file", str(home / "groups.yml"),
    ))
    yield server, provider
    assert server.stop() == 0
    provider.stop()


def fill_forms(session: requests.Session, response: requests.Response, login: str,
               stop=lambda location: "/login/oidc/callback" in location) -> requests.Response:
    """Goes through the provider's development pages as a person would (confirm a device code,
    sign in as `login`, consent), following redirects until one leads where `stop` says, which
    it answers unfollowed; or until a page has no form left."""
    for _ in range(16):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["location"])
            if stop(location):
                return response
            response = session.get(location, allow_redirects=False, timeout=30)
            continue
        form = re.search(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', response.text, re.S)
        if form is None:
            return response
        data = {name: html.unescape(value)
                for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2))}
        if 'name="login"' in form.group(2):
            data.update(login=login, password="any")
        action = urljoin(response.url, html.unescape(form.group(1)))
        response = session.post(action, data=data, allow_redirects=False, timeout=30)
    raise AssertionError(f"the provider did not finish: {response.status_code} {response.text[:500]}")


def provider_sign_in(session: requests.Session, response: requests.Response, login: str) -> requests.Response:
    """Signs in at the provider and stops at its redirect back to Atelier."""
    answer = fill_forms(session, response, login)
    assert answer.is_redirect, f"the provider did not send the browser back: {answer.text[:500]}"
    return answer


def begin(server, session: requests.Session, next_path: str = "/") -> requests.Response:
    answer = session.get(f"{server.url}/login/oidc?next={next_path}", allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("http://127.0.0.1:"), answer.headers["location"]
    return session.get(answer.headers["location"], allow_redirects=False, timeout=30)


def callback_url(redirect: requests.Response) -> str:
    return urljoin(redirect.url, redirect.headers["location"])


def audit(server, user: str) -> list[dict]:
    answer = server.api("GET", "/api/v1/audit", params={"user": user})
    assert answer.status_code == 200, answer.text
    return answer.json()["records"]


def test_a_good_sign_in_in_the_browser(page, sso):
    server, _provider = sso
    page.goto(server.url + "/w/default")
    assert "/login" in page.url
    screenshot(page, "login-sso")
    page.click("[data-testid=sso]")
    page.wait_for_load_state()
    page.fill("input[name=login]", "ana+ml")
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.click("button:has-text('Continue')")
    page.wait_for_load_state()
    assert page.url == server.url + "/w/default", page.url
    assert page.locator("[data-testid=signed-in-user]").inner_text() == "ana"
    # Created at first sign-in, with the role the groups file maps `ml` to.
    users = {user["name"]: user for user in server.api("GET", "/api/v1/users").json()}
    assert "ana" in users and users["ana"]["is_admin"] is False
    roles = server.api("GET", "/api/v1/workspaces/default/roles").json()
    assert {"user": "ana", "role": "Contributor"} in roles, roles
    records = audit(server, "ana")
    assert [(r["action"], r["outcome"]) for r in records if r["action"] == "Atelier/users/signIn/action"] == [
        ("Atelier/users/signIn/action", "succeeded")], records


def test_a_user_without_a_mapped_group_is_refused(sso):
    server, _provider = sso
    session = requests.Session()
    redirect = provider_sign_in(session, begin(server, session), "bo+marketing")
    answer = session.get(callback_url(redirect), allow_redirects=False, timeout=30)
    assert answer.status_code == 401, answer.text
    assert "none of the groups of user 'bo'" in html.unescape(answer.text)
    assert "bo" not in {user["name"] for user in server.api("GET", "/api/v1/users").json()}
    assert any(r["outcome"] == "denied" for r in audit(server, "bo")), "the refusal is audited"


def test_a_replayed_state_and_another_browser_are_refused(sso):
    server, _provider = sso
    session = requests.Session()
    url = callback_url(provider_sign_in(session, begin(server, session, "/account"), "cy+readers"))
    # Another browser (without the cookie that binds the round trip) cannot complete it.
    stranger = requests.get(url, allow_redirects=False, timeout=30)
    assert stranger.status_code == 401 and "another browser" in stranger.text, stranger.text
    # The stranger's attempt used the state up: the right browser must begin again...
    again = session.get(url, allow_redirects=False, timeout=30)
    assert again.status_code == 401 and "already used" in again.text, again.text
    # ...and then signs in once; replaying that same answer is refused.
    url = callback_url(provider_sign_in(session, begin(server, session, "/account"), "cy+readers"))
    first = session.get(url, allow_redirects=False, timeout=30)
    assert first.status_code == 303 and first.headers["location"] == "/account", first.text
    assert session.get(server.url + "/account", allow_redirects=False, timeout=30).status_code == 200
    replayed = requests.Session()
    replayed.cookies.update(session.cookies)
    replay = replayed.get(url, allow_redirects=False, timeout=30)
    assert replay.status_code == 401 and "already used" in replay.text, replay.text


def exchange(server, id_token: str) -> requests.Response:
    return requests.post(server.url + "/api/v1/auth/oidc/token", json={"id_token": id_token}, timeout=30)


def claims(provider, **overrides) -> dict:
    now = int(time.time())
    base = {"iss": provider.issuer, "aud": "atelier-cli", "sub": "dee+ml", "preferred_username": "dee",
            "groups": ["ml"], "iat": now, "exp": now + 300}
    base.update(overrides)
    return base


def test_id_tokens_are_verified(sso):
    server, provider = sso
    good = exchange(server, provider.sign(**claims(provider)))
    assert good.status_code == 200, good.text
    token = good.json()
    assert token["user"] == "dee" and token["expires_at"] > time.time() * 1000
    whoami = requests.get(server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {token['token']}"}, timeout=30)
    assert whoami.json()["user"] == "dee"

    def refused(id_token: str, reason: str) -> None:
        answer = exchange(server, id_token)
        assert answer.status_code == 401, answer.text
        assert reason in answer.json()["message"], answer.json()

    refused(provider.sign(**claims(provider, aud="another-app")), "issued to another client")
    refused(provider.sign(**claims(provider, exp=int(time.time()) - 600)), "has expired")
    refused(provider.sign(**claims(provider, iss="http://127.0.0.1:1")), "issued by another provider")
    header, payload, signature = provider.sign(**claims(provider)).split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["preferred_username"] = "admin"
    tampered = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    refused(f"{header}.{tampered}.{signature}", "signature is not valid")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    refused(f"{unsigned}.{payload}.", "malformed")  # `alg: none` is no algorithm at all


def test_rotated_keys_are_fetched_again(sso):
    server, provider = sso
    assert exchange(server, provider.sign(**claims(provider))).status_code == 200
    provider.stop()
    provider.start("--rotate")
    time.sleep(11)  # the server fetches keys again for an unknown key at most every 10 s
    rotated = exchange(server, provider.sign(**claims(provider)))
    assert rotated.status_code == 200, rotated.text


def test_roles_follow_the_groups_at_every_sign_in(sso):
    server, provider = sso
    assert exchange(server, provider.sign(**claims(provider, sub="eve", preferred_username="eve",
                                                   groups=["ml"]))).status_code == 200
    roles = server.api("GET", "/api/v1/workspaces/default/roles").json()
    assert {"user": "eve", "role": "Contributor"} in roles
    # Out of `ml`, into `readers`: the role the file gave is taken, the new one given.
    assert exchange(server, provider.sign(**claims(provider, sub="eve", preferred_username="eve",
                                                   groups=["readers"]))).status_code == 200
    held = {r["role"] for r in server.api("GET", "/api/v1/workspaces/default/roles").json() if r["user"] == "eve"}
    assert held == {"Reader"}, held
    # A disabled user is refused, however good the token.
    assert server.api("PATCH", "/api/v1/users/eve", json={"disabled": True}).status_code == 200
    answer = exchange(server, provider.sign(**claims(provider, sub="eve", preferred_username="eve", groups=["ml"])))
    assert answer.status_code == 401 and "is disabled" in answer.json()["message"], answer.text


def test_the_cli_signs_in_with_the_device_flow(sso, tmp_path):
    """`atelier login`: the provider's device flow, a person confirming the code in a browser;
    the credentials are kept with mode 0600, used by later commands, and renewed through the
    refresh token once the API token has expired."""
    server, _provider = sso
    binary = os.environ.get("ATELIER_BIN", str(ROOT / "target" / "debug" / "atelier"))
    home = tmp_path / "cli-home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATELIER_")}
    login = subprocess.Popen([binary, "login", "--url", server.url, "--home", str(home)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    complete = None
    for line in login.stderr:
        found = re.search(r"\(or open (\S+)\)", line)
        if found:
            complete = found.group(1)
            break
    assert complete, "atelier login printed where to confirm the code"
    person = requests.Session()
    done = fill_forms(person, person.get(complete, allow_redirects=False, timeout=30), "fay+ml", stop=lambda _: False)
    assert "Sign-in Success" in done.text or "success" in done.text.lower(), done.text[:500]
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, err
    assert "signed in to" in out and "as fay" in out, out
    credentials = home / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    saved = json.loads(credentials.read_text())
    assert saved["user"] == "fay" and saved["refresh_token"], saved.keys()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary, *args, "--home", str(home)], capture_output=True, text=True, env=env, timeout=60)

    listed = cli("workspace", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [w["name"] for w in json.loads(listed.stdout)] == ["default"]
    # Expired: the next command renews the API token with the refresh token, and saves it.
    saved["expires_at"] = 0
    credentials.write_text(json.dumps(saved))
    renewed = cli("workspace", "list", "-o", "json")
    assert renewed.returncode == 0, renewed.stderr
    after = json.loads(credentials.read_text())
    assert after["token"] != saved["token"] and after["expires_at"] > time.time() * 1000
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    # Without a refresh token, an expired sign-in says what to do.
    after.update(expires_at=0, refresh_token=None)
    credentials.write_text(json.dumps(after))
    stale = cli("workspace", "list")
    assert stale.returncode != 0 and "atelier login" in stale.stderr, stale.stderr
