//! When a schedule fires: Azure ML's two triggers, a 5-field cron expression or a recurrence
//! (every N minutes, hours, days, weeks or months, at given hours and minutes, on given week or
//! month days), each in a named time zone, between a start and an optional end.
//!
//! Times are milliseconds since the epoch, UTC; what a trigger says in its zone ("04:00") is read
//! in that zone's rules, so a daily schedule keeps its wall-clock time across a change of DST.
//! Azure names zones the Windows way ("Pacific Standard Time"); [`parse_time_zone`] takes those
//! and IANA names ("America/Los_Angeles").

use crate::model::Millis;
use crate::{Error, Result};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// A stored schedule: its file, what it submits, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub workspace: crate::names::WorkspaceName,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    /// The schedule file as written.
    pub yaml: String,
    /// What each fire submits: the job file's text and what the client uploaded for it (JSON,
    /// the service's to read).
    pub submission: String,
    pub enabled: bool,
    /// The latest fire time it submitted a job for.
    pub last_fire: Option<Millis>,
    /// When it fires next; `None` once its trigger has ended, or while it is disabled.
    pub next_fire: Option<Millis>,
    /// Why the latest fire submitted no job (the job file no longer resolves, its creator lost
    /// the right to submit); `None` after a fire that did.
    pub last_error: Option<String>,
    pub created_by: String,
    pub creation_time: Millis,
}

/// How often a recurrence repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

impl Frequency {
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "minute" => Ok(Frequency::Minute),
            "hour" => Ok(Frequency::Hour),
            "day" => Ok(Frequency::Day),
            "week" => Ok(Frequency::Week),
            "month" => Ok(Frequency::Month),
            _ => Err(Error::invalid(format!("invalid frequency '{text}': expected minute, hour, day, week or month"))),
        }
    }
}

/// What fires a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A 5-field crontab expression: minute, hour, day of month, month, day of week.
    Cron(String),
    Recurrence {
        frequency: Frequency,
        interval: u32,
        /// The hours and minutes of the day it fires at (day, week and month frequencies);
        /// empty: the start time's.
        hours: Vec<u32>,
        minutes: Vec<u32>,
        /// Days of the week, 0 = Monday (week frequency); empty: the start's.
        week_days: Vec<u32>,
        /// Days of the month (month frequency); empty: the start's.
        month_days: Vec<u32>,
    },
}

/// A schedule's trigger, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub rule: Rule,
    pub time_zone: Tz,
    /// The first moment it may fire.
    pub start: Millis,
    pub end: Option<Millis>,
}

/// Azure's Windows zone names that name one IANA zone, with the IANA name.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Kolkata"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Egypt Standard Time", "Africa/Cairo"),
];

/// Reads an RFC 3339 time (`2026-12-04T03:00:00.000Z`), as a fire's job is tagged with.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.timestamp_millis())
}

/// Reads a time zone: a Windows name as Azure writes them, or an IANA name.
pub fn parse_time_zone(text: &str) -> Result<Tz> {
    let text = text.trim();
    let iana =
        WINDOWS_ZONES.iter().find(|(windows, _)| windows.eq_ignore_ascii_case(text)).map_or(text, |(_, iana)| *iana);
    Tz::from_str(iana).map_err(|_| {
        Error::invalid(format!(
            "unknown time zone '{text}': expected a Windows name such as \"Pacific Standard Time\" or an IANA name such as \"America/Los_Angeles\""
        ))
    })
}

/// Reads a schedule's `start_time` or `end_time`: an ISO 8601 date and time, with an offset
/// (`2026-12-01T04:00:00Z`, `…+01:00`) or without one, when it is read in `zone`.
pub fn parse_time(text: &str, zone: &Tz) -> Result<Millis> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(to_utc(resolve(zone, local)));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(to_utc(resolve(zone, day.and_time(NaiveTime::MIN))));
    }
    Err(Error::invalid(format!(
        "invalid time '{text}': expected an ISO 8601 date and time such as 2026-12-01T04:00:00 (in the trigger's time zone) or 2026-12-01T04:00:00Z"
    )))
}

