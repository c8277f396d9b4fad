//! A real browser for the tests of what a person opens: Debian's Chromium (package
//! `chromium`), run headless on a local file with a profile of its own, and the DOM it
//! rendered handed back. A missing browser fails the test, saying how to install it: a page
//! that was never opened has not been tested.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it: `chromium`, or only the headless shell.
const PROGRAMS: [&str; 2] = ["chromium", "chromium-headless-shell"];

/// How long a page may take to load and render before the test gives up on the browser.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Returns the path of Chromium, or stops the test saying how to install it.
pub fn chromium() -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let found =
        PROGRAMS.iter().flat_map(|p| dirs.iter().map(move |d| d.join(p))).find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed: the tests of the HTML page open it in a real browser. Run the README's test command (scripts/test), which installs it, or `apt-get install chromium`"
        )
    })
}

/// Opens `page` in headless Chromium and returns the DOM it rendered, serialised; fails the
/// test when the browser fails or takes longer than a minute.
pub fn rendered_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let page = page.canonicalize().expect("the page exists");
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        .args(["--no-first-run", "--disable-extensions", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read while it runs: a page larger than the pipe's buffer would block it otherwise.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let dom = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not render {} within {TIMEOUT:?}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = dom.join().expect("reader").expect("chromium's output is UTF-8");
    let log = log.join().expect("reader");
    assert!(status.success(), "chromium failed ({status}) on {}: {log}", page.display());
    assert!(dom.contains("<body"), "chromium rendered nothing of {}: {log}", page.display());
    dom
}
