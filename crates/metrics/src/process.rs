//! The standard `process_*` metrics, read from `/proc/self` at each scrape (Linux; elsewhere none).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of `/proc/self/stat`'s times: 100 on every Linux this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug)]
pub(crate) struct Process;

impl Process {
    pub(crate) fn new() -> Self {
        Self
    }
}

/// The fields of `/proc/self/stat` from the third (`state`) on: the command name before them may
/// hold spaces, so they are counted after its closing parenthesis.
fn stat_fields() -> Option<Vec<String>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split(' ').map(str::to_owned).collect())
}

/// The `n`th field of `/proc/self/stat` (1-based, as `man proc` numbers them), as a number.
fn stat_field(fields: &[String], n: usize) -> Option<f64> {
    fields.get(n.checked_sub(3)?)?.trim().parse().ok()
}

/// User plus system CPU seconds (fields 14 and 15).
fn cpu_seconds() -> Option<f64> {
    let fields = stat_fields()?;
    Some((stat_field(&fields, 14)? + stat_field(&fields, 15)?) / TICKS_PER_SECOND)
}

/// When the process started, in seconds since the epoch: the boot time (`btime` of `/proc/stat`)
/// plus the process's start in ticks after boot (field 22).
fn start_time_seconds() -> Option<f64> {
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(boot + stat_field(&stat_fields()?, 22)? / TICKS_PER_SECOND)
}

/// Resident memory in bytes, from `/proc/self/status`.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: i64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn open_descriptors() -> Option<i64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(seconds) = cpu_seconds() {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size, in bytes",
                resident_bytes(),
            ),
            (
                "process_open_fds",
                "Open file descriptors (sockets included)",
                open_descriptors(),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    gauge.metric_type(),
                )?)?;
            }
        }
        if let Some(start_time) = start_time_seconds() {
            let start = ConstGauge::new(start_time);
            start.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "When the process started, in seconds since the epoch",
                None,
                start.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_is_read_from_proc() {
        assert!(resident_bytes().is_some_and(|bytes| bytes > 0));
        assert!(open_descriptors().is_some_and(|fds| fds > 0));
        assert!(cpu_seconds().is_some_and(|seconds| seconds >= 0.0));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        // This test process started before now, and not days ago.
        let started = start_time_seconds().expect("a start time");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started} vs {now}"
        );
    }
}
