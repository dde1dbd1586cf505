"""``ml_client.jobs``: submit, follow, cancel, download, archive and restore jobs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable, List, Optional, TextIO

from .._http import safe_target, segment, segments
from ..entities._job import Job, job_from_rest as _job_from_rest
from ..exceptions import JobException, ValidationError
from ._base import ListViewType, LROPoller, Operations
from ._prepare import job_request

ENDED = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")


class JobOperations(Operations):
    def _path(self, name: str) -> str:
        return f"{self._ws}/jobs/{segment(name)}"

    def _job(self, rest: Any) -> Job:
        job = _job_from_rest(rest)
        job._rest["studio_url"] = f"{self._connection.url}/w/{segment(self._workspace)}/jobs/{segment(job.name or '')}"
        return job

    def create_or_update(self, job: Job, *, experiment_name: Optional[str] = None, compute: Optional[str] = None,
                         **kwargs: Any) -> Job:
        """Submits a job (a command, a sweep or a pipeline): its code and local inputs are uploaded
        first, as ``atelier job create`` does; answers the job as queued."""
        if not isinstance(job, Job):
            raise ValidationError(f"expected a job (atelier.command(...), load_job(...)), got {type(job).__name__}")
        document = job._to_dict()
        if experiment_name:
            document["experiment_name"] = experiment_name
        if compute:
            document["compute"] = compute
        if job.type == "pipeline" and "jobs" not in document:
            raise ValidationError("a pipeline needs at least one step (jobs)")
        body = job_request(self._connection, self._workspace, document, job.base_path)
        return self._job(self._connection.post(f"{self._ws}/jobs", body))

    def validate(self, job: Job) -> None:
        """Checks a job with the server without submitting it (uploads nothing)."""
        body = {"yaml": job._yaml_text(), "folder_name": Path.cwd().name or "Default"}
        self._connection.post(f"{self._ws}/job-checks", body)

    def get(self, name: str) -> Job:
        return self._job(self._connection.get(self._path(name)))

    def list(self, *, parent_job_name: Optional[str] = None, list_view_type: str = ListViewType.ACTIVE_ONLY,
             status: Optional[str] = None, experiment_name: Optional[str] = None, compute: Optional[str] = None,
             max_results: Optional[int] = None) -> Iterable[Job]:
        """Jobs, newest first (a sweep's trials with ``parent_job_name``)."""
        rows: List[Any] = self._connection.get(f"{self._ws}/jobs", {
            "parent_job_name": parent_job_name, "status": status, "experiment_name": experiment_name,
            "compute": compute, "max_results": max_results,
            "include_archived": list_view_type == ListViewType.ALL,
            "archived_only": list_view_type == ListViewType.ARCHIVED_ONLY})
        return [self._job(row) for row in rows]

    def begin_cancel(self, name: str) -> LROPoller[Job]:
        """Cancels a job; the poller's result is the job once it has ended."""
        self._connection.post(f"{self._path(name)}/cancel")

        def ended() -> Optional[Job]:
            job = self.get(name)
            return job if job.status in ENDED else None

        return LROPoller(ended)

    def archive(self, name: str) -> None:
        self._connection.post(f"{self._path(name)}/archive")

    def restore(self, name: str) -> None:
        self._connection.post(f"{self._path(name)}/restore")

    def stream(self, name: str, *, out: Optional[TextIO] = None) -> None:
        """Prints the job's log as it is written until the job ends; raises
        :class:`JobException` unless it completed."""
        out = out or sys.stdout
        out.write(f"RunId: {name}\n")
        offset = 0
        while True:
            piece = self._connection.get(f"{self._path(name)}/logs", {"from": offset, "wait": 20})
            text = piece.get("text") or ""
            if text:
                out.write(text)
                out.flush()
            offset = piece.get("next_offset", offset)
            if piece.get("ended") and not text:
                status = piece.get("status", "")
                out.write(f"\nExecution Summary\n=================\nRunId: {name}\nStatus: {status}\n")
                out.flush()
                if status == "Completed":
                    return
                job = self._connection.get(self._path(name))
                reason = job.get("error") or next(
                    (event.get("message") for event in reversed(job.get("events") or []) if event.get("message")),
                    None)
                raise JobException(f"job {name} ended {status}" + (f": {reason}" if reason else ""),
                                   error_code=status)

    def download(self, name: str, *, download_path: Any = ".", output_name: Optional[str] = None,
                 all: bool = False) -> None:
        """A job's artifacts (to ``<download_path>/artifacts``) and named outputs (to
        ``<download_path>/named-outputs/<output>``), as ``az ml job download`` lays them out."""
        job = self._connection.get(self._path(name))
        root = Path(str(download_path))
        outputs = list(((job.get("plan") or {}).get("outputs") or {}).keys())
        if output_name in (None, "artifacts", "default"):
            wanted = outputs if all else []
            self._download_artifacts(job["name"], root / "artifacts")
        else:
            if output_name not in outputs:
                raise ValidationError(f"job {name} has no output '{output_name}' (it has: {', '.join(['artifacts'] + outputs)})")
            wanted = [output_name]
        for output in wanted:
            base = f"{self._path(name)}/outputs/{segment(output)}"
            listing = self._connection.get(base)
            for entry in listing.get("files", []):
                path = entry["path"]
                # Paths start with the output's own name.
                inner = path.split("/", 1)[1] if "/" in path else path
                target = safe_target(root / "named-outputs" / output, inner)
                self._connection.download(f"{base}/files/{segments(path)}", target)

    def _download_artifacts(self, run: str, root: Path) -> None:
        base = f"{self._ws}/runs/{segment(run)}/artifacts"
        folders = [""]
        while folders:
            folder = folders.pop()
            for entry in self._connection.get(base, {"path": folder}):
                if entry.get("is_dir"):
                    folders.append(entry["path"])
                else:
                    self._connection.download(f"{base}/{segments(entry['path'])}", safe_target(root, entry["path"]))
