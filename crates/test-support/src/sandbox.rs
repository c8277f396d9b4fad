//! A sandbox served on loopback, in the test's own runtime, and clients for it: for its first
//! account, or for any account it serves.

use std::time::Duration;

use certplan_provider::{Client, ClientOptions, Credentials, Endpoint, Service};
use certplan_sandbox::{Sandbox, SandboxAccount, SandboxOptions};

/// A sandbox served on a free loopback port until dropped.
#[derive(Debug)]
pub struct LocalSandbox {
    pub sandbox: Sandbox,
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl LocalSandbox {
    /// Serves a sandbox with `options` on loopback, in the current runtime.
    pub async fn start(options: SandboxOptions) -> Self {
        let sandbox = Sandbox::new(options).expect("the sandbox starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sandbox.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        LocalSandbox { sandbox, url, _stop: stop }
    }

    /// Returns the sandbox's endpoint.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.url).expect("a loopback URL")
    }

    /// Returns the `n`th account the sandbox serves (the first is 0).
    ///
    /// # Panics
    ///
    /// When the sandbox serves no `n`th account.
    pub fn account(&self, n: usize) -> &SandboxAccount {
        let accounts = &self.sandbox.options().accounts;
        accounts
            .get(n)
            .unwrap_or_else(|| panic!("the sandbox serves {} account(s)", accounts.len()))
    }

    /// Returns a client with the first account's credentials and [`test_client_options`].
    pub fn client(&self) -> Client {
        self.client_with(test_client_options())
    }

    /// Returns a client with the first account's credentials and `options`.
    pub fn client_with(&self, options: ClientOptions) -> Client {
        Client::with_options(self.endpoint(), credentials(self.account(0)), options)
    }

    /// Returns a client for `service` (DNSPod's, say) with the first account's credentials and
    /// [`test_client_options`].
    pub fn client_for(&self, service: Service) -> Client {
        let credentials = credentials(self.account(0));
        Client::for_service(service, self.endpoint(), credentials, test_client_options())
    }

    /// Returns a client with `account`'s credentials and [`test_client_options`]; its
    /// [`Client::sibling`] calls another service as the same account.
    pub fn client_of(&self, account: &SandboxAccount) -> Client {
        Client::with_options(self.endpoint(), credentials(account), test_client_options())
    }
}

fn credentials(account: &SandboxAccount) -> Credentials {
    Credentials::new(account.secret_id.clone(), account.secret_key.clone())
}

/// The client's defaults with its retry pauses at a hundredth: a transient failure is retried
/// after milliseconds, not seconds. Pacing and timeouts stay as they are.
pub fn test_client_options() -> ClientOptions {
    let defaults = ClientOptions::default();
    let scale = |d: Duration| d / 100;
    ClientOptions {
        retry_backoff: scale(defaults.retry_backoff),
        retry_backoff_cap: scale(defaults.retry_backoff_cap),
        rate_limit_pause: scale(defaults.rate_limit_pause),
        ..defaults
    }
}
