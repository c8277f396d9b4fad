//! `certplan certificates`: every certificate in each account, managed or not, soonest to
//! expire first, where each is bound, and a run that goes red when one that serves something
//! expires soon — the one a colleague made in the console included.

use std::collections::BTreeMap;

use certplan_test_support::browser;
use serde_json::Value;

use crate::harness::{PROD_PROVIDER, PROD_SECRET_ID, Project, certificate, prod_certificate};

#[test]
fn every_certificate_of_every_account_is_listed_with_who_manages_it_and_where_it_serves() {
    let config = [
        PROD_PROVIDER,
        &certificate("www", "www.example.com"),
        &prod_certificate("shop", "shop.example.com"),
    ]
    .concat();
    let p = Project::with_accounts(&config, &[]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    // Made in the console by a colleague, serving the checkout page's load balancer.
    let checkout = p.sandbox.seed_in(PROD_SECRET_ID, &["checkout.example.com"]).remove(0);
    p.sandbox.bind(&checkout, "clb", Some("ap-guangzhou"), "lb-9|lbl-1");

    // A paid one, and one uploaded from elsewhere.
    let paid = p.sandbox.seed_certificate("pay.example.com", "paid", 200);
    let uploaded = p.sandbox.seed_certificate("up.example.com", "upload", 60);

    let listed = p.run(&["certificates"]);
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    let out = &listed.stdout;
    assert!(out.starts_with("EXPIRES"), "{out}");
    for expected in [
        "www.example.com",
        "shop.example.com",
        "checkout.example.com",
        "unmanaged",
        "1 clb in ap-guangzhou",
        "tencentcloud_ssl_free_certificate.shop",
    ] {
        assert!(out.contains(expected), "{expected}: {out}");
    }

    let json = p.run(&["certificates", "--json"]);
    let inventory: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let certificates = inventory["certificates"].as_array().expect("certificates");
    assert_eq!(certificates.len(), 5, "{inventory}");
    let source = |id: &str| {
        let found = certificates.iter().find(|c| c["id"] == id).expect(id);
        found["source"].as_str().map(str::to_owned)
    };
    assert_eq!(source(&paid).as_deref(), Some("paid"));
    assert_eq!(source(&uploaded).as_deref(), Some("uploaded"));
    let of =
        |domain: &str| certificates.iter().find(|c| c["domain"] == domain).expect(domain).clone();
    let (www, shop, unmanaged) =
        (of("www.example.com"), of("shop.example.com"), of("checkout.example.com"));
    assert_eq!(
        (www["provider"].as_str(), www["managed_by"].as_str()),
        (Some("tencentcloud"), Some("tencentcloud_ssl_free_certificate.www"))
    );
    assert_eq!(www["id"], only_id_of(&p, "www"));
    assert_eq!(shop["provider"], "tencentcloud.prod");
    assert_eq!(
        (unmanaged["role"].as_str(), unmanaged["provider"].as_str()),
        (Some("unmanaged"), Some("tencentcloud.prod"))
    );
    assert_eq!(
        unmanaged["bound"],
        serde_json::json!([{"resource_type": "clb", "region": "ap-guangzhou", "count": 1}])
    );
    assert_eq!(www["source"], "free");
    // Soonest to expire first: the seeded one was issued before the two applied for.
    let days: Vec<i64> = certificates.iter().filter_map(|c| c["days_left"].as_i64()).collect();
    assert!(days.windows(2).all(|w| w[0] <= w[1]), "{days:?}");

    // 85 days on, the checkout page's certificate expires in days: a scheduled run goes red,
    // naming it and saying how to have certplan renew it; what serves nothing does not.
    p.age(85);
    let red = p.run(&["certificates", "--expiring-within", "30d"]);
    assert_eq!(red.code, 3, "{}{}", red.stdout, red.stderr);
    assert!(
        red.stderr.contains(&format!(
            "{checkout} (checkout.example.com, unmanaged) serves 1 clb in ap-guangzhou"
        )),
        "{}",
        red.stderr
    );
    assert!(red.stderr.contains(&format!("import {{\n  to = tencentcloud_ssl_free_certificate.checkout_example_com\n  id = \"{checkout}\"")), "{}", red.stderr);
    assert!(red.stderr.contains("provider       = tencentcloud.prod"), "{}", red.stderr);
    assert!(!red.stderr.contains("(www.example.com"), "www serves nothing: {}", red.stderr);
    let json = p.run(&["certificates", "--json", "--expiring-within", "30d"]);
    assert_eq!(json.code, 3);
    let inventory: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let expiring: Vec<&str> = inventory["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["expiring"] == true)
        .filter_map(|c| c["domain"].as_str())
        .collect();
    assert_eq!(expiring, ["checkout.example.com"]);
    assert_eq!(p.run(&["certificates", "--expiring-within", "1d"]).code, 0);

    // One already expired, still on a listener, breaks HTTPS now: red, however short the window.
    let expired = p.sandbox.seed_certificate("old.example.com", "free", -2);
    p.sandbox.bind(&expired, "clb", Some("ap-guangzhou"), "lb-7|lbl-1");
    let broken = p.run(&["certificates", "--expiring-within", "1d"]);
    assert_eq!(broken.code, 3, "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken.stderr.contains(&format!("{expired} (old.example.com, unmanaged) serves 1 clb")),
        "{}",
        broken.stderr
    );
}

/// `--html` writes one page a person can open as it is: a real browser renders it from the
/// file alone, with what serves something and expires soon at the top, a bar per certificate
/// (and a renewal window on the managed ones), and each certificate's figures those of
/// `--json`; a domain from the cloud stays text.
#[test]
fn the_html_page_renders_in_a_browser_with_the_figures_of_json() {
    let config = [certificate("www", "www.example.com"), certificate("api", "api.example.com")];
    let p = Project::new(&config.concat());
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    // Made in the console, serving a load balancer, expiring in 10 days.
    let checkout = p.sandbox.seed_certificate("checkout.example.com", "free", 10);
    p.sandbox.bind(&checkout, "clb", Some("ap-guangzhou"), "lb-9|lbl-1");
    // A domain is whatever the cloud says it is.
    let hostile =
        "</script><script>document.documentElement.dataset.injected=1</script>.example.com";
    let evil = p.sandbox.seed_certificate(hostile, "free", 60);

    // One run, so that the page and the JSON are of the same moment.
    let run = p.run(&["certificates", "--json", "--html", "page.html"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Wrote page.html"), "{}", run.stderr);
    let inventory: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let certificates = inventory["certificates"].as_array().expect("certificates");
    assert_eq!(certificates.len(), 4, "{inventory}");

    let html = std::fs::read_to_string(p.path().join("page.html")).expect("the page");
    for remote in ["http://", "https://", "//fonts", "<link", "@import", "src="] {
        assert!(!html.contains(remote), "{remote}: the page fetches nothing");
    }
    let dom = browser::rendered_dom(&p.path().join("page.html"));
    assert!(!dom.contains("data-injected"), "the domain ran as a script: {dom}");
    assert_eq!(dom.matches("<script").count(), 1, "only the page's JSON: {dom}");
    assert!(dom.contains("<svg id=\"timeline\"") && dom.contains("<line id=\"today\""), "{dom}");
    assert_eq!(dom.matches("<rect class=\"validity").count(), 4, "a bar each: {dom}");
    assert_eq!(dom.matches("<rect class=\"renewal\"").count(), 2, "www and api: {dom}");

    // At the top: the unmanaged one that serves the load balancer, flagged, and only it.
    let attention = between(&dom, "<section id=\"attention\">", "</section>");
    assert!(attention.contains(&format!("data-id=\"{checkout}\"")), "{attention}");
    assert!(text(attention).contains("unmanaged"), "{attention}");
    assert_eq!(attention.matches("<li").count(), 1, "{attention}");

    // The page carries the JSON, and each row shows its figures.
    let carried: Value =
        serde_json::from_str(between(&dom, "id=\"inventory\">", "</script>")).expect("JSON");
    let rows = rows(&dom);
    assert_eq!(rows.len(), 4, "{dom}");
    for c in certificates {
        let id = c["id"].as_str().expect("id");
        let mut on_page = carried["certificates"].as_array().expect("list").iter();
        let mut on_page = on_page.find(|p| p["id"] == id).expect(id).clone();
        on_page["expiring"] = c["expiring"].clone();
        assert_eq!(&on_page, c, "the page's JSON");

        let (attributes, cells) = rows.iter().find(|(a, _)| a["id"] == id).expect(id);
        let figure = |key: &str| {
            c[key].as_str().map(str::to_owned).or(c[key].as_i64().map(|d| d.to_string()))
        };
        for (attribute, key) in [
            ("domain", "domain"),
            ("status", "status"),
            ("managed-by", "managed_by"),
            ("role", "role"),
            ("not-after", "not_after"),
            ("days-left", "days_left"),
            ("renews-from", "renews_from"),
            ("provider", "provider"),
        ] {
            assert_eq!(attributes.get(attribute).cloned(), figure(key), "{id} {attribute}");
        }
        let cell = |class: &str| text(between(cells, &format!("<td class=\"{class}\">"), "</td>"));
        assert_eq!(cell("domain"), c["domain"].as_str().expect("domain"), "{id}");
        assert_eq!(cell("id"), id);
        assert_eq!(cell("status"), c["status"].as_str().expect("status"));
        assert_eq!(Some(cell("days-left")), figure("days_left"), "{id}");
        assert_eq!(cell("expires"), c["not_after"].as_str().expect("dated")[..10]);
        let managed_by = c["managed_by"].as_str().unwrap_or("unmanaged");
        assert!(cell("managed-by").starts_with(managed_by), "{id}: {}", cell("managed-by"));
    }
    let evil_row = &rows.iter().find(|(a, _)| a["id"] == evil).expect("evil").0;
    assert_eq!(evil_row["domain"], hostile);
    let expiring: Vec<&Value> = carried["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["expiring"] == true)
        .collect();
    assert_eq!(expiring.len(), 1, "within the page's 30 days: {carried}");
    assert_eq!(expiring[0]["id"], checkout.as_str());
    let www = certificates.iter().find(|c| c["domain"] == "www.example.com").expect("www");
    let renews_from: chrono::DateTime<chrono::Utc> =
        www["renews_from"].as_str().expect("renews").parse().expect("time");
    let not_after: chrono::DateTime<chrono::Utc> =
        www["not_after"].as_str().expect("expires").parse().expect("time");
    assert_eq!(not_after - renews_from, chrono::Duration::days(30), "the default renew_before");
}

/// What lies in `html` between the first `start` and the `end` after it.
fn between<'h>(html: &'h str, start: &str, end: &str) -> &'h str {
    let (_, after) = html.split_once(start).unwrap_or_else(|| panic!("no {start} in {html}"));
    after.split_once(end).unwrap_or_else(|| panic!("no {end} after {start}")).0
}

/// The text of serialised HTML: its tags dropped, its character references read. The
/// serialiser escapes `<` in text, so every `<` starts a tag.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some((before, after)) = rest.split_once('<') {
        out.push_str(before);
        rest = after.split_once('>').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    unescape(&out)
}

fn unescape(text: &str) -> String {
    (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'"))
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The table's rows as the browser serialised them: each `<tr class="certificate">`'s `data-`
/// attributes (without the prefix, values read) and the HTML of its cells.
fn rows(dom: &str) -> Vec<(BTreeMap<String, String>, String)> {
    let mut rows = Vec::new();
    for row in dom.split("<tr class=\"certificate").skip(1) {
        // Attribute values are quoted, and a quote inside one is escaped: read them one by
        // one rather than look for the tag's end, which a `>` in a value could fake.
        let mut attributes = BTreeMap::new();
        let mut rest = row.split_once('"').expect("class closed").1;
        while let Some((name, after)) = rest.trim_start().split_once("=\"") {
            if name.contains('>') {
                break;
            }
            let (value, after) = after.split_once('"').expect("value closed");
            if let Some(name) = name.strip_prefix("data-") {
                attributes.insert(name.to_owned(), unescape(value));
            }
            rest = after;
        }
        let cells = rest.split_once('>').expect("tag closed").1;
        rows.push((attributes, cells.split_once("</tr>").expect("row closed").0.to_owned()));
    }
    rows
}

/// The id of resource `name`'s certificate, as the state records it.
fn only_id_of(p: &Project, name: &str) -> String {
    let state = p.state();
    let id =
        &state["resources"][format!("tencentcloud_ssl_free_certificate.{name}")]["certificate_id"];
    id.as_str().expect("recorded").to_owned()
}

#[test]
fn an_account_with_nothing_in_it_says_so() {
    let p = Project::new("");
    let listed = p.run(&["certificates"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "No certificates in the account.");
}

/// Once a renewal's deployment has moved everything off the old certificate, its expiry
/// notifications are switched off (peers' users complain of mails about certificates long
/// replaced); while something the deploy block does not declare still uses it, they stay on.
#[test]
fn a_replaced_certificate_stops_mailing_once_nothing_uses_it() {
    let deploy = "  deploy {\n    resource_types = [\"clb\"]\n    regions        = { clb = [\"ap-guangzhou\"] }\n  }\n";
    let site = |name: &str| {
        format!(
            "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain         = \"{name}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n{deploy}}}\n\n"
        )
    };
    let p = Project::with_sandbox(&[site("www"), site("api")].concat(), &["--deploy-step", "10ms"]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let (www, api) = (only_id_of(&p, "www"), only_id_of(&p, "api"));
    p.sandbox.bind(&www, "clb", Some("ap-guangzhou"), "lb-1|lbl-1");
    p.sandbox.bind(&api, "clb", Some("ap-guangzhou"), "lb-2|lbl-1");
    // A CDN domain, which api's deploy block does not declare, keeps using the old one.
    p.sandbox.bind(&api, "cdn", None, "api.example.com");
    p.age(70);
    let renewal = p.run(&["apply", "--auto-approve"]);
    assert_eq!(renewal.code, 3, "api's CDN domain is left behind: {}", renewal.stderr);
    assert!(
        renewal.stderr.contains(&format!("switched off the expiry notifications of {www}")),
        "{}",
        renewal.stderr
    );

    let json = p.run(&["certificates", "--json"]);
    let inventory: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let of = |id: &str| {
        let all = inventory["certificates"].as_array().expect("list");
        all.iter().find(|c| c["id"] == id).expect(id).clone()
    };
    assert_eq!(
        (of(&www)["notifications_off"].as_bool(), of(&www)["role"].as_str()),
        (Some(true), Some("replaced"))
    );
    assert_eq!(of(&api)["notifications_off"], false, "still serves a CDN domain: {inventory}");
    assert_eq!(of(&only_id_of(&p, "www"))["notifications_off"], false, "the new one mails");
}

/// The plan says how much of each account's yearly free quota it uses, and what would pass it,
/// before anything is sent; the service's refusal says what to do, and its limit is learnt.
#[test]
fn the_free_quota_is_counted_in_the_plan_and_a_refusal_says_what_to_do() {
    let provider = "provider \"tencentcloud\" {\n  free_certificates_per_year = 4\n}\n\n";
    let config = [
        provider,
        &certificate("a", "a.example.com"),
        &certificate("b", "b.example.com"),
        &certificate("c", "c.example.com"),
    ]
    .concat();
    let p = Project::with_sandbox(&config, &["--free-per-year", "3"]);
    // Two applied for earlier this year, outside this configuration; a paid one does not count.
    for domain in ["old1.example.com", "old2.example.com"] {
        p.sandbox.seed_certificate(domain, "free", 80);
    }
    p.sandbox.seed_certificate("paid.example.com", "paid", 300);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("Free certificates: 2 applied for this year in the account, 3 more in this plan, of 4 (free_certificates_per_year): this plan passes it."),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("tencentcloud_ssl_free_certificate.c")
            && plan.stdout.contains("would pass its account's yearly quota"),
        "{}",
        plan.stdout
    );
    let json = p.run(&["plan", "--json"]);
    let parsed: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(parsed["free_quota"][0]["used"], 2, "{parsed}");
    assert_eq!(parsed["free_quota"][0]["exceeded"], true, "{parsed}");

    // The service's limit is 3: the second application is refused, saying what to do, and
    // the next plan counts against the service's number.
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(apply.stderr.contains("FailedOperation.ExceedsFreeLimit"), "{}", apply.stderr);
    assert!(
        apply
            .stderr
            .contains("To do: the account has used its yearly quota of free certificates (3)"),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains("acme_certificate"), "{}", apply.stderr);
    let again = p.run(&["plan"]);
    assert!(
        again.stdout.contains("of 3 (the service's): this plan passes it."),
        "{}",
        again.stdout
    );
}
