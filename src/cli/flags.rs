//! The values flags take, checked where they are parsed: rates and bounded durations.

use crate::duration::parse_duration;

/// Calls per second: `5` or `5/s`, between 0.01 and 10,000.
pub(super) fn parse_per_second(s: &str) -> Result<f64, String> {
    let n = s.trim().trim_end_matches("/s");
    match n.parse::<f64>() {
        Ok(r) if (0.01..=10_000.0).contains(&r) => Ok(r),
        Ok(r) if r.is_finite() => Err(format!("`{s}`: a rate must be between 0.01/s and 10000/s")),
        _ => Err(format!("`{s}` is not a rate like 5/s")),
    }
}

/// A duration between `min` and `max`: zero or absurd values are refused (a zero timeout
/// makes every paid call's outcome unknown).
pub(super) fn bounded_duration(
    s: &str,
    min: std::time::Duration,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d < min || d > max {
        return Err(format!(
            "`{s}` is out of bounds: give between {} and {}",
            humane(min),
            humane(max)
        ));
    }
    Ok(d)
}

/// A duration as the flags take it (`5m`, `2s`, `100ms`).
pub(super) fn humane(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// `--connect-timeout`: 100ms to 5m.
pub(super) fn parse_connect_timeout(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::from_millis(100), Duration::from_secs(300))
}

/// `--request-timeout`: 1s to 30m.
pub(super) fn parse_request_timeout(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::from_secs(1), Duration::from_secs(1800))
}

/// `--reconcile-delay`: 0 to 10m.
pub(super) fn parse_reconcile_delay(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::ZERO, Duration::from_secs(600))
}
