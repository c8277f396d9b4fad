//! The `on_change` hook: `sh -c COMMAND`, run once an export's files are in place, as
//! certbot runs a deploy hook. Owns the hook's environment (the variable names live in
//! [`hook_env`] only), its output (streamed line by line, bounded) and its lifetime (bounded
//! by a timeout, after which its whole process group is killed).
//!
//! It decides nothing about *when* a hook runs or what a failure means for the apply; it
//! reports what happened.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// The longest line passed on; the rest of a longer line is cut.
pub const MAX_HOOK_LINE: usize = 8 * 1024;
/// The most output passed on, both streams together; the rest is read and dropped.
pub const MAX_HOOK_OUTPUT: usize = 1024 * 1024;
/// How long a timed-out hook has between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// A hook to run.
#[derive(Debug, Clone)]
pub struct Hook<'a> {
    /// The `on_change` command, given to `sh -c`.
    pub command: &'a str,
    /// The directory it runs in.
    pub dir: &'a Path,
    pub timeout: Duration,
    /// Variables added to certplan's own environment, usually [`hook_env`]'s.
    pub env: Vec<(String, String)>,
}

/// What a hook is told about the export it follows.
#[derive(Debug, Clone, Copy)]
pub struct HookEnv<'a> {
    /// The resource's address, `tencentcloud_ssl_free_certificate.www`.
    pub address: &'a str,
    pub domain: &'a str,
    pub certificate_id: &'a str,
    /// The certificate the new one replaces, if any.
    pub old_certificate_id: Option<&'a str>,
    /// The export's directory.
    pub export_path: &'a Path,
    pub not_after: DateTime<Utc>,
}

/// Builds the variables a hook sees: certplan's own, and certbot's `RENEWED_LINEAGE` and
/// `RENEWED_DOMAINS` so that an existing deploy hook works unchanged.
pub fn hook_env(vars: &HookEnv<'_>) -> Vec<(String, String)> {
    let path = vars.export_path.to_string_lossy().into_owned();
    [
        ("CERTPLAN_ADDRESS", vars.address.to_owned()),
        ("CERTPLAN_DOMAIN", vars.domain.to_owned()),
        ("CERTPLAN_CERTIFICATE_ID", vars.certificate_id.to_owned()),
        ("CERTPLAN_OLD_CERTIFICATE_ID", vars.old_certificate_id.unwrap_or_default().to_owned()),
        ("CERTPLAN_EXPORT_PATH", path.clone()),
        ("CERTPLAN_NOT_AFTER", vars.not_after.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ("RENEWED_LINEAGE", path),
        ("RENEWED_DOMAINS", vars.domain.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// Which of the hook's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStream {
    Stdout,
    Stderr,
}

/// How a hook that did not succeed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for HookStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookStatus::Code(code) => write!(f, "exited with status {code}"),
            HookStatus::Signal(signal) => write!(f, "was killed by signal {signal}"),
        }
    }
}

/// Why a hook failed. Read as the end of a sentence: "on_change hook {error}".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    #[error("could not be started: {source}")]
    NotStarted { source: io::Error },
    #[error("{status}")]
    Failed { status: HookStatus },
    #[error("timed out after {} and was killed", humantime::format_duration(*after))]
    TimedOut { after: Duration },
    #[error("could not be waited for: {source}")]
    Wait { source: io::Error },
}

/// Runs `hook.command` with `sh -c` in `hook.dir`, stdin closed, in a process group of its
/// own, passing each line of its stdout and stderr to `on_line` as it comes. After
/// `hook.timeout` the group gets SIGTERM, and SIGKILL a couple of seconds later. Returns once
/// the command exited and its output was read to the end.
pub async fn run_hook(
    hook: &Hook<'_>,
    on_line: &(dyn Fn(HookStream, &str) + Sync),
) -> Result<(), HookError> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(hook.command)
        .current_dir(hook.dir)
        .envs(hook.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so that a timeout kills what the shell started too (`sleep &`,
        // a reload script's children), not only the shell.
        .process_group(0);
    let mut child = command.spawn().map_err(|source| HookError::NotStarted { source })?;
    let mut group = Group(child.id().and_then(|id| Pid::from_raw(i32::try_from(id).ok()?)));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());

    let budget = AtomicUsize::new(0);
    let run = async {
        let (_, _, status) = tokio::join!(
            pump(stdout, HookStream::Stdout, on_line, &budget),
            pump(stderr, HookStream::Stderr, on_line, &budget),
            child.wait(),
        );
        status
    };
    let mut run = std::pin::pin!(run);
    let status = match tokio::time::timeout(hook.timeout, &mut run).await {
        Ok(status) => status,
        Err(_) => {
            group.signal(Signal::TERM);
            if tokio::time::timeout(TERM_GRACE, &mut run).await.is_err() {
                group.signal(Signal::KILL);
                // The pipes close once the group is gone; a process that left the group
                // (setsid) and kept them open is not waited for.
                let _ = tokio::time::timeout(TERM_GRACE, &mut run).await;
            }
            group.0 = None;
            return Err(HookError::TimedOut { after: hook.timeout });
        }
    };
    // What the hook left running in the background with its output closed is its business.
    group.0 = None;
    let status = status.map_err(|source| HookError::Wait { source })?;
    if status.success() {
        return Ok(());
    }
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => HookStatus::Code(code),
        (None, Some(signal)) => HookStatus::Signal(signal),
        (None, None) => HookStatus::Code(status.into_raw()),
    };
    Err(HookError::Failed { status })
}

