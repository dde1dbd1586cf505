//! ONNX models served in the server's own process by tract: no Python, no worker process.
//!
//! Requests carry JSON tensors as nested arrays: `{"inputs": {"<input>": [[…]]}}`, or, for a
//! model with one input, `{"input_data": [[…]]}` or the bare array. The answer maps each
//! output's name to its nested array.

use crate::worker::Answer;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tract_onnx::prelude::*;

/// A loaded, optimized model.
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    /// Name and element type of each input, in order.
    inputs: Vec<(String, DatumType)>,
    outputs: Vec<String>,
}

/// The one `.onnx` file under a model folder.
pub fn find_onnx(model_dir: &Path) -> Result<PathBuf, String> {
    let mut found = Vec::new();
    let mut pending = vec![model_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "onnx") {
                found.push(path);
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("the model holds no .onnx file".to_owned()),
        count => Err(format!("the model holds {count} .onnx files: an ONNX deployment serves one")),
    }
}

fn bad_request(message: impl std::fmt::Display) -> Answer {
    Answer {
        status: 400,
        content_type: "application/json".to_owned(),
        body: Bytes::from(json!({ "error": message.to_string() }).to_string()),
    }
}

/// The shape and the numbers of a nested JSON array.
fn flatten(value: &Value, shape: &mut Vec<usize>, depth: usize, out: &mut Vec<f64>) -> Result<(), String> {
    match value {
        Value::Array(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            } else if shape[depth] != items.len() {
                return Err(format!(
                    "the array is ragged: dimension {depth} has lengths {} and {}",
                    shape[depth],
                    items.len()
                ));
            }
            for item in items {
                flatten(item, shape, depth + 1, out)?;
            }
            Ok(())
        }
        Value::Number(number) => {
            if shape.len() != depth {
                return Err("the array is ragged: numbers and arrays at one depth".to_owned());
            }
            out.push(number.as_f64().ok_or("a number is out of range")?);
            Ok(())
        }
        Value::Bool(flag) => {
            out.push(if *flag { 1.0 } else { 0.0 });
            Ok(())
        }
        other => Err(format!("tensors are nested arrays of numbers, not {}", kind_of(other))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn to_tensor(value: &Value, datum: DatumType) -> Result<Tensor, String> {
    let mut shape = Vec::new();
    let mut numbers = Vec::new();
    flatten(value, &mut shape, 0, &mut numbers)?;
    let as_f64 = Tensor::from_shape(&shape, &numbers).map_err(|error| error.to_string())?;
    let cast = as_f64.cast_to_dt(datum).map_err(|error| format!("cannot make a {datum:?} tensor: {error}"))?;
    Ok(cast.into_owned())
}

fn nest(values: &[Value], shape: &[usize]) -> Value {
    match shape {
        [] => values.first().cloned().unwrap_or(Value::Null),
        [_] => Value::Array(values.to_vec()),
        [first, rest @ ..] => {
            let stride: usize = rest.iter().product();
            Value::Array((0..*first).map(|index| nest(&values[index * stride..(index + 1) * stride], rest)).collect())
        }
    }
}

fn to_json(tensor: &Tensor) -> Result<Value, String> {
    let integer = tensor.datum_type().is_integer();
    let values: Vec<Value> = if integer {
        let cast = tensor.cast_to::<i64>().map_err(|error| error.to_string())?;
        let view = cast.to_plain_array_view::<i64>().map_err(|error| error.to_string())?;
        view.iter().map(|value| json!(value)).collect()
    } else {
        let cast = tensor.cast_to::<f64>().map_err(|error| error.to_string())?;
        let view = cast.to_plain_array_view::<f64>().map_err(|error| error.to_string())?;
        view.iter().map(|value| if value.is_finite() { json!(value) } else { Value::Null }).collect()
    };
    Ok(nest(&values, tensor.shape()))
}

impl OnnxModel {
    /// Loads and optimizes a model file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let failed = |error: TractError| format!("cannot load {}: {error:#}", path.display());
        let model = tract_onnx::onnx().model_for_path(path).map_err(failed)?;
        let typed = model.into_optimized().map_err(failed)?;
        let mut inputs = Vec::new();
        for (index, outlet) in typed.input_outlets().map_err(failed)?.iter().enumerate() {
            let fact = typed.input_fact(index).map_err(failed)?;
            inputs.push((typed.node(outlet.node).name.clone(), fact.datum_type));
        }
        let outputs = typed
            .output_outlets()
            .map_err(failed)?
            .iter()
            .map(|outlet| typed.outlet_label(*outlet).unwrap_or(&typed.node(outlet.node).name).to_owned())
            .collect();
        let plan = typed.into_runnable().map_err(failed)?;
        Ok(OnnxModel { plan, inputs, outputs })
    }

    /// Scores one request body.
    pub fn score(&self, body: &[u8]) -> Answer {
        let payload: Value = match serde_json::from_slice(body) {
            Ok(payload) => payload,
            Err(error) => return bad_request(format!("the request body is not JSON: {error}")),
        };
        let by_name: Map<String, Value> = match payload {
            Value::Object(mut object) if object.contains_key("inputs") => match object.remove("inputs") {
                Some(Value::Object(named)) => named,
                Some(tensor) if self.inputs.len() == 1 => Map::from_iter([(self.inputs[0].0.clone(), tensor)]),
                _ => return bad_request("'inputs' must map input names to tensors"),
            },
            Value::Object(mut object) if object.contains_key("input_data") && self.inputs.len() == 1 => {
                Map::from_iter([(self.inputs[0].0.clone(), object.remove("input_data").unwrap_or(Value::Null))])
            }
            tensor @ Value::Array(_) if self.inputs.len() == 1 => Map::from_iter([(self.inputs[0].0.clone(), tensor)]),
            _ => {
                let names: Vec<&str> = self.inputs.iter().map(|(name, _)| name.as_str()).collect();
                return bad_request(format!(
                    "expected {{\"inputs\": {{{}}}}} with nested arrays{}",
                    names.iter().map(|name| format!("\"{name}\": [...]")).collect::<Vec<_>>().join(", "),
                    if names.len() == 1 { ", {\"input_data\": [...]} or a bare array" } else { "" }
                ));
            }
        };
        let mut tensors = TVec::new();
        for (name, datum) in &self.inputs {
            let Some(value) = by_name.get(name) else {
                return bad_request(format!("input '{name}' is missing"));
            };
            match to_tensor(value, *datum) {
                Ok(tensor) => tensors.push(tensor.into_tvalue()),
                Err(message) => return bad_request(format!("input '{name}': {message}")),
            }
        }
        let results = match self.plan.run(tensors) {
            Ok(results) => results,
            Err(error) => return bad_request(format!("the model cannot run on this input: {error:#}")),
        };
        let mut out = Map::new();
        for (name, tensor) in self.outputs.iter().zip(results.iter()) {
            match to_json(tensor) {
                Ok(value) => {
                    out.insert(name.clone(), value);
                }
                Err(message) => {
                    return Answer {
                        status: 500,
                        content_type: "application/json".to_owned(),
                        body: Bytes::from(json!({ "error": format!("output '{name}': {message}") }).to_string()),
                    };
                }
            }
        }
        Answer {
            status: 200,
            content_type: "application/json".to_owned(),
            body: Bytes::from(Value::Object(out).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_arrays_become_tensors_and_back() {
        let value = json!([[1.0, 2.5], [3.0, 4.0], [5.0, 6.0]]);
        let tensor = to_tensor(&value, f32::datum_type()).unwrap();
        assert_eq!(tensor.shape(), &[3, 2]);
        assert_eq!(to_json(&tensor).unwrap(), value);
        let ints = to_tensor(&json!([1, 2, 3]), i64::datum_type()).unwrap();
        assert_eq!(to_json(&ints).unwrap(), json!([1, 2, 3]));
        assert!(to_tensor(&json!([[1], [2, 3]]), f32::datum_type()).unwrap_err().contains("ragged"));
        assert!(to_tensor(&json!([["a"]]), f32::datum_type()).unwrap_err().contains("not a string"));
    }
}
