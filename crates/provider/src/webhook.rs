//! Posting a notification to a chat robot or incoming webhook (WeCom, DingTalk, Feishu,
//! Slack, or anything that takes JSON). The URL is a secret — whoever has it can post — so no
//! error here quotes it.

use std::time::Duration;

use certplan_core::Sensitive;

/// How long one notification may take: a slow chat service must not hold a run up.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a notification was not delivered; never with the URL.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("could not reach the webhook: {0}")]
    Transport(reqwest::Error),
    #[error("the webhook answered HTTP {0}")]
    Status(u16),
    /// WeCom, DingTalk and Feishu answer HTTP 200 with an error code in the body.
    #[error("the webhook refused the message: {0}")]
    Refused(String),
}

/// Posts `body` as JSON to `url`.
pub async fn post(url: &Sensitive, body: &serde_json::Value) -> Result<(), WebhookError> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| WebhookError::Transport(e.without_url()))?;
    let response = client
        .post(url.expose())
        .json(body)
        .send()
        .await
        .map_err(|e| WebhookError::Transport(e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(WebhookError::Status(status.as_u16()));
    }
    // An answer that is not JSON (Slack's `ok`) is a success.
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    let code = ["errcode", "code", "StatusCode"].iter().find_map(|k| answer.get(k)?.as_i64());
    match code {
        Some(code) if code != 0 => {
            let message = ["errmsg", "msg", "StatusMessage"]
                .iter()
                .find_map(|k| answer.get(k)?.as_str())
                .unwrap_or_default();
            Err(WebhookError::Refused(format!("code {code} {message}").trim().to_owned()))
        }
        _ => Ok(()),
    }
}
