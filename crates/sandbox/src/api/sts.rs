//! The STS action the sandbox serves (service `sts`, version 2018-08-13): `GetCallerIdentity`,
//! which tells a client whose credentials it holds — the account the request's SecretId
//! belongs to. It takes no parameters but the common `Region`, required as the real one requires it, and answers with the fields of the SDK's model
//! (tencentcloud-sdk sts v20180813). The sandbox's keys are all the account's own, so the
//! caller is always the account itself, a `CAMUser` whose user id is the account id.

use certplan_provider::Service;
use serde_json::json;

use super::params::Params;
use super::{Outcome, invalid_action, missing_parameter};
use crate::Account;

/// Security Token Service, as the real one is served.
pub(super) const SERVICE: Service = Service::STS;

/// Runs an action of the STS service.
pub(super) fn sts(account: &Account<'_>, action: &str, params: Params) -> Outcome {
    match action {
        "GetCallerIdentity" => get_caller_identity(account, params),
        other => Err(invalid_action(other)),
    }
}

fn get_caller_identity(account: &Account<'_>, p: Params) -> Outcome {
    // A global service, but the common parameter is required all the same.
    if p.region().is_none() {
        return Err(missing_parameter("Region"));
    }
    p.finish()?;
    let uin = &account.options().uin;
    Ok(json!({
        "Arn": format!("qcs::cam::uin/{uin}:uin/{uin}"),
        "AccountId": uin,
        "UserId": uin,
        "PrincipalId": uin,
        "Type": "CAMUser",
    }))
}
