//! Interrupts: SIGINT and SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops starting new work on the first SIGINT/SIGTERM (work in flight finishes and is
/// recorded); exits at once on the second — the intent journal keeps that safe.
pub fn watch() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        signal().await;
        flag.store(true, Ordering::SeqCst);
        eprintln!(
            "\nInterrupt received: no new changes will start; changes in flight finish and are recorded. Interrupt again to exit at once."
        );
        signal().await;
        eprintln!("Second interrupt: exiting now. The next run checks what was in flight.");
        std::process::exit(130);
    });
    stop
}

/// Completes on the next SIGINT or SIGTERM.
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