/// Reads a week day's name (`monday` … `sunday`) as 0 (Monday) to 6.
pub fn parse_week_day(text: &str) -> Result<u32> {
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    DAYS.iter()
        .position(|day| day.eq_ignore_ascii_case(text.trim()))
        .map(|index| index as u32)
        .ok_or_else(|| Error::invalid(format!("invalid week day '{text}': expected one of {}", DAYS.join(", "))))
}

/// Checks a 5-field cron expression.
pub fn parse_cron(expression: &str) -> Result<croner::Cron> {
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(Error::invalid(format!(
            "cron expression '{expression}' has {fields} fields: expected 5 (minute hour day-of-month month day-of-week)"
        )));
    }
    croner::Cron::from_str(expression)
        .map_err(|error| Error::invalid(format!("invalid cron expression '{expression}': {error}")))
}

fn to_utc(time: DateTime<Tz>) -> Millis {
    time.with_timezone(&Utc).timestamp_millis()
}

fn in_zone(zone: &Tz, at: Millis) -> DateTime<Tz> {
    Utc.timestamp_millis_opt(at).single().unwrap_or_default().with_timezone(zone)
}

/// A wall-clock time in a zone: a time skipped by a change of DST is taken an hour later (the
/// moment it would have been), an ambiguous one as its first occurrence.
fn resolve(zone: &Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(time) => time,
        LocalResult::Ambiguous(first, _) => first,
        LocalResult::None => {
            let later = local + Duration::hours(1);
            zone.from_local_datetime(&later).earliest().unwrap_or_else(|| zone.from_utc_datetime(&local))
        }
    }
}

