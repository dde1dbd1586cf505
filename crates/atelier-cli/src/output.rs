//! How the CLI prints what the server answers, one way for every command.
//!
//! Tables are for people: times in local time, numbers to 4 significant digits, 32-character
//! ids shortened to their first 8, long texts cut in the middle, and the whole table at most as
//! wide as the terminal (120 columns where there is none). JSON (`-o json`) is for programs:
//! every field at full precision, and times as RFC 3339 (UTC) instead of epoch milliseconds.

use crate::OutputFormat;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// The width of a table where the output is not a terminal.
const DEFAULT_WIDTH: u16 = 120;
/// The longest text a table cell shows before it is cut in the middle.
const LONGEST_CELL: usize = 60;

/// Whether a field holds a time, in epoch milliseconds, by its name.
pub fn is_time_field(key: &str) -> bool {
    key.ends_with("_at") || key.ends_with("_time") || key.ends_with("_timestamp") || key == "time"
}

/// Epoch milliseconds as local time, `YYYY-MM-DD HH:MM:SS`, by the system's rules (`TZ`,
/// `/etc/localtime`); UTC, marked so, where the system cannot say.
pub fn local_time(millis: i64) -> String {
    let seconds = millis.div_euclid(1000) as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers outlive the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let done = unsafe { libc::localtime_r(&seconds, &mut tm) };
    if done.is_null() {
        return format!("{} UTC", atelier_core::time::format_utc(millis));
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A number as a table shows it: integers whole, others to 4 significant digits.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{value:.3e}");
    }
    let decimals = usize::try_from(3 - magnitude).unwrap_or(0);
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// One field's value as a table cell.
pub fn cell(key: &str, value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::Number(number_value)) if is_time_field(key) && number_value.is_i64() => {
            number_value.as_i64().map(local_time).unwrap_or_default()
        }
        Some(Value::Number(number_value)) => match number_value.as_f64() {
            Some(float) if !number_value.is_i64() && !number_value.is_u64() => number(float),
            _ => number_value.to_string(),
        },
        Some(Value::String(text)) => short(text),
        Some(other) => short(&other.to_string()),
    }
}

/// A text as a table shows it: a 32-character hexadecimal id by its first 8 characters, and
/// anything over 60 characters cut in the middle.
pub fn short(text: &str) -> String {
    if text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return format!("{}…", &text[..8]);
    }
    let count = text.chars().count();
    if count <= LONGEST_CELL {
        return text.to_owned();
    }
    let keep = (LONGEST_CELL - 1) / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(count - keep).collect();
    format!("{head}…{tail}")
}

/// A value for `-o json`: every time field in epoch milliseconds becomes RFC 3339.
pub fn for_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let converted = match item.as_i64() {
                        Some(millis) if is_time_field(key) => Value::String(atelier_core::time::format_rfc3339(millis)),
                        _ => for_json(item),
                    };
                    (key.clone(), converted)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(for_json).collect()),
        other => other.clone(),
    }
}

/// A table with a header, as wide as the terminal at most.
pub fn table(header: Vec<String>) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if table.width().is_none() {
        table.set_width(DEFAULT_WIDTH);
    }
    if !header.is_empty() {
        table.set_header(header);
    }
    table
}

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&for_json(value))?);
    Ok(())
}

/// Prints `fields` of an object as a two-column table, or the whole object as JSON.
pub fn print_fields(value: &Value, fields: &[&str], output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        return print_json(value);
    }
    let mut table = table(Vec::new());
    for field in fields {
        table.add_row(vec![(*field).to_owned(), cell(field, value.get(*field))]);
    }
    println!("{table}");
    Ok(())
}

/// A JSON value as a table cell's text, as the server sent it: strings without quotes, with
/// control characters escaped (names come from users and must not steer the terminal), null as
/// nothing.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.escape_debug().to_string(),
        other => other.to_string(),
    }
}

/// Prints a list of objects as a table of `columns`, or as JSON.
pub fn print_rows(rows: &[Value], columns: &[&str], output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        return print_json(&Value::Array(rows.to_vec()));
    }
    let mut table = table(columns.iter().map(|column| (*column).to_owned()).collect());
    for row in rows {
        table.add_row(columns.iter().map(|column| cell(column, row.get(*column))).collect::<Vec<_>>());
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(0.923_456_7), "0.9235");
        assert_eq!(number(1234.5678), "1235");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(0.000_123_456), "0.0001235");
        assert_eq!(number(2.5e-7), "2.500e-7");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn cells_shorten_ids_and_long_texts_and_show_times() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(cell("run_id", Some(&json!(id))), "01234567…");
        let long = "x".repeat(100);
        let shown = cell("source", Some(&json!(long)));
        assert_eq!(shown.chars().count(), 59);
        assert!(shown.contains('…'));
        let time = cell("created_at", Some(&json!(1_764_720_000_000_i64)));
        assert_eq!(time.len(), 19, "{time}");
        assert_eq!(cell("count", Some(&json!(1_764_720_000_000_i64))), "1764720000000", "not a time field");
        assert_eq!(cell("accuracy", Some(&json!(0.987_654))), "0.9877");
    }

    #[test]
    fn json_times_become_rfc3339_at_any_depth() {
        let value = json!({"created_at": 0, "events": [{"time": 1500, "status": "Queued"}], "count": 7});
        assert_eq!(
            for_json(&value),
            json!({"created_at": "1970-01-01T00:00:00.000Z",
                   "events": [{"time": "1970-01-01T00:00:01.500Z", "status": "Queued"}], "count": 7})
        );
    }
}
