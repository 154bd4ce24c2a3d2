//! What processes cost: this process's CPU time (getrusage), another process's RSS and CPU time
//! (/proc/PID/status and /proc/PID/stat), and the open-file limit the bench raises at start.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};

/// CPU time this process has used so far (all threads, user + system).
pub fn self_cpu() -> Duration {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => timeval(usage.user_time()) + timeval(usage.system_time()),
        Err(_) => Duration::ZERO,
    }
}

fn timeval(tv: nix::sys::time::TimeVal) -> Duration {
    let micros = tv.tv_sec().max(0) as u64 * 1_000_000 + tv.tv_usec().max(0) as u64;
    Duration::from_micros(micros)
}

/// One reading of a process's memory and CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {reason}")]
pub struct ProcError {
    pub path: PathBuf,
    pub reason: String,
}

/// Samples `pid` if given; a failure (the process ended mid-run) becomes a note in `warnings`
/// instead of costing the whole report.
pub fn sample_noted(pid: Option<u32>, warnings: &mut Vec<String>) -> Option<ProcSample> {
    match sample(pid?) {
        Ok(s) => Some(s),
        Err(e) => {
            warnings.push(format!("server figures incomplete: {e}"));
            None
        }
    }
}

/// Reads `/proc/PID/status` and `/proc/PID/stat`.
pub fn sample(pid: u32) -> Result<ProcSample, ProcError> {
    let status_path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&status_path).map_err(|e| ProcError {
        path: status_path.clone(),
        reason: e.to_string(),
    })?;
    let rss_kib = parse_rss_kib(&status).ok_or_else(|| ProcError {
        path: status_path,
        reason: "no VmRSS line (is it a zombie?)".into(),
    })?;
    let stat_path = PathBuf::from(format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(&stat_path).map_err(|e| ProcError {
        path: stat_path.clone(),
        reason: e.to_string(),
    })?;
    let ticks = parse_cpu_ticks(&stat).ok_or_else(|| ProcError {
        path: stat_path,
        reason: "unexpected format".into(),
    })?;
    Ok(ProcSample {
        rss_kib,
        cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_sec() as f64),
    })
}

fn clock_ticks_per_sec() -> u64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 100,
    }
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime (fields 14 and 15). The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    // after_comm starts at field 3 (state); utime is field 14.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The 1-minute load average (`/proc/loadavg`): how much else wants the CPU.
pub fn load_average() -> Option<f64> {
    parse_load_average(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

fn parse_load_average(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Raises the soft open-file limit to the hard limit; returns the soft limit now in force.
pub fn raise_open_file_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 3 0 12345 100000000 2500 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_is_read_from_status() {
        let status = "Name:\tclicom\nVmPeak:\t  9000 kB\nVmRSS:\t  4321 kB\nThreads:\t3\n";
        assert_eq!(parse_rss_kib(status), Some(4321));
        assert_eq!(parse_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn load_average_is_the_first_field() {
        assert_eq!(
            parse_load_average("7.09 6.49 5.41 3/512 12345\n"),
            Some(7.09)
        );
        assert_eq!(parse_load_average(""), None);
        assert!(load_average().is_some());
    }

    #[test]
    fn this_process_can_be_sampled() {
        let me = sample(std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
        assert!(sample(u32::MAX).is_err());
    }

    #[test]
    fn open_file_limit_is_at_least_the_default() {
        assert!(raise_open_file_limit() >= 256);
    }
}
