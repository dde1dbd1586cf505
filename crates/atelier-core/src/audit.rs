//! The audit log's records: who did what, from where, to what, and how it ended. A record
//! holds names, ids and action strings only: never a secret and never a request's body.

use crate::model::Millis;

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The change was made (the record was written in the change's own transaction, or after
    /// a change outside the metadata store, such as an artifact's upload).
    Succeeded,
    /// The call was authenticated and authorized but failed; it changed nothing (or, where an
    /// earlier record of the same request says `Succeeded`, nothing more).
    Failed,
    /// The call was refused: no valid credentials (401), or no permission (403), or a sign-in
    /// that was refused or throttled.
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Succeeded, Outcome::Failed, Outcome::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|outcome| outcome.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// The action string of a sign-in (with a password, to the studio or over basic auth).
pub const SIGN_IN: &str = "Atelier/users/signIn/action";
/// The action string of a user's own account changes (their tokens, their password).
pub const OWN_ACCOUNT: &str = "Atelier/users/self/write";

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its place in the log, given by the store (0 before it is stored): increasing.
    pub id: i64,
    pub at: Millis,
    /// The user who called (for a job's token, the job's submitter); `None` when the caller
    /// was not identified.
    pub user: Option<String>,
    /// The id of the API token used, when one was.
    pub token_id: Option<String>,
    /// The job whose token was used, when one was (in `workspace`).
    pub job: Option<String>,
    /// The address the call came from (a reverse proxy's, behind one).
    pub address: Option<String>,
    pub workspace: Option<String>,
    /// Azure's action string (see [`crate::authz::ACTIONS`]), [`SIGN_IN`], [`OWN_ACCOUNT`];
    /// empty when the call was refused before its action was known.
    pub action: String,
    /// The HTTP method and path called, without the query, and the object acted on where the
    /// path does not name it (an MLflow run, say).
    pub target: String,
    pub outcome: Outcome,
    /// For a failure or a denial, the error's code (`PERMISSION_DENIED`, `INVALID_PARAMETER_VALUE`, …).
    pub error: Option<String>,
    /// The request's id, as answered in `x-request-id`.
    pub request_id: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// `None`: every workspace, and records tied to none (sign-ins, server administration).
    pub workspace: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub user: Option<String>,
    /// An action string with `*` wildcards, matched without regard to case.
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Only records older than this id (the previous page's last), for paging.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// A page of the audit log, newest first, and where the next (older) page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// The `page_token` of the next page; `None` on the last.
    pub next_page_token: Option<String>,
}

/// A query's parameters as a caller writes them (a query string, a form, the CLI's options).
#[derive(Debug, Clone, Default)]
pub struct AuditParams<'a> {
    pub workspace: Option<&'a str>,
    /// Epoch milliseconds, or a window back from now (`1h`, `7d`).
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub user: Option<&'a str>,
    pub action: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub limit: Option<&'a str>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<&'a str>,
}

/// The records a page holds unless the caller says.
pub const DEFAULT_AUDIT_PAGE: i64 = 100;

