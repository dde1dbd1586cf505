//! The MLflow search-filter language (`search_runs`, `search_experiments`) and `order_by` clauses.
//!
//! The parser turns a filter string into a conjunction of [`Comparison`]s; the store renders them
//! to SQL. The grammar is documented below. It is a hand-written lexer and recursive-descent
//! parser that accepts what MLflow's `SearchUtils` / `SearchExperimentsUtils` accept (MLflow
//! parses with `sqlparse` and then validates the token tree), with the same entity prefixes,
//! attribute keys, aliases, comparators and value types, and error messages worded like MLflow's.
//!
//! # Grammar
//!
//! ```text
//! filter      ::= ε | comparison ( AND comparison )*
//! comparison  ::= identifier cmp value
//!               | identifier ( IN | NOT IN ) list
//!               | identifier IS [ NOT ] NULL
//! cmp         ::= "=" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE
//! value       ::= number | string
//! list        ::= "(" string ( "," string )* ")"
//!
//! order_by    ::= identifier [ ASC | DESC ]                 -- default ASC
//!
//! identifier  ::= prefix "." key                            -- e.g. metrics.acc, tags.`a b`
//!               | bare_key                                  -- an attribute: start_time
//! prefix      ::= word | bt_quoted
//! key         ::= word ( "." word )*                        -- dots belong to the key
//!               | bt_quoted | dq_quoted
//! bare_key    ::= word | bt_quoted | dq_quoted
//! word        ::= ( letter | digit | "_" )+                 -- an identifier starts with a
//!                                                           -- letter, "_" or "`"
//! bt_quoted   ::= "`" ( char - "`" | "``" )* "`"
//! dq_quoted   ::= '"' ( char - '"' | '""' )* '"'
//! string      ::= "'" ( char - "'" | "''" )* "'" | dq_quoted
//! number      ::= [ "-" | "+" ] ( digit+ [ "." digit* ] | "." digit+ )
//!                 [ ( "e" | "E" ) [ "-" | "+" ] digit+ ]
//! ```
//!
//! Keywords (`AND`, `NOT`, `IN`, `IS`, `NULL`, `LIKE`, `ILIKE`, `ASC`, `DESC`) are
//! case-insensitive; entity prefixes and attribute keys are case-sensitive, as in MLflow.
//! Whitespace separates tokens and is otherwise ignored; there is none inside an identifier.
//! A quote character is written inside a quoted string or key by doubling it (`'it''s'`).
//! `OR`, parentheses around comparisons, `NOT LIKE`, `==` and `<>` are not part of the language.
//!
//! # Meaning
//!
//! Runs ([`parse_run_filter`], [`parse_run_order_by`]):
//!
//! | prefix                                           | entity | keys | operators | value |
//! |--------------------------------------------------|--------|------|-----------|-------|
//! | `metric.` `metrics.`                              | [`Entity::Metric`] | any | `= != < <= > >=` | number |
//! | `param.` `params.` `parameter.` `parameters.`     | [`Entity::Param`] | any | `= != LIKE ILIKE IS NULL IS NOT NULL` | string |
//! | `tag.` `tags.`                                    | [`Entity::Tag`] | any | `= != LIKE ILIKE IS NULL IS NOT NULL` | string |
//! | `attribute.` `attributes.` `attr.` `run.` or none | [`Entity::Attribute`] | `start_time`, `end_time` | `= != < <= > >=` | number |
//! |                                                  |        | `run_id` | `= != LIKE ILIKE IN NOT IN` | string / list |
//! |                                                  |        | `run_name`, `status`, `artifact_uri`, `user_id` | `= != LIKE ILIKE` | string |
//! | `dataset.` `datasets.`                            | [`Entity::Dataset`] | `name`, `digest`, `context` | `= != LIKE ILIKE IN NOT IN` | string / list |
//!
//! Attribute aliases are canonicalised: `created` and `Created` become `start_time`; `run name`,
//! `Run name` and `Run Name` (quoted, e.g. ``attributes.`Run name` ``) become `run_name`.
//! Runs can be ordered by metrics, params, tags and the attributes `run_id`, `run_name`, `status`,
//! `start_time` (alias `created` / `Created`), `end_time`, `artifact_uri` and `user_id`; not by
//! datasets, and (as in MLflow) not by the `run name` aliases.
//!
//! Experiments ([`parse_experiment_filter`], [`parse_experiment_order_by`]) know only the prefixes
//! `attribute.`, `tag.` and `tags.` (MLflow rejects `attributes.` and `attr.` here):
//!
//! | identifier                                 | operators | value |
//! |--------------------------------------------|-----------|-------|
//! | `name`                                     | `= != LIKE ILIKE` | string |
//! | `creation_time`, `last_update_time`        | `= != < <= > >=` | number |
//! | `tags.<key>`                               | `= != LIKE ILIKE IS NULL IS NOT NULL` | string |
//!
//! Experiments are ordered by attributes only: `name`, `experiment_id`, `creation_time`,
//! `last_update_time`.
//!
//! # Errors
//!
//! Every failure is a [`FilterError`] whose message starts in lower case, follows MLflow's
//! wording where there is one ("invalid entity type", "invalid attribute key", "invalid
//! comparator", "expected numeric value type", "expected a quoted string value", "only the
//! 'run_id' attribute supports comparison with a list of quoted string values", "invalid
//! order_by clause"), and names the offending token and its position: the 1-based index of its
//! first character in the input (counted in characters, not bytes). Lexical errors (an
//! unterminated string, a stray character, a malformed number) are reported the same way. The
//! parser never panics on any input.

use std::iter::Peekable;
use std::vec::IntoIter;

/// Which part of a run (or experiment) a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `metrics.<key>` / `metric.<key>`: the run's latest value of a metric.
    Metric,
    /// `params.<key>` / `param.<key>` (also `parameters.` / `parameter.`).
    Param,
    /// `tags.<key>` / `tag.<key>`.
    Tag,
    /// `attributes.<key>` / `attribute.<key>` / `attr.<key>` / `run.<key>`, or a bare `<key>`.
    Attribute,
    /// `datasets.<key>` / `dataset.<key>`: `name`, `digest` or `context` of a logged input.
    Dataset,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    String(String),
    List(Vec<String>),
    /// The comparison is `IS NULL` / `IS NOT NULL` and has no value.
    None,
}

/// One `entity.key op value` term; a filter is the conjunction (`AND`) of its terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub entity: Entity,
    /// The key with quotes removed. For attributes it is canonical (see the module docs:
    /// `created` becomes `start_time`, `Run name` becomes `run_name`).
    pub key: String,
    pub op: Op,
    pub value: Value,
}

/// A filter or `order_by` string that is not valid; the message says what and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub message: String,
}

impl FilterError {
    fn new(message: impl Into<String>) -> Self {
        FilterError { message: message.into() }
    }
}

/// One parsed `order_by` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub entity: Entity,
    /// The key with quotes removed; canonical for attributes.
    pub key: String,
    pub ascending: bool,
}

/// Parses a `search_runs` filter. An empty or all-whitespace filter is `Ok(vec![])`.
pub fn parse_run_filter(input: &str) -> Result<Vec<Comparison>, FilterError> {
    parse_filter(input, &RUNS)
}

/// Parses a `search_experiments` filter: the attributes `name`, `creation_time`,
/// `last_update_time`, and tags. An empty or all-whitespace filter is `Ok(vec![])`.
pub fn parse_experiment_filter(input: &str) -> Result<Vec<Comparison>, FilterError> {
    parse_filter(input, &EXPERIMENTS)
}

/// Parses a `search_logged_models` filter: attributes (`name`, `model_id`, `model_type`,
/// `status`, `source_run_id`, `creation_timestamp`, `last_updated_timestamp`), params and tags.
pub fn parse_logged_model_filter(input: &str) -> Result<Vec<Comparison>, FilterError> {
    parse_filter(input, &LOGGED_MODELS)
}

/// Checks one logged-model ordering field (MLflow sends them as structured messages).
pub fn parse_logged_model_order_by(field: &str, ascending: bool) -> Result<OrderBy, FilterError> {
    let mut order = parse_order_by(field, &LOGGED_MODELS)?;
    order.ascending = ascending;
    Ok(order)
}

/// Parses a `search_registered_models` filter: `name` and tags, e.g.
/// ``name LIKE 'fraud%' AND tag.`team` = 'risk'``.
pub fn parse_registered_model_filter(input: &str) -> Result<Vec<Comparison>, FilterError> {
    parse_filter(input, &REGISTERED_MODELS)
}

/// Parses one `search_registered_models` `order_by` clause, e.g. `last_updated_timestamp DESC`.
pub fn parse_registered_model_order_by(input: &str) -> Result<OrderBy, FilterError> {
    parse_order_by(input, &REGISTERED_MODELS)
}

/// Parses a `search_model_versions` filter: `name`, `version_number`, `run_id` (also with
/// `IN`), `source_path` and tags.
pub fn parse_model_version_filter(input: &str) -> Result<Vec<Comparison>, FilterError> {
    parse_filter(input, &MODEL_VERSIONS)
}

