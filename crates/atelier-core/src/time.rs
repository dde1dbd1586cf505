//! Human-readable times and durations, for the CLI and the studio.

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_utc(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds: `2026-11-26T15:04:05.123Z`.
pub fn format_rfc3339(millis: i64) -> String {
    format!("{}.{:03}Z", format_utc(millis).replacen(' ', "T", 1), millis.rem_euclid(1000))
}

/// Formats the time between two epoch-millisecond instants: `1.5s`, `2m05s`, `1h02m`.
pub fn format_duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(start), Some(end)) if end >= start => {
            let seconds = (end - start) / 1000;
            if seconds >= 3600 {
                format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
            } else if seconds >= 60 {
                format!("{}m{:02}s", seconds / 60, seconds % 60)
            } else {
                format!("{:.1}s", (end - start) as f64 / 1000.0)
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_764_115_200_000), "2025-11-26 00:00:00");
        assert_eq!(format_utc(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Some(0), Some(1500)), "1.5s");
        assert_eq!(format_duration(Some(0), Some(125_000)), "2m05s");
        assert_eq!(format_duration(Some(0), Some(3_725_000)), "1h02m");
        assert_eq!(format_duration(Some(0), None), "");
    }
}
