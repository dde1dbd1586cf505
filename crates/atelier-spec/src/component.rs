//! The command component (`type: command`) of Azure ML's CLI v2 YAML: a versioned, reusable
//! step with a typed interface.
//!
//! A component declares its inputs (typed, with `default`, `optional`, `min`/`max` and `enum`)
//! and outputs; the values come later, from the pipeline that uses it. So, unlike a command
//! job's, a required input needs no value here, and a placeholder of an optional input without
//! a default must sit inside `$[[ ]]`, where it is dropped when the caller gives no value.
//!
//! [`ComponentSpec`] is the file as read. What a registered version keeps is its
//! [`ComponentDefinition`]: the same body with its environment resolved, so that a version never
//! changes meaning after it is registered.

use crate::fields::{distribution_of, environment_of, resources_of};
use crate::job::{
    ASSET_INPUT_TYPES, LITERAL_TYPES, OUTPUT_MODES, OUTPUT_TYPES, RawDistribution, RawEnvironment, RawResources,
    placeholders,
};
use crate::plan::PlannedEnvironment;
use crate::{Scalar, SpecError};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    version: Option<Spanned<Scalar>>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    is_deterministic: Option<bool>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    code: Option<Spanned<String>>,
    #[serde(default)]
    environment: Option<Spanned<RawEnvironment>>,
    #[serde(default)]
    environment_variables: BTreeMap<String, Scalar>,
    #[serde(default)]
    distribution: Option<Spanned<RawDistribution>>,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawComponentInput>>,
    #[serde(default)]
    outputs: BTreeMap<String, Spanned<RawComponentOutput>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawComponentInput {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    default: Option<Scalar>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default)]
    min: Option<Scalar>,
    #[serde(default)]
    max: Option<Scalar>,
    #[serde(default, rename = "enum")]
    allowed: Option<Vec<Scalar>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawComponentOutput {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// An input of a component's interface.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ComponentInput {
    /// `string`, `integer`, `number`, `boolean`, or a data type (`uri_folder`, …).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The value when the caller gives none, as text.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// The values a `string` input may take; empty for any.
    #[serde(default, rename = "enum")]
    pub allowed: Vec<String>,
}

impl ComponentInput {
    /// Whether the input is data (a path the runtime fetches) rather than a literal.
    pub fn is_data(&self) -> bool {
        ASSET_INPUT_TYPES.contains(&self.kind.as_str())
    }

    /// Checks a literal value given for this input: its type, range and allowed values.
    /// Returns the value as the command receives it (`true`/`false` for booleans).
    pub fn check_value(&self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self.kind.as_str() {
            "integer" => {
                let number: i64 = value.parse().map_err(|_| format!("'{value}' is not an integer"))?;
                self.check_range(number as f64, value)?;
                Ok(number.to_string())
            }
            "number" => {
                let number: f64 = value.parse().map_err(|_| format!("'{value}' is not a number"))?;
                if !number.is_finite() {
                    return Err(format!("'{value}' is not a finite number"));
                }
                self.check_range(number, value)?;
                Ok(value.to_owned())
            }
            "boolean" => match value.to_ascii_lowercase().as_str() {
                "true" => Ok("True".to_owned()),
                "false" => Ok("False".to_owned()),
                _ => Err(format!("'{value}' is not a boolean: expected true or false")),
            },
            "string" => {
                if !self.allowed.is_empty() && !self.allowed.iter().any(|allowed| allowed == value) {
                    return Err(format!("'{value}' is not one of {}", self.allowed.join(", ")));
                }
                Ok(value.to_owned())
            }
            kind => Err(format!("a {kind} input takes data (a path or an asset), not the value '{value}'")),
        }
    }

    fn check_range(&self, number: f64, text: &str) -> Result<(), String> {
        if let Some(min) = self.min
            && number < min
        {
            return Err(format!("{text} is below the minimum {min}"));
        }
        if let Some(max) = self.max
            && number > max
        {
            return Err(format!("{text} is above the maximum {max}"));
        }
        Ok(())
    }
}

/// An output of a component's interface.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ComponentOutput {
    /// `uri_folder`, `uri_file`, `mlflow_model` or `custom_model`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `rw_mount` (the default) or `upload`.
    pub mode: String,
}

