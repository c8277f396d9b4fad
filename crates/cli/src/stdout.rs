//! Standard output that a closed pipe or a full disk cannot turn into a panic.
//!
//! `println!` panics when stdout is gone (`certplan apply --json | head -n 1`), which in the
//! middle of an apply would abandon work in flight. Everything the CLI prints to stdout goes
//! through [`out!`] and [`outln!`] instead: a closed pipe stops further output and tells the
//! running apply to start no new work (what is in flight finishes and is recorded), and the
//! command then ends quietly, as Unix tools do; any other write error ends it with an error.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use certplan_engine::CancellationToken;

/// Set once a write found the reader gone.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error other than a closed pipe.
static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);
/// Cancelled when stdout fails, so that a running apply starts no new work.
static CANCEL: OnceLock<CancellationToken> = OnceLock::new();

/// Prints to stdout, never panicking.
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*), false) };
}

/// Prints a line to stdout, never panicking.
macro_rules! outln {
    () => { $crate::stdout::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*), true) };
}

pub(crate) use {out, outln};

/// Writes `args` (and a newline when `line`) unless stdout has already failed.
pub fn write(args: fmt::Arguments<'_>, line: bool) {
    if CLOSED.load(Ordering::SeqCst) || failure().is_some() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| if line { stdout.write_all(b"\n") } else { Ok(()) })
        .and_then(|()| stdout.flush());
    let Err(error) = written else { return };
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        CLOSED.store(true, Ordering::SeqCst);
    } else {
        *FAILED.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
    if let Some(cancel) = CANCEL.get() {
        cancel.cancel();
    }
}

/// Cancels `cancel` when stdout fails — at once if it already has.
pub fn cancel_on_failure(cancel: &CancellationToken) {
    let _ = CANCEL.set(cancel.clone());
    if closed() || failure().is_some() {
        cancel.cancel();
    }
}

/// Returns true when the reader of stdout went away.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// Returns the write error that ended stdout, other than a closed pipe.
pub fn failure() -> Option<String> {
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(ToString::to_string)
}
