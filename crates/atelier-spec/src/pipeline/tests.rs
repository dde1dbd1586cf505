//! Tests of pipeline files: bindings, the DAG, and mistakes with their step, field and line.

use super::*;
use crate::component::{ComponentBody, parse_component};

const PIPELINE: &str = r#"$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: train-score-eval
settings:
  default_compute: azureml:cpu-cluster
  default_datastore: azureml:workspaceblobstore
  continue_on_step_failure: false
inputs:
  raw: {type: uri_folder, path: ./data}
  epochs: 20
outputs:
  trained_model: {mode: upload}
jobs:
  prep:
    command: python prep.py --raw ${{inputs.raw_data}} --out ${{outputs.clean}}
    code: ./prep_src
    environment: azureml:sklearn@latest
    inputs:
      raw_data: ${{parent.inputs.raw}}
    outputs:
      clean:
  train:
    type: command
    component: ./train.yml
    compute: azureml:gpu-cluster
    inputs:
      training_data: ${{parent.jobs.prep.outputs.clean}}
      max_epochs: ${{parent.inputs.epochs}}
    outputs:
      model_output: ${{parent.outputs.trained_model}}
  report:
    component: azureml:report@latest
    inputs:
      model: ${{parent.jobs.train.outputs.model_output}}
      data: ${{parent.jobs.prep.outputs.clean}}
"#;

const TRAIN: &str = r#"name: train_data_component
inputs:
  training_data: {type: uri_folder}
  max_epochs: {type: integer, optional: true, min: 1}
  learning_rate: {type: number, default: 0.01, optional: true}
outputs:
  model_output: {type: uri_folder}
command: >-
  python train.py --training_data ${{inputs.training_data}}
  $[[--max_epochs ${{inputs.max_epochs}}]] --model_output ${{outputs.model_output}}
"#;

const REPORT: &str = r#"name: report
inputs:
  model: {type: mlflow_model}
  data: {type: uri_folder}
  title: {type: string}
command: echo ${{inputs.title}} ${{inputs.model}} ${{inputs.data}}
"#;

fn interfaces(report: &str) -> BTreeMap<String, ComponentBody> {
    BTreeMap::from([
        ("train".to_owned(), parse_component(TRAIN).unwrap().body),
        ("report".to_owned(), parse_component(report).unwrap().body),
    ])
}

fn with_title(pipeline: &str) -> String {
    pipeline.replace(
        "      data: ${{parent.jobs.prep.outputs.clean}}\n",
        "      data: ${{parent.jobs.prep.outputs.clean}}\n      title: nightly\n",
    )
}

#[test]
fn azures_example_pipeline_reads_into_a_dag() {
    let job = parse_pipeline_job(&with_title(PIPELINE), "examples").unwrap();
    assert_eq!(job.experiment_name, "examples");
    assert_eq!(job.default_compute.as_deref(), Some("cpu-cluster"));
    assert!(!job.continue_on_step_failure && !job.force_rerun);
    assert_eq!(job.outputs["trained_model"].mode, "upload");
    let prep = &job.steps["prep"];
    assert!(matches!(&prep.component, StepComponent::Inline(inline) if inline.code.as_deref() == Some("./prep_src")));
    assert_eq!(prep.inputs["raw_data"], Binding::ParentInput("raw".into()));
    assert_eq!(prep.outputs["clean"], OutputBinding::Default);
    let train = &job.steps["train"];
    assert_eq!(train.component, StepComponent::File("./train.yml".into()));
    assert_eq!(train.compute.as_deref(), Some("gpu-cluster"));
    assert_eq!(train.inputs["training_data"], Binding::StepOutput { step: "prep".into(), output: "clean".into() });
    assert_eq!(train.outputs["model_output"], OutputBinding::ParentOutput("trained_model".into()));
    assert_eq!(job.steps["report"].component, StepComponent::Registered("azureml:report@latest".into()));
    assert_eq!(job.line_of("jobs.train.inputs.max_epochs"), 28);

    let (dag, resolved) = check_pipeline(&job, &interfaces(REPORT)).unwrap();
    assert_eq!(dag.order, vec!["prep", "train", "report"]);
    assert_eq!(dag.depth["report"], 2);
    assert_eq!(dag.upstream("report"), BTreeSet::from(["prep", "train"]));
    assert_eq!(dag.edges.len(), 3);
    // The inline step's interface comes from its bindings.
    let prep = &resolved["prep"];
    assert_eq!(prep.inputs["raw_data"].kind, "uri_folder");
    assert_eq!(prep.outputs["clean"].kind, "uri_folder");
}

