-- Model versions as Azure ML model assets: the storage format (custom_model, mlflow_model,
-- triton_model), free-form properties (a JSON object of strings), and an archived flag that
-- hides a version from lists without deleting it.
ALTER TABLE model_versions ADD COLUMN model_type TEXT NOT NULL DEFAULT 'custom_model';
ALTER TABLE model_versions ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
ALTER TABLE model_versions ADD COLUMN archived BIGINT NOT NULL DEFAULT 0;