/// Parses one `search_model_versions` `order_by` clause, e.g. `version_number DESC`.
pub fn parse_model_version_order_by(input: &str) -> Result<OrderBy, FilterError> {
    parse_order_by(input, &MODEL_VERSIONS)
}

/// Parses one `search_runs` `order_by` clause, e.g. `metrics.acc DESC`.
pub fn parse_run_order_by(input: &str) -> Result<OrderBy, FilterError> {
    parse_order_by(input, &RUNS)
}

/// Parses one `search_experiments` `order_by` clause, e.g. `last_update_time DESC`.
pub fn parse_experiment_order_by(input: &str) -> Result<OrderBy, FilterError> {
    parse_order_by(input, &EXPERIMENTS)
}

// ---------------------------------------------------------------------------------------------
// What each search target knows.

/// A valid attribute key as written, and the canonical key it stands for.
struct AttrDef {
    name: &'static str,
    canonical: &'static str,
    numeric: bool,
}

const fn attr(name: &'static str, canonical: &'static str, numeric: bool) -> AttrDef {
    AttrDef { name, canonical, numeric }
}

struct Schema {
    /// Entity prefixes, as written, and the entity each stands for.
    prefixes: &'static [(&'static str, Entity)],
    prefixes_help: &'static str,
    search_attrs: &'static [AttrDef],
    order_attrs: &'static [AttrDef],
    orderable: &'static [Entity],
    orderable_help: &'static str,
    /// Whether string attributes may be compared with `IN` / `NOT IN` (run_id only).
    attr_lists: bool,
}

const RUN_SEARCH_ATTRS: &[AttrDef] = &[
    attr("run_id", "run_id", false),
    attr("run_name", "run_name", false),
    attr("status", "status", false),
    attr("start_time", "start_time", true),
    attr("end_time", "end_time", true),
    attr("artifact_uri", "artifact_uri", false),
    attr("user_id", "user_id", false),
    attr("created", "start_time", true),
    attr("Created", "start_time", true),
    attr("run name", "run_name", false),
    attr("Run name", "run_name", false),
    attr("Run Name", "run_name", false),
];

const RUN_ORDER_ATTRS: &[AttrDef] = &[
    attr("run_id", "run_id", false),
    attr("run_name", "run_name", false),
    attr("status", "status", false),
    attr("start_time", "start_time", true),
    attr("end_time", "end_time", true),
    attr("artifact_uri", "artifact_uri", false),
    attr("user_id", "user_id", false),
    attr("created", "start_time", true),
    attr("Created", "start_time", true),
];

const EXPERIMENT_SEARCH_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("creation_time", "creation_time", true),
    attr("last_update_time", "last_update_time", true),
];

const EXPERIMENT_ORDER_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("experiment_id", "experiment_id", false),
    attr("creation_time", "creation_time", true),
    attr("last_update_time", "last_update_time", true),
];

const DATASET_KEYS: &[&str] = &["name", "digest", "context"];

const RUNS: Schema = Schema {
    prefixes: &[
        ("metric", Entity::Metric),
        ("metrics", Entity::Metric),
        ("param", Entity::Param),
        ("params", Entity::Param),
        ("parameter", Entity::Param),
        ("parameters", Entity::Param),
        ("tag", Entity::Tag),
        ("tags", Entity::Tag),
        ("attribute", Entity::Attribute),
        ("attributes", Entity::Attribute),
        ("attr", Entity::Attribute),
        ("run", Entity::Attribute),
        ("dataset", Entity::Dataset),
        ("datasets", Entity::Dataset),
    ],
    prefixes_help: "metric(s), param(s), parameter(s), tag(s), attribute(s), attr, run, dataset(s)",
    search_attrs: RUN_SEARCH_ATTRS,
    order_attrs: RUN_ORDER_ATTRS,
    orderable: &[Entity::Metric, Entity::Param, Entity::Tag, Entity::Attribute],
    orderable_help: "runs can be ordered by metrics, params, tags and attributes",
    attr_lists: true,
};

const EXPERIMENTS: Schema = Schema {
    prefixes: &[("attribute", Entity::Attribute), ("tag", Entity::Tag), ("tags", Entity::Tag)],
    prefixes_help: "attribute, tag, tags",
    search_attrs: EXPERIMENT_SEARCH_ATTRS,
    order_attrs: EXPERIMENT_ORDER_ATTRS,
    orderable: &[Entity::Attribute],
    orderable_help: "experiments can only be ordered by attributes",
    attr_lists: false,
};

const LOGGED_MODEL_SEARCH_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("model_id", "model_id", false),
    attr("model_type", "model_type", false),
    attr("status", "status", false),
    attr("source_run_id", "source_run_id", false),
    attr("creation_timestamp", "creation_timestamp", true),
    attr("creation_time", "creation_timestamp", true),
    attr("last_updated_timestamp", "last_updated_timestamp", true),
];

/// MLflow 3's logged models (`search_logged_models`): attributes, params and tags.
const LOGGED_MODELS: Schema = Schema {
    prefixes: &[
        ("param", Entity::Param),
        ("params", Entity::Param),
        ("tag", Entity::Tag),
        ("tags", Entity::Tag),
        ("attribute", Entity::Attribute),
        ("attributes", Entity::Attribute),
    ],
    prefixes_help: "param(s), tag(s), attribute(s)",
    search_attrs: LOGGED_MODEL_SEARCH_ATTRS,
    order_attrs: LOGGED_MODEL_SEARCH_ATTRS,
    orderable: &[Entity::Attribute],
    orderable_help: "logged models can only be ordered by attributes",
    attr_lists: false,
};

const REGISTERED_MODEL_SEARCH_ATTRS: &[AttrDef] = &[attr("name", "name", false)];

const REGISTERED_MODEL_ORDER_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("timestamp", "last_updated_timestamp", true),
    attr("last_updated_timestamp", "last_updated_timestamp", true),
    attr("creation_timestamp", "creation_timestamp", true),
];

/// The model registry's registered models: `name` and tags.
const REGISTERED_MODELS: Schema = Schema {
    prefixes: &[("tag", Entity::Tag), ("tags", Entity::Tag), ("attribute", Entity::Attribute)],
    prefixes_help: "tag(s), attribute",
    search_attrs: REGISTERED_MODEL_SEARCH_ATTRS,
    order_attrs: REGISTERED_MODEL_ORDER_ATTRS,
    orderable: &[Entity::Attribute],
    orderable_help: "registered models can only be ordered by attributes",
    attr_lists: false,
};

const MODEL_VERSION_SEARCH_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("version_number", "version_number", true),
    attr("run_id", "run_id", false),
    attr("source_path", "source_path", false),
];

const MODEL_VERSION_ORDER_ATTRS: &[AttrDef] = &[
    attr("name", "name", false),
    attr("version_number", "version_number", true),
    attr("creation_timestamp", "creation_timestamp", true),
    attr("timestamp", "last_updated_timestamp", true),
    attr("last_updated_timestamp", "last_updated_timestamp", true),
];

/// The model registry's versions: attributes and tags.
const MODEL_VERSIONS: Schema = Schema {
    prefixes: &[("tag", Entity::Tag), ("tags", Entity::Tag), ("attribute", Entity::Attribute)],
    prefixes_help: "tag(s), attribute",
    search_attrs: MODEL_VERSION_SEARCH_ATTRS,
    order_attrs: MODEL_VERSION_ORDER_ATTRS,
    orderable: &[Entity::Attribute],
    orderable_help: "model versions can only be ordered by attributes",
    attr_lists: true,
};

const NUMERIC_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
const STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike];
const NULLABLE_STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::IsNull, Op::IsNotNull];
const LIST_STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];

const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"];

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Like => "LIKE",
        Op::ILike => "ILIKE",
        Op::In => "IN",
        Op::NotIn => "NOT IN",
        Op::IsNull => "IS NULL",
        Op::IsNotNull => "IS NOT NULL",
    }
}

fn ops_list(ops: &[Op]) -> String {
    ops.iter().map(|op| op_text(*op)).collect::<Vec<_>>().join(", ")
}

fn entity_word(entity: Entity) -> &'static str {
    match entity {
        Entity::Metric => "metric",
        Entity::Param => "param",
        Entity::Tag => "tag",
        Entity::Attribute => "attribute",
        Entity::Dataset => "dataset",
    }
}

