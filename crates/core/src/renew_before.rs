//! `renew_before` durations: `30d`, `720h`.

use std::fmt;

use chrono::Duration;

/// How long before expiry a certificate is renewed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct RenewBefore {
    hours: i64,
}

impl RenewBefore {
    pub const DEFAULT: RenewBefore = RenewBefore { hours: 30 * 24 };
    /// The API links a renewal (`OldCertificateId`) only within 30 days of expiry.
    pub const MAX: RenewBefore = RenewBefore { hours: 30 * 24 };

    pub fn from_days(days: i64) -> Self {
        RenewBefore { hours: days * 24 }
    }

    /// The whole hours of `duration`, at least one.
    pub fn from_duration(duration: Duration) -> Self {
        RenewBefore { hours: duration.num_hours().max(1) }
    }

    pub fn duration(self) -> Duration {
        Duration::hours(self.hours)
    }

    /// Parses `<n>d` or `<n>h`, with n ≥ 1.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, unit_hours) = if let Some(n) = text.strip_suffix('d') {
            (n, 24)
        } else if let Some(n) = text.strip_suffix('h') {
            (n, 1)
        } else {
            return Err(format!("{text:?} is not a duration"));
        };
        match number.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(RenewBefore { hours: n * unit_hours }),
            Ok(_) => Err(format!("{text:?} must be at least 1h")),
            Err(_) => Err(format!("{text:?} is not a duration")),
        }
    }
}

impl fmt::Display for RenewBefore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hours % 24 == 0 {
            write!(f, "{}d", self.hours / 24)
        } else {
            write!(f, "{}h", self.hours)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_days_and_hours() {
        assert_eq!(RenewBefore::parse("30d"), Ok(RenewBefore::DEFAULT));
        assert_eq!(RenewBefore::parse("720h"), Ok(RenewBefore::DEFAULT));
        assert_eq!(RenewBefore::parse("36h").map(|r| r.to_string()).as_deref(), Ok("36h"));
        assert_eq!(RenewBefore::parse("14d").map(|r| r.to_string()).as_deref(), Ok("14d"));
        for bad in ["", "30", "d", "0d", "-1d", "1.5d", "30 days", "2w"] {
            assert!(RenewBefore::parse(bad).is_err(), "{bad}");
        }
    }
}
