//! Interrupts: SIGINT and SIGTERM.

use certplan_engine::CancellationToken;

/// Cancels the returned token on the first SIGINT/SIGTERM — no new work starts; work in flight
/// finishes and is recorded — and exits at once on the second: the intent journal keeps that
/// safe.
pub fn watch() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        signal().await;
        token.cancel();
        eprintln!(
            "\nInterrupt received: no new changes will start; changes in flight finish and are recorded. Interrupt again to exit at once."
        );
        signal().await;
        eprintln!("Second interrupt: exiting now. The next run checks what was in flight.");
        std::process::exit(130);
    });
    cancel
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
