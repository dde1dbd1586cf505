"""``ml_client.online_endpoints`` and ``.online_deployments``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

import requests

from .._http import segment, upload_tree
from ..entities._assets import Model
from ..entities._endpoint import EndpointAuthKeys, EndpointAuthToken, ManagedOnlineDeployment, ManagedOnlineEndpoint
from ..entities._base import is_local_path
from ..exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError, ValidationError, \
    error_from_response
from ._base import LROPoller, Operations, done_poller
from ._prepare import code_request


class OnlineEndpointOperations(Operations):
    def _path(self, name: str) -> str:
        return f"{self._ws}/online-endpoints/{segment(name)}"

    def get(self, name: str) -> ManagedOnlineEndpoint:
        return ManagedOnlineEndpoint._from_rest(self._connection.get(self._path(name)))

    def list(self) -> Iterable[ManagedOnlineEndpoint]:
        return [ManagedOnlineEndpoint._from_rest(row) for row in self._connection.get(f"{self._ws}/online-endpoints")]

    def begin_create_or_update(self, endpoint: ManagedOnlineEndpoint) -> LROPoller[ManagedOnlineEndpoint]:
        """Creates an endpoint, or updates an existing one's description, tags and traffic."""
        if not endpoint.name:
            raise ValidationError("name: an endpoint needs a name")
        try:
            self._connection.get(self._path(endpoint.name))
            exists = True
        except ResourceNotFoundError:
            exists = False
        if exists:
            body: Dict[str, Any] = {"tags": endpoint.tags, "traffic": endpoint.traffic,
                                    "mirror_traffic": endpoint.mirror_traffic}
            if endpoint.description is not None:
                body["description"] = endpoint.description
            rest = self._connection.patch(self._path(endpoint.name), body)
        else:
            rest = self._connection.post(f"{self._ws}/online-endpoints", {"yaml": endpoint._yaml_text()})
        return done_poller(ManagedOnlineEndpoint._from_rest(rest))

    def begin_delete(self, name: str) -> LROPoller[None]:
        self._connection.delete(self._path(name))
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]

    def get_keys(self, name: str) -> Any:
        """The endpoint's keys (``auth_mode: key``) or a fresh token (``aml_token``)."""
        credentials = self._connection.post(f"{self._path(name)}/get-credentials")
        if "accessToken" in credentials:
            return EndpointAuthToken(access_token=credentials["accessToken"],
                                     expiry_time_utc=credentials.get("expiryTimeUtc"))
        return EndpointAuthKeys(primary_key=credentials.get("primaryKey"),
                                secondary_key=credentials.get("secondaryKey"))

    def begin_regenerate_keys(self, name: str, *, key_type: str = "primary") -> LROPoller[None]:
        self._connection.post(f"{self._path(name)}/regenerate-keys", {"key_type": key_type})
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]

    def invoke(self, endpoint_name: str, *, request_file: Optional[Any] = None, deployment_name: Optional[str] = None,
               input_data: Any = None, **kwargs: Any) -> str:
        """Scores a request (a JSON file, or ``input_data``) with the endpoint's key; answers the
        response's text, as azure-ai-ml does."""
        if request_file is not None:
            try:
                payload = Path(str(request_file)).read_bytes()
            except OSError as error:
                raise ValidationError(f"cannot read the request file {request_file}: {error}") from error
        elif input_data is not None:
            payload = json.dumps(input_data).encode()
        else:
            raise ValidationError("give request_file or input_data")
        endpoint = self._connection.get(self._path(endpoint_name))
        credentials = self._connection.post(f"{self._path(endpoint_name)}/get-credentials")
        secret = credentials.get("primaryKey") or credentials.get("accessToken")
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        if deployment_name:
            headers["azureml-model-deployment"] = deployment_name
        try:
            response = requests.post(endpoint["scoring_uri"], data=payload, headers=headers,
                                     timeout=self._connection.timeout)
        except requests.RequestException as error:
            raise ServiceRequestError(f"cannot reach {endpoint['scoring_uri']}: {error}") from error
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.text


class OnlineDeploymentOperations(Operations):
    def _path(self, endpoint: str, name: str) -> str:
        return f"{self._ws}/online-endpoints/{segment(endpoint)}/deployments/{segment(name)}"

    def get(self, name: str, endpoint_name: str) -> ManagedOnlineDeployment:
        return ManagedOnlineDeployment._from_rest(self._connection.get(self._path(endpoint_name, name)))

    def list(self, endpoint_name: str) -> Iterable[ManagedOnlineDeployment]:
        rows = self._connection.get(f"{self._ws}/online-endpoints/{segment(endpoint_name)}/deployments")
        return [ManagedOnlineDeployment._from_rest(row) for row in rows]

    def _inline_model(self, deployment: ManagedOnlineDeployment) -> None:
        """A model given by a local path is registered first, as the CLI does, and named."""
        model = deployment.model
        if not isinstance(model, Model) or model._rest or model.path is None or not is_local_path(model.path):
            return
        name = model.name or f"{deployment.endpoint_name}-{deployment.name}-model"
        local = model._path(model.path)
        if not local.exists():
            raise ValidationError(f"model.path: '{model.path}' does not exist ({local})")
        prefix = f"{self._ws}/models/{segment(name)}/uploads/{uuid.uuid4().hex}"
        body: Dict[str, Any] = {"name": name, "path": upload_tree(self._connection, local, prefix)}
        if model.version is not None:
            body["version"] = int(model.version)
        if model.type:
            body["type"] = model.type
        deployment.model = Model._from_rest(self._connection.post(f"{self._ws}/models", body))

    def begin_create_or_update(self, deployment: ManagedOnlineDeployment) -> LROPoller[ManagedOnlineDeployment]:
        """Creates or replaces a deployment; the poller's result is the deployment once its
        rollout has ended (raising if it failed)."""
        if not deployment.name or not deployment.endpoint_name:
            raise ValidationError("a deployment needs a name and an endpoint_name")
        self._inline_model(deployment)
        body = code_request(self._connection, self._workspace, deployment._to_dict(), deployment.base_path,
                            code_field="code_configuration")
        path = self._path(deployment.endpoint_name, deployment.name)
        try:
            self._connection.get(path)
            exists = True
        except ResourceNotFoundError:
            exists = False
        if exists:
            self._connection.put(path, body)
        else:
            self._connection.post(f"{self._ws}/online-endpoints/{segment(deployment.endpoint_name)}/deployments", body)

        def ready() -> Optional[ManagedOnlineDeployment]:
            rest = self._connection.get(path)
            state = rest.get("provisioning_state")
            if state in ("Creating", "Updating"):
                return None
            if state == "Failed":
                raise HttpResponseError(f"deployment {deployment.name} failed: {rest.get('error') or 'no reason recorded'}",
                                        error_code="DeploymentFailed")
            return ManagedOnlineDeployment._from_rest(rest)

        return LROPoller(ready)

    def begin_delete(self, name: str, endpoint_name: str) -> LROPoller[None]:
        self._connection.delete(self._path(endpoint_name, name))
        return LROPoller(lambda: True)  # type: ignore[arg-type,return-value]

    def get_logs(self, name: str, endpoint_name: str, lines: int = 100, *, container_type: Optional[str] = None) -> str:
        logs = self._connection.get(f"{self._path(endpoint_name, name)}/logs",
                                    {"lines": lines, "container": container_type})
        return str(logs.get("logs", ""))
