"""What every entity shares: its YAML shape (Azure ML's CLI v2 schemas), the folder its relative
paths are read from, and the server's fields once it has been created or read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

import yaml

PathLike = Union[str, Path]


def drop_none(document: Dict[str, Any]) -> Dict[str, Any]:
    """A mapping without its unset fields (the server applies Azure's defaults)."""
    return {key: value for key, value in document.items() if value is not None and value != {}}


def is_local_path(path: str) -> bool:
    """Whether a ``path`` names a file on this machine rather than a URI or a registered asset."""
    text = str(path)
    if text.startswith(("azureml:", "runs:/", "models:/", "mlflow-artifacts:")):
        return False
    return "://" not in text


class Resource:
    """An entity: its YAML fields as attributes, and once the server has answered, every field of
    that answer readable as an attribute too (``job.status``, ``endpoint.scoring_uri``)."""

    def __init__(self, *, name: Optional[str] = None, description: Optional[str] = None,
                 tags: Optional[Dict[str, str]] = None, properties: Optional[Dict[str, str]] = None,
                 **kwargs: Any) -> None:
        self.name = name
        self.description = description
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        self.base_path = Path(str(kwargs.pop("base_path", "."))).absolute()
        self._rest: Dict[str, Any] = {}
        # Fields of Azure's schema this SDK has no keyword for travel as written.
        self._extra: Dict[str, Any] = dict(kwargs)

    def __getattr__(self, name: str) -> Any:
        rest = self.__dict__.get("_rest") or {}
        if name in rest:
            return rest[name]
        raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")

    def _to_dict(self) -> Dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} cannot be written as YAML")

    def _yaml_text(self) -> str:
        # JSON is YAML: the server reads the document as it reads a file, with the same parser.
        return json.dumps(self._to_dict(), indent=2, default=str)

    def dump(self, dest: Optional[PathLike] = None) -> str:
        """The entity as Azure ML's YAML; written to ``dest`` when given."""
        text = yaml.safe_dump(self._to_dict(), sort_keys=False)
        if dest is not None:
            Path(str(dest)).write_text(text)
        return text

    def _set_rest(self, rest: Dict[str, Any]) -> "Resource":
        self._rest = dict(rest)
        return self

    @property
    def creation_context(self) -> Dict[str, Any]:
        return {key: self._rest.get(key) for key in ("created_by", "created_at", "updated_at") if key in self._rest}

    def __repr__(self) -> str:
        fields = {key: value for key, value in vars(self).items()
                  if not key.startswith("_") and key != "base_path" and value not in (None, {}, [])}
        inner = ", ".join(f"{key}={value!r}" for key, value in fields.items())
        return f"{type(self).__name__}({inner})"

    def _path(self, path: str) -> Path:
        return (self.base_path / path).resolve()
