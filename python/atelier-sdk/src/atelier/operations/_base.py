"""What the operation groups share: the workspace's API paths, long-running-operation pollers,
and the versioned-asset calls (get, list, archive, restore) every asset kind has."""

from __future__ import annotations

import time
from typing import Any, Callable, Generic, Iterable, List, Optional, TypeVar

from .._http import Connection, segment
from ..exceptions import ValidationError

T = TypeVar("T")


class ListViewType:
    ACTIVE_ONLY = "ActiveOnly"
    ARCHIVED_ONLY = "ArchivedOnly"
    ALL = "All"


class LROPoller(Generic[T]):
    """azure-core's poller: ``result()`` waits until the operation is done and returns its value."""

    def __init__(self, finished: Callable[[], Optional[T]], *, interval: float = 0.5,
                 initial: Optional[T] = None) -> None:
        self._finished = finished
        self._interval = interval
        self._result: Optional[T] = initial
        self._done = False

    def done(self) -> bool:
        if not self._done:
            value = self._finished()
            if value is not None:
                self._result, self._done = value, True
        return self._done

    def wait(self, timeout: Optional[float] = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(self._interval)

    def result(self, timeout: Optional[float] = None) -> T:
        self.wait(timeout)
        if not self._done:
            raise TimeoutError("the operation did not finish in time")
        return self._result  # type: ignore[return-value]

    def status(self) -> str:
        return "Succeeded" if self.done() else "InProgress"


def done_poller(value: T) -> LROPoller[T]:
    return LROPoller(lambda: value)


class Operations:
    def __init__(self, connection: Connection, workspace: str) -> None:
        self._connection = connection
        self._workspace = workspace

    @property
    def _ws(self) -> str:
        return f"/workspaces/{segment(self._workspace)}"


class AssetOperations(Operations, Generic[T]):
    """Versioned assets: ``collection`` is the API's name for the kind."""

    collection = ""

    def _entity(self, rest: Any) -> T:
        raise NotImplementedError

    def _versions(self, name: str) -> str:
        return f"{self._ws}/{self.collection}/{segment(name)}/versions"

    def _version_path(self, name: str, version: Optional[str], label: Optional[str]) -> str:
        if version is not None and label is not None:
            raise ValidationError("give a version or a label, not both")
        selector = str(version) if version is not None else (label or "latest")
        if label is not None and label != "latest" and not label.startswith("@"):
            selector = f"@{label}"
        return f"{self._versions(name)}/{segment(selector)}"

    def get(self, name: str, version: Optional[str] = None, label: Optional[str] = None) -> T:
        """A version (``version``), or ``label="latest"`` (the newest not archived)."""
        if version is None and label is None:
            raise ValidationError("give a version or label='latest'")
        return self._entity(self._connection.get(self._version_path(name, version, label)))

    def list(self, name: Optional[str] = None, *, list_view_type: str = ListViewType.ACTIVE_ONLY,
             archived_only: bool = False, include_archived: bool = False) -> Iterable[T]:
        """The versions of ``name``, newest first; without a name, the newest version of each."""
        if archived_only:
            list_view_type = ListViewType.ARCHIVED_ONLY
        if include_archived:
            list_view_type = ListViewType.ALL
        path = self._versions(name) if name else f"{self._ws}/{self.collection}"
        rows: List[Any] = self._connection.get(path, {"archived": list_view_type != ListViewType.ACTIVE_ONLY})
        if list_view_type == ListViewType.ARCHIVED_ONLY:
            rows = [row for row in rows if row.get("archived")]
        return [self._entity(row) for row in rows]

    def archive(self, name: str, version: Optional[str] = None, label: Optional[str] = None) -> None:
        self._connection.post(self._version_path(name, version, label) + "/archive")

    def restore(self, name: str, version: Optional[str] = None, label: Optional[str] = None) -> None:
        self._connection.post(self._version_path(name, version, label) + "/restore")

    def _download_files(self, name: str, version: Optional[str], label: Optional[str], download_path: Any) -> None:
        from pathlib import Path

        from .._http import safe_target, segments

        base = self._version_path(name, version, label)
        root = Path(str(download_path))
        for entry in self._connection.get(f"{base}/files"):
            if not entry.get("is_dir"):
                self._connection.download(f"{base}/files/{segments(entry['path'])}", safe_target(root, entry["path"]))
