//! `notify { webhook = var.hook  format = "wecom" }` blocks: where a run nobody watches says
//! that something needs a person. Several are allowed. The webhook URL is a secret (anyone who
//! has it can post to the channel): it is never shown, and written in the file rather than
//! taken from a variable it draws a warning, as credentials do.

use hcl_edit::structure::Block;

use certplan_core::Sensitive;

use crate::{Diagnostic, Reader, eval};

/// How a notification's body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// certplan's own JSON: `{"source", "text", "events": [{kind, address, message}]}`.
    Json,
    /// WeCom (企业微信) group robots.
    Wecom,
    /// DingTalk (钉钉) robots.
    Dingtalk,
    /// Feishu / Lark (飞书) robots.
    Feishu,
    /// Slack incoming webhooks.
    Slack,
}

impl NotifyFormat {
    pub const ALL: [NotifyFormat; 5] = [
        NotifyFormat::Json,
        NotifyFormat::Wecom,
        NotifyFormat::Dingtalk,
        NotifyFormat::Feishu,
        NotifyFormat::Slack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NotifyFormat::Json => "json",
            NotifyFormat::Wecom => "wecom",
            NotifyFormat::Dingtalk => "dingtalk",
            NotifyFormat::Feishu => "feishu",
            NotifyFormat::Slack => "slack",
        }
    }
}

/// One `notify` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub webhook: Sensitive,
    pub format: NotifyFormat,
    /// A certificate expiring within this long with no renewal planned is worth a message.
    pub expiring_within: std::time::Duration,
    /// Where the block is: `file:line:col`, how messages name it (never by its URL).
    pub location: String,
}

/// The default of `expiring_within`.
const EXPIRING_WITHIN: std::time::Duration = std::time::Duration::from_secs(14 * 86_400);

/// Reads a `notify` block onto `read`.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    read: &mut Vec<NotifyConfig>,
) {
    let here = reader.header_span(file, block);
    if !block.labels.is_empty() {
        reader.push(
            Diagnostic::error("a notify block has no label")
                .at(here, "remove the label")
                .help("write `notify { webhook = var.webhook  format = \"wecom\" }`"),
        );
        return;
    }
    let mut args = eval::Arguments::read(
        reader,
        file,
        &block.body,
        &["webhook", "format", "expiring_within"],
        &[],
    );
    let webhook = match args.string(reader, "webhook") {
        // Pointed at by the block, never by the value: an excerpt of its line would show it.
        Some((url, _)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            reader.push(
                Diagnostic::error("the webhook of this notify block is not an http(s) URL")
                    .at(here.clone(), "expected webhook = \"https://...\"")
                    .help("the URL the chat tool gives for its robot or incoming webhook, from a sensitive variable"),
            );
            None
        }
        Some((url, _)) => {
            let written = crate::expr::written_in_file(&block.body, "webhook");
            if written {
                reader.push(
                    Diagnostic::warning("a webhook URL in the configuration")
                        .at(here.clone(), "anyone who can read this file can post to the channel")
                        .help("take it from a sensitive variable: webhook = var.webhook, with variable \"webhook\" { sensitive = true } and CERTPLAN_VAR_webhook"),
                );
            }
            Some(Sensitive::new(url))
        }
        None => {
            if !args.is_written("webhook") {
                reader.push(
                    Diagnostic::error("a notify block needs a webhook")
                        .at(here.clone(), "where to send?")
                        .help("add `webhook = var.webhook`, the URL of a chat robot or incoming webhook"),
                );
            }
            None
        }
    };
    let names = NotifyFormat::ALL.map(NotifyFormat::name);
    let format = match args.string(reader, "format") {
        None => Some(NotifyFormat::Json),
        Some((name, span)) => {
            NotifyFormat::ALL.into_iter().find(|f| f.name() == name).or_else(|| {
                reader.push(
                    Diagnostic::error(format!("unknown notification format {name:?}"))
                        .at(span, "not a format certplan sends")
                        .help(format!("format is one of {}", names.join(", "))),
                );
                None
            })
        }
    };
    let expiring_within =
        args.duration(reader, "expiring_within").map_or(EXPIRING_WITHIN, |(d, _)| d);
    if let (Some(webhook), Some(format)) = (webhook, format) {
        let location = reader.location(&here);
        read.push(NotifyConfig { webhook, format, expiring_within, location });
    }
}
