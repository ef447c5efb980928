//! Checks of command arguments that are not settings (`bot` and `demo` options): a bad one stops the
//! start with a line naming its flag.

use anyhow::{Result, bail};
use std::ops::RangeInclusive;
use std::time::Duration;

/// Seconds given to `--NAME`, within `range`.
pub fn seconds(name: &str, value: f64, range: RangeInclusive<f64>) -> Result<Duration> {
    if !range.contains(&value) {
        bail!(
            "--{name} must be between {} and {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(Duration::from_secs_f64(value))
}

/// A per-minute rate: 0 (none), or from 0.01 (one in 100 minutes) up to 100,000.
pub fn per_minute(name: &str, value: f64) -> Result<f64> {
    if value == 0.0 || (0.01..=100_000.0).contains(&value) {
        Ok(value)
    } else {
        bail!("--{name} must be 0 or between 0.01 and 100000, not {value}")
    }
}

/// A share, 0 to 1.
pub fn share(name: &str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        bail!("--{name} must be between 0 and 1, not {value}")
    }
}
