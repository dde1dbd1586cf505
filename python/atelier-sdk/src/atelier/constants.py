"""Constants, as ``azure.ai.ml.constants`` names them."""


class AssetTypes:
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    MLFLOW_MODEL = "mlflow_model"
    CUSTOM_MODEL = "custom_model"
    TRITON_MODEL = "triton_model"


class InputOutputModes:
    RO_MOUNT = "ro_mount"
    RW_MOUNT = "rw_mount"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    DIRECT = "direct"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"


class TimeZone:
    UTC = "UTC"
    PACIFIC_STANDARD_TIME = "Pacific Standard Time"


class JobType:
    COMMAND = "command"
    SWEEP = "sweep"
    PIPELINE = "pipeline"
