//! The platform's time formats, once: what a request's `Timestamp` carries, what device records
//! show, and what QueryDeviceBySQL compares. Each takes epoch milliseconds (UTC); an instant
//! outside what the calendar can show formats as an empty string.

fn format(ms: i64, pattern: &str) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime(pattern).to_string())
        .unwrap_or_default()
}

/// A request's `Timestamp`: ISO 8601 UTC to the second, `2026-12-02T12:00:00Z`.
#[must_use]
pub fn request_timestamp(ms: i64) -> String {
    format(ms, "%Y-%m-%dT%H:%M:%SZ")
}

/// The current time as a request's `Timestamp`.
#[must_use]
pub fn request_timestamp_now() -> String {
    request_timestamp(jiff::Timestamp::now().as_millisecond())
}

/// A device record's `GmtCreate`-style field: `Wed, 02 Dec 2026 12:00:00 GMT`.
#[must_use]
pub fn gmt(ms: i64) -> String {
    format(ms, "%a, %d %b %Y %H:%M:%S GMT")
}

/// A device record's `UtcCreate`-style field: `2026-12-02T12:00:00.000Z`.
#[must_use]
pub fn utc(ms: i64) -> String {
    format(ms, "%Y-%m-%dT%H:%M:%S%.3fZ")
}

/// A QueryDeviceBySQL date literal, `yyyy-MM-dd HH:mm:ss.SSS` (UTC).
#[must_use]
pub fn sql_time(ms: i64) -> String {
    format(ms, "%Y-%m-%d %H:%M:%S%.3f")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_at_one_instant() {
        let ms = 1_764_676_800_123; // 2025-12-02T12:00:00.123Z
        assert_eq!(request_timestamp(ms), "2025-12-02T12:00:00Z");
        assert_eq!(gmt(ms), "Tue, 02 Dec 2025 12:00:00 GMT");
        assert_eq!(utc(ms), "2025-12-02T12:00:00.123Z");
        assert_eq!(sql_time(ms), "2025-12-02 12:00:00.123");
        assert_eq!(utc(i64::MAX), "");
    }
}