#[test]
fn file_mistakes_name_the_step_the_field_and_the_line() {
    let cases: Vec<(String, &str, u64, &str)> = vec![
        (
            PIPELINE.replace(
                "${{parent.jobs.prep.outputs.clean}}\n      max",
                "${{parent.jobs.prepare.outputs.clean}}\n      max",
            ),
            "jobs.train.inputs.training_data",
            27,
            "no step 'prepare' (its steps: prep, report, train)",
        ),
        (
            PIPELINE.replace("${{parent.inputs.epochs}}", "${{parent.inputs.epoch}}"),
            "jobs.train.inputs.max_epochs",
            28,
            "no input 'epoch' (it has epochs, raw)",
        ),
        (
            PIPELINE.replace("${{parent.inputs.epochs}}", "${{inputs.epochs}}"),
            "jobs.train.inputs.max_epochs",
            28,
            "a binding in a pipeline step is",
        ),
        (
            PIPELINE.replace("${{parent.inputs.epochs}}", "x${{parent.inputs.epochs}}"),
            "jobs.train.inputs.max_epochs",
            28,
            "a binding is the whole value",
        ),
        (
            PIPELINE.replace("${{parent.outputs.trained_model}}", "${{parent.outputs.model}}"),
            "jobs.train.outputs.model_output",
            30,
            "no output 'model' (it has trained_model)",
        ),
        (
            PIPELINE.replace("    type: command\n    component", "    type: parallel\n    component"),
            "jobs.train.type",
            23,
            "step type 'parallel' is not supported",
        ),
        (
            PIPELINE.replace("    component: ./train.yml\n", "    component: ./train.yml\n    command: echo\n"),
            "jobs.train.command",
            25,
            "either a component or its own command",
        ),
        (
            PIPELINE.replace("${{inputs.raw_data}}", "${{inputs.raw}}"),
            "jobs.prep.command",
            15,
            "names no input of this step",
        ),
        (
            PIPELINE.replace("azureml:report@latest", "azureml:Report@latest"),
            "jobs.report.component",
            32,
            "invalid component name",
        ),
        (
            PIPELINE.replace("azureml:workspaceblobstore", "azureml:other"),
            "settings.default_datastore",
            6,
            "default datastore",
        ),
        (PIPELINE.replace("  prep:\n", "  prep:\n    retries: 2\n"), "pipeline", 15, "unknown field"),
        (
            PIPELINE.replace(
                "      raw_data: ${{parent.inputs.raw}}",
                "      raw_data: ${{parent.jobs.report.outputs.summary}}",
            ),
            "jobs.report.inputs.data",
            35,
            "the steps report → prep → report form a cycle",
        ),
        (
            PIPELINE.replace(
                "      raw_data: ${{parent.inputs.raw}}",
                "      raw_data: ${{parent.jobs.prep.outputs.clean}}",
            ),
            "jobs.prep.inputs.raw_data",
            19,
            "its own output",
        ),
    ];
    for (text, field, line, words) in cases {
        let error = parse_pipeline_job(&text, "x").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), (field, line), "{words}: {error}");
        assert!(error.to_string().contains(words), "{words}: {error}");
    }
}