impl Trigger {
    /// The first fire time strictly after `after` (and not before the start), or `None` when
    /// the trigger has ended.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        let from = after.max(self.start - 1);
        let next = match &self.rule {
            Rule::Cron(expression) => {
                let cron = parse_cron(expression).ok()?;
                let local = in_zone(&self.time_zone, from);
                let found = cron.find_next_occurrence(&local, false).ok()?;
                to_utc(found)
            }
            Rule::Recurrence { .. } => self.next_recurrence(from)?,
        };
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The latest fire time at or before `now` and after `after`, if any: the one a server
    /// that was down over some fire times submits (once) when it is back.
    pub fn latest_missed(&self, after: Millis, now: Millis) -> Option<Millis> {
        let mut latest = None;
        let mut cursor = after;
        // Fire times are at least a minute apart; a bound keeps a long outage cheap.
        for _ in 0..100_000 {
            match self.next_after(cursor) {
                Some(next) if next <= now => {
                    latest = Some(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        latest
    }

    fn next_recurrence(&self, from: Millis) -> Option<Millis> {
        let Rule::Recurrence { frequency, interval, hours, minutes, week_days, month_days } = &self.rule else {
            return None;
        };
        let zone = &self.time_zone;
        let start = in_zone(zone, self.start);
        let interval = i64::from((*interval).max(1));
        match frequency {
            Frequency::Minute | Frequency::Hour => {
                let period = if *frequency == Frequency::Minute { 60_000 } else { 3_600_000 } * interval;
                let steps = ((from - self.start).div_euclid(period) + 1).max(0);
                Some(self.start + steps * period)
            }
            Frequency::Day | Frequency::Week | Frequency::Month => {
                let times: Vec<NaiveTime> = {
                    let hours = if hours.is_empty() { vec![start.hour()] } else { hours.clone() };
                    let minutes = if minutes.is_empty() { vec![start.minute()] } else { minutes.clone() };
                    let mut times: Vec<NaiveTime> = hours
                        .iter()
                        .flat_map(|hour| {
                            minutes.iter().filter_map(move |minute| NaiveTime::from_hms_opt(*hour, *minute, 0))
                        })
                        .collect();
                    times.sort();
                    times
                };
                let start_day = start.date_naive();
                let mut day = in_zone(zone, from).date_naive().max(start_day);
                // At most about ten years of days ahead.
                for _ in 0..4_000 {
                    if self.day_fires(*frequency, interval, start_day, day, week_days, month_days) {
                        for time in &times {
                            let at = to_utc(resolve(zone, day.and_time(*time)));
                            if at > from && at >= self.start {
                                return Some(at);
                            }
                        }
                    }
                    day = day.succ_opt()?;
                }
                None
            }
        }
    }

    fn day_fires(
        &self,
        frequency: Frequency,
        interval: i64,
        start_day: NaiveDate,
        day: NaiveDate,
        week_days: &[u32],
        month_days: &[u32],
    ) -> bool {
        match frequency {
            Frequency::Day => (day - start_day).num_days() % interval == 0,
            Frequency::Week => {
                let start_week = start_day - Duration::days(i64::from(start_day.weekday().num_days_from_monday()));
                let week = (day - start_week).num_days() / 7;
                let weekday = day.weekday().num_days_from_monday();
                let on = if week_days.is_empty() {
                    weekday == start_day.weekday().num_days_from_monday()
                } else {
                    week_days.contains(&weekday)
                };
                week % interval == 0 && on
            }
            Frequency::Month => {
                let months = i64::from(day.year() - start_day.year()) * 12 + i64::from(day.month())
                    - i64::from(start_day.month());
                let on =
                    if month_days.is_empty() { day.day() == start_day.day() } else { month_days.contains(&day.day()) };
                months % interval == 0 && on
            }
            Frequency::Minute | Frequency::Hour => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Millis {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    fn show(at: Millis) -> String {
        Utc.timestamp_millis_opt(at).unwrap().format("%Y-%m-%dT%H:%MZ").to_string()
    }

    fn cron(expression: &str, zone: &str, start: &str) -> Trigger {
        Trigger {
            rule: Rule::Cron(expression.into()),
            time_zone: parse_time_zone(zone).unwrap(),
            start: utc(start),
            end: None,
        }
    }

    fn fires(trigger: &Trigger, after: &str, count: usize) -> Vec<String> {
        let mut at = utc(after);
        let mut out = Vec::new();
        for _ in 0..count {
            at = trigger.next_after(at).unwrap();
            out.push(show(at));
        }
        out
    }

    #[test]
    fn a_daily_cron_keeps_its_wall_clock_time_across_dst_in_a_windows_zone() {
        // 04:00 in Los Angeles: 12:00Z in winter, 11:00Z in summer (DST from 2026-03-08).
        let trigger = cron("0 4 * * *", "Pacific Standard Time", "2026-03-01T00:00:00Z");
        assert_eq!(
            fires(&trigger, "2026-03-06T00:00:00Z", 4),
            vec!["2026-03-06T12:00Z", "2026-03-07T12:00Z", "2026-03-08T11:00Z", "2026-03-09T11:00Z"]
        );
        // And back in November (DST ends 2026-11-01).
        assert_eq!(fires(&trigger, "2026-10-31T00:00:00Z", 2), vec!["2026-10-31T11:00Z", "2026-11-01T12:00Z"]);
    }

    #[test]
    fn a_time_that_dst_skips_or_repeats_fires_once() {
        // 02:30 does not exist in Los Angeles on 2026-03-08 and happens twice on 2026-11-01.
        let trigger = cron("30 2 * * *", "America/Los_Angeles", "2026-03-01T00:00:00Z");
        let spring = fires(&trigger, "2026-03-07T00:00:00Z", 3);
        assert_eq!(spring[0], "2026-03-07T10:30Z");
        assert_eq!(spring[2], "2026-03-09T09:30Z");
        assert!(spring[1].starts_with("2026-03-08"), "the skipped day still fires once: {spring:?}");
        let autumn = fires(&trigger, "2026-10-31T00:00:00Z", 3);
        assert_eq!(autumn[0], "2026-10-31T09:30Z");
        assert!(autumn[1].starts_with("2026-11-01"), "{autumn:?}");
        assert_eq!(autumn[2], "2026-11-02T10:30Z", "the repeated hour fires once: {autumn:?}");
    }

    #[test]
    fn recurrences_fire_at_their_hours_in_their_zone() {
        let daily = Trigger {
            rule: Rule::Recurrence {
                frequency: Frequency::Day,
                interval: 2,
                hours: vec![4, 16],
                minutes: vec![30],
                week_days: vec![],
                month_days: vec![],
            },
            time_zone: parse_time_zone("W. Europe Standard Time").unwrap(),
            // 2026-03-27 in Berlin; DST starts 2026-03-29.
            start: utc("2026-03-26T23:30:00Z"),
            end: Some(utc("2026-04-01T00:00:00Z")),
        };
        assert_eq!(
            fires(&daily, "2026-03-26T00:00:00Z", 4),
            vec!["2026-03-27T03:30Z", "2026-03-27T15:30Z", "2026-03-29T02:30Z", "2026-03-29T14:30Z"]
        );
        // The end is the end.
        assert_eq!(daily.next_after(utc("2026-03-31T03:00:00Z")).map(show).as_deref(), Some("2026-03-31T14:30Z"));
        assert_eq!(daily.next_after(utc("2026-03-31T15:00:00Z")), None);

        let minutes = Trigger {
            rule: Rule::Recurrence {
                frequency: Frequency::Minute,
                interval: 15,
                hours: vec![],
                minutes: vec![],
                week_days: vec![],
                month_days: vec![],
            },
            time_zone: Tz::UTC,
            start: utc("2026-01-01T10:05:00Z"),
            end: None,
        };
        assert_eq!(fires(&minutes, "2026-01-01T10:00:00Z", 2), vec!["2026-01-01T10:05Z", "2026-01-01T10:20Z"]);

        let weekly = Trigger {
            rule: Rule::Recurrence {
                frequency: Frequency::Week,
                interval: 1,
                hours: vec![9],
                minutes: vec![0],
                week_days: vec![0, 4],
                month_days: vec![],
            },
            time_zone: Tz::UTC,
            start: utc("2026-12-01T00:00:00Z"),
            end: None,
        };
        // Mondays and Fridays: 2026-12-04 is a Friday, 2026-12-07 a Monday.
        assert_eq!(fires(&weekly, "2026-12-01T00:00:00Z", 2), vec!["2026-12-04T09:00Z", "2026-12-07T09:00Z"]);
    }

    #[test]
    fn a_server_down_over_fire_times_submits_only_the_latest() {
        let trigger = cron("*/10 * * * *", "UTC", "2026-01-01T00:00:00Z");
        let missed = trigger.latest_missed(utc("2026-01-01T10:00:00Z"), utc("2026-01-01T10:47:00Z"));
        assert_eq!(missed.map(show).as_deref(), Some("2026-01-01T10:40Z"));
        assert_eq!(trigger.latest_missed(utc("2026-01-01T10:40:00Z"), utc("2026-01-01T10:47:00Z")), None);
    }

    #[test]
    fn times_are_read_in_the_triggers_zone_unless_they_say_otherwise() {
        let paris = parse_time_zone("Romance Standard Time").unwrap();
        assert_eq!(show(parse_time("2026-07-01T04:00:00", &paris).unwrap()), "2026-07-01T02:00Z");
        assert_eq!(show(parse_time("2026-12-01T04:00:00Z", &paris).unwrap()), "2026-12-01T04:00Z");
        assert_eq!(show(parse_time("2026-12-01", &paris).unwrap()), "2026-11-30T23:00Z");
        assert!(parse_time("tomorrow", &paris).unwrap_err().message.contains("ISO 8601"));
        assert_eq!(parse_week_day("Friday").unwrap(), 4);
        assert!(parse_week_day("funday").is_err());
    }

    #[test]
    fn mistakes_say_what_was_expected() {
        assert!(parse_cron("0 4 * *").unwrap_err().message.contains("expected 5"));
        assert!(parse_cron("61 4 * * *").is_err());
        assert!(parse_time_zone("Mars Standard Time").unwrap_err().message.contains("unknown time zone"));
        assert_eq!(parse_time_zone("Europe/Paris").unwrap(), Tz::Europe__Paris);
        assert!(Frequency::parse("fortnight").unwrap_err().message.contains("expected minute"));
    }
}
