//! Checks shared by the commands that turn raw flag values into settings.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest duration any flag accepts: a year.
const MAX_DURATION_S: f64 = 365.0 * 24.0 * 3600.0;

/// Parses `500ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("must be a duration such as 500ms, 30s, 2m or 1h (got {text:?})"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "must be a duration such as 500ms, 30s, 2m or 1h (got {text:?})"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("must be a positive duration (got {text:?})"));
    }
    // Deadlines are added to clocks: keep them far from overflowing.
    if secs > MAX_DURATION_S {
        return Err(format!("must be at most a year (got {text:?})"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The duration flag `field`, or a usage error naming it.
pub fn duration(field: &str, text: &str) -> Result<Duration> {
    parse_duration(text).map_err(|e| Error::invalid(field, e))
}

/// A duration as the flags take it: `500ms`, `30s`, `1.5s`, `2m`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// `--request-timeout` as kubectl reads it: a duration, where 0 means no deadline.
pub fn request_timeout(text: &str) -> Result<Option<Duration>> {
    let limit = duration("request-timeout", text)?;
    Ok((!limit.is_zero()).then_some(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_duration("8761h").is_err());
        assert!(parse_duration("8760h").is_ok());
        assert_eq!(show_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
        assert_eq!(request_timeout("0").unwrap(), None);
        assert_eq!(request_timeout("5s").unwrap(), Some(Duration::from_secs(5)));
        assert!(
            duration("warmup", "x")
                .unwrap_err()
                .to_string()
                .contains("warmup")
        );
    }
}