#[test]
fn interface_mistakes_are_found_before_anything_runs() {
    let check = |pipeline: &str, report: &str| {
        let job = parse_pipeline_job(pipeline, "x").unwrap();
        check_pipeline(&job, &interfaces(report)).unwrap_err()
    };
    let cases: Vec<(SpecError, &str, u64, &str)> = vec![
        (check(PIPELINE, REPORT), "jobs.report", 31, "required input 'title' (string) has no value"),
        (
            check(&with_title(PIPELINE), &REPORT.replace("title: {type: string}", "title: {type: integer}")),
            "jobs.report.inputs.title",
            36,
            "'nightly' is not an integer",
        ),
        (
            check(&with_title(PIPELINE).replace("model: ${{parent.jobs.train", "title2: ${{parent.jobs.train"), REPORT),
            "jobs.report.inputs.title2",
            34,
            "no input 'title2' (it has data, model, title)",
        ),
        (
            check(&with_title(PIPELINE), &REPORT.replace("data: {type: uri_folder}", "data: {type: integer}")),
            "jobs.report.inputs.data",
            35,
            "step 'prep''s uri_folder output 'clean' cannot feed the integer input",
        ),
        (
            check(
                &with_title(PIPELINE).replace("outputs.model_output}}\n      data", "outputs.model}}\n      data"),
                REPORT,
            ),
            "jobs.report.inputs.model",
            34,
            "step 'train' has no output 'model' (it has model_output)",
        ),
        (
            check(&with_title(PIPELINE).replace("max_epochs: ${{parent.inputs.epochs}}", "max_epochs: 0"), REPORT),
            "jobs.train.inputs.max_epochs",
            28,
            "0 is below the minimum 1",
        ),
        (
            check(
                &with_title(PIPELINE)
                    .replace("    outputs:\n      model_output: ${{parent.outputs.trained_model}}\n", ""),
                REPORT,
            ),
            "outputs.trained_model",
            12,
            "no step's output is bound to it",
        ),
        (
            check(&with_title(PIPELINE).replace("epochs: 20", "epochs: {type: uri_file, path: ./e.txt}"), REPORT),
            "jobs.train.inputs.max_epochs",
            28,
            "the pipeline's uri_file input 'epochs' cannot feed the integer input",
        ),
    ];
    for (error, field, line, words) in cases {
        assert_eq!((error.field.as_str(), error.line), (field, line), "{words}: {error}");
        assert!(error.to_string().contains(words), "{words}: {error}");
    }
}

#[test]
fn component_references_are_checked() {
    for good in ["azureml:train:3", "azureml:train@latest", "azureml:train"] {
        assert!(check_component_reference(good).is_ok(), "{good}");
    }
    for bad in ["azureml:train@prod", "azureml:train:", "azureml:Train:1", "azureml://registries/x/components/y"] {
        assert!(check_component_reference(bad).is_err(), "{bad}");
    }
}

/// The example with its train step a sweep over two of the component's inputs.
fn sweep_pipeline() -> String {
    with_title(PIPELINE).replace(
        r#"  train:
    type: command
    component: ./train.yml
    compute: azureml:gpu-cluster
    inputs:
      training_data: ${{parent.jobs.prep.outputs.clean}}
      max_epochs: ${{parent.inputs.epochs}}
    outputs:
      model_output: ${{parent.outputs.trained_model}}
"#,
        r#"  train:
    type: sweep
    trial: ./train.yml
    inputs:
      training_data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model_output: ${{parent.outputs.trained_model}}
    search_space:
      learning_rate: {type: loguniform, min_value: -6, max_value: -1}
      max_epochs: {type: choice, values: [5, 10]}
    sampling_algorithm: random
    objective: {goal: maximize, primary_metric: accuracy}
    limits: {max_total_trials: 4, max_concurrent_trials: 2, trial_timeout: 60}
"#,
    )
}

#[test]
fn a_sweep_step_tunes_inputs_of_its_trial_component() {
    let job = parse_pipeline_job(&sweep_pipeline(), "x").unwrap();
    let train = &job.steps["train"];
    assert_eq!(train.component, StepComponent::File("./train.yml".into()));
    let sweep = train.sweep.as_ref().unwrap();
    assert_eq!(sweep.search_space.keys().collect::<Vec<_>>(), ["learning_rate", "max_epochs"]);
    assert_eq!(
        (sweep.max_total_trials, sweep.max_concurrent_trials, sweep.primary_metric.as_str()),
        (4, 2, "accuracy")
    );
    assert_eq!(train.timeout, Some(60), "each trial's time limit");
    assert!(job.steps["report"].sweep.is_none());
    // The searched inputs need no value in `inputs`; the rest is checked as for a command step.
    let (dag, _) = check_pipeline(&job, &interfaces(REPORT)).unwrap();
    assert_eq!(dag.order, vec!["prep", "train", "report"]);
}