/// What a component runs, with its interface; the part that is the same whatever the
/// environment resolves to.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ComponentBody {
    pub command: String,
    pub inputs: BTreeMap<String, ComponentInput>,
    pub outputs: BTreeMap<String, ComponentOutput>,
    #[serde(default)]
    pub environment_variables: BTreeMap<String, String>,
    pub instance_count: i64,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub memory_gb: Option<f64>,
    #[serde(default)]
    pub gpu_count: Option<i64>,
    /// `pytorch` (or `mpi`) processes per instance, when distributed.
    #[serde(default)]
    pub process_count_per_instance: Option<i64>,
    /// `distribution: tensorflow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorflow: Option<crate::fields::TensorflowDistribution>,
    /// `distribution: mpi`: `mpirun` starts the processes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mpi: bool,
}

impl ComponentBody {
    /// The `distribution` type its file named, if any: `pytorch`, `mpi` or `tensorflow`.
    pub fn distribution_type(&self) -> Option<&'static str> {
        match (&self.tensorflow, self.mpi, self.process_count_per_instance) {
            (Some(_), _, _) => Some("tensorflow"),
            (None, true, _) => Some("mpi"),
            (None, false, Some(_)) => Some("pytorch"),
            (None, false, None) => None,
        }
    }
}

/// A command component file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    pub name: String,
    pub version: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `false`: never reused by a pipeline.
    pub is_deterministic: bool,
    /// The local code folder, relative to the file.
    pub code: Option<String>,
    /// `azureml:name:version`, `azureml:name@latest`, or `None` for the built-in environment.
    pub environment: Option<String>,
    /// An inline environment: its image and conda file.
    pub inline_environment: Option<(Option<String>, Option<serde_json::Value>)>,
    pub body: ComponentBody,
    /// The line of each field (`name`, `version`, `environment`, `code`, `inputs.<n>`), for
    /// checks made later.
    pub lines: BTreeMap<String, u64>,
}

impl ComponentSpec {
    /// The line a field is on, 0 when unknown.
    pub fn line_of(&self, field: &str) -> u64 {
        self.lines.get(field).copied().unwrap_or(0)
    }
}

/// What a registered component version keeps: its body, and the environment it resolved to
/// when it was registered.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ComponentDefinition {
    #[serde(flatten)]
    pub body: ComponentBody,
    pub environment: PlannedEnvironment,
}

impl ComponentDefinition {
    /// The definition as stored: JSON, with its keys in a fixed order, so that equal
    /// definitions have equal text.
    pub fn to_text(&self) -> String {
        // Serializing plain structs and BTreeMaps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored definition.
    pub fn from_text(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| format!("a stored component definition is unreadable: {error}"))
    }
}

/// Names inputs and outputs may not take (they are variables of the job's environment).
const RESERVED_NAMES: [&str; 7] = ["path", "ld_library_path", "user", "logname", "home", "pwd", "shell"];

/// The most characters of a component's name.
pub const COMPONENT_NAME_MAX: usize = 255;

/// Checks a component's name: a lowercase letter first, then lowercase letters, digits and
/// `_`, at most 255 characters (Azure's rule).
pub fn check_component_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    let rest_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_ok || !rest_ok || name.len() > COMPONENT_NAME_MAX {
        return Err(format!(
            "invalid component name '{name}': expected a lowercase letter, then lowercase letters, digits and _ \
             (at most {COMPONENT_NAME_MAX} characters)"
        ));
    }
    Ok(())
}

