//! Let's Encrypt's test CA, Pebble, and its DNS server, pebble-challtestsrv, from Debian's
//! `pebble` package: started on free loopback ports for one test, stopped when dropped. Pebble
//! serves its directory over TLS with a certificate made here (trusted through the file
//! [`Pebble::roots`]), and looks names up in challtestsrv, whose TXT records the sandbox sets
//! (`--challtestsrv`) when certplan publishes DNS-01 records in Tencent Cloud DNS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::process::{Child, Command};

/// Where Debian installs them.
const PEBBLE: &str = "pebble";
const CHALLTESTSRV: &str = "pebble-challtestsrv";

/// A Pebble and a challtestsrv of a test's own.
#[derive(Debug)]
pub struct Pebble {
    /// The ACME directory's URL.
    pub directory: String,
    /// A PEM file of the root of the certificate Pebble's listener is served with.
    pub roots: PathBuf,
    /// challtestsrv's DNS server, which Pebble asks.
    pub dns: SocketAddr,
    /// challtestsrv's management API (`/set-txt`, `/clear-txt`).
    pub management: String,
    /// The port Pebble fetches HTTP-01 challenges from.
    pub http_port: u16,
    children: Vec<Child>,
    /// Its files: configuration, certificates, logs.
    dir: tempfile::TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Why Pebble did not come to serve.
enum Stopped {
    /// One of the two programs exited: worth starting again on other ports.
    Exited(String),
    TimedOut(String),
}

/// Returns a free loopback port (bound, then released for the caller).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

/// Returns a loopback port free for both TCP and UDP, as a DNS server listens on both.
fn free_dns_port() -> u16 {
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The last lines of a log file, for a failure's message.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// How many times Pebble is started on fresh ports when it exits at once: a port found free
/// may be taken by another test's process before Pebble binds it.
const ATTEMPTS: usize = 3;
/// How long Pebble and challtestsrv are given to serve, on a machine busy with other tests.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Returns the path of `program`, or stops the test saying how to install it.
fn installed(program: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "{program} is not installed: the ACME tests need Let's Encrypt's Pebble. Run the README's test command (scripts/test), which installs it, or `apt-get install pebble`"
        )
    })
}

/// A root, and a certificate it signs for Pebble's listener (`localhost`, `127.0.0.1`) with
/// its key, in PEM: a root cannot serve as the listener's own certificate.
fn listener_certificate() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let root_key = KeyPair::generate().expect("a key");
    let mut root = CertificateParams::new(Vec::<String>::new()).expect("root parameters");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_pem = root.self_signed(&root_key).expect("a root").pem();
    let issuer = Issuer::new(root, root_key);
    let key = KeyPair::generate().expect("a key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("listener parameters");
    let cert = leaf.signed_by(&key, &issuer).expect("the listener's certificate");
    (root_pem, cert.pem(), key.serialize_pem())
}

impl Pebble {
    /// Starts Pebble and challtestsrv, and waits until Pebble serves its directory; on fresh
    /// ports again when one of them exits at once (a port taken meanwhile).
    pub async fn start() -> Pebble {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut pebble = Pebble::spawn();
            match pebble.wait_until_serving().await {
                Ok(()) => return pebble,
                Err(Stopped::Exited(why)) => failures.push(why),
                Err(Stopped::TimedOut(why)) => {
                    failures.push(why);
                    break;
                }
            }
        }
        panic!("Pebble did not start:\n{}", failures.join("\n"));
    }

    /// Starts challtestsrv and Pebble on free ports, without waiting for them.
    fn spawn() -> Pebble {
        let (pebble, challtestsrv) = (installed(PEBBLE), installed(CHALLTESTSRV));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (root, cert, key) = listener_certificate();
        let roots = dir.path().join("root.pem");
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&roots, root).expect("write root.pem");
        std::fs::write(&cert_path, cert).expect("write cert.pem");
        std::fs::write(&key_path, key).expect("write key.pem");
        let log_file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("a log");

        let (dns_port, management_port) = (free_dns_port(), free_port());
        let dns: SocketAddr = format!("127.0.0.1:{dns_port}").parse().expect("an address");
        let management = format!("http://127.0.0.1:{management_port}");
        let challtest = Command::new(challtestsrv)
            .args(["-dns01", &dns.to_string()])
            .args(["-management", &format!("127.0.0.1:{management_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log_file("challtestsrv.log"))
            .stderr(log_file("challtestsrv.err"))
            .spawn()
            .expect("pebble-challtestsrv starts");

        let (listen, pebble_management, http_port, tls_port) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{pebble_management}"),
            "certificate": cert_path,
            "privateKey": key_path,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            // Let's Encrypt's: 90 days.
            "certificateValidityPeriod": 90 * 24 * 3600,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("write pebble.json");
        let pebble = Command::new(pebble)
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.to_string()])
            // No random waits before validating, and no nonce refused for practice.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log_file("pebble.log"))
            .stderr(log_file("pebble.err"))
            .spawn()
            .expect("pebble starts");
        let directory = format!("https://127.0.0.1:{listen}/dir");
        Pebble {
            directory,
            roots,
            dns,
            management,
            http_port,
            children: vec![challtest, pebble],
            dir,
        }
    }

    /// What the two programs said last, for a failure's message.
    fn logs(&self) -> String {
        ["challtestsrv.log", "challtestsrv.err", "pebble.log", "pebble.err"]
            .iter()
            .map(|name| format!("--- {name}:\n{}", tail(&self.dir.path().join(name))))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until Pebble answers for its directory and challtestsrv for its management API.
    async fn wait_until_serving(&mut self) -> Result<(), Stopped> {
        let client = self.client();
        let plain = reqwest::Client::new();
        let started = std::time::Instant::now();
        loop {
            for (name, child) in [CHALLTESTSRV, PEBBLE].iter().zip(&mut self.children) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Stopped::Exited(format!(
                        "{name} exited ({status}):\n{}",
                        self.logs()
                    )));
                }
            }
            let pebble = client.get(&self.directory).send().await;
            let challtest = plain
                .post(format!("{}/clear-txt", self.management))
                .body(r#"{"host":"probe.invalid."}"#)
                .send()
                .await;
            if pebble.is_ok_and(|r| r.status().is_success())
                && challtest.is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            if started.elapsed() > START_LIMIT {
                let (directory, logs) = (&self.directory, self.logs());
                return Err(Stopped::TimedOut(format!(
                    "it did not serve {directory} within {START_LIMIT:?}:\n{logs}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many certificates Pebble has issued: how many orders were finalized, as the CA
    /// itself logs them.
    pub fn issued(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("Issued certificate serial")).count()
    }

    /// An HTTP client that trusts Pebble's listener.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.roots).expect("read Pebble's root");
        let root = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
        reqwest::Client::builder().add_root_certificate(root).build().expect("a client")
    }
}
