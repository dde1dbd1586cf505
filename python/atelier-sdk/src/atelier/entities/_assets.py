"""Versioned assets: models, data and environments."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import yaml

from ._base import Resource, drop_none, is_local_path


class Model(Resource):
    """A model version: files (a local file or folder, uploaded at creation, or a URI such as
    ``runs:/<run>/model`` or ``azureml://jobs/<job>/outputs/<output>``) with a type."""

    def __init__(self, *, name: Optional[str] = None, version: Optional[Union[str, int]] = None,
                 type: Optional[str] = None, path: Optional[Union[str, Path]] = None,
                 stage: Optional[str] = None, job_name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.version = None if version is None else str(version)
        self.type = type
        self.path = None if path is None else str(path)
        self.stage = stage
        self.job_name = job_name

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            "name": self.name, "version": self.version, "type": self.type, "path": self.path,
            "description": self.description, "tags": self.tags, "properties": self.properties,
            "stage": self.stage, **self._extra,
        })

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "Model":
        model = cls(name=rest.get("name"), version=rest.get("version"), type=rest.get("model_type"),
                    path=rest.get("path"), stage=rest.get("stage"), job_name=rest.get("run_id"),
                    description=rest.get("description"), tags=rest.get("tags"), properties=rest.get("properties"))
        return model._set_rest(rest)  # type: ignore[return-value]


class Data(Resource):
    """A data asset version: a file (``uri_file``), a folder (``uri_folder``) or an MLTable."""

    def __init__(self, *, name: Optional[str] = None, version: Optional[Union[str, int]] = None,
                 type: str = "uri_folder", path: Optional[Union[str, Path]] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.version = None if version is None else str(version)
        self.type = type
        self.path = None if path is None else str(path)

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            "name": self.name, "version": self.version, "type": self.type, "path": self.path,
            "description": self.description, "tags": self.tags, "properties": self.properties, **self._extra,
        })

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "Data":
        data = cls(name=rest.get("name"), version=rest.get("version"), type=rest.get("type", "uri_folder"),
                   path=rest.get("path"), description=rest.get("description"), tags=rest.get("tags"),
                   properties=rest.get("properties"))
        return data._set_rest(rest)  # type: ignore[return-value]


class BuildContext:
    """A Docker build context. Atelier runs no containers, so an environment that names one is
    refused with that said."""

    def __init__(self, *, path: Optional[str] = None, dockerfile_path: Optional[str] = None) -> None:
        self.path = path
        self.dockerfile_path = dockerfile_path


class Environment(Resource):
    """A Python environment: a conda file (a path, or the environment as a mapping) whose Python
    version and pip packages Atelier builds with uv, and an optional image."""

    def __init__(self, *, name: Optional[str] = None, version: Optional[Union[str, int]] = None,
                 image: Optional[str] = None, conda_file: Optional[Union[str, Path, Dict[str, Any]]] = None,
                 build: Optional[BuildContext] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.version = None if version is None else str(version)
        self.image = image
        self.conda_file = str(conda_file) if isinstance(conda_file, Path) else conda_file
        self.build = build

    def _conda(self) -> Optional[Dict[str, Any]]:
        """The conda environment itself: a path is read here, where the file is."""
        if self.conda_file is None or isinstance(self.conda_file, dict):
            return self.conda_file
        path = self._path(self.conda_file)
        try:
            document = yaml.safe_load(path.read_text())
        except OSError as error:
            from ..exceptions import ValidationError
            raise ValidationError(f"conda_file: cannot read {path}: {error}") from error
        if not isinstance(document, dict):
            from ..exceptions import ValidationError
            raise ValidationError(f"conda_file: {path} is not a conda environment (a mapping)")
        return document

    def _inline(self) -> Dict[str, Any]:
        """The environment as a job or deployment writes it inline."""
        if self.build is not None:
            from ..exceptions import ValidationError
            raise ValidationError("environment.build: Atelier runs no containers, so it builds no Docker context; "
                                  "give a conda_file (and an image, which is recorded)")
        return drop_none({"image": self.image, "conda_file": self._conda()})

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            "name": self.name, "version": self.version, "description": self.description, "tags": self.tags,
            **self._inline(), **self._extra,
        })

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "Environment":
        conda: Optional[Dict[str, Any]] = None
        if rest.get("python") or rest.get("requirements"):
            dependencies: list = [f"python={rest['python']}"] if rest.get("python") else []
            dependencies += ["pip", {"pip": list(rest.get("requirements") or [])}]
            conda = {"channels": list(rest.get("channels") or []), "dependencies": dependencies}
        environment = cls(name=rest.get("name"), version=rest.get("version"), image=rest.get("image"),
                          conda_file=conda, description=rest.get("description"), tags=rest.get("tags"))
        return environment._set_rest(rest)  # type: ignore[return-value]


def local_asset_path(asset: Union[Model, Data]) -> Optional[Path]:
    """The local file or folder an asset's ``path`` names, if it names one."""
    if asset.path is None or not is_local_path(asset.path):
        return None
    local = asset._path(asset.path)
    if not local.exists():
        from ..exceptions import ValidationError
        raise ValidationError(f"path: '{asset.path}' does not exist ({local})")
    return local