/// Reads a command component file.
pub fn parse_component(text: &str) -> Result<ComponentSpec, SpecError> {
    let raw: RawComponent = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "component"))?;
    let same = |field: &str| field.to_owned();
    if let Some(kind) = &raw.kind
        && kind.value != "command"
    {
        return Err(SpecError::new(
            "type",
            kind.referenced.line(),
            format!("component type '{}' is not supported: expected 'command'", kind.value),
        ));
    }
    let mut lines = BTreeMap::new();
    let Some(name) = raw.name else {
        return Err(SpecError::new("name", 0, "a component needs a 'name'"));
    };
    lines.insert("name".to_owned(), name.referenced.line());
    check_component_name(&name.value).map_err(|message| SpecError::new("name", name.referenced.line(), message))?;
    let version = match &raw.version {
        None => None,
        Some(spanned) => {
            let version = spanned.value.text();
            lines.insert("version".to_owned(), spanned.referenced.line());
            if version.trim().is_empty()
                || version.contains(['/', ':', '@'])
                || version.chars().any(char::is_whitespace)
            {
                return Err(SpecError::new(
                    "version",
                    spanned.referenced.line(),
                    format!("invalid version '{version}': expected text without spaces, '/', ':' or '@', e.g. \"3\""),
                ));
            }
            Some(version)
        }
    };
    let Some(command) = raw.command else {
        return Err(SpecError::new("command", 0, "a component needs a 'command'"));
    };

    let mut inputs = BTreeMap::new();
    for (input_name, spanned) in &raw.inputs {
        let field = format!("inputs.{input_name}");
        let line = spanned.referenced.line();
        lines.insert(field.clone(), line);
        check_interface_name(input_name, &field, line)?;
        inputs.insert(input_name.clone(), check_input(&spanned.value, &field, line)?);
    }
    let mut outputs = BTreeMap::new();
    for (output_name, spanned) in &raw.outputs {
        let field = format!("outputs.{output_name}");
        let line = spanned.referenced.line();
        lines.insert(field.clone(), line);
        check_interface_name(output_name, &field, line)?;
        let output = &spanned.value;
        if !OUTPUT_TYPES.contains(&output.kind.as_str()) {
            return Err(SpecError::new(
                &field,
                line,
                format!("invalid output type '{}': expected one of {}", output.kind, OUTPUT_TYPES.join(", ")),
            ));
        }
        let mode = output.mode.clone().unwrap_or_else(|| "rw_mount".to_owned());
        if !OUTPUT_MODES.contains(&mode.as_str()) {
            return Err(SpecError::new(
                &field,
                line,
                format!("invalid mode '{mode}': expected one of {}", OUTPUT_MODES.join(", ")),
            ));
        }
        outputs.insert(
            output_name.clone(),
            ComponentOutput { kind: output.kind.clone(), description: output.description.clone(), mode },
        );
    }

    let command_line = command.referenced.line();
    if command.value.contains("\\\n") {
        return Err(SpecError::new(
            "command",
            command_line,
            "a line continuation '\\' is not accepted: write the command as a folded scalar (command: >-)",
        ));
    }
    let found = placeholders(&command.value).map_err(|message| SpecError::new("command", command_line, message))?;
    for placeholder in &found {
        let what = format!("${{{{{}.{}}}}}", placeholder.section, placeholder.name);
        match placeholder.section.as_str() {
            "outputs" if !outputs.contains_key(&placeholder.name) => {
                return Err(SpecError::new(
                    "command",
                    command_line,
                    format!("{what} names no output of this component"),
                ));
            }
            "outputs" => {}
            "inputs" => match inputs.get(&placeholder.name) {
                None => {
                    return Err(SpecError::new(
                        "command",
                        command_line,
                        format!("{what} names no input of this component"),
                    ));
                }
                Some(input) if input.optional && input.default.is_none() && !placeholder.optional_block => {
                    return Err(SpecError::new(
                        "command",
                        command_line,
                        format!("{what} is an optional input without a default: put it inside $[[ ... ]]"),
                    ));
                }
                Some(input) if !input.optional && placeholder.optional_block => {
                    return Err(SpecError::new(
                        "command",
                        command_line,
                        format!("{what} is a required input: only optional inputs may be inside $[[ ... ]]"),
                    ));
                }
                Some(_) => {}
            },
            _ => {
                return Err(SpecError::new(
                    "command",
                    command_line,
                    format!("{what} is for the trial command of a sweep job; a component has inputs and outputs"),
                ));
            }
        }
    }

    if let Some(spanned) = &raw.environment {
        lines.insert("environment".to_owned(), spanned.referenced.line());
    }
    if let Some(spanned) = &raw.code {
        lines.insert("code".to_owned(), spanned.referenced.line());
    }
    let (environment, inline_environment) = environment_of(raw.environment.as_ref())?;
    let resources = resources_of(raw.resources, &same)?;
    let distribution = distribution_of(raw.distribution.as_ref(), &same)?;

    Ok(ComponentSpec {
        name: name.value,
        version,
        display_name: raw.display_name,
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        is_deterministic: raw.is_deterministic.unwrap_or(true),
        code: raw.code.map(|code| code.value),
        environment,
        inline_environment,
        body: ComponentBody {
            command: command.value,
            inputs,
            outputs,
            environment_variables: raw
                .environment_variables
                .iter()
                .map(|(key, value)| (key.clone(), value.text()))
                .collect(),
            instance_count: resources.instance_count,
            instance_type: resources.instance_type,
            cpu: resources.cpu,
            memory_gb: resources.memory_gb,
            gpu_count: resources.gpu_count,
            process_count_per_instance: distribution.process_count_per_instance,
            tensorflow: distribution.tensorflow,
            mpi: distribution.mpi,
        },
        lines,
    })
}

