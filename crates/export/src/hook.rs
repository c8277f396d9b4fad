//! The `on_change` hook: `sh -c COMMAND`, run once an export's files are in place, as
//! certbot runs a deploy hook. Owns the hook's environment (the variable names live in
//! [`hook_env`] only; the secrets kept out of it in [`SECRET_ENV`]), its output (streamed
//! line by line, bounded) and its lifetime (bounded by a timeout, after which its whole
//! process group is killed).
//!
//! The hook is over when its shell exits. Its output is then read for [`OUTPUT_GRACE`] more,
//! to collect what is still in the pipes, and no longer: a daemon the hook started (an init
//! script's `nginx &`) may keep the pipes open for as long as it runs. Such a daemon is left
//! alone — nothing is signalled once the shell has exited on its own — but its writes to the
//! pipes fail once certplan stops reading them, so a daemon should be started with its
//! output redirected.
//!
//! It decides nothing about *when* a hook runs or what a failure means for the apply; it
//! reports what happened.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

/// The longest line passed on; the rest of a longer line is cut.
pub const MAX_HOOK_LINE: usize = 8 * 1024;
/// The most output passed on, both streams together; the rest is read and dropped.
pub const MAX_HOOK_OUTPUT: usize = 1024 * 1024;
/// How long a timed-out hook has between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long the hook's output is still read once its shell exited, for what is left in the
/// pipes; whatever the hook started in the background may hold them open much longer.
pub const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// The variables in certplan's environment that carry secrets: the Tencent Cloud
/// credentials and the PostgreSQL state backend's password (`PGPASSWORD`, and
/// `PG_CONN_STR`, a connection string that may hold one). A hook inherits certplan's
/// environment, and one that logs it (`env`, `set -x` in a script that expands them) would
/// print them into CI logs; pass this as [`Hook::env_remove`] so the hook never sees them.
pub const SECRET_ENV: &[&str] = &[
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SECURITY_TOKEN",
    "PGPASSWORD",
    "PG_CONN_STR",
];

/// A hook to run.
#[derive(Debug, Clone)]
pub struct Hook<'a> {
    /// The `on_change` command, given to `sh -c`.
    pub command: &'a str,
    /// The directory it runs in.
    pub dir: &'a Path,
    /// How long the shell may run before its process group is killed.
    pub timeout: Duration,
    /// Variables removed from certplan's own environment before [`env`](Self::env) is added,
    /// usually [`SECRET_ENV`].
    pub env_remove: &'a [&'a str],
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
/// own, with certplan's environment less `hook.env_remove` plus `hook.env`, passing each line
/// of its stdout and stderr to `on_line` as it comes.
///
/// Returns once the shell exited and its output was read to the end, or for
/// [`OUTPUT_GRACE`] if something it left running keeps the pipes open; what it left running
/// is not signalled. If the shell is still running after `hook.timeout`, its group gets
/// SIGTERM, and SIGKILL a couple of seconds later.
pub async fn run_hook(
    hook: &Hook<'_>,
    on_line: &(dyn Fn(HookStream, &str) + Sync),
) -> Result<(), HookError> {
    let mut command = Command::new("sh");
    command.arg("-c").arg(hook.command).current_dir(hook.dir);
    for name in hook.env_remove {
        command.env_remove(name);
    }
    command
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
    // Outside the pumps, so that a line still unfinished when reading stops is passed on.
    let (mut out_lines, mut err_lines) = (Lines::default(), Lines::default());
    let outcome = {
        let pumps = std::pin::pin!(async {
            tokio::join!(
                pump(stdout, HookStream::Stdout, &mut out_lines, on_line, &budget),
                pump(stderr, HookStream::Stderr, &mut err_lines, on_line, &budget),
            );
        });
        let mut running = Running { child, pumps, pumped: false };
        match tokio::time::timeout(hook.timeout, running.exit()).await {
            Ok(status) => {
                // The shell ended on its own: from here on nothing is signalled, and what it
                // left running in the background is its business.
                group.0 = None;
                let _ = tokio::time::timeout(OUTPUT_GRACE, running.drain()).await;
                Ok(status)
            }
            Err(_) => {
                group.signal(Signal::TERM);
                if tokio::time::timeout(TERM_GRACE, running.finish()).await.is_err() {
                    group.signal(Signal::KILL);
                    // The pipes close once the group is gone; a process that left the group
                    // (setsid) and kept them open is not waited for.
                    let _ = tokio::time::timeout(TERM_GRACE, running.finish()).await;
                }
                group.0 = None;
                Err(HookError::TimedOut { after: hook.timeout })
            }
        }
    };
    out_lines.finish(&mut |line| emit(line, HookStream::Stdout, on_line, &budget));
    err_lines.finish(&mut |line| emit(line, HookStream::Stderr, on_line, &budget));

    let status = outcome?.map_err(|source| HookError::Wait { source })?;
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

/// The hook's shell, and the reading of its output, which may outlast it.
struct Running<'p, P> {
    child: Child,
    pumps: Pin<&'p mut P>,
    /// Whether `pumps` is done: both pipes reached EOF.
    pumped: bool,
}

impl<P: Future<Output = ()>> Running<'_, P> {
    /// Waits for the shell to exit, reading its output meanwhile. Cancel-safe.
    async fn exit(&mut self) -> io::Result<ExitStatus> {
        loop {
            tokio::select! {
                // Cancel-safe, and once exited it returns the same status again.
                status = self.child.wait() => return status,
                () = self.pumps.as_mut(), if !self.pumped => self.pumped = true,
            }
        }
    }

    /// Reads the output until both pipes reach EOF. Cancel-safe.
    async fn drain(&mut self) {
        if !self.pumped {
            self.pumps.as_mut().await;
            self.pumped = true;
        }
    }

    /// Waits for the shell to exit and its output to end.
    async fn finish(&mut self) {
        let _ = self.exit().await;
        self.drain().await;
    }
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

/// Reads `reader` to the end, passing on each line within the shared `budget`. Dropped
/// before the end, it leaves the unfinished line in `lines`.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: HookStream,
    lines: &mut Lines,
    on_line: &(dyn Fn(HookStream, &str) + Sync),
    budget: &AtomicUsize,
) {
    let Some(mut reader) = reader else {
        return;
    };
    let mut buf = vec![0u8; 8192];
    loop {
        // A read error ends the stream like EOF: the exit status still tells the outcome.
        let n = reader.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        lines.feed(&buf[..n], &mut |line| emit(line, stream, on_line, budget));
    }
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
