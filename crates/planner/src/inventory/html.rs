//! The inventory as one self-contained page (`certplan certificates --html`): what needs a
//! person at the top, a timeline of every certificate's validity with today and its renewal
//! window, and a table of the figures `--json` gives — which the page also carries, as JSON,
//! in a `<script type="application/json" id="inventory">` block. Nothing is fetched: the
//! style is inline and the timeline is inline SVG, so the page opens as it is from a CI
//! artifact or a mail. Every string from the cloud is escaped: a domain or a binding's region
//! is whatever someone typed in a console, and must not become markup.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Entry, Managed, days_left, inventory_json, time};

/// The timeline's geometry, in SVG user units: the label column, the whole width, a row.
const LABEL: f64 = 250.0;
const WIDTH: f64 = 960.0;
const ROW: f64 = 24.0;
/// Room above the first row for the axis' dates.
const TOP: f64 = 30.0;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1f2328; }
h1 { margin-bottom: 0; }
.generated { color: #59636e; margin-top: .2em; }
section { margin: 2em 0; }
#attention ul { padding-left: 1.2em; }
#attention li { margin: .3em 0; }
.none { color: #1a7f37; }
.badge { border-radius: 3px; padding: 0 .4em; font-size: 12px; }
.badge.unmanaged { background: #fff1e5; color: #bc4c00; border: 1px solid #bc4c00; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .25em .7em; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
tr.expiring td { background: #ffebe9; }
td.days-left { text-align: right; }
code { font-size: 12px; }
svg text { font-size: 12px; fill: #1f2328; }
svg .axis { fill: #59636e; }
svg .validity { fill: #9ec5fe; }
svg .validity.unmanaged { fill: #d0d7de; }
svg .validity.expiring { fill: #ff8182; }
svg .renewal { fill: #0969da; opacity: .55; }
svg #today { stroke: #cf222e; stroke-width: 2; }
svg .today { fill: #cf222e; }
.legend span { display: inline-block; width: 1em; height: .8em; margin: 0 .3em 0 1em; vertical-align: middle; }
";

/// Draws `entries` as a page: at `now`, with what serves something and expires before `until`
/// at the top. The figures are [`inventory_json`]'s.
pub fn inventory_html(entries: &[Entry], now: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
    out += "<meta charset=\"utf-8\">\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += &format!("<title>Certificates at {}</title>\n", now.format("%Y-%m-%d %H:%M UTC"));
    out += &format!("<style>{STYLE}</style>\n</head>\n<body>\n<h1>Certificates</h1>\n");
    out += &format!(
        "<p class=\"generated\">As of <time datetime=\"{}\">{}</time>: {} certificates.</p>\n",
        time(now),
        now.format("%Y-%m-%d %H:%M UTC"),
        entries.len()
    );
    out += &attention(entries, now, until);
    out += &timeline(entries, now, until);
    out += &table(entries, now, until);
    out += &format!(
        "<script type=\"application/json\" id=\"inventory\">{}</script>\n",
        script_json(&inventory_json(entries, now, Some(until)))
    );
    out += "</body>\n</html>\n";
    out
}

/// The certificates that serve something and expire before `until`, unmanaged ones flagged.
fn attention(entries: &[Entry], now: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let window = days_left(until, now);
    let expiring: Vec<&Entry> = entries.iter().filter(|e| e.bound_and_expiring(until)).collect();
    let mut out = String::from("<section id=\"attention\">\n<h2>Needs attention</h2>\n");
    if expiring.is_empty() {
        out += &format!(
            "<p class=\"none\">Nothing that serves something expires within {window} days.</p>\n"
        );
        return out + "</section>\n";
    }
    out += &format!("<p>Serving something and expiring within {window} days:</p>\n<ul>\n");
    for e in expiring {
        let c = &e.certificate;
        let expires = c.not_after.map_or(String::new(), |end| {
            format!(" expires on {} (in {} days)", end.format("%Y-%m-%d"), days_left(end, now))
        });
        let who = match e.managed.address() {
            Some(address) => format!("managed by <code>{}</code>", escape(&address.to_string())),
            None => "<span class=\"badge unmanaged\">unmanaged</span>: certplan will not renew it; declare it and import it".to_owned(),
        };
        out += &format!(
            "<li data-id=\"{}\"><strong>{}</strong> <code>{}</code> ({}){expires}, serves {}; {who}</li>\n",
            escape(&c.id),
            escape(&c.domain),
            escape(&c.id),
            escape(&e.provider.to_string()),
            escape(&bound(e)),
        );
    }
    out + "</ul>\n</section>\n"
}

/// One row per certificate, a bar from its start to its expiry on a shared axis, the renewal
/// window of the managed ones over it, and today as a vertical line.
fn timeline(entries: &[Entry], now: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let dates = |e: &Entry| Some((e.certificate.not_before?, e.certificate.not_after?));
    let dated = entries.iter().filter_map(dates);
    let start = dated.clone().map(|(from, _)| from).chain([now]).min().unwrap_or(now);
    let end = dated.map(|(_, to)| to).chain([now]).max().unwrap_or(now);
    let span = (end - start).num_seconds().max(1) as f64;
    let x =
        |t: DateTime<Utc>| LABEL + (t - start).num_seconds() as f64 / span * (WIDTH - LABEL - 10.0);
    let height = TOP + ROW * entries.len() as f64 + 6.0;

    let mut out = String::from("<section>\n<h2>Timeline</h2>\n<p class=\"legend\">");
    out += "<span style=\"background:#9ec5fe\"></span>valid";
    out += "<span style=\"background:#0969da;opacity:.55\"></span>certplan renews it";
    out += "<span style=\"background:#ff8182\"></span>serves something, expires soon";
    out += "<span style=\"background:#cf222e;width:2px\"></span>today</p>\n";
    out += &format!(
        "<svg id=\"timeline\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"Validity of each certificate\">\n"
    );
    out += &format!(
        "<text class=\"axis\" x=\"{LABEL}\" y=\"12\">{}</text>\n<text class=\"axis\" x=\"{}\" y=\"12\" text-anchor=\"end\">{}</text>\n",
        start.format("%Y-%m-%d"),
        WIDTH - 10.0,
        end.format("%Y-%m-%d")
    );
    for (row, e) in entries.iter().enumerate() {
        let c = &e.certificate;
        let y = TOP + ROW * row as f64;
        let label: String = if c.domain.chars().count() > 34 {
            c.domain.chars().take(33).chain(['…']).collect()
        } else {
            c.domain.clone()
        };
        out += &format!("<g class=\"row\" data-id=\"{}\">", escape(&c.id));
        out += &format!(
            "<text x=\"4\" y=\"{:.1}\"><title>{}</title>{}</text>",
            y + 13.0,
            escape(&c.domain),
            escape(&label)
        );
        match dates(e) {
            Some((from, to)) => {
                let mut class = e.managed.role().to_owned();
                if e.bound_and_expiring(until) {
                    class += " expiring";
                }
                out += &format!(
                    "<rect class=\"validity {class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"><title>{}: {} to {}</title></rect>",
                    x(from),
                    y + 3.0,
                    (x(to) - x(from)).max(1.0),
                    escape(&c.id),
                    from.format("%Y-%m-%d"),
                    to.format("%Y-%m-%d")
                );
                if let Some(renews) = e.renews_from {
                    let left = x(renews.max(from));
                    out += &format!(
                        "<rect class=\"renewal\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"><title>certplan renews it from {}</title></rect>",
                        y + 3.0,
                        (x(to) - left).max(1.0),
                        renews.format("%Y-%m-%d")
                    );
                }
            }
            None => {
                out += &format!(
                    "<text class=\"axis\" x=\"{LABEL}\" y=\"{:.1}\">no dates given</text>",
                    y + 13.0
                )
            }
        }
        out += "</g>\n";
    }
    let today = x(now);
    out += &format!(
        "<line id=\"today\" x1=\"{today:.1}\" x2=\"{today:.1}\" y1=\"16\" y2=\"{height}\"><title>today, {}</title></line>\n<text class=\"today\" x=\"{today:.1}\" y=\"26\" text-anchor=\"middle\">today</text>\n",
        now.format("%Y-%m-%d")
    );
    out + "</svg>\n</section>\n"
}

/// Every certificate's figures, each row also carrying them as `data-` attributes.
fn table(entries: &[Entry], now: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let mut out = String::from(
        "<section>\n<h2>All certificates</h2>\n<table id=\"certificates\">\n<thead><tr><th>Domain</th><th>ID</th><th>Status</th><th>Source</th><th>Provider</th><th>Managed by</th><th>Expires</th><th>Days left</th><th>Renews from</th><th>Bound to</th></tr></thead>\n<tbody>\n",
    );
    for e in entries {
        let c = &e.certificate;
        let expiring = e.bound_and_expiring(until);
        let days = c.not_after.map(|end| days_left(end, now));
        let attribute = |name: &str, value: Option<String>| {
            value.map_or(String::new(), |v| format!(" data-{name}=\"{}\"", escape(&v)))
        };
        let source = c.source.map(certplan_core::CertificateSource::name);
        let managed_by = e.managed.address().map(ToString::to_string);
        out += &format!(
            "<tr class=\"certificate {}{}\"{}{}{}{}{}{}{}{}{}{}>",
            e.managed.role(),
            if expiring { " expiring" } else { "" },
            attribute("id", Some(c.id.to_string())),
            attribute("domain", Some(c.domain.clone())),
            attribute("status", Some(c.status.name().to_owned())),
            attribute("source", source.map(str::to_owned)),
            attribute("provider", Some(e.provider.to_string())),
            attribute("managed-by", managed_by.clone()),
            attribute("role", Some(e.managed.role().to_owned())),
            attribute("not-after", c.not_after.map(time)),
            attribute("days-left", days.map(|d| d.to_string())),
            attribute("renews-from", e.renews_from.map(time)),
        );
        let managed = match (&e.managed, managed_by) {
            (Managed::Resource(_), Some(a)) => format!("<code>{}</code>", escape(&a)),
            (Managed::Replaced(_), Some(a)) => format!("<code>{}</code> (replaced)", escape(&a)),
            (Managed::Deposed(_), Some(a)) => format!("<code>{}</code> (to delete)", escape(&a)),
            _ => "<span class=\"badge unmanaged\">unmanaged</span>".to_owned(),
        };
        let date = |t: Option<DateTime<Utc>>| {
            t.map_or("-".to_owned(), |t| {
                format!("<time datetime=\"{}\">{}</time>", time(t), t.format("%Y-%m-%d"))
            })
        };
        out += &format!(
            "<td class=\"domain\">{}</td><td class=\"id\"><code>{}</code></td><td class=\"status\">{}</td><td class=\"source\">{}</td><td class=\"provider\">{}</td><td class=\"managed-by\">{managed}</td><td class=\"expires\">{}</td><td class=\"days-left\">{}</td><td class=\"renews-from\">{}</td><td class=\"bound\">{}</td></tr>\n",
            escape(&c.domain),
            escape(&c.id),
            escape(c.status.name()),
            escape(source.unwrap_or("-")),
            escape(&e.provider.to_string()),
            date(c.not_after),
            days.map_or("-".to_owned(), |d| d.to_string()),
            date(e.renews_from),
            escape(&bound(e)),
        );
    }
    out + "</tbody>\n</table>\n</section>\n"
}

/// What a certificate serves, as the table in the terminal says it.
fn bound(e: &Entry) -> String {
    match &e.bound {
        Ok(resources) if resources.is_empty() => "-".to_owned(),
        Ok(resources) => resources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        Err(why) => format!("unknown: {why}"),
    }
}

/// Escapes `text` for an element's content or a quoted attribute's value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// `value` as JSON that a `<script>` block holds as it is: a `</script>` in a domain would end
/// the block early, so `<`, `>` and `&` are written as `\u` escapes, which JSON reads back the same.
fn script_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use certplan_core::{ProviderRef, RemoteCertificate};
    use certplan_state::State;
    use chrono::Duration;

    use super::*;
    use crate::inventory::inventory;
    use crate::inventory::tests::{issued, now};

    /// An issued 90-day certificate expiring `days` from the tests' now.
    fn certificate(id: &str, domain: &str, days: i64) -> RemoteCertificate {
        issued(id, domain, 90, days)
    }

    fn page(certificates: Vec<RemoteCertificate>) -> String {
        let config =
            certplan_parser::parse_sources(vec![certplan_parser::Source::new("main.hcl", "")])
                .expect("an empty configuration");
        let listed = vec![(ProviderRef::DEFAULT, certificates)];
        let entries = inventory(&config, &State::new(), listed, &BTreeMap::new());
        inventory_html(&entries, now(), now() + Duration::days(30))
    }

    #[test]
    fn a_domain_from_the_cloud_never_becomes_markup() {
        let hostile = "</script><script>alert(1)</script><b x=\"'\">.example.com";
        let html = page(vec![certificate("evil1", hostile, 10)]);
        assert!(!html.contains("<b "), "{html}");
        assert_eq!(html.matches("<script").count(), 1, "only the JSON block: {html}");
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"), "{html}");
    }

    #[test]
    fn the_page_carries_the_figures_of_json() {
        let html = page(vec![certificate("a1", "a.example.com", 10)]);
        let block = html.split("id=\"inventory\">").nth(1).expect("JSON block");
        let block = block.split("</script>").next().expect("closed");
        let carried: Value = serde_json::from_str(block).expect("JSON");
        assert_eq!(carried["certificates"][0]["days_left"], 10, "{carried}");
        assert!(html.contains("data-id=\"a1\""), "{html}");
        assert!(html.contains("data-days-left=\"10\""), "{html}");
    }
}