/// The hook's process group while it runs. Dropped before the hook ended — the caller gave
/// up on the future — it kills the group rather than leave a reload running unwatched.
struct Group(Option<Pid>);

impl Group {
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.0 {
            // ESRCH: the group is already gone, which is what we want.
            let _ = kill_process_group(pid, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}

/// Reads `reader` to the end, passing on each line within the shared `budget`.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: HookStream,
    on_line: &(dyn Fn(HookStream, &str) + Sync),
    budget: &AtomicUsize,
) {
    let Some(mut reader) = reader else {
        return;
    };
    let mut lines = Lines::default();
    let mut buf = vec![0u8; 8192];
    loop {
        // A read error ends the stream like EOF: the exit status still tells the outcome.
        let n = reader.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        lines.feed(&buf[..n], &mut |line| emit(line, stream, on_line, budget));
    }
    lines.finish(&mut |line| emit(line, stream, on_line, budget));
}

/// Passes one line on, unless the budget is spent; the line that spends it is replaced by a
/// note saying so.
fn emit(
    line: &str,
    stream: HookStream,
    on_line: &(dyn Fn(HookStream, &str) + Sync),
    budget: &AtomicUsize,
) {
    let before = budget.fetch_add(line.len() + 1, Ordering::Relaxed);
    if before >= MAX_HOOK_OUTPUT {
        return;
    }
    if before + line.len() + 1 > MAX_HOOK_OUTPUT {
        on_line(stream, "[certplan: the rest of the hook's output is not shown (over 1 MiB)]");
        return;
    }
    on_line(stream, line);
}

/// Splits bytes into lines no longer than [`MAX_HOOK_LINE`].
#[derive(Debug, Default)]
struct Lines {
    line: Vec<u8>,
    cut: bool,
}

impl Lines {
    fn feed(&mut self, mut bytes: &[u8], out: &mut dyn FnMut(&str)) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            self.push(&bytes[..end]);
            self.flush(out);
            bytes = &bytes[end + 1..];
        }
        self.push(bytes);
    }

    fn finish(&mut self, out: &mut dyn FnMut(&str)) {
        if !self.line.is_empty() || self.cut {
            self.flush(out);
        }
    }

    fn push(&mut self, part: &[u8]) {
        let room = MAX_HOOK_LINE - self.line.len();
        if part.len() > room {
            self.line.extend_from_slice(&part[..room]);
            self.cut = true;
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn flush(&mut self, out: &mut dyn FnMut(&str)) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if self.cut {
            out(&format!("{text} [certplan: line cut at 8 KiB]"));
        } else {
            out(text);
        }
        self.line.clear();
        self.cut = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for chunk in chunks {
            lines.feed(chunk, &mut |l| out.push(l.to_owned()));
        }
        lines.finish(&mut |l| out.push(l.to_owned()));
        out
    }

    #[test]
    fn lines_are_joined_across_reads_and_cut_when_too_long() {
        assert_eq!(split(&[b"a\r\nb", b"c\n", b"tail"]), ["a", "bc", "tail"]);
        let long = vec![b'x'; MAX_HOOK_LINE + 100];
        let out = split(&[&long, b"\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with(&"x".repeat(MAX_HOOK_LINE)));
        assert!(out[0].ends_with("[certplan: line cut at 8 KiB]"));
        assert_eq!(out[1], "next");
    }

    #[test]
    fn output_past_the_budget_is_replaced_by_one_note() {
        let budget = AtomicUsize::new(MAX_HOOK_OUTPUT - 10);
        let seen = std::sync::Mutex::new(Vec::new());
        let on_line = |_: HookStream, l: &str| {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(l.to_owned())
        };
        emit("short", HookStream::Stdout, &on_line, &budget);
        emit("this one spends it", HookStream::Stderr, &on_line, &budget);
        emit("dropped", HookStream::Stdout, &on_line, &budget);
        let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], "short");
        assert!(seen[1].contains("not shown"));
    }
}
