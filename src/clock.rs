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
