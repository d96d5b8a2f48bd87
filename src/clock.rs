//! Time: stamps for records (history entries) and durations as people write them.

use std::time::Duration;

/// Seconds since the Unix epoch.
pub fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Current UTC time as RFC 3339, to the second (`2026-11-24T17:03:10Z`).
pub fn now_rfc3339() -> String {
    rfc3339(epoch_seconds() as i64)
}

/// Seconds since the Unix epoch as RFC 3339 in UTC, to the second.
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Durations as written in flags and gitops.yaml: `90s`, `5m`, `1h30m`, `500ms`; at most a week.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (use e.g. 90s, 5m, 1h30m; at most 168h)");
    const WEEK_MS: u64 = 7 * 24 * 3_600_000;
    let mut total_ms: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms_per_unit: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        total_ms = number
            .checked_mul(ms_per_unit)
            .and_then(|ms| total_ms.checked_add(ms))
            .filter(|ms| *ms <= WEEK_MS)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// The start of a window, as `--since` takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// A time back from the end of the window.
    Back(jiff::SignedDuration),
    At(jiff::Timestamp),
}

impl Since {
    /// The window's start for a window that ends at `until`.
    pub fn start(self, until: jiff::Timestamp) -> jiff::Timestamp {
        match self {
            Since::Back(back) => until
                .checked_sub(back)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            Since::At(at) => at,
        }
    }
}

/// `--since`: a time back from now (`30d`, `12w`, `36h`, `90m`) or a moment (`2026-01-01`,
/// midnight UTC; or RFC 3339) not in the future.
pub fn parse_since(text: &str) -> Result<Since, String> {
    let bad = || {
        format!(
            "{text:?} is not a time back from now or a date: use e.g. 30d, 12w, 36h, 2026-01-01 or 2026-01-01T12:00:00Z"
        )
    };
    let text = text.trim();
    let now = jiff::Timestamp::now();
    let relative = text
        .char_indices()
        .last()
        .filter(|(at, unit)| unit.is_ascii_alphabetic() && !text[..*at].contains(['-', ':', 'T']));
    if let Some((at, unit)) = relative {
        let number: i64 = text[..at].parse().map_err(|_| bad())?;
        let seconds_per_unit = match unit {
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let seconds = number
            .checked_mul(seconds_per_unit)
            .filter(|s| *s >= 0 && *s <= 100 * 366 * 86_400)
            .ok_or_else(bad)?;
        return Ok(Since::Back(jiff::SignedDuration::from_secs(seconds)));
    }
    let at = if let Ok(date) = text.parse::<jiff::civil::Date>() {
        date.to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
    } else {
        text.parse::<jiff::Timestamp>().map_err(|_| bad())?
    };
    if at > now {
        return Err(format!("{text:?} is in the future"));
    }
    Ok(Since::At(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_539_790), "2026-11-24T17:03:10Z");
        let text = now_rfc3339();
        assert_eq!(text.len(), "2026-11-24T17:03:10Z".len(), "{text}");
    }

    #[test]
    fn since() {
        let now = jiff::Timestamp::now();
        let back = |text: &str| (now - parse_since(text).unwrap().start(now)).get_seconds();
        assert!((back("30d") - 30 * 86_400).abs() < 5);
        assert!((back("2w") - 14 * 86_400).abs() < 5);
        assert!((back("36h") - 36 * 3_600).abs() < 5);
        let at = |text: &str| parse_since(text).unwrap().start(now).to_string();
        assert_eq!(at("2026-01-01"), "2026-01-01T00:00:00Z");
        assert_eq!(at("2026-01-01T12:30:00Z"), "2026-01-01T12:30:00Z");
        for bad in [
            "",
            "30",
            "d",
            "30x",
            "-3d",
            "yesterday",
            "2026-13-01",
            "2999-01-01",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "1.5m",
            "-1s",
            "99999999999999999h",
            "169h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