fn keys_help(table: &[AttrDef]) -> String {
    let canonical: Vec<&str> = table.iter().filter(|a| a.name == a.canonical).map(|a| a.name).collect();
    let aliases: Vec<String> =
        table.iter().filter(|a| a.name != a.canonical).map(|a| format!("'{}' for {}", a.name, a.canonical)).collect();
    if aliases.is_empty() {
        canonical.join(", ")
    } else {
        format!("{} (aliases: {})", canonical.join(", "), aliases.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer.

#[derive(Debug, Clone, PartialEq)]
struct Part {
    text: String,
    quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Dot-separated parts, each a word or a quoted name: `tags.mlflow.runName`, ``tags.`a b` ``.
    Ident(Vec<Part>),
    /// `'single-quoted'`: a string value.
    Str(String),
    /// `"double-quoted"`: a string value, or a bare quoted key on the left of a comparison.
    DqStr(String),
    Num(f64),
    Cmp(Op),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    /// 1-based character position of the token's first character.
    pos: usize,
    /// The token as written.
    raw: String,
}

impl Token {
    /// The keyword this token is, upper-cased, if it is a single unquoted word that is one.
    fn keyword(&self) -> Option<&'static str> {
        match &self.kind {
            Kind::Ident(parts) if parts.len() == 1 && !parts[0].quoted => {
                KEYWORDS.iter().copied().find(|k| k.eq_ignore_ascii_case(&parts[0].text))
            }
            _ => None,
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.keyword() == Some(keyword)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn peek_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).map(|&(_, c)| c)
    }

    fn byte_at(&self, i: usize) -> usize {
        self.chars.get(i).map_or(self.src.len(), |&(b, _)| b)
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        let (start, end) = (self.byte_at(from), self.byte_at(to));
        self.src.get(start..end).unwrap_or_default()
    }

    fn tokens(mut self) -> Result<Vec<Token>, FilterError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek_at(self.i) {
            if c.is_whitespace() {
                self.i += 1;
                continue;
            }
            let start = self.i;
            let kind = self.token(c)?;
            out.push(Token { kind, pos: start + 1, raw: self.slice(start, self.i).to_string() });
        }
        Ok(out)
    }

    fn token(&mut self, c: char) -> Result<Kind, FilterError> {
        let pos = self.i + 1;
        let next = self.peek_at(self.i + 1);
        let (kind, len) = match c {
            '(' => (Kind::LParen, 1),
            ')' => (Kind::RParen, 1),
            ',' => (Kind::Comma, 1),
            '=' if next == Some('=') => {
                return Err(FilterError::new(format!("invalid comparator '==' at position {pos}; use '='")));
            }
            '=' => (Kind::Cmp(Op::Eq), 1),
            '!' if next == Some('=') => (Kind::Cmp(Op::Ne), 2),
            '<' if next == Some('>') => {
                return Err(FilterError::new(format!("invalid comparator '<>' at position {pos}; use '!='")));
            }
            '<' if next == Some('=') => (Kind::Cmp(Op::Le), 2),
            '<' => (Kind::Cmp(Op::Lt), 1),
            '>' if next == Some('=') => (Kind::Cmp(Op::Ge), 2),
            '>' => (Kind::Cmp(Op::Gt), 1),
            '\'' => return Ok(Kind::Str(self.quoted('\'', "string")?)),
            '"' => return Ok(Kind::DqStr(self.quoted('"', "string")?)),
            '`' | '_' => return self.ident(),
            c if c.is_alphabetic() => return self.ident(),
            c if c.is_ascii_digit() || matches!(c, '.' | '-' | '+') => return self.number(),
            ';' => {
                return Err(FilterError::new(format!(
                    "unexpected ';' at position {pos}: a filter is a single expression; \
                     combine comparisons with AND"
                )));
            }
            other => {
                return Err(FilterError::new(format!("unexpected character '{other}' at position {pos}")));
            }
        };
        self.i += len;
        Ok(kind)
    }

    /// Reads a quoted run starting at the opening quote; a doubled quote stands for itself.
    fn quoted(&mut self, quote: char, what: &str) -> Result<String, FilterError> {
        let open = self.i;
        let mut text = String::new();
        let mut i = open + 1;
        loop {
            match self.peek_at(i) {
                None => {
                    return Err(FilterError::new(format!(
                        "unterminated {what} starting at position {}: missing closing {quote}",
                        open + 1
                    )));
                }
                Some(c) if c == quote => {
                    if self.peek_at(i + 1) == Some(quote) {
                        text.push(quote);
                        i += 2;
                    } else {
                        self.i = i + 1;
                        return Ok(text);
                    }
                }
                Some(c) => {
                    text.push(c);
                    i += 1;
                }
            }
        }
    }

    fn ident(&mut self) -> Result<Kind, FilterError> {
        let mut parts = Vec::new();
        loop {
            match self.peek_at(self.i) {
                Some('`') => parts.push(Part { text: self.quoted('`', "quoted identifier")?, quoted: true }),
                Some('"') if !parts.is_empty() => {
                    parts.push(Part { text: self.quoted('"', "quoted identifier")?, quoted: true })
                }
                Some(c) if is_word_char(c) => {
                    let start = self.i;
                    while self.peek_at(self.i).is_some_and(is_word_char) {
                        self.i += 1;
                    }
                    parts.push(Part { text: self.slice(start, self.i).to_string(), quoted: false });
                }
                other => {
                    let found = other.map_or("the end of the input".to_string(), |c| format!("'{c}'"));
                    return Err(FilterError::new(format!(
                        "expected a key after '.' at position {}, found {found}",
                        self.i + 1
                    )));
                }
            }
            if self.peek_at(self.i) == Some('.') {
                self.i += 1;
            } else {
                return Ok(Kind::Ident(parts));
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek_at(self.i).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Kind, FilterError> {
        let start = self.i;
        if matches!(self.peek_at(self.i), Some('-' | '+')) {
            self.i += 1;
        }
        let mut mantissa = self.digits();
        if self.peek_at(self.i) == Some('.') {
            self.i += 1;
            mantissa += self.digits();
        }
        if mantissa == 0 {
            let c = self.peek_at(start).unwrap_or(' ');
            return Err(FilterError::new(format!("unexpected character '{c}' at position {}", start + 1)));
        }
        if matches!(self.peek_at(self.i), Some('e' | 'E')) {
            let mark = self.i;
            self.i += 1;
            if matches!(self.peek_at(self.i), Some('-' | '+')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                self.i = mark;
            }
        }
        if self.peek_at(self.i).is_some_and(|c| is_word_char(c) || c == '.') {
            while self.peek_at(self.i).is_some_and(|c| is_word_char(c) || c == '.') {
                self.i += 1;
            }
            return Err(FilterError::new(format!(
                "invalid number '{}' at position {}",
                self.slice(start, self.i),
                start + 1
            )));
        }
        let text = self.slice(start, self.i);
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Kind::Num(n)),
            Ok(_) => Err(FilterError::new(format!("number '{text}' at position {} is out of range", start + 1))),
            Err(_) => Err(FilterError::new(format!("invalid number '{text}' at position {}", start + 1))),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    Lexer { src, chars: src.char_indices().collect(), i: 0 }.tokens()
}

// ---------------------------------------------------------------------------------------------
// Parser.

/// A resolved left-hand side.
struct Target {
    entity: Entity,
    key: String,
    numeric: bool,
    raw: String,
    pos: usize,
}

struct Parser<'s> {
    toks: Peekable<IntoIter<Token>>,
    schema: &'s Schema,
}

fn parse_filter(input: &str, schema: &Schema) -> Result<Vec<Comparison>, FilterError> {
    let mut p = Parser { toks: lex(input)?.into_iter().peekable(), schema };
    let mut out = Vec::new();
    if p.toks.peek().is_none() {
        return Ok(out);
    }
    loop {
        out.push(p.comparison()?);
        match p.toks.next() {
            None => return Ok(out),
            Some(t) if t.is_keyword("AND") => {
                if p.toks.peek().is_none() {
                    return Err(FilterError::new(format!(
                        "dangling '{}' at position {}: expected a comparison after it",
                        t.raw, t.pos
                    )));
                }
            }
            Some(t) if t.is_keyword("OR") => {
                return Err(FilterError::new(format!(
                    "'{}' at position {} is not supported: a filter is a conjunction of \
                     comparisons joined with AND",
                    t.raw, t.pos
                )));
            }
            Some(t) => {
                return Err(FilterError::new(format!(
                    "invalid clause in filter string: expected AND or the end of the filter \
                     after a comparison, found '{}' at position {}",
                    t.raw, t.pos
                )));
            }
        }
    }
}

fn parse_order_by(input: &str, schema: &Schema) -> Result<OrderBy, FilterError> {
    let fail = |message: String| FilterError::new(format!("invalid order_by clause '{input}': {message}"));
    let mut p = Parser { toks: lex(input).map_err(|e| fail(e.message))?.into_iter().peekable(), schema };
    let Some(first) = p.toks.next() else {
        return Err(fail("it is empty; expected `<identifier> [ASC|DESC]`".to_string()));
    };
    let target = p.identifier(first, true).map_err(|e| fail(e.message))?;
    if !schema.orderable.contains(&target.entity) {
        return Err(fail(format!(
            "invalid order_by entity '{}' in '{}' at position {}; {}",
            entity_word(target.entity),
            target.raw,
            target.pos,
            schema.orderable_help
        )));
    }
    let ascending = match p.toks.next() {
        None => true,
        Some(t) => match t.keyword() {
            Some("ASC") => true,
            Some("DESC") => false,
            _ => {
                return Err(fail(format!(
                    "invalid ordering key '{}' at position {}; expected ASC or DESC",
                    t.raw, t.pos
                )));
            }
        },
    };
    if let Some(t) = p.toks.next() {
        return Err(fail(format!("unexpected '{}' at position {} after the ordering key", t.raw, t.pos)));
    }
    Ok(OrderBy { entity: target.entity, key: target.key, ascending })
}

impl Parser<'_> {
    fn comparison(&mut self) -> Result<Comparison, FilterError> {
        let Some(first) = self.toks.next() else {
            return Err(FilterError::new("expected a comparison at the end of the filter"));
        };
        let target = self.identifier(first, false)?;
        let (op, op_pos) = self.operator(&target)?;
        self.check_op(&target, op, op_pos)?;
        let value = match op {
            Op::IsNull | Op::IsNotNull => Value::None,
            Op::In | Op::NotIn => Value::List(self.list(op, op_pos)?),
            _ => self.scalar(&target, op)?,
        };
        Ok(Comparison { entity: target.entity, key: target.key, op, value })
    }

    /// Resolves the left-hand side of a comparison (or an `order_by` clause) against the schema.
    fn identifier(&self, tok: Token, order_by: bool) -> Result<Target, FilterError> {
        let Token { kind, pos, raw } = tok;
        let (prefix, key) = match kind {
            Kind::Ident(parts) => {
                if let Some(keyword) = KEYWORDS
                    .iter()
                    .find(|k| parts.len() == 1 && !parts[0].quoted && k.eq_ignore_ascii_case(&parts[0].text))
                {
                    return Err(FilterError::new(format!(
                        "expected an identifier (e.g. metrics.acc) at position {pos}, found \
                         keyword '{raw}' ({keyword})"
                    )));
                }
                split_identifier(parts, &raw, pos)?
            }
            Kind::DqStr(text) => (None, text),
            Kind::LParen => {
                return Err(FilterError::new(format!(
                    "expected an identifier (e.g. metrics.acc) at position {pos}, found '('; \
                     parentheses are only allowed around the list of an IN comparison"
                )));
            }
            _ => {
                return Err(FilterError::new(format!(
                    "expected an identifier (e.g. metrics.acc or tags.`my tag`) at position \
                     {pos}, found '{raw}'"
                )));
            }
        };
        if key.is_empty() {
            return Err(FilterError::new(format!("empty key in identifier '{raw}' at position {pos}")));
        }
        let entity = match prefix {
            None => Entity::Attribute,
            Some(prefix) => {
                self.schema.prefixes.iter().find(|(name, _)| *name == prefix).map(|&(_, entity)| entity).ok_or_else(
                    || {
                        FilterError::new(format!(
                            "invalid entity type '{prefix}' in '{raw}' at position {pos}; valid \
                         entity types are: {}",
                            self.schema.prefixes_help
                        ))
                    },
                )?
            }
        };
        let (key, numeric) = match entity {
            Entity::Attribute => {
                let table = if order_by { self.schema.order_attrs } else { self.schema.search_attrs };
                let def = table.iter().find(|a| a.name == key).ok_or_else(|| {
                    FilterError::new(format!(
                        "invalid attribute key '{key}' at position {pos}; valid keys are: {}",
                        keys_help(table)
                    ))
                })?;
                (def.canonical.to_string(), def.numeric)
            }
            Entity::Dataset => {
                if !DATASET_KEYS.contains(&key.as_str()) {
                    return Err(FilterError::new(format!(
                        "invalid dataset key '{key}' at position {pos}; valid keys are: {}",
                        DATASET_KEYS.join(", ")
                    )));
                }
                (key, false)
            }
            Entity::Metric => (key, true),
            Entity::Param | Entity::Tag => (key, false),
        };
        Ok(Target { entity, key, numeric, raw, pos })
    }

    fn operator(&mut self, target: &Target) -> Result<(Op, usize), FilterError> {
        let Some(tok) = self.toks.next() else {
            return Err(FilterError::new(format!(
                "expected a comparison operator after '{}' at position {}, found the end of the \
                 filter",
                target.raw, target.pos
            )));
        };
        let pos = tok.pos;
        if let Kind::Cmp(op) = tok.kind {
            return Ok((op, pos));
        }
        let op = match tok.keyword() {
            Some("LIKE") => Op::Like,
            Some("ILIKE") => Op::ILike,
            Some("IN") => Op::In,
            Some("NOT") => match self.toks.next() {
                Some(t) if t.is_keyword("IN") => Op::NotIn,
                other => {
                    return Err(FilterError::new(format!(
                        "expected IN after '{}' at position {pos}, found {}; NOT is only \
                         supported in NOT IN",
                        tok.raw,
                        describe(other.as_ref())
                    )));
                }
            },
            Some("IS") => match self.toks.next() {
                Some(t) if t.is_keyword("NULL") => Op::IsNull,
                Some(t) if t.is_keyword("NOT") => match self.toks.next() {
                    Some(t) if t.is_keyword("NULL") => Op::IsNotNull,
                    other => {
                        return Err(FilterError::new(format!(
                            "expected NULL after 'IS NOT' at position {pos}, found {}",
                            describe(other.as_ref())
                        )));
                    }
                },
                other => {
                    return Err(FilterError::new(format!(
                        "expected NULL or NOT NULL after '{}' at position {pos}, found {}",
                        tok.raw,
                        describe(other.as_ref())
                    )));
                }
            },
            _ => {
                return Err(FilterError::new(format!(
                    "expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, \
                     NOT IN, IS NULL, IS NOT NULL) after '{}', found '{}' at position {pos}",
                    target.raw, tok.raw
                )));
            }
        };
        Ok((op, pos))
    }

    fn check_op(&self, target: &Target, op: Op, op_pos: usize) -> Result<(), FilterError> {
        let allowed = match target.entity {
            Entity::Metric => NUMERIC_OPS,
            Entity::Param | Entity::Tag => NULLABLE_STRING_OPS,
            Entity::Attribute if target.numeric => NUMERIC_OPS,
            Entity::Attribute if self.schema.attr_lists => {
                if matches!(op, Op::In | Op::NotIn) && target.key != "run_id" {
                    return Err(FilterError::new(format!(
                        "only the 'run_id' attribute supports comparison with a list of quoted \
                         string values; found '{}' for attribute '{}' at position {op_pos}",
                        op_text(op),
                        target.key
                    )));
                }
                LIST_STRING_OPS
            }
            Entity::Attribute => STRING_OPS,
            Entity::Dataset => LIST_STRING_OPS,
        };
        if allowed.contains(&op) {
            Ok(())
        } else {
            Err(FilterError::new(format!(
                "invalid comparator '{}' at position {op_pos} for {} '{}'; expected one of: {}",
                op_text(op),
                entity_word(target.entity),
                target.key,
                ops_list(allowed)
            )))
        }
    }

    fn scalar(&mut self, target: &Target, op: Op) -> Result<Value, FilterError> {
        let what = entity_word(target.entity);
        let key = &target.key;
        let Some(Token { kind, pos, raw }) = self.toks.next() else {
            return Err(FilterError::new(format!(
                "expected a value after '{} {}' at the end of the filter",
                target.raw,
                op_text(op)
            )));
        };
        match (kind, target.numeric) {
            (Kind::Num(n), true) => Ok(Value::Number(n)),
            (Kind::Str(s) | Kind::DqStr(s), false) => Ok(Value::String(s)),
            (Kind::LParen, _) => Err(FilterError::new(format!(
                "a parenthesised list at position {pos} is only allowed with IN and NOT IN, not \
                 with '{}'",
                op_text(op)
            ))),
            (_, true) => Err(FilterError::new(format!(
                "expected numeric value type for {} '{key}', found {raw} at position {pos}",
                if target.entity == Entity::Metric { "metric" } else { "numeric attribute" }
            ))),
            (Kind::Ident(_), false) => Err(FilterError::new(format!(
                "value {raw} at position {pos} for {what} '{key}' is not quoted; use either \
                 single or double quotes (e.g. 'my-value')"
            ))),
            (_, false) => Err(FilterError::new(format!(
                "expected a quoted string value for {what} '{key}' (e.g. 'my-value'), found \
                 {raw} at position {pos}"
            ))),
        }
    }

    fn list(&mut self, op: Op, op_pos: usize) -> Result<Vec<String>, FilterError> {
        let open = match self.toks.next() {
            Some(t) if t.kind == Kind::LParen => t.pos,
            other => {
                return Err(FilterError::new(format!(
                    "expected a parenthesised list of quoted strings after '{}' at position \
                     {op_pos}, found {}",
                    op_text(op),
                    describe(other.as_ref())
                )));
            }
        };
        let unterminated = || FilterError::new(format!("unterminated list starting at position {open}: missing ')'"));
        let mut items = Vec::new();
        loop {
            let item = self.toks.next().ok_or_else(unterminated)?;
            match item.kind {
                Kind::RParen if items.is_empty() => {
                    return Err(FilterError::new(format!(
                        "expected a non-empty list of quoted string values after '{}' at \
                         position {op_pos}, but got an empty list",
                        op_text(op)
                    )));
                }
                Kind::Str(s) | Kind::DqStr(s) => items.push(s),
                _ => {
                    return Err(FilterError::new(format!(
                        "expected a quoted string value in the list, found '{}' at position {}",
                        item.raw, item.pos
                    )));
                }
            }
            let sep = self.toks.next().ok_or_else(unterminated)?;
            match sep.kind {
                Kind::Comma => {}
                Kind::RParen => return Ok(items),
                _ => {
                    return Err(FilterError::new(format!(
                        "expected ',' or ')' in the list, found '{}' at position {}",
                        sep.raw, sep.pos
                    )));
                }
            }
        }
    }
}

/// Splits identifier parts into an optional entity prefix and the key.
fn split_identifier(parts: Vec<Part>, raw: &str, pos: usize) -> Result<(Option<String>, String), FilterError> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Err(FilterError::new(format!("expected an identifier at position {pos}")));
    };
    let rest: Vec<Part> = parts.collect();
    if rest.is_empty() {
        return Ok((None, first.text));
    }
    if rest.len() == 1 {
        let key = rest.into_iter().next().map(|p| p.text).unwrap_or_default();
        return Ok((Some(first.text), key));
    }
    if rest.iter().any(|p| p.quoted) {
        return Err(FilterError::new(format!(
            "invalid identifier '{raw}' at position {pos}: quote the whole key right after the \
             prefix, as in tags.`my.key`"
        )));
    }
    let key = rest.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(".");
    Ok((Some(first.text), key))
}