#[test]
fn sweep_step_mistakes_name_the_step_the_field_and_the_line() {
    let sweep = sweep_pipeline();
    let parse = |text: String| parse_pipeline_job(&text, "x").unwrap_err();
    let check =
        |text: String| check_pipeline(&parse_pipeline_job(&text, "x").unwrap(), &interfaces(REPORT)).unwrap_err();
    let cases: Vec<(SpecError, &str, u64, &str)> = vec![
        (
            parse(sweep.replace("    objective: {goal: maximize, primary_metric: accuracy}\n", "")),
            "jobs.train.objective",
            0,
            "a sweep step needs an 'objective'",
        ),
        (
            parse(sweep.replace("type: loguniform, min_value: -6", "type: loguniform, min_value: 6")),
            "jobs.train.search_space.learning_rate",
            30,
            "min_value (6) must be less than max_value (-1)",
        ),
        (parse(sweep.replace("    trial: ./train.yml\n", "")), "jobs.train", 23, "needs a 'trial'"),
        (
            parse(sweep.replace("    trial: ./train.yml\n", "    trial: ./train.yml\n    component: ./train.yml\n")),
            "jobs.train.component",
            23,
            "runs the component its 'trial' names",
        ),
        (
            parse(PIPELINE.replace(
                "      max_epochs: ${{parent.inputs.epochs}}\n",
                "      max_epochs: ${{parent.inputs.epochs}}\n    limits: {max_total_trials: 3}\n",
            )),
            "jobs.train.limits.max_total_trials",
            29,
            "only a sweep step (type: sweep) takes limits.max_total_trials",
        ),
        (
            check(sweep.replace("max_epochs: {type: choice", "epochs: {type: choice")),
            "jobs.train.search_space.epochs",
            31,
            "the trial's component has no input 'epochs'",
        ),
        (
            check(sweep.replace("values: [5, 10]", "values: [0, 10]")),
            "jobs.train.search_space.max_epochs",
            31,
            "the choice 0: 0 is below the minimum 1",
        ),
        (
            check(sweep.replace("max_epochs: {type: choice", "training_data: {type: choice")),
            "jobs.train.search_space.training_data",
            31,
            "takes data, which cannot be searched",
        ),
        (
            check(sweep.replace(
                "      training_data: ${{parent.jobs.prep.outputs.clean}}\n",
                "      training_data: ${{parent.jobs.prep.outputs.clean}}\n      max_epochs: 3\n",
            )),
            "jobs.train.search_space.max_epochs",
            32,
            "both searched and given in inputs",
        ),
    ];
    for (error, field, line, words) in cases {
        assert_eq!((error.field.as_str(), error.line), (field, line), "{words}: {error}");
        assert!(error.to_string().contains(words), "{words}: {error}");
    }
}

#[test]
fn an_output_path_may_only_name_the_outputs_own_place_on_the_default_datastore() {
    let own = "azureml://datastores/${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}/";
    let with_path = |path: &str| {
        with_title(PIPELINE)
            .replace("  trained_model: {mode: upload}", &format!("  trained_model: {{mode: upload, path: \"{path}\"}}"))
    };
    for accepted in [own, "azureml://datastores/workspaceblobstore/paths/azureml/${{ name }}/${{ output_name }}"] {
        let job = parse_pipeline_job(&with_path(accepted), "x").unwrap();
        assert_eq!(job.outputs["trained_model"].mode, "upload", "{accepted}");
    }
    let step_output = with_title(PIPELINE)
        .replace("      clean:\n", &format!("      clean: {{type: uri_folder, path: \"{own}\"}}\n"));
    assert!(parse_pipeline_job(&step_output, "x").is_ok());
    for refused in [
        "azureml://datastores/${{default_datastore}}/paths/models/latest",
        "azureml://datastores/other/paths/azureml/${{name}}/${{output_name}}",
        "./local",
    ] {
        let error = parse_pipeline_job(&with_path(refused), "x").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("outputs.trained_model", 12), "{refused}");
        assert!(error.message.contains("is not supported") && error.message.contains("${{output_name}}"), "{error}");
    }
}
