"""Azure ML's "register a model from a local file" (SDK v2), ported to Atelier.

Changed from Azure's script: the imports, the client's construction, and the file's path."""

import os

from atelier import MLClient
from atelier.constants import AssetTypes
from atelier.entities import Model

ml_client = MLClient(workspace_name=os.environ.get("ATELIER_WORKSPACE", "default"))

# -- from here on, Azure's script --
file_model = Model(
    path="model-1/model/linear_model.json",
    type=AssetTypes.CUSTOM_MODEL,
    name="local-file-example",
    description="Model created from local file.",
)
registered = ml_client.models.create_or_update(file_model)
print(f"registered {registered.name} version {registered.version}")

# list the model's versions, then fetch the latest and download its files
for version in ml_client.models.list(name="local-file-example"):
    print(version.name, version.version, version.description)
latest = ml_client.models.get(name="local-file-example", label="latest")
ml_client.models.download(name="local-file-example", version=latest.version, download_path="./downloaded")
print(f"downloaded version {latest.version}")
