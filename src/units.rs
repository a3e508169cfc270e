//! Durations, sizes and rates as operators write them.

use std::time::Duration;

/// A frequency: humantime text (`30m`, `1h 30m`, `5d`) or a bare number of minutes.
pub fn parse_frequency(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let minutes: u64 = text.parse().map_err(|_| format!("`{text}` is too large"))?;
        return Ok(Duration::from_secs(minutes.saturating_mul(60)));
    }
    parse_duration(text)
}

/// A duration in humantime text (`10s`, `4m`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `30s`, `10m`, `1h 30m`, `5d`")
    })
}

/// Prints a duration the way operators write it (`1h 30m`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// A size: bytes, or a number with `B`, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let bad =
        || format!("`{text}` is not a size; write e.g. `16MiB`, `512KiB` or a number of bytes");
    let number: u64 = number.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    number.checked_mul(factor).ok_or_else(bad)
}

/// A rate: `N/s`, `N/m` or `N/h`, as the time between two sends.
pub fn parse_rate(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a rate; write e.g. `1/s`, `30/m`, `100/h`");
    let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(bad());
    }
    Ok(per / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies() {
        assert_eq!(parse_frequency("30"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_frequency("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_frequency("5d"), Ok(Duration::from_secs(432_000)));
        assert!(
            parse_frequency("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h 30m");
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("16 parsecs").is_err());
        assert_eq!(parse_rate("1/s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_rate("30/m"), Ok(Duration::from_secs(2)));
        assert!(parse_rate("0/s").is_err());
    }
}
