//! `notify` blocks: a run nobody watches posts what needs a person to each webhook, in its
//! chat tool's format, once per condition per day; a webhook that fails is a warning, and its
//! URL — a secret — is never shown or written anywhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::harness::Project;

/// A local HTTP server that answers every POST like a chat robot and keeps the bodies.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("request line");
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("header");
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().expect("length");
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                let json = serde_json::from_slice(&body).expect("a JSON body");
                kept.lock().expect("bodies").push((path, json));
                let answer = "{\"errcode\":0,\"errmsg\":\"ok\"}";
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Receiver { url, bodies }
    }

    fn bodies(&self) -> Vec<(String, Value)> {
        self.bodies.lock().expect("bodies").clone()
    }
}

const TOKEN: &str = "SECRET-ROBOT-TOKEN-4711";

#[test]
fn a_run_nobody_watches_says_what_needs_a_person_once_a_day_in_each_chat_format() {
    let receiver = Receiver::start();
    // A closed port: a webhook that fails.
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/hook/{TOKEN}", dead.local_addr().expect("addr"));
    drop(dead);
    let config = "variable \"hook\" {\n  type      = string\n  sensitive = true\n}\n\nvariable \"dead\" {\n  type      = string\n  sensitive = true\n}\n\nnotify {\n  webhook = var.hook\n}\n\nnotify {\n  webhook = \"${var.hook}wecom\"\n  format  = \"wecom\"\n}\n\nnotify {\n  webhook = var.dead\n  format  = \"slack\"\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"shop\" {\n  domain         = \"shop.example.com\"\n  dv_auth_method = \"DNS\"\n}\n";
    let mut p = Project::new(config);
    p.env.push(("CERTPLAN_VAR_hook".into(), format!("{}/hook/{TOKEN}/", receiver.url)));
    p.env.push(("CERTPLAN_VAR_dead".into(), dead_url));

    // shop's DNS record is a person's to publish: the run goes red, and says so.
    let first = p.run(&["apply", "--auto-approve"]);
    assert_eq!(first.code, 3, "{}{}", first.stdout, first.stderr);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2, "one per live webhook: {bodies:?}");
    let (json_path, json) =
        &bodies.iter().find(|(path, _)| !path.ends_with("wecom")).expect("json").clone();
    assert!(json_path.starts_with("/hook/"));
    assert_eq!(json["source"], "certplan");
    let event = &json["events"][0];
    assert_eq!(
        (event["kind"].as_str(), event["address"].as_str()),
        (Some("attention"), Some("tencentcloud_ssl_free_certificate.shop")),
        "{json}"
    );
    assert!(event["message"].as_str().is_some_and(|m| m.contains("To do:")), "{json}");
    let wecom = &bodies.iter().find(|(path, _)| path.ends_with("wecom")).expect("wecom").1;
    assert_eq!(wecom["msgtype"], "text");
    assert!(
        wecom["text"]["content"]
            .as_str()
            .is_some_and(|t| t.contains("tencentcloud_ssl_free_certificate.shop")),
        "{wecom}"
    );
    // The dead one: a warning naming the block, never the URL; the run's outcome is unchanged.
    assert!(
        first
            .stderr
            .contains("warning: the notification to the webhook of the notify block at main.hcl:"),
        "{}",
        first.stderr
    );

    // The same condition the same day: nothing new is posted.
    let second = p.run(&["apply", "--auto-approve"]);
    assert_eq!(second.code, 3);
    assert_eq!(receiver.bodies().len(), 2, "once a day");

    // The next day it is said again.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    p.env.push(("CERTPLAN_PLAN_TIME".into(), tomorrow));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3);
    assert_eq!(receiver.bodies().len(), 4, "again the next day");

    // The URL is a secret: in no output and no file.
    for run in [&first, &second] {
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "{}{}",
            run.stdout,
            run.stderr
        );
    }
    for file in ["certplan.state.json", ".certplan/notified.json"] {
        let text = std::fs::read_to_string(p.path().join(file)).expect(file);
        assert!(!text.contains(TOKEN), "{file}: {text}");
    }
}

/// A run that fails before it can say anything else says that, once a day.
#[test]
fn a_run_that_fails_says_so() {
    let receiver = Receiver::start();
    let config = "variable \"hook\" {\n  type      = string\n  sensitive = true\n}\n\nnotify {\n  webhook = var.hook\n  format  = \"slack\"\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n";
    let mut p = Project::new(config);
    p.env.push(("CERTPLAN_VAR_hook".into(), format!("{}/hook/{TOKEN}", receiver.url)));
    // Credentials the sandbox does not know.
    p.env.push(("TENCENTCLOUD_SECRET_ID".into(), "AKIDnobody".into()));
    for _ in 0..2 {
        let failed = p.run(&["apply", "--auto-approve"]);
        assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    }
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "once a day: {bodies:?}");
    let text = bodies[0].1["text"].as_str().expect("slack text");
    assert!(text.contains("the run failed") && text.contains("AuthFailure"), "{text}");
}