fn describe(tok: Option<&Token>) -> String {
    tok.map_or_else(|| "the end of the input".to_string(), |t| format!("'{}' at position {}", t.raw, t.pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ---- helpers ------------------------------------------------------------------------------

    fn c(entity: Entity, key: &str, op: Op, value: Value) -> Comparison {
        Comparison { entity, key: key.to_string(), op, value }
    }
    fn n(x: f64) -> Value {
        Value::Number(x)
    }
    fn s(x: &str) -> Value {
        Value::String(x.to_string())
    }
    fn l(xs: &[&str]) -> Value {
        Value::List(xs.iter().map(|x| x.to_string()).collect())
    }
    fn ob(entity: Entity, key: &str, ascending: bool) -> OrderBy {
        OrderBy { entity, key: key.to_string(), ascending }
    }

    use Entity::{Attribute as A, Dataset as D, Metric as M, Param as P, Tag as T};

    #[track_caller]
    fn check(input: &str, expected: &[Comparison]) {
        assert_eq!(parse_run_filter(input), Ok(expected.to_vec()), "run filter: {input:?}");
    }

    #[track_caller]
    fn check_exp(input: &str, expected: &[Comparison]) {
        assert_eq!(parse_experiment_filter(input), Ok(expected.to_vec()), "experiment filter: {input:?}");
    }

    #[track_caller]
    fn check_err_with(parse: fn(&str) -> Result<Vec<Comparison>, FilterError>, input: &str, needles: &[&str]) {
        match parse(input) {
            Ok(v) => panic!("expected an error for {input:?}, got {v:?}"),
            Err(e) => {
                for needle in needles {
                    assert!(
                        e.message.contains(needle),
                        "error for {input:?} is {:?}; it should contain {needle:?}",
                        e.message
                    );
                }
                let first = e.message.chars().next().unwrap_or('x');
                assert!(!first.is_uppercase(), "message should start lower-case: {:?}", e.message);
            }
        }
    }

    #[track_caller]
    fn check_err(input: &str, needles: &[&str]) {
        check_err_with(parse_run_filter, input, needles);
    }

    #[track_caller]
    fn check_exp_err(input: &str, needles: &[&str]) {
        check_err_with(parse_experiment_filter, input, needles);
    }

    #[track_caller]
    fn check_order(input: &str, expected: OrderBy) {
        assert_eq!(parse_run_order_by(input), Ok(expected), "order_by {input:?}");
    }

    #[track_caller]
    fn check_order_err_with(parse: fn(&str) -> Result<OrderBy, FilterError>, input: &str, needles: &[&str]) {
        match parse(input) {
            Ok(v) => panic!("expected an error for order_by {input:?}, got {v:?}"),
            Err(e) => {
                assert!(e.message.starts_with("invalid order_by clause"), "{:?}", e.message);
                for needle in needles {
                    assert!(
                        e.message.contains(needle),
                        "error for {input:?} is {:?}; it should contain {needle:?}",
                        e.message
                    );
                }
            }
        }
    }

    // ---- run filters: accepted ----------------------------------------------------------------

    #[test]
    fn empty_filters() {
        for input in ["", " ", "\t\n  "] {
            check(input, &[]);
            check_exp(input, &[]);
        }
    }

    #[test]
    fn metric_comparisons() {
        let cases: &[(&str, Comparison)] = &[
            ("metrics.acc > 0.9", c(M, "acc", Op::Gt, n(0.9))),
            ("metric.acc >= 1", c(M, "acc", Op::Ge, n(1.0))),
            ("metrics.acc < -1", c(M, "acc", Op::Lt, n(-1.0))),
            ("metrics.acc <= -0.5", c(M, "acc", Op::Le, n(-0.5))),
            ("metrics.acc = 1e-3", c(M, "acc", Op::Eq, n(1e-3))),
            ("metrics.acc != 2.5E+10", c(M, "acc", Op::Ne, n(2.5e10))),
            ("metrics.acc = .5", c(M, "acc", Op::Eq, n(0.5))),
            ("metrics.acc = 5.", c(M, "acc", Op::Eq, n(5.0))),
            ("metrics.acc = +3", c(M, "acc", Op::Eq, n(3.0))),
            ("metrics.acc=-7", c(M, "acc", Op::Eq, n(-7.0))),
            ("metrics.acc>-1e5", c(M, "acc", Op::Gt, n(-1e5))),
            ("metrics.`my metric` > 0", c(M, "my metric", Op::Gt, n(0.0))),
            ("metrics.\"my metric\" > 0", c(M, "my metric", Op::Gt, n(0.0))),
            ("metrics.train.loss < 1", c(M, "train.loss", Op::Lt, n(1.0))),
            ("metrics.`val/loss` < 1", c(M, "val/loss", Op::Lt, n(1.0))),
            ("metrics.`a``b` = 1", c(M, "a`b", Op::Eq, n(1.0))),
            ("metrics.1st = 1", c(M, "1st", Op::Eq, n(1.0))),
            ("metrics.äcc = 1", c(M, "äcc", Op::Eq, n(1.0))),
            ("`metrics`.acc = 1", c(M, "acc", Op::Eq, n(1.0))),
        ];
        for (input, expected) in cases {
            check(input, std::slice::from_ref(expected));
        }
    }

    #[test]
    fn param_and_tag_comparisons() {
        let cases: &[(&str, Comparison)] = &[
            ("params.lr = '0.01'", c(P, "lr", Op::Eq, s("0.01"))),
            ("param.lr != \"0.01\"", c(P, "lr", Op::Ne, s("0.01"))),
            ("parameters.lr = 'x'", c(P, "lr", Op::Eq, s("x"))),
            ("parameter.lr = 'x'", c(P, "lr", Op::Eq, s("x"))),
            ("params.`my lr` LIKE '%1'", c(P, "my lr", Op::Like, s("%1"))),
            ("params.model ilike 'Res%'", c(P, "model", Op::ILike, s("Res%"))),
            ("params.model Like 'r_s'", c(P, "model", Op::Like, s("r_s"))),
            ("tags.env = 'prod'", c(T, "env", Op::Eq, s("prod"))),
            ("tag.env = ''", c(T, "env", Op::Eq, s(""))),
            ("tags.`mlflow.runName` = 'x'", c(T, "mlflow.runName", Op::Eq, s("x"))),
            ("tags.mlflow.runName = 'x'", c(T, "mlflow.runName", Op::Eq, s("x"))),
            ("tags.\"mlflow.user\" = 'me'", c(T, "mlflow.user", Op::Eq, s("me"))),
            ("tags.note = 'it''s'", c(T, "note", Op::Eq, s("it's"))),
            ("tags.note = \"say \"\"hi\"\"\"", c(T, "note", Op::Eq, s("say \"hi\""))),
            ("tags.note = 'a \"b\"'", c(T, "note", Op::Eq, s("a \"b\""))),
            ("tags.note = 'ünï ✓'", c(T, "note", Op::Eq, s("ünï ✓"))),
            ("tags.note = 'a AND b'", c(T, "note", Op::Eq, s("a AND b"))),
            ("tags.env IS NULL", c(T, "env", Op::IsNull, Value::None)),
            ("tags.env is not null", c(T, "env", Op::IsNotNull, Value::None)),
            ("params.lr IS NOT NULL", c(P, "lr", Op::IsNotNull, Value::None)),
            ("params.lr Is Null", c(P, "lr", Op::IsNull, Value::None)),
            ("tags.and = 'x'", c(T, "and", Op::Eq, s("x"))),
            ("tags.`AND` = 'x'", c(T, "AND", Op::Eq, s("x"))),
        ];
        for (input, expected) in cases {
            check(input, std::slice::from_ref(expected));
        }
    }

    #[test]
    fn attribute_comparisons() {
        let cases: &[(&str, Comparison)] = &[
            ("attributes.status = 'RUNNING'", c(A, "status", Op::Eq, s("RUNNING"))),
            ("attribute.status != 'FAILED'", c(A, "status", Op::Ne, s("FAILED"))),
            ("attr.user_id LIKE 'a%'", c(A, "user_id", Op::Like, s("a%"))),
            ("run.artifact_uri ILIKE 's3://%'", c(A, "artifact_uri", Op::ILike, s("s3://%"))),
            ("status = 'FINISHED'", c(A, "status", Op::Eq, s("FINISHED"))),
            ("attributes.run_name = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("attributes.`Run name` = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("attributes.`run name` = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("attributes.\"Run Name\" = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("`Run Name` = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("\"Run name\" = 'x'", c(A, "run_name", Op::Eq, s("x"))),
            ("attributes.start_time > 1700000000000", c(A, "start_time", Op::Gt, n(1.7e12))),
            ("start_time >= 0", c(A, "start_time", Op::Ge, n(0.0))),
            ("attributes.end_time < 5", c(A, "end_time", Op::Lt, n(5.0))),
            ("attributes.created <= 5", c(A, "start_time", Op::Le, n(5.0))),
            ("Created != 5", c(A, "start_time", Op::Ne, n(5.0))),
            ("run_id = 'abc'", c(A, "run_id", Op::Eq, s("abc"))),
            ("attributes.run_id IN ('a')", c(A, "run_id", Op::In, l(&["a"]))),
            ("attributes.run_id in ('a', \"b\",'c')", c(A, "run_id", Op::In, l(&["a", "b", "c"]))),
            ("run_id NOT IN ('a','b')", c(A, "run_id", Op::NotIn, l(&["a", "b"]))),
            ("run_id not in('a')", c(A, "run_id", Op::NotIn, l(&["a"]))),
            ("run_id IN ('A''B')", c(A, "run_id", Op::In, l(&["A'B"]))),
        ];
        for (input, expected) in cases {
            check(input, std::slice::from_ref(expected));
        }
    }

    #[test]
    fn dataset_comparisons() {
        let cases: &[(&str, Comparison)] = &[
            ("datasets.name = 'iris'", c(D, "name", Op::Eq, s("iris"))),
            ("dataset.digest != 'abc'", c(D, "digest", Op::Ne, s("abc"))),
            ("datasets.context LIKE 'train%'", c(D, "context", Op::Like, s("train%"))),
            ("datasets.name ILIKE 'IRIS'", c(D, "name", Op::ILike, s("IRIS"))),
            ("datasets.name IN ('a', 'b')", c(D, "name", Op::In, l(&["a", "b"]))),
            ("datasets.digest NOT IN ('a')", c(D, "digest", Op::NotIn, l(&["a"]))),
            ("datasets.context IN ('eval')", c(D, "context", Op::In, l(&["eval"]))),
        ];
        for (input, expected) in cases {
            check(input, std::slice::from_ref(expected));
        }
    }

    #[test]
    fn conjunctions() {
        check(
            "metrics.acc > 0.9 AND params.lr = '0.1' and tags.env != 'dev' AnD status = 'RUNNING'",
            &[
                c(M, "acc", Op::Gt, n(0.9)),
                c(P, "lr", Op::Eq, s("0.1")),
                c(T, "env", Op::Ne, s("dev")),
                c(A, "status", Op::Eq, s("RUNNING")),
            ],
        );
        check(
            "  tags.a IS NULL\nAND\ttags.b IS NOT NULL AND run_id IN ('x','y')  ",
            &[
                c(T, "a", Op::IsNull, Value::None),
                c(T, "b", Op::IsNotNull, Value::None),
                c(A, "run_id", Op::In, l(&["x", "y"])),
            ],
        );
        // The same comparison twice is kept twice.
        check("metrics.a=1 AND metrics.a=1", &[c(M, "a", Op::Eq, n(1.0)), c(M, "a", Op::Eq, n(1.0))]);
    }

    // ---- run filters: rejected ----------------------------------------------------------------

    #[test]
    fn run_filter_errors() {
        let cases: &[(&str, &[&str])] = &[
            // identifiers
            ("foo.bar = 'x'", &["invalid entity type 'foo'", "position 1", "metric(s)"]),
            ("Metrics.acc > 1", &["invalid entity type 'Metrics'"]),
            ("experiment.name = 'x'", &["invalid entity type 'experiment'"]),
            ("foo = 'x'", &["invalid attribute key 'foo'", "position 1", "run_id"]),
            ("attributes.lifecycle_stage = 'active'", &["invalid attribute key 'lifecycle_stage'"]),
            ("attributes.experiment_id = '1'", &["invalid attribute key 'experiment_id'"]),
            ("attributes.Status = 'x'", &["invalid attribute key 'Status'"]),
            ("attr.`RUN NAME` = 'x'", &["invalid attribute key 'RUN NAME'"]),
            ("datasets.schema = 'x'", &["invalid dataset key 'schema'", "name, digest, context"]),
            ("metrics.`` > 1", &["empty key", "position 1"]),
            ("tags.a.`b` = 'x'", &["invalid identifier 'tags.a.`b`'"]),
            ("metrics. acc > 1", &["expected a key after '.'", "position 9"]),
            ("metrics.acc. > 1", &["expected a key after '.'", "position 13"]),
            ("'metrics.acc' > 1", &["expected an identifier", "found ''metrics.acc''"]),
            ("1 = metrics.acc", &["expected an identifier", "found '1'"]),
            ("AND metrics.a > 1", &["expected an identifier", "keyword 'AND'"]),
            ("(metrics.a > 1)", &["found '('", "parentheses"]),
            // operators
            ("metrics.acc", &["expected a comparison operator after 'metrics.acc'", "end of the filter"]),
            ("metrics.acc 1", &["expected a comparison operator", "found '1' at position 13"]),
            ("metrics.a``b = 1", &["expected a comparison operator", "found '``' at position 10"]),
            ("metrics.acc == 1", &["invalid comparator '=='", "position 13"]),
            ("metrics.acc <> 1", &["invalid comparator '<>'", "position 13"]),
            ("metrics.acc ! 1", &["unexpected character '!'", "position 13"]),
            ("metrics.acc LIKE 1", &["invalid comparator 'LIKE'", "metric 'acc'", "=, !=, <, <=, >, >="]),
            ("metrics.acc IS NULL", &["invalid comparator 'IS NULL'", "metric 'acc'"]),
            ("metrics.acc IN (1)", &["invalid comparator 'IN'", "metric 'acc'"]),
            ("params.lr > '1'", &["invalid comparator '>'", "param 'lr'", "=, !=, LIKE, ILIKE, IS NULL, IS NOT NULL"]),
            ("tags.x IN ('a')", &["invalid comparator 'IN'", "tag 'x'"]),
            ("tags.x NOT IN ('a')", &["invalid comparator 'NOT IN'", "tag 'x'"]),
            ("tags.x NOT LIKE 'a'", &["expected IN after 'NOT'", "'LIKE' at position 12"]),
            ("tags.x IS 'a'", &["expected NULL or NOT NULL after 'IS'", "''a''"]),
            ("tags.x IS NOT 'a'", &["expected NULL after 'IS NOT'"]),
            ("tags.x IS", &["expected NULL or NOT NULL", "end of the input"]),
            ("attributes.start_time LIKE '1'", &["invalid comparator 'LIKE'", "attribute 'start_time'"]),
            (
                "attributes.status < 'x'",
                &["invalid comparator '<'", "attribute 'status'", "=, !=, LIKE, ILIKE, IN, NOT IN"],
            ),
            ("attributes.status IS NULL", &["invalid comparator 'IS NULL'", "attribute 'status'"]),
            ("datasets.name > 'x'", &["invalid comparator '>'", "dataset 'name'"]),
            ("datasets.name IS NULL", &["invalid comparator 'IS NULL'", "dataset 'name'"]),
            (
                "status IN ('RUNNING')",
                &[
                    "only the 'run_id' attribute supports comparison with a list of quoted string values",
                    "'status'",
                    "position 8",
                ],
            ),
            ("run_name NOT IN ('a')", &["only the 'run_id' attribute", "'run_name'"]),
            // values
            ("metrics.acc > '0.9'", &["expected numeric value type for metric 'acc'", "found '0.9'", "position 15"]),
            ("metrics.acc > \"0.9\"", &["expected numeric value type for metric 'acc'"]),
            ("metrics.acc > abc", &["expected numeric value type for metric 'acc'", "found abc"]),
            ("start_time > '5'", &["expected numeric value type for numeric attribute 'start_time'"]),
            ("attributes.created > 'x'", &["numeric attribute 'start_time'"]),
            ("params.lr = 0.1", &["expected a quoted string value for param 'lr'", "found 0.1", "position 13"]),
            ("tags.env = prod", &["value prod at position 12", "not quoted", "single or double quotes"]),
            ("status = RUNNING", &["value RUNNING", "not quoted"]),
            ("datasets.name = 1", &["expected a quoted string value for dataset 'name'"]),
            ("metrics.acc >", &["expected a value after 'metrics.acc >'", "end of the filter"]),
            ("tags.x = ('a')", &["parenthesised list at position 10", "only allowed with IN and NOT IN"]),
            ("metrics.acc > 1e999", &["number '1e999' at position 15 is out of range"]),
            ("metrics.acc > 1.2.3", &["invalid number '1.2.3'"]),
            ("metrics.acc > 12abc", &["invalid number '12abc'", "position 15"]),
            ("metrics.acc > 1e", &["invalid number '1e'"]),
            ("metrics.acc > -", &["unexpected character '-'", "position 15"]),
            ("metrics.acc > .", &["unexpected character '.'"]),
            ("metrics.acc > NaN", &["expected numeric value type", "found NaN"]),
            ("metrics.acc > inf", &["expected numeric value type", "found inf"]),
            // lists
            ("run_id IN ()", &["non-empty list", "empty list", "position 8"]),
            ("run_id IN 'a'", &["expected a parenthesised list", "found ''a'' at position 11"]),
            ("run_id IN", &["expected a parenthesised list", "end of the input"]),
            ("run_id IN ('a'", &["unterminated list starting at position 11"]),
            ("run_id IN ('a',", &["unterminated list"]),
            ("run_id IN ('a',)", &["expected a quoted string value in the list", "found ')'"]),
            ("run_id IN ('a' 'b')", &["expected ',' or ')' in the list", "''b''"]),
            ("run_id IN (1, 2)", &["expected a quoted string value in the list", "found '1'"]),
            ("run_id IN (abc)", &["expected a quoted string value in the list", "found 'abc'"]),
            ("run_id IN (('a'))", &["found '('"]),
            // structure
            ("metrics.a > 1 OR metrics.b > 1", &["'OR' at position 15 is not supported", "AND"]),
            ("metrics.a > 1 or metrics.b > 1", &["'or' at position 15 is not supported"]),
            ("metrics.a > 1 AND", &["dangling 'AND' at position 15"]),
            ("metrics.a > 1 AND AND metrics.b > 1", &["keyword 'AND'", "position 19"]),
            ("metrics.a > 1 params.b = 'x'", &["invalid clause", "expected AND", "'params.b' at position 15"]),
            ("metrics.a > 1 )", &["found ')' at position 15"]),
            ("metrics.a > 1; DROP TABLE runs", &["unexpected ';' at position 14"]),
            // lexical
            ("tags.x = 'abc", &["unterminated string starting at position 10"]),
            ("tags.x = \"abc", &["unterminated string starting at position 10"]),
            ("tags.`abc = 'x'", &["unterminated quoted identifier starting at position 6"]),
            ("tags.x = 'a' # comment", &["unexpected character '#' at position 14"]),
            ("tags.x @ 'a'", &["unexpected character '@' at position 8"]),
            ("tags.ü = 'a' AND tags.x § 'b'", &["unexpected character '§' at position 25"]),
        ];
        for (input, needles) in cases {
            check_err(input, needles);
        }
    }

    // ---- experiment filters -------------------------------------------------------------------

    #[test]
    fn experiment_filters() {
        let cases: &[(&str, &[Comparison])] = &[
            ("name = 'exp'", &[c(A, "name", Op::Eq, s("exp"))]),
            ("attribute.name LIKE 'e%'", &[c(A, "name", Op::Like, s("e%"))]),
            ("name ilike '%X%'", &[c(A, "name", Op::ILike, s("%X%"))]),
            ("name != \"a\"", &[c(A, "name", Op::Ne, s("a"))]),
            ("creation_time > 1000", &[c(A, "creation_time", Op::Gt, n(1000.0))]),
            ("attribute.last_update_time <= 5", &[c(A, "last_update_time", Op::Le, n(5.0))]),
            ("tags.team = 'ml'", &[c(T, "team", Op::Eq, s("ml"))]),
            ("tag.`a b` LIKE 'x%'", &[c(T, "a b", Op::Like, s("x%"))]),
            ("tags.team IS NULL", &[c(T, "team", Op::IsNull, Value::None)]),
            ("tags.team is not null", &[c(T, "team", Op::IsNotNull, Value::None)]),
            (
                "name LIKE 'a%' AND tags.x = 'y' and creation_time >= 0",
                &[c(A, "name", Op::Like, s("a%")), c(T, "x", Op::Eq, s("y")), c(A, "creation_time", Op::Ge, n(0.0))],
            ),
        ];
        for (input, expected) in cases {
            check_exp(input, expected);
        }
    }

    #[test]
    fn experiment_filter_errors() {
        let cases: &[(&str, &[&str])] = &[
            ("metrics.acc > 1", &["invalid entity type 'metrics'", "attribute, tag, tags"]),
            ("params.x = 'a'", &["invalid entity type 'params'"]),
            ("datasets.name = 'a'", &["invalid entity type 'datasets'"]),
            ("attributes.name = 'a'", &["invalid entity type 'attributes'"]),
            ("attr.name = 'a'", &["invalid entity type 'attr'"]),
            (
                "experiment_id = '1'",
                &["invalid attribute key 'experiment_id'", "name, creation_time, last_update_time"],
            ),
            ("status = 'x'", &["invalid attribute key 'status'"]),
            ("start_time > 1", &["invalid attribute key 'start_time'"]),
            ("name IN ('a')", &["invalid comparator 'IN'", "attribute 'name'", "=, !=, LIKE, ILIKE"]),
            ("name NOT IN ('a')", &["invalid comparator 'NOT IN'"]),
            ("name > 'a'", &["invalid comparator '>'", "attribute 'name'"]),
            ("name IS NULL", &["invalid comparator 'IS NULL'"]),
            ("creation_time LIKE '1'", &["invalid comparator 'LIKE'", "attribute 'creation_time'"]),
            ("creation_time > '1'", &["expected numeric value type for numeric attribute 'creation_time'"]),
            ("name = 1", &["expected a quoted string value for attribute 'name'"]),
            ("tags.x > 'a'", &["invalid comparator '>'", "tag 'x'"]),
            ("tags.x IN ('a')", &["invalid comparator 'IN'", "tag 'x'"]),
            ("name = 'a' OR name = 'b'", &["'OR' at position 12 is not supported"]),
        ];
        for (input, needles) in cases {
            check_exp_err(input, needles);
        }
    }

    // ---- order_by -----------------------------------------------------------------------------

    #[test]
    fn run_order_by() {
        let cases: &[(&str, OrderBy)] = &[
            ("metrics.acc", ob(M, "acc", true)),
            ("metrics.acc DESC", ob(M, "acc", false)),
            ("metrics.acc desc", ob(M, "acc", false)),
            ("metric.acc ASC", ob(M, "acc", true)),
            ("  metrics.acc   Asc  ", ob(M, "acc", true)),
            ("params.`my lr` ASC", ob(P, "my lr", true)),
            ("param.\"my lr\" DESC", ob(P, "my lr", false)),
            ("tags.`mlflow.runName` DESC", ob(T, "mlflow.runName", false)),
            ("tags.mlflow.runName", ob(T, "mlflow.runName", true)),
            ("attributes.start_time", ob(A, "start_time", true)),
            ("attribute.start_time DESC", ob(A, "start_time", false)),
            ("start_time DESC", ob(A, "start_time", false)),
            ("created", ob(A, "start_time", true)),
            ("attr.Created DESC", ob(A, "start_time", false)),
            ("run.end_time", ob(A, "end_time", true)),
            ("run_name", ob(A, "run_name", true)),
            ("attributes.run_id", ob(A, "run_id", true)),
            ("status", ob(A, "status", true)),
            ("artifact_uri", ob(A, "artifact_uri", true)),
            ("user_id DESC", ob(A, "user_id", false)),
        ];
        for (input, expected) in cases {
            check_order(input, expected.clone());
        }
    }

    #[test]
    fn run_order_by_errors() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["it is empty"]),
            ("   ", &["it is empty"]),
            ("metrics.acc UP", &["invalid ordering key 'UP' at position 13", "ASC or DESC"]),
            ("metrics.acc DESC ASC", &["unexpected 'ASC' at position 18"]),
            ("metrics.acc, metrics.b", &["invalid ordering key ','"]),
            ("foo.acc", &["invalid entity type 'foo'"]),
            ("datasets.name", &["invalid order_by entity 'dataset'", "metrics, params, tags and attributes"]),
            ("attributes.`Run name`", &["invalid attribute key 'Run name'"]),
            ("attributes.experiment_id", &["invalid attribute key 'experiment_id'"]),
            ("lifecycle_stage", &["invalid attribute key 'lifecycle_stage'"]),
            ("DESC", &["keyword 'DESC'"]),
            ("'metrics.acc'", &["expected an identifier"]),
            ("metrics.`acc", &["unterminated quoted identifier"]),
            ("metrics.acc > 1", &["invalid ordering key '>'"]),
            ("timestamp", &["invalid attribute key 'timestamp'"]),
        ];
        for (input, needles) in cases {
            check_order_err_with(parse_run_order_by, input, needles);
        }
    }

    #[test]
    fn experiment_order_by() {
        let cases: &[(&str, OrderBy)] = &[
            ("name", ob(A, "name", true)),
            ("name DESC", ob(A, "name", false)),
            ("attribute.experiment_id ASC", ob(A, "experiment_id", true)),
            ("experiment_id desc", ob(A, "experiment_id", false)),
            ("creation_time DESC", ob(A, "creation_time", false)),
            ("last_update_time", ob(A, "last_update_time", true)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_experiment_order_by(input), Ok(expected.clone()), "{input:?}");
        }
        let errors: &[(&str, &[&str])] = &[
            ("tags.x", &["invalid order_by entity 'tag'", "only be ordered by attributes"]),
            ("metrics.acc", &["invalid entity type 'metrics'"]),
            ("start_time", &["invalid attribute key 'start_time'", "experiment_id"]),
            ("name sideways", &["invalid ordering key 'sideways'"]),
            ("", &["it is empty"]),
        ];
        for (input, needles) in errors {
            check_order_err_with(parse_experiment_order_by, input, needles);
        }
    }

    #[test]
    fn error_display_is_the_message() {
        let e = parse_run_filter("foo.bar = 'x'").expect_err("invalid");
        assert_eq!(e.to_string(), e.message);
    }

    // ---- property tests -----------------------------------------------------------------------

    fn finite() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("finite", |x| x.is_finite())
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z_][a-zA-Z0-9_]{0,8}(\\.[a-zA-Z0-9_]{1,5}){0,2}", "\\PC{1,12}",]
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn strings() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(text(), 1..4)
    }

    fn run_comparison() -> impl Strategy<Value = Comparison> {
        let metric = (key(), prop::sample::select(NUMERIC_OPS), finite()).prop_map(|(k, op, x)| c(M, &k, op, n(x)));
        let param_tag = (prop::sample::select(vec![P, T]), key(), prop::sample::select(NULLABLE_STRING_OPS), text())
            .prop_map(|(e, k, op, v)| {
                let value = match op {
                    Op::IsNull | Op::IsNotNull => Value::None,
                    _ => s(&v),
                };
                c(e, &k, op, value)
            });
        let numeric_attr =
            (prop::sample::select(vec!["start_time", "end_time"]), prop::sample::select(NUMERIC_OPS), finite())
                .prop_map(|(k, op, x)| c(A, k, op, n(x)));
        let string_attr = (
            prop::sample::select(vec!["run_id", "run_name", "status", "artifact_uri", "user_id"]),
            prop::sample::select(STRING_OPS),
            text(),
        )
            .prop_map(|(k, op, v)| c(A, k, op, s(&v)));
        let run_id_list = (prop::sample::select(vec![Op::In, Op::NotIn]), strings())
            .prop_map(|(op, vs)| c(A, "run_id", op, Value::List(vs)));
        let dataset = (prop::sample::select(DATASET_KEYS), prop::sample::select(LIST_STRING_OPS), strings()).prop_map(
            |(k, op, vs)| {
                let value = match op {
                    Op::In | Op::NotIn => Value::List(vs),
                    _ => Value::String(vs.into_iter().next().unwrap_or_default()),
                };
                c(D, k, op, value)
            },
        );
        prop_oneof![metric, param_tag, numeric_attr, string_attr, run_id_list, dataset]
    }

    fn experiment_comparison() -> impl Strategy<Value = Comparison> {
        let tag = (key(), prop::sample::select(NULLABLE_STRING_OPS), text()).prop_map(|(k, op, v)| {
            let value = match op {
                Op::IsNull | Op::IsNotNull => Value::None,
                _ => s(&v),
            };
            c(T, &k, op, value)
        });
        let name = (prop::sample::select(STRING_OPS), text()).prop_map(|(op, v)| c(A, "name", op, s(&v)));
        let time = (
            prop::sample::select(vec!["creation_time", "last_update_time"]),
            prop::sample::select(NUMERIC_OPS),
            finite(),
        )
            .prop_map(|(k, op, x)| c(A, k, op, n(x)));
        prop_oneof![tag, name, time]
    }

    /// A test-only renderer: writes a comparison back as filter text, varying prefixes, quoting,
    /// keyword case, number notation and spacing according to `style` bits.
    fn render(cmp: &Comparison, style: u64, experiments: bool) -> String {
        let bit = |i: u32| (style >> i) & 1 == 1;
        let pick = |options: &[&'static str], shift: u32| options[(style >> shift) as usize % options.len()];
        let case = |kw: &str| {
            if bit(0) { kw.to_lowercase() } else { kw.to_string() }
        };
        let prefix = match (cmp.entity, experiments) {
            (M, _) => pick(&["metric", "metrics"], 1),
            (P, _) => pick(&["param", "params", "parameter", "parameters"], 1),
            (T, _) => pick(&["tag", "tags"], 1),
            (A, false) => pick(&["attribute", "attributes", "attr", "run", ""], 1),
            (A, true) => pick(&["attribute", ""], 1),
            (D, _) => pick(&["dataset", "datasets"], 1),
        };
        let plain =
            cmp.key.split('.').all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                && cmp.key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        let key = if plain && (cmp.entity == A || bit(4)) {
            cmp.key.clone()
        } else if bit(5) {
            format!("`{}`", cmp.key.replace('`', "``"))
        } else {
            format!("\"{}\"", cmp.key.replace('"', "\"\""))
        };
        let lhs = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
        let quote = |v: &str| {
            if bit(6) { format!("\"{}\"", v.replace('"', "\"\"")) } else { format!("'{}'", v.replace('\'', "''")) }
        };
        let ws = pick(&[" ", "  ", "\t", "\n "], 8);
        let op = case(op_text(cmp.op));
        let rhs = match &cmp.value {
            Value::Number(x) if bit(7) => format!("{x:e}"),
            Value::Number(x) => format!("{x}"),
            Value::String(v) => quote(v),
            Value::List(vs) => format!("({})", vs.iter().map(|v| quote(v)).collect::<Vec<_>>().join(",")),
            Value::None => String::new(),
        };
        format!("{lhs}{ws}{op}{ws}{rhs}")
    }

    fn render_filter(cmps: &[Comparison], style: u64, experiments: bool) -> String {
        let and = if style & 1 == 1 { " and " } else { " AND " };
        cmps.iter()
            .enumerate()
            .map(|(i, cmp)| render(cmp, style.rotate_left(i as u32 * 11), experiments))
            .collect::<Vec<_>>()
            .join(and)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn run_filters_round_trip(
            cmps in prop::collection::vec(run_comparison(), 0..5),
            style in any::<u64>(),
        ) {
            let text = render_filter(&cmps, style, false);
            prop_assert_eq!(parse_run_filter(&text), Ok(cmps), "filter: {:?}", text);
        }

        #[test]
        fn experiment_filters_round_trip(
            cmps in prop::collection::vec(experiment_comparison(), 0..5),
            style in any::<u64>(),
        ) {
            let text = render_filter(&cmps, style, true);
            prop_assert_eq!(parse_experiment_filter(&text), Ok(cmps), "filter: {:?}", text);
        }

        #[test]
        fn run_order_by_round_trip(
            entity in prop::sample::select(vec![M, P, T]),
            k in key(),
            dir in prop::sample::select(vec!["", " ASC", " DESC", " asc", " desc"]),
            style in any::<u64>(),
        ) {
            let cmp = c(entity, &k, Op::Eq, Value::None);
            let lhs = render(&cmp, style, false);
            // `render` appends the operator; keep just the identifier.
            let ident = lhs.rsplit_once('=').map(|(l, _)| l.trim_end()).unwrap_or(&lhs);
            let input = format!("{ident}{dir}");
            let ascending = !dir.to_lowercase().contains("desc");
            let expected = OrderBy { entity, key: k, ascending };
            prop_assert_eq!(parse_run_order_by(&input), Ok(expected), "order_by: {:?}", input);
        }

        #[test]
        fn never_panics_on_arbitrary_text(input in "\\PC{0,40}") {
            let _ = parse_run_filter(&input);
            let _ = parse_experiment_filter(&input);
            let _ = parse_run_order_by(&input);
            let _ = parse_experiment_order_by(&input);
        }

        #[test]
        fn never_panics_on_filter_like_text(
            input in "[a-zA-Z_. `'\"()=<>!,;0-9eE+-]{0,40}",
        ) {
            if let Err(e) = parse_run_filter(&input) {
                prop_assert!(!e.message.is_empty());
            }
            let _ = parse_experiment_filter(&input);
            let _ = parse_run_order_by(&input);
        }
    }
}