fn check_interface_name(name: &str, field: &str, line: u64) -> Result<(), SpecError> {
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(SpecError::new(
            field,
            line,
            format!("'{name}' is a reserved name (it is a variable of the job's environment): choose another"),
        ));
    }
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(SpecError::new(
            field,
            line,
            format!("invalid name '{name}': expected a letter or _, then letters, digits and _"),
        ));
    }
    Ok(())
}

fn number_of(value: &Scalar, field: &str, line: u64, what: &str) -> Result<f64, SpecError> {
    match value {
        Scalar::Integer(number) => Ok(*number as f64),
        Scalar::Float(number) if number.is_finite() => Ok(*number),
        other => Err(SpecError::new(field, line, format!("{what} must be a number, got '{}'", other.text()))),
    }
}

fn check_input(raw: &RawComponentInput, field: &str, line: u64) -> Result<ComponentInput, SpecError> {
    let kind = raw.kind.as_str();
    if !LITERAL_TYPES.contains(&kind) && !ASSET_INPUT_TYPES.contains(&kind) {
        let mut types = LITERAL_TYPES.to_vec();
        types.extend(ASSET_INPUT_TYPES);
        return Err(SpecError::new(
            field,
            line,
            format!("invalid input type '{kind}': expected one of {}", types.join(", ")),
        ));
    }
    let numeric = matches!(kind, "integer" | "number");
    if (raw.min.is_some() || raw.max.is_some()) && !numeric {
        return Err(SpecError::new(field, line, format!("min and max are for integer and number inputs, not {kind}")));
    }
    if raw.allowed.is_some() && kind != "string" {
        return Err(SpecError::new(field, line, format!("enum is for string inputs, not {kind}")));
    }
    let min = raw.min.as_ref().map(|min| number_of(min, field, line, "min")).transpose()?;
    let max = raw.max.as_ref().map(|max| number_of(max, field, line, "max")).transpose()?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(SpecError::new(field, line, format!("min {min} is above max {max}")));
    }
    let allowed: Vec<String> = raw.allowed.iter().flatten().map(Scalar::text).collect();
    if raw.allowed.is_some() && allowed.is_empty() {
        return Err(SpecError::new(field, line, "enum lists no value"));
    }
    let mut input = ComponentInput {
        kind: kind.to_owned(),
        description: raw.description.clone(),
        default: None,
        optional: raw.optional.unwrap_or(false),
        min,
        max,
        allowed,
    };
    if let Some(default) = &raw.default {
        let text = default.text();
        let checked = if input.is_data() {
            text
        } else {
            input.check_value(&text).map_err(|message| SpecError::new(field, line, format!("default: {message}")))?
        };
        input.default = Some(checked);
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_mistakes;

    const COMPONENT: &str = r#"$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train_data_component
version: "3"
display_name: Train
inputs:
  training_data: {type: uri_folder}
  max_epochs: {type: integer, optional: true, min: 1}
  learning_rate: {type: number, default: 0.01, optional: true}
  schedule: {type: string, default: time-based, enum: [time-based, step-based], optional: true}
  shuffle: {type: boolean, default: true}
outputs:
  model_output: {type: uri_folder}
code: ./train_src
environment: azureml:sklearn@latest
command: >-
  python train.py --training_data ${{inputs.training_data}}
  $[[--max_epochs ${{inputs.max_epochs}}]]
  $[[--learning_rate ${{inputs.learning_rate}}]]
  $[[--schedule ${{inputs.schedule}}]]
  --shuffle ${{inputs.shuffle}}
  --model_output ${{outputs.model_output}}
"#;

    #[test]
    fn azures_example_component_reads() {
        let component = parse_component(COMPONENT).unwrap();
        assert_eq!(component.name, "train_data_component");
        assert_eq!(component.version.as_deref(), Some("3"));
        assert!(component.is_deterministic);
        assert_eq!(component.code.as_deref(), Some("./train_src"));
        assert_eq!(component.environment.as_deref(), Some("azureml:sklearn@latest"));
        let inputs = &component.body.inputs;
        assert!(inputs["training_data"].is_data() && !inputs["training_data"].optional);
        assert_eq!(inputs["max_epochs"].min, Some(1.0));
        assert_eq!(inputs["learning_rate"].default.as_deref(), Some("0.01"));
        assert_eq!(inputs["schedule"].allowed, vec!["time-based", "step-based"]);
        assert_eq!(inputs["shuffle"].default.as_deref(), Some("True"));
        assert_eq!(component.body.outputs["model_output"].mode, "rw_mount");
        assert_eq!(component.line_of("inputs.schedule"), 10);
        let definition = ComponentDefinition {
            body: component.body.clone(),
            environment: PlannedEnvironment {
                name: "sklearn:1".into(),
                builtin: false,
                python: None,
                requirements: vec![],
                image: None,
            },
        };
        assert_eq!(ComponentDefinition::from_text(&definition.to_text()).unwrap(), definition);
    }

    #[test]
    fn values_are_checked_against_the_interface() {
        let component = parse_component(COMPONENT).unwrap();
        let inputs = &component.body.inputs;
        assert_eq!(inputs["max_epochs"].check_value("5").unwrap(), "5");
        assert!(inputs["max_epochs"].check_value("0").unwrap_err().contains("below the minimum 1"));
        assert!(inputs["max_epochs"].check_value("2.5").unwrap_err().contains("not an integer"));
        assert!(inputs["learning_rate"].check_value("fast").unwrap_err().contains("not a number"));
        assert!(inputs["schedule"].check_value("daily").unwrap_err().contains("time-based, step-based"));
        assert_eq!(inputs["shuffle"].check_value("FALSE").unwrap(), "False");
        assert!(inputs["training_data"].check_value("3").unwrap_err().contains("takes data"));
    }

    #[test]
    fn mistakes_name_the_field_and_the_line() {
        let base = "name: prep\ncommand: echo ${{inputs.n}}\ninputs:\n  n: {type: integer}\n";
        assert!(parse_component(base).is_ok());
        assert_mistakes(
            parse_component,
            &[
                ("name: Prep\ncommand: echo\n", "name", 1, "lowercase letter"),
                ("command: echo\n", "name", 0, "needs a 'name'"),
                ("name: prep\n", "command", 0, "needs a 'command'"),
                ("type: pipeline\nname: prep\ncommand: echo\n", "type", 1, "expected 'command'"),
                ("name: prep\ncommand: echo\nversion: a b\n", "version", 3, "without spaces"),
                ("name: prep\ncommand: echo\ninputs:\n  n: {type: float}\n", "inputs.n", 4, "invalid input type"),
                ("name: prep\ncommand: echo\ninputs:\n  n: {type: string, min: 1}\n", "inputs.n", 4, "min and max"),
                ("name: prep\ncommand: echo\ninputs:\n  n: {type: integer, enum: [1]}\n", "inputs.n", 4, "enum is for"),
                (
                    "name: prep\ncommand: echo\ninputs:\n  n: {type: integer, default: 0, min: 1}\n",
                    "inputs.n",
                    4,
                    "default: 0 is below the minimum 1",
                ),
                ("name: prep\ncommand: echo\ninputs:\n  home: {type: string}\n", "inputs.home", 4, "reserved name"),
                ("name: prep\ncommand: echo ${{inputs.x}}\n", "command", 2, "names no input"),
                ("name: prep\ncommand: echo ${{outputs.x}}\n", "command", 2, "names no output"),
                (
                    "name: prep\ncommand: echo ${{inputs.n}}\ninputs:\n  n: {type: integer, optional: true}\n",
                    "command",
                    2,
                    "put it inside $[[",
                ),
                (
                    "name: prep\ncommand: echo $[[${{inputs.n}}]]\ninputs:\n  n: {type: integer}\n",
                    "command",
                    2,
                    "only optional inputs",
                ),
                ("name: prep\ncommand: \"a \\\\\\nb\"\n", "command", 2, "line continuation"),
                ("name: prep\ncommand: echo\noutputs:\n  o: {type: integer}\n", "outputs.o", 4, "invalid output type"),
                ("name: prep\ncommand: echo\ncompute: local\n", "component", 3, "unknown field"),
                ("name: prep\ncommand: echo\nenvironment: sklearn\n", "environment", 3, "azureml:<name>"),
            ],
        );
    }
}
