"""Online endpoints and their deployments."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

from ._assets import Environment, Model
from ._base import Resource, drop_none
from ._job import environment_to_yaml


class CodeConfiguration:
    """A deployment's scoring code: a folder, and the script in it with ``init()`` and ``run()``."""

    def __init__(self, *, code: Optional[str] = None, scoring_script: Optional[str] = None) -> None:
        self.code = None if code is None else str(code)
        self.scoring_script = scoring_script

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"code": self.code, "scoring_script": self.scoring_script})


class OnlineRequestSettings:
    def __init__(self, *, request_timeout_ms: Optional[int] = None,
                 max_concurrent_requests_per_instance: Optional[int] = None,
                 max_queue_wait_ms: Optional[int] = None) -> None:
        self.request_timeout_ms = request_timeout_ms
        self.max_concurrent_requests_per_instance = max_concurrent_requests_per_instance
        self.max_queue_wait_ms = max_queue_wait_ms

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none(dict(vars(self)))


class ProbeSettings:
    def __init__(self, *, initial_delay: Optional[int] = None, period: Optional[int] = None,
                 timeout: Optional[int] = None, success_threshold: Optional[int] = None,
                 failure_threshold: Optional[int] = None) -> None:
        self.initial_delay = initial_delay
        self.period = period
        self.timeout = timeout
        self.success_threshold = success_threshold
        self.failure_threshold = failure_threshold

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none(dict(vars(self)))


class ManagedOnlineEndpoint(Resource):
    """An endpoint: one scoring URI with keys (``auth_mode: key``) or tokens (``aml_token``), and
    the share of traffic each deployment takes."""

    def __init__(self, *, name: Optional[str] = None, auth_mode: str = "key",
                 traffic: Optional[Dict[str, int]] = None, mirror_traffic: Optional[Dict[str, int]] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.auth_mode = auth_mode
        self.traffic = dict(traffic or {})
        self.mirror_traffic = dict(mirror_traffic or {})

    @property
    def scoring_uri(self) -> Optional[str]:
        return self._rest.get("scoring_uri")

    @property
    def provisioning_state(self) -> Optional[str]:
        return self._rest.get("provisioning_state")

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"name": self.name, "auth_mode": self.auth_mode, "description": self.description,
                          "tags": self.tags, "traffic": self.traffic, "mirror_traffic": self.mirror_traffic,
                          **self._extra})

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "ManagedOnlineEndpoint":
        endpoint = cls(name=rest.get("name"), auth_mode=rest.get("auth_mode", "key"), traffic=rest.get("traffic"),
                       mirror_traffic=rest.get("mirror_traffic"), description=rest.get("description"),
                       tags=rest.get("tags"))
        return endpoint._set_rest(rest)  # type: ignore[return-value]


class ManagedOnlineDeployment(Resource):
    """A deployment: a model served by a scoring script (or MLflow's or ONNX's own serving) in an
    environment, on ``instance_count`` worker processes."""

    def __init__(self, *, name: Optional[str] = None, endpoint_name: Optional[str] = None,
                 model: Optional[Union[str, Model]] = None, environment: Optional[Union[str, Environment]] = None,
                 code_configuration: Optional[CodeConfiguration] = None, instance_type: Optional[str] = None,
                 instance_count: Optional[int] = None, environment_variables: Optional[Dict[str, str]] = None,
                 request_settings: Optional[OnlineRequestSettings] = None,
                 liveness_probe: Optional[ProbeSettings] = None, readiness_probe: Optional[ProbeSettings] = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.endpoint_name = endpoint_name
        self.model = model
        self.environment = environment
        self.code_configuration = code_configuration
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.environment_variables = dict(environment_variables or {})
        self.request_settings = request_settings
        self.liveness_probe = liveness_probe
        self.readiness_probe = readiness_probe

    @property
    def provisioning_state(self) -> Optional[str]:
        return self._rest.get("provisioning_state")

    def _model_yaml(self) -> Any:
        model = self.model
        if isinstance(model, Model):
            if model.name and model.version and model._rest:
                return f"azureml:{model.name}:{model.version}"
            return drop_none({"path": model.path, "name": model.name, "version": model.version,
                              "type": model.type})
        if isinstance(model, str) and not model.startswith("azureml:"):
            return f"azureml:{model}"
        return model

    def _to_dict(self) -> Dict[str, Any]:
        def as_dict(value: Any) -> Any:
            return value._to_dict() if hasattr(value, "_to_dict") else value

        return drop_none({
            "name": self.name, "endpoint_name": self.endpoint_name, "description": self.description,
            "tags": self.tags, "model": self._model_yaml(), "environment": environment_to_yaml(self.environment),
            "code_configuration": as_dict(self.code_configuration), "instance_type": self.instance_type,
            "instance_count": self.instance_count, "environment_variables": self.environment_variables,
            "request_settings": as_dict(self.request_settings), "liveness_probe": as_dict(self.liveness_probe),
            "readiness_probe": as_dict(self.readiness_probe), **self._extra,
        })

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "ManagedOnlineDeployment":
        import yaml

        try:
            document = yaml.safe_load(rest.get("yaml") or "") or {}
        except yaml.YAMLError:
            document = {}
        deployment = cls._from_yaml(document if isinstance(document, dict) else {})
        for field in ("name", "endpoint_name", "instance_count", "description"):
            if rest.get(field) is not None:
                setattr(deployment, field, rest[field])
        return deployment._set_rest(rest)  # type: ignore[return-value]

    @classmethod
    def _from_yaml(cls, document: Dict[str, Any], base_path: Any = ".") -> "ManagedOnlineDeployment":
        document = dict(document)
        document.pop("$schema", None)
        code = document.pop("code_configuration", None)
        model = document.pop("model", None)
        if isinstance(model, dict):
            model = Model(base_path=base_path, **model)
        environment = document.pop("environment", None)
        if isinstance(environment, dict):
            environment = Environment(base_path=base_path, **environment)
        return cls(base_path=base_path, model=model, environment=environment,
                   code_configuration=CodeConfiguration(**code) if isinstance(code, dict) else None, **document)


class EndpointAuthKeys:
    def __init__(self, *, primary_key: Optional[str] = None, secondary_key: Optional[str] = None) -> None:
        self.primary_key = primary_key
        self.secondary_key = secondary_key

    def __repr__(self) -> str:  # keys are secrets: never in reprs or logs
        return "EndpointAuthKeys(primary_key=***, secondary_key=***)"


class EndpointAuthToken:
    def __init__(self, *, access_token: Optional[str] = None, expiry_time_utc: Any = None,
                 token_type: str = "Bearer") -> None:
        self.access_token = access_token
        self.expiry_time_utc = expiry_time_utc
        self.token_type = token_type

    def __repr__(self) -> str:
        return f"EndpointAuthToken(access_token=***, expiry_time_utc={self.expiry_time_utc!r})"