impl AuditQuery {
    /// Checks and converts what a caller wrote, naming the parameter that is wrong.
    pub fn parse(params: &AuditParams<'_>, now: Millis) -> crate::Result<AuditQuery> {
        fn present(value: Option<&str>) -> Option<&str> {
            value.map(str::trim).filter(|value| !value.is_empty())
        }
        let time = |name: &str, value: Option<&str>| -> crate::Result<Option<Millis>> {
            let Some(value) = present(value) else { return Ok(None) };
            if let Ok(millis) = value.parse::<i64>() {
                return Ok(Some(millis));
            }
            parse_window(value)
                .map(|window| Some(now - window))
                .map_err(|message| crate::Error::invalid(format!("invalid '{name}': {message}, or epoch milliseconds")))
        };
        let text = |name: &str, value: Option<&str>| -> crate::Result<Option<String>> {
            match present(value) {
                Some(value) if value.len() > 256 || value.chars().any(char::is_control) => Err(crate::Error::invalid(
                    format!("invalid '{name}': at most 256 characters, none of them control characters"),
                )),
                value => Ok(value.map(str::to_owned)),
            }
        };
        let outcome = match present(params.outcome) {
            Some(text) => Some(Outcome::parse(text).ok_or_else(|| {
                crate::Error::invalid(format!(
                    "invalid 'outcome' '{}': expected succeeded, failed or denied",
                    text.escape_debug()
                ))
            })?),
            None => None,
        };
        let before_id = match present(params.page_token) {
            Some(token) => Some(token.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                crate::Error::invalid("invalid 'page_token': pass the previous page's next_page_token unchanged")
            })?),
            None => None,
        };
        Ok(AuditQuery {
            workspace: text("workspace", params.workspace)?,
            since: time("since", params.since)?,
            until: time("until", params.until)?,
            user: text("user", params.user)?,
            action: text("action", params.action)?,
            outcome,
            before_id,
            limit: match present(params.limit) {
                Some(text) => text.parse::<i64>().map_err(|_| {
                    crate::Error::invalid(format!("invalid 'limit' '{}': expected a whole number", text.escape_debug()))
                })?,
                None => DEFAULT_AUDIT_PAGE,
            },
        })
    }
}

/// Parses a time window such as `30m`, `1h`, `7d` or `2w` into milliseconds.
pub fn parse_window(text: &str) -> Result<Millis, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| {
        format!("invalid time window '{}': expected a number and a unit, as in 30m, 1h or 7d", text.escape_debug())
    })?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!("invalid time window '{}': the unit must be s, m, h, d or w", text.escape_debug()));
        }
    };
    number
        .checked_mul(unit_ms)
        .filter(|ms| *ms <= 100 * 365 * 86_400_000)
        .ok_or_else(|| format!("invalid time window '{}': at most 100 years", text.escape_debug()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_their_units() {
        assert_eq!(parse_window("90s"), Ok(90_000));
        assert_eq!(parse_window("30m"), Ok(1_800_000));
        assert_eq!(parse_window("1h"), Ok(3_600_000));
        assert_eq!(parse_window("7d"), Ok(604_800_000));
        assert_eq!(parse_window("2w"), Ok(1_209_600_000));
        assert!(parse_window("1y").unwrap_err().contains("unit"));
        assert!(parse_window("h").unwrap_err().contains("number"));
        assert!(parse_window("99999999999999d").unwrap_err().contains("100 years"));
    }

    #[test]
    fn queries_parse_and_name_what_is_wrong() {
        let params = AuditParams {
            since: Some("1h"),
            until: Some("5000000"),
            action: Some("*/delete"),
            outcome: Some("denied"),
            page_token: Some("42"),
            ..AuditParams::default()
        };
        let query = AuditQuery::parse(&params, 10_000_000).unwrap();
        assert_eq!((query.since, query.until, query.before_id), (Some(6_400_000), Some(5_000_000), Some(42)));
        assert_eq!((query.outcome, query.limit), (Some(Outcome::Denied), DEFAULT_AUDIT_PAGE));
        let wrong = |params: AuditParams| AuditQuery::parse(&params, 0).unwrap_err().message;
        assert!(wrong(AuditParams { since: Some("yesterday"), ..AuditParams::default() }).contains("'since'"));
        assert!(wrong(AuditParams { outcome: Some("won"), ..AuditParams::default() }).contains("'outcome'"));
        assert!(wrong(AuditParams { page_token: Some("x"), ..AuditParams::default() }).contains("'page_token'"));
        assert!(wrong(AuditParams { user: Some("a\u{7}b"), ..AuditParams::default() }).contains("'user'"));
    }

    #[test]
    fn outcomes_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("DENIED"), Some(Outcome::Denied));
        assert_eq!(Outcome::parse("maybe"), None);
    }
}
