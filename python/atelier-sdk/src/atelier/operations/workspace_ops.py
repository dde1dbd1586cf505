"""``ml_client.workspaces``, ``.compute`` and ``.schedules``."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from .._http import segment
from ..entities._job import Job
from ..entities._workspace import Compute, ComputeInstance, JobSchedule, Workspace
from ..exceptions import HttpResponseError, ResourceNotFoundError, ValidationError
from ._base import LROPoller, Operations, done_poller
from ._prepare import job_request


class WorkspaceOperations(Operations):
    def get(self, name: Optional[str] = None) -> Workspace:
        """A workspace (default: the client's)."""
        rest = self._connection.get(f"/workspaces/{segment(name or self._workspace)}")
        workspace = Workspace._from_rest(rest)
        path = rest.get("mlflow_tracking_path", "")
        workspace._rest["mlflow_tracking_uri"] = f"{self._connection.url}{path}"
        return workspace

    def list(self) -> Iterable[Workspace]:
        return [Workspace._from_rest(row) for row in self._connection.get("/workspaces")]

    def begin_create(self, workspace: Workspace) -> LROPoller[Workspace]:
        body = {"name": workspace.name, "description": workspace.description or "", "tags": workspace.tags}
        return done_poller(Workspace._from_rest(self._connection.post("/workspaces", body)))

    def begin_update(self, workspace: Workspace) -> LROPoller[Workspace]:
        body = {"description": workspace.description, "tags": workspace.tags}
        rest = self._connection.patch(f"/workspaces/{segment(workspace.name or self._workspace)}", body)
        return done_poller(Workspace._from_rest(rest))

    def begin_delete(self, name: str, *, delete_dependent_resources: bool = False, **kwargs: Any) -> LROPoller[None]:
        self._connection.delete(f"/workspaces/{segment(name)}")
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]


class ComputeOperations(Operations):
    """Computes that jobs run on, and compute instances (which share their names)."""

    def _instance(self, name: str) -> str:
        return f"{self._ws}/compute-instances/{segment(name)}"

    def _entity(self, rest: Any) -> Compute:
        if rest.get("type") == "computeinstance":
            instance = ComputeInstance(name=rest.get("name"), description=rest.get("description"),
                                       tags=rest.get("tags"))
            return instance._set_rest(rest)  # type: ignore[return-value]
        return Compute._from_rest(rest)

    def get(self, name: str) -> Compute:
        try:
            return self._entity(self._connection.get(self._instance(name)))
        except ResourceNotFoundError:
            return self._entity(self._connection.get(f"{self._ws}/computes/{segment(name)}"))

    def list(self) -> Iterable[Compute]:
        rows = list(self._connection.get(f"{self._ws}/computes"))
        rows += self._connection.get(f"{self._ws}/compute-instances")
        return [self._entity(row) for row in rows]

    def _until(self, name: str, states: tuple) -> LROPoller[Compute]:
        def settled() -> Optional[Compute]:
            rest = self._connection.get(self._instance(name))
            if rest.get("state") == "Failed" and "Failed" not in states:
                raise HttpResponseError(f"compute instance {name} failed: {rest.get('reason')}",
                                        error_code="ComputeInstanceFailed")
            return self._entity(rest) if rest.get("state") in states else None

        return LROPoller(settled, interval=1.0)

    def begin_create_or_update(self, compute: Compute) -> LROPoller[Compute]:
        """Defines a compute (a Slurm one is checked against the cluster first), or creates a
        compute instance: its poller's result is the instance once it runs."""
        document = compute._to_dict()
        if not document.get("name") or not document.get("type"):
            raise ValidationError("a compute needs a name and a type")
        if document["type"].lower() == "computeinstance":
            scripts = {}
            for field, script in (document.get("setup_scripts") or {}).items():
                if isinstance(script, dict) and script.get("path"):
                    path = compute._path(str(script["path"]))
                    try:
                        scripts[field] = path.read_text()
                    except OSError as error:
                        raise ValidationError(f"setup_scripts.{field}.path: cannot read {path}: {error}") from error
            created = self._connection.post(f"{self._ws}/compute-instances",
                                            {"yaml": compute._yaml_text(), "setup_scripts": scripts})
            return self._until(created["name"], ("Running",))
        body = {"name": document["name"], "type": document["type"], "yaml": compute._yaml_text()}
        return done_poller(Compute._from_rest(self._connection.post(f"{self._ws}/computes", body)))

    def begin_start(self, name: str) -> LROPoller[Compute]:
        self._connection.post(f"{self._instance(name)}/start")
        return self._until(name, ("Running",))

    def begin_stop(self, name: str) -> LROPoller[Compute]:
        self._connection.post(f"{self._instance(name)}/stop")
        return self._until(name, ("Stopped",))

    def begin_restart(self, name: str) -> LROPoller[Compute]:
        self._connection.post(f"{self._instance(name)}/restart")
        return self._until(name, ("Running",))

    def begin_delete(self, name: str) -> LROPoller[None]:
        try:
            self._connection.delete(self._instance(name))
        except ResourceNotFoundError:
            self._connection.delete(f"{self._ws}/computes/{segment(name)}")
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]


class ScheduleOperations(Operations):
    def _path(self, name: str) -> str:
        return f"{self._ws}/schedules/{segment(name)}"

    def get(self, name: str) -> JobSchedule:
        return JobSchedule._from_rest(self._connection.get(self._path(name)))

    def list(self) -> Iterable[JobSchedule]:
        rows: List[Any] = self._connection.get(f"{self._ws}/schedules")
        return [JobSchedule._from_rest(row) for row in rows]

    def begin_create_or_update(self, schedule: JobSchedule) -> LROPoller[JobSchedule]:
        """Creates a schedule, or replaces an existing one's trigger and job."""
        if not schedule.name:
            raise ValidationError("name: a schedule needs a name")
        document = schedule._to_dict()
        body: dict = {}
        if isinstance(schedule.create_job, Job) and not schedule.create_job._rest:
            job_document = dict(document["create_job"])
            job_document.pop("name", None)  # each fire names its own job
            body["job"] = job_request(self._connection, self._workspace, job_document,
                                      schedule.create_job.base_path)
            # The schedule's file names the job it submits by the file the CLI would read; the
            # server takes the job from `job`.
            document["create_job"] = "./job.yml"
        import json

        body["yaml"] = json.dumps(document, indent=2, default=str)
        try:
            self._connection.get(self._path(schedule.name))
            exists = True
        except ResourceNotFoundError:
            exists = False
        if exists:
            rest = self._connection.put(self._path(schedule.name), body)
        else:
            rest = self._connection.post(f"{self._ws}/schedules", body)
        return done_poller(JobSchedule._from_rest(rest))

    def begin_delete(self, name: str) -> LROPoller[None]:
        self._connection.delete(self._path(name))
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]

    def begin_disable(self, name: str) -> LROPoller[JobSchedule]:
        return done_poller(JobSchedule._from_rest(self._connection.post(f"{self._path(name)}/disable")))

    def begin_enable(self, name: str) -> LROPoller[JobSchedule]:
        return done_poller(JobSchedule._from_rest(self._connection.post(f"{self._path(name)}/enable")))

    def trigger(self, name: str) -> Any:
        """Fires a schedule now; answers the job it submitted."""
        from ..entities._job import job_from_rest

        rest = self._connection.post(f"{self._path(name)}/trigger")
        return job_from_rest(rest) if isinstance(rest, dict) and rest.get("yaml") is not None else rest
