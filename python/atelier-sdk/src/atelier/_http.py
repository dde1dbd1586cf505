"""The connection to an Atelier server: where it is, the token, and requests whose failures
become this SDK's exceptions. Found the way the ``atelier`` CLI finds them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

import requests

from .exceptions import ServiceRequestError, ValidationError, error_from_response

DEFAULT_URL = "http://127.0.0.1:7420"
USER_AGENT = "atelier-sdk/0.1.0"
CHUNK = 1 << 20


def segment(text: str) -> str:
    """One path segment, percent-encoded: names never change the shape of a URL."""
    return quote(str(text), safe="-_.~")


def segments(path: str) -> str:
    """A relative file path, each segment encoded."""
    return "/".join(segment(part) for part in path.split("/"))


def atelier_home() -> Path:
    home = os.environ.get("ATELIER_HOME")
    return Path(home) if home else Path.home() / ".atelier"


def _read(path: Path) -> Optional[str]:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def find_connection(url: Optional[str], token: Optional[str]) -> Tuple[str, str]:
    """The server's URL and a token: given, else ``ATELIER_URL``/``ATELIER_TOKEN``, else what
    ``atelier login`` keeps in ``~/.atelier/credentials.json``, else what a local server wrote
    to ``~/.atelier`` (``url``, ``token``)."""
    home = atelier_home()
    url = url or os.environ.get("ATELIER_URL")
    token = token or os.environ.get("ATELIER_TOKEN")
    if token is None:
        try:
            credentials = json.loads((home / "credentials.json").read_text())
        except (OSError, ValueError):
            credentials = None
        if isinstance(credentials, dict) and credentials.get("token"):
            saved_url = str(credentials.get("url", "")).rstrip("/")
            if url is None or url.rstrip("/") == saved_url:
                expires = credentials.get("expires_at")
                if isinstance(expires, (int, float)) and expires <= time.time() * 1000:
                    raise ValidationError(
                        f"the token `atelier login` saved in {home / 'credentials.json'} has expired: "
                        "run `atelier login` again (the CLI renews it)")
                url = url or saved_url
                token = str(credentials["token"])
    url = url or _read(home / "url") or DEFAULT_URL
    token = token or _read(home / "token")
    if not token:
        raise ValidationError(
            "no API token: pass token=..., set ATELIER_TOKEN, or run `atelier login` "
            f"(a local server writes one to {home / 'token'} at first start)")
    return url.rstrip("/"), token


class Connection:
    """HTTP to one server with one token."""

    def __init__(self, url: str, token: str, *, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = USER_AGENT

    def __repr__(self) -> str:  # the token stays out of reprs and logs
        return f"Connection({self.url!r})"

    def request(self, method: str, path: str, *, absolute: bool = False, stream: bool = False,
                **kwargs: Any) -> requests.Response:
        url = path if absolute else f"{self.url}/api/v1{path}"
        try:
            response = self.session.request(method, url, timeout=kwargs.pop("timeout", self.timeout),
                                            stream=stream, **kwargs)
        except requests.RequestException as error:
            raise ServiceRequestError(f"cannot reach the Atelier server at {self.url}: {error}") from error
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.request(method, path, json=body, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def get(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        for key, value in query.items():
            if isinstance(value, bool):
                query[key] = "true" if value else "false"
        return self.call("GET", path, params=query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, {} if body is None else body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def put_file(self, path: str, local: Path) -> Any:
        """Uploads one file as a PUT's body, streamed."""
        with open(local, "rb") as handle:
            # A file object streams with its length (from fstat) as Content-Length.
            response = self.request("PUT", path, data=handle)
        return response.json() if response.content else None

    def download(self, path: str, target: Path) -> int:
        """Streams a GET's body into ``target``; the file appears only once complete."""
        response = self.request("GET", path, stream=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        written = 0
        with open(partial, "wb") as handle:
            for chunk in response.iter_content(CHUNK):
                handle.write(chunk)
                written += len(chunk)
        partial.replace(target)
        return written

    def lines(self, path: str, params: Optional[Dict[str, Any]] = None) -> Iterator[str]:
        """A streamed GET's body, line by line, as it arrives."""
        response = self.request("GET", path, params=params, stream=True, timeout=None)
        for line in response.iter_lines(decode_unicode=True):
            yield line if isinstance(line, str) else line.decode("utf-8", "replace")


def local_files(root: Path) -> List[Tuple[str, Path]]:
    """A file, or every file under a folder, as (path relative to the folder's parent, so the
    folder keeps its name; local path), sorted."""
    if root.is_file():
        return [(root.name, root)]
    files = [(f"{root.name}/{path.relative_to(root).as_posix()}", path)
             for path in sorted(root.rglob("*")) if path.is_file()]
    if not files:
        raise ValidationError(f"{root} has no files to upload")
    return files


def upload_tree(connection: Connection, local: Path, prefix: str) -> str:
    """Uploads a file or folder under ``prefix`` (an API path); returns the URI of its root."""
    root = ""
    for relative, path in local_files(local):
        uploaded = connection.put_file(f"{prefix}/{segments(relative)}", path)
        if not root:
            uri = str(uploaded["uri"])
            root = uri[: len(uri) - len(relative)] + relative.split("/")[0]
    return root


def safe_target(root: Path, relative: str) -> Path:
    """``root`` joined with a path the server named, refusing any that would leave it."""
    parts = [part for part in relative.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise ValidationError(f"the server named a path outside the download folder: '{relative}'")
    return root.joinpath(*parts)
