//! The planner: `plan(config, state, observed, now) -> Plan`.
//!
//! For every resource address it compares what is declared, what was recorded and (when the
//! cloud was refreshed) what the cloud reports, and chooses exactly one action with a reason a
//! person can read. It also reports what changed in the cloud behind certplan's back (drift).
//! It is pure: no IO, no clock (time comes in as `now`), ordered maps only — the same inputs
//! always give the same plan, byte for byte. A plan leaves the apply engine nothing to decide.
//! [`migration`] decides, as purely, what a Terraform state's certificates become when they
//! move in (`import --from-terraform`).

mod attention;
mod delivery;
mod import;
pub mod inventory;
mod json;
pub mod migration;
mod quota;
mod render;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub use certplan_core::{
    Action, DeliveryChange, DeliveryWork, Drift, DriftKind, Observed, Plan, Prior, Reason,
    ResourceChange, Summary,
};
use certplan_core::{
    Address, Argument, CertStatus, CertificateArgs, CertificateId, RemoteCertificate, RenewBefore,
    ValidationRecord,
};
use certplan_parser::{Config, ResourceConfig};
use certplan_state::{ResourceState, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use attention::{left_behind, replaced_certificates};
pub use json::{JSON_FORMAT_VERSION, attention_json, render_json};
pub use quota::{free_applications, free_quota};
pub use render::{
    describe_attention, describe_delivery, describe_record, render, render_attention, render_drift,
};

/// A plan saved by `plan --out`, to be applied exactly as made, or not at all: it names the
/// state (lineage and serial) and the configuration (digest) it was made from. It holds no
/// secret: arguments carry only digests of passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub certplan_version: String,
    /// The state the plan was made against; `None` when there was no state yet.
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    pub config_digest: String,
    /// The cloud and account of each provider it was made against; it is applied to no
    /// other. (Written `cloud`, one object, the default provider's, before there were several.)
    #[serde(default, alias = "cloud", skip_serializing_if = "certplan_state::Clouds::is_empty")]
    pub clouds: certplan_state::Clouds,
    pub plan: Plan,
}

impl SavedPlan {
    /// 2: actions written by their one name, changes carry what apply records and waits for.
    /// 3: each change's arguments name their provider (account), and the plan the cloud and
    /// account of each provider — an earlier build would apply them all in the default one.
    pub const FORMAT_VERSION: u32 = 3;

    pub fn new(
        plan: Plan,
        state: Option<&State>,
        config_digest: String,
        clouds: certplan_state::Clouds,
    ) -> Self {
        SavedPlan {
            format_version: Self::FORMAT_VERSION,
            certplan_version: env!("CARGO_PKG_VERSION").to_owned(),
            state_lineage: state.map(|s| s.lineage.clone()),
            state_serial: state.map_or(0, |s| s.serial),
            config_digest,
            clouds,
            plan,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("plans always serialise");
        bytes.push(b'\n');
        bytes
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not a plan file ({e})"))?;
        match value.get("format_version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(Self::FORMAT_VERSION) => {}
            Some(v) => {
                return Err(format!("plan format version {v} is not one this certplan reads"));
            }
            None => return Err("not a certplan plan file".to_owned()),
        }
        serde_json::from_value(value).map_err(|e| format!("not a valid certplan plan ({e})"))
    }

    /// Explains why this plan cannot be applied to `state` and a configuration with
    /// `config_digest`; `None` when it can.
    pub fn staleness(
        &self,
        state: Option<&State>,
        config_digest: &str,
        clouds: &certplan_state::Clouds,
    ) -> Option<String> {
        for (provider, made_for) in self.clouds.iter() {
            let Some(cloud) = clouds.get(provider).filter(|c| !made_for.matches(c)) else {
                continue;
            };
            return Some(format!(
                "it was made against {made_for} for provider {provider}, and this run talks to {cloud}{}",
                if made_for.sandbox && !cloud.sandbox { "; add --sandbox" } else { "" }
            ));
        }
        let now = (state.map(|s| s.lineage.clone()), state.map_or(0, |s| s.serial));
        match (&self.state_lineage, &now.0) {
            (None, Some(_)) => {
                return Some(
                    "the state has changed since it was made (there was none then); it may have been applied already"
                        .to_owned(),
                );
            }
            (then, now) if then != now => {
                return Some("it was made for a different state (another lineage)".to_owned());
            }
            _ => {}
        }
        if now.1 != self.state_serial {
            return Some(format!(
                "the state has changed since it was made (serial {} then, {} now); it may have been applied already",
                self.state_serial, now.1
            ));
        }
        if config_digest != self.config_digest {
            return Some("the configuration has changed since it was made".to_owned());
        }
        None
    }
}

/// What to plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan only these addresses (all when empty).
    pub targets: Vec<Address>,
    /// Leave these addresses out.
    pub excludes: Vec<Address>,
    /// Apply for a new certificate for these addresses whatever their state (`--replace`).
    pub replace: Vec<Address>,
    /// What is on disk at the recorded exports' paths (read before planning, so that the
    /// planner stays free of IO); an export not listed is taken as intact.
    pub files: certplan_core::ExportsSeen,
    /// What the cloud holds of the certificates that `import` blocks name (read whether or not
    /// the plan refreshes); an id missing here does not exist.
    pub imports: Observed,
}

impl PlanOptions {
    /// A target or exclusion without an instance key covers every instance of its resource.
    fn includes(&self, address: &Address) -> bool {
        (self.targets.is_empty() || self.targets.iter().any(|t| t.covers(address)))
            && !self.excludes.iter().any(|e| e.covers(address))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{address} has lifecycle {{ prevent_destroy = true }} but the plan would delete its certificate {id} ({why})"
    )]
    PreventDestroy { address: Address, id: CertificateId, why: String },
    /// An `import` block the state or the cloud contradicts; says which and why.
    #[error("{0}")]
    Import(String),
}

/// Plans every resource of `config` and `state` that `options` include. `observed` is what a
/// refresh read from the cloud, or `None` to plan from state alone.
///
/// The plan is made as if the `moved` blocks' renames were done (the apply records them); then
/// each address in turn, in order, by the steps of [`Planner::do_plan_address`].
pub fn plan(
    config: &Config,
    state: &State,
    observed: Option<&Observed>,
    now: DateTime<Utc>,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let (renamed, moved) = do_plan_moves(config, state);
    let state = renamed.as_ref().unwrap_or(state);
    let mut planner = Planner {
        config,
        state,
        observed,
        now,
        options,
        imports: import::Imports::new(config),
        changes: Vec::new(),
        drift: Vec::new(),
        delivery: Vec::new(),
        attention: Vec::new(),
    };
    let addresses: BTreeSet<&Address> = config
        .resources
        .keys()
        .chain(state.resources.keys())
        .chain(state.deposed.iter().map(|d| &d.address))
        .filter(|a| options.includes(a))
        .collect();
    for address in addresses {
        planner.do_plan_address(address)?;
    }
    Ok(Plan {
        created_at: now,
        moved,
        refreshed: observed.is_some(),
        drift: planner.drift,
        changes: planner.changes,
        delivery: planner.delivery,
        attention: planner.attention,
        quota: Vec::new(),
    })
}

/// Returns the state with the `moved` blocks' renames made (`None` when there are none) and
/// the renames, which the apply repeats in the same order.
fn do_plan_moves(config: &Config, state: &State) -> (Option<State>, Vec<(Address, Address)>) {
    if config.moved.is_empty() {
        return (None, Vec::new());
    }
    let mut renamed = state.clone();
    let moved = apply_moves(config, &mut renamed);
    (Some(renamed), moved)
}

/// One plan in the making: its inputs, and what it has decided so far.
struct Planner<'a> {
    config: &'a Config,
    state: &'a State,
    observed: Option<&'a Observed>,
    now: DateTime<Utc>,
    options: &'a PlanOptions,
    imports: import::Imports<'a>,
    changes: Vec<ResourceChange>,
    drift: Vec<Drift>,
    delivery: Vec<DeliveryChange>,
    attention: Vec<certplan_core::Attention>,
}

impl<'a> Planner<'a> {
    /// When the CA's rate limits hold back an order for `address`: an intent journaled with
    /// no order placed, and a time to try again still to come.
    fn held_until(&self, address: &Address) -> Option<DateTime<Utc>> {
        (self.state.intents.iter())
            .filter(|i| &i.address == address && i.order.is_none())
            .filter_map(|i| i.retry_after)
            .filter(|until| *until > self.now)
            .max()
    }

    /// Plans one address: follows a renewal made outside certplan, takes an `import` block,
    /// chooses the action (declared, undeclared), plans delivery, and deletes what a
    /// replacement left behind.
    fn do_plan_address(&mut self, address: &'a Address) -> Result<(), PlanError> {
        let desired = self.config.resources.get(address);
        let recorded = self.do_plan_renewed_outside(address);
        let recorded = recorded.as_deref();
        let importing = match desired {
            Some(d) => self.do_plan_import(address, d)?,
            None => None,
        };
        let prior = match (&importing, desired) {
            (Some(pending), Some(d)) => Some(import::prior(pending.remote, &d.args)),
            _ => recorded.map(|r| {
                let remote = self.observed.and_then(|o| o.get(&r.certificate_id));
                prior(r, remote, self.observed.is_some())
            }),
        };
        if let (Some(r), Some(p)) = (recorded, &prior) {
            self.drift.extend(detect_drift(address, r, p));
        }
        let decided = match (desired, recorded, &prior) {
            (Some(_), _, None) => Some((Action::Create, Reason::NotInState)),
            (None, Some(r), Some(p)) => Some(self.do_plan_undeclared(address, r, p)?),
            (Some(d), r, Some(p)) => {
                let remote = importing.as_ref().map(|pending| pending.remote);
                Some(self.do_plan_declared(address, d, r, p, remote)?)
            }
            // Only deposed certificates are left of this address.
            _ => None,
        };
        // An ACME CA's rate limit holds a new order back until it says.
        let decided = decided.map(|(action, reason)| match self.held_until(address) {
            Some(until) if matches!(action, Action::Create | Action::Renew | Action::Replace) => {
                (Action::NoOp, Reason::RateLimited { until })
            }
            _ => (action, reason),
        });
        if let (None, Some((_, Reason::RateLimited { until }))) = (&prior, &decided) {
            // Nothing serves the site, and nothing can be ordered before then.
            self.attention.push(certplan_core::Attention {
                address: address.clone(),
                certificate: certplan_core::CertificateId::from("none yet"),
                concern: certplan_core::Concern::RateLimited { until: *until },
                breaks_at: None,
            });
        }
        if let Some((action, reason)) = decided {
            // Validating by a record certplan publishes: published (again) by every apply until
            // it is issued — a run that died after applying published nothing.
            if let (Some(d), Reason::Pending { records, .. }) = (desired, &reason)
                && d.args.publish_validation.is_some()
                && !records.is_empty()
            {
                let work = DeliveryWork::PublishValidation { records: records.clone() };
                self.delivery.push(DeliveryChange {
                    address: address.clone(),
                    work,
                    once_issued: false,
                });
            }
            if let Some(d) = desired {
                let files = &self.options.files;
                let work = delivery::plan(address, d, recorded, action, prior.as_ref(), files);
                self.delivery.extend(work);
            }
            if let (Some(d), Some(p)) = (desired, &prior) {
                let judged = attention::Judged {
                    address,
                    method: d.args.dv_auth_method,
                    action,
                    reason: &reason,
                    prior: p,
                    serving_until: self.serving_until(recorded, p),
                };
                self.attention.extend(attention::judge(&judged, self.now));
            }
            let importing = importing.as_ref().map(|pending| pending.import.id.clone());
            self.changes.push(self.change(address, action, reason, prior, recorded, importing));
        }
        self.do_plan_deposed(address, recorded);
        Ok(())
    }

    /// Returns when the certificate serving in place of `prior` expires, while `prior` was
    /// never issued: the one it renews or replaces, as the cloud reports it.
    fn serving_until(
        &self,
        recorded: Option<&ResourceState>,
        prior: &Prior,
    ) -> Option<DateTime<Utc>> {
        // Only while the resource's own certificate was never issued (validating, or failed).
        if matches!(prior.status, CertStatus::Issued | CertStatus::Expired) {
            return None;
        }
        let serving = recorded?.succeeds.as_ref()?;
        self.observed?.get(serving)?.not_after
    }

    /// Returns the address's record, as the newest certificate of a renewal (or reissue) made
    /// outside certplan when the refresh found one — recorded as drift.
    fn do_plan_renewed_outside(&mut self, address: &Address) -> Option<Cow<'a, ResourceState>> {
        let recorded = self.state.resources.get(address)?;
        let renewal =
            self.observed.and_then(|o| certplan_core::successor(o, &recorded.certificate_id));
        let Some((kind, successor)) = renewal else {
            return Some(Cow::Borrowed(recorded));
        };
        let id = recorded.certificate_id.clone();
        self.drift.push(Drift { address: address.clone(), id, kind });
        Some(Cow::Owned(recorded.renewed_as(&successor.id)))
    }

    /// Returns the import still to be done for the address, if an `import` block names one —
    /// recording as drift a renewal of the certificate it names made outside certplan.
    fn do_plan_import(
        &mut self,
        address: &Address,
        desired: &ResourceConfig,
    ) -> Result<Option<import::Pending<'a, 'a>>, PlanError> {
        let found = &self.options.imports;
        let pending = self.imports.pending(address, &desired.args.domain, self.state, found)?;
        if let Some(import::Pending { import, renewed: Some(kind), .. }) = &pending {
            let (id, kind) = (import.id.clone(), kind.clone());
            self.drift.push(Drift { address: address.clone(), id, kind });
        }
        Ok(pending)
    }

    /// Decides for a certificate recorded and no longer declared: forgotten when a `removed`
    /// block says so, else deleted — unless `prevent_destroy` guards it.
    fn do_plan_undeclared(
        &self,
        address: &Address,
        recorded: &ResourceState,
        prior: &Prior,
    ) -> Result<(Action, Reason), PlanError> {
        let removed = self.config.removed.get(address);
        match removed.or_else(|| self.config.removed.get(&address.resource())) {
            Some(removed) if !removed.destroy => {
                Ok((Action::Forget, Reason::Removed { location: removed.location.clone() }))
            }
            _ if recorded.prevent_destroy && prior.exists => Err(PlanError::PreventDestroy {
                address: address.clone(),
                id: prior.id.clone(),
                why: "it is no longer in the configuration; set prevent_destroy = false and apply first, or add a removed block to stop managing it without deleting it".into(),
            }),
            _ => Ok((Action::Delete, Reason::NotInConfig { gone: !prior.exists })),
        }
    }

    /// Decides for a declared certificate that exists (or is being imported): [`decide`]'s
    /// table, then `--replace`, a validation that keeps failing, and `prevent_destroy`.
    fn do_plan_declared(
        &self,
        address: &Address,
        desired: &ResourceConfig,
        recorded: Option<&ResourceState>,
        prior: &Prior,
        imported: Option<&RemoteCertificate>,
    ) -> Result<(Action, Reason), PlanError> {
        let remote = imported.or_else(|| self.observed.and_then(|o| o.get(&prior.id)));
        let failures = recorded.map_or(0, |r| r.validation_failures);
        let replace = self.options.replace.iter().any(|a| a.covers(address));
        let compared = import::compared(&desired.args, recorded);
        let renew_before = renew_before(desired, recorded, remote);
        let decided = match decide(&compared, renew_before, prior, remote, self.now) {
            // Lost or unusable again, for the same reason, before it was ever issued.
            (Action::Create | Action::Replace, reason)
                if !replace && let Some(because) = replaced_again(&reason, recorded, prior) =>
            {
                (Action::NoOp, Reason::ReplacedAgain { id: prior.id.clone(), because })
            }
            (Action::Create, reason) => (Action::Create, reason),
            _ if replace => (Action::Replace, Reason::ReplaceRequested),
            // Validation failed again: the cause (DNS, a file, the CA) is outside certplan,
            // and applying once a week forever would not fix it.
            (Action::Replace, Reason::ValidationTimedOut { id, .. })
            | (Action::Replace, Reason::Unusable { id, status: CertStatus::Failed })
                if failures >= 1 =>
            {
                let failures = failures + 1;
                (Action::NoOp, Reason::ValidationFailedRepeatedly { id, failures })
            }
            // Due the moment it was issued: a new one would be too, on every run.
            (Action::Renew, Reason::Expiring { .. })
            | (Action::Replace, Reason::Expired { .. })
                if let Some(r) = recorded
                    && let Some(not_after) = issued_expiry(r, prior)
                    && not_after - renew_before.duration() <= r.applied_at =>
            {
                let (id, applied_at) = (prior.id.clone(), r.applied_at);
                (Action::NoOp, Reason::DueAtIssuance { id, applied_at, not_after })
            }
            decided => decided,
        };
        let deletes_old = decided.0 == Action::Replace
            && matches!(decided.1, Reason::ArgumentsChanged { .. } | Reason::ReplaceRequested);
        if deletes_old && desired.lifecycle.prevent_destroy {
            return Err(PlanError::PreventDestroy {
                address: address.clone(),
                id: prior.id.clone(),
                why: if decided.1 == Reason::ReplaceRequested {
                    "--replace asks for a new certificate, and the old one would be deleted".into()
                } else {
                    "changed arguments force a new certificate, and the old one would be deleted"
                        .into()
                },
            });
        }
        Ok(decided)
    }

    /// Builds the address's change: what was last declared is what the apply records; without
    /// a block, what was.
    fn change(
        &self,
        address: &Address,
        action: Action,
        reason: Reason,
        prior: Option<Prior>,
        recorded: Option<&ResourceState>,
        importing: Option<CertificateId>,
    ) -> ResourceChange {
        let desired = self.config.resources.get(address);
        let (sensitive, prevent_destroy) = match (desired, recorded) {
            (Some(d), _) => (d.sensitive.clone(), d.lifecycle.prevent_destroy),
            (None, Some(r)) => (r.sensitive.clone(), r.prevent_destroy),
            (None, None) => Default::default(),
        };
        ResourceChange {
            address: address.clone(),
            action,
            reason,
            before: prior,
            after: desired.map(|d| d.args.clone()),
            deposed: None,
            sensitive,
            prevent_destroy,
            wait_for_issuance: desired.and_then(|d| {
                let provider = self.config.providers.get(&d.args.provider);
                d.lifecycle.wait_for_issuance.or(provider?.wait_for_issuance)
            }),
            delivery: desired.map(|d| d.delivery.clone()).unwrap_or_default(),
            importing,
        }
    }

    /// Deletes the certificates a replacement of the address left behind (deposed), except one
    /// that must keep serving until its cloud resources have moved.
    fn do_plan_deposed(&mut self, address: &Address, recorded: Option<&ResourceState>) {
        let desired = self.config.resources.get(address);
        for d in self.state.deposed.iter().filter(|d| &d.address == address) {
            if delivery::keeps_deposed(desired, recorded, &d.certificate_id) {
                continue;
            }
            let gone = self.observed.is_some_and(|o| !o.contains_key(&d.certificate_id));
            self.changes.push(ResourceChange {
                address: address.clone(),
                action: Action::Delete,
                reason: Reason::Deposed {
                    id: d.certificate_id.clone(),
                    since: d.since,
                    last_error: d.last_error.clone(),
                    gone,
                },
                before: None,
                after: None,
                deposed: Some(d.certificate_id.clone()),
                sensitive: BTreeSet::new(),
                prevent_destroy: false,
                wait_for_issuance: None,
                delivery: Default::default(),
                importing: None,
            });
        }
    }
}

/// Makes the renames of the configuration's `moved` blocks in `state`, in order (so that moves
/// chain): each `from` (every instance of it, for a resource) becomes `to`, unless `to` is
/// recorded already. Returns the renames, which the apply repeats in the same order.
fn apply_moves(config: &Config, state: &mut State) -> Vec<(Address, Address)> {
    let mut done = Vec::new();
    for m in &config.moved {
        // A resource moves with all its instances, keys kept; an address with a key on either
        // side moves that one record (into or out of `for_each`/`count`).
        let whole_resource = m.from.key.is_none() && m.to.key.is_none();
        let sources: Vec<Address> = state
            .resources
            .keys()
            .filter(|a| if whole_resource { m.from.covers(a) } else { *a == &m.from })
            .cloned()
            .collect();
        for from in sources {
            let to = match &from.key {
                Some(key) if whole_resource => m.to.instance(key.clone()),
                _ => m.to.clone(),
            };
            if state.rename(&from, &to) {
                done.push((from, to));
            }
        }
    }
    done
}

/// Evaluates the configuration's outputs against the certificates `state` records.
pub fn outputs(config: &Config, state: &State) -> BTreeMap<String, Result<hcl::Value, String>> {
    config.evaluate_outputs(resources_value(state))
}

/// The recorded certificates as outputs see them: `tencentcloud_ssl_free_certificate.NAME`
/// is an object of attributes, or (with for_each/count) a map or list of them.
fn resources_value(state: &State) -> hcl::Value {
    use certplan_core::InstanceKey;
    let attributes = |r: &ResourceState| {
        let time = |t: Option<chrono::DateTime<Utc>>| {
            t.map_or(hcl::Value::Null, |t| {
                hcl::Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            })
        };
        let mut object = hcl::Map::new();
        object.insert("id".into(), hcl::Value::from(r.certificate_id.as_str()));
        object.insert("domain".into(), hcl::Value::from(r.args.domain.as_str()));
        if let Some(method) = r.args.dv_auth_method {
            object.insert("dv_auth_method".into(), hcl::Value::from(method.as_str()));
        }
        object.insert("status".into(), hcl::Value::from(r.status.name()));
        object.insert("cert_begin_time".into(), time(r.not_before));
        object.insert("cert_end_time".into(), time(r.not_after));
        object.insert(
            "alias".into(),
            r.args.alias.as_deref().map_or(hcl::Value::Null, hcl::Value::from),
        );
        let validation = r.validation.iter().map(|record| {
            let fields: Vec<(&str, &str)> = match record {
                ValidationRecord::Dns { name, record_type, value } => vec![
                    ("type", "DNS"),
                    ("name", name),
                    ("record_type", record_type),
                    ("value", value),
                ],
                ValidationRecord::File { url, content } => {
                    vec![("type", "FILE"), ("url", url), ("content", content)]
                }
            };
            hcl::Value::Object(
                fields.into_iter().map(|(k, v)| (k.to_owned(), hcl::Value::from(v))).collect(),
            )
        });
        object.insert("validation".into(), hcl::Value::Array(validation.collect()));
        hcl::Value::Object(object)
    };
    let mut by_name: BTreeMap<String, hcl::Value> = BTreeMap::new();
    for (address, r) in &state.resources {
        let value = attributes(r);
        match &address.key {
            None => {
                by_name.insert(address.name.clone(), value);
            }
            Some(InstanceKey::Key(k)) => {
                let entry = by_name
                    .entry(address.name.clone())
                    .or_insert_with(|| hcl::Value::Object(hcl::Map::new()));
                if let hcl::Value::Object(map) = entry {
                    map.insert(k.clone(), value);
                }
            }
            Some(InstanceKey::Index(_)) => {
                // State orders instances by index, so pushing keeps count's order.
                let entry = by_name
                    .entry(address.name.clone())
                    .or_insert_with(|| hcl::Value::Array(Vec::new()));
                if let hcl::Value::Array(items) = entry {
                    items.push(value);
                }
            }
        }
    }
    hcl::Value::Object(by_name.into_iter().collect())
}

/// Builds what a resource has now: the record, overlaid with what the cloud reports.
fn prior(recorded: &ResourceState, remote: Option<&RemoteCertificate>, refreshed: bool) -> Prior {
    let mut prior = Prior {
        id: recorded.certificate_id.clone(),
        args: recorded.args.clone(),
        status: recorded.status,
        not_after: recorded.not_after,
        exists: !refreshed || remote.is_some(),
    };
    if let Some(remote) = remote {
        prior.status = remote.status;
        prior.not_after = remote.not_after.or(prior.not_after);
        prior.args.alias = remote.alias.clone();
        prior.args.project_id = remote.project_id;
    }
    prior
}

fn detect_drift(address: &Address, recorded: &ResourceState, prior: &Prior) -> Vec<Drift> {
    let drift = |kind| Drift { address: address.clone(), id: prior.id.clone(), kind };
    if !prior.exists {
        return vec![drift(DriftKind::Deleted)];
    }
    let mut found = Vec::new();
    // A pending certificate being issued is what certplan expects, not drift.
    let expected = recorded.status.is_pending() && prior.status == CertStatus::Issued;
    if prior.status != recorded.status && !expected && !prior.status.is_pending() {
        found.push(drift(DriftKind::Status { from: recorded.status, to: prior.status }));
    }
    if prior.args.alias != recorded.args.alias {
        found.push(drift(DriftKind::Alias {
            from: recorded.args.alias.clone(),
            to: prior.args.alias.clone(),
        }));
    }
    if prior.args.project_id != recorded.args.project_id {
        found.push(drift(DriftKind::Project {
            from: recorded.args.project_id,
            to: prior.args.project_id,
        }));
    }
    found
}

/// Returns why `recorded`'s certificate is to be replaced again, when that is the reason the
/// one before it was replaced for (the cloud lost it, or made it unusable) and it was never
/// issued: a loop.
fn replaced_again(
    reason: &Reason,
    recorded: Option<&ResourceState>,
    prior: &Prior,
) -> Option<String> {
    let recorded = recorded?;
    let because = match reason {
        Reason::Gone { .. } => "gone".to_owned(),
        Reason::Unusable { status, .. } if *status != CertStatus::Failed => {
            status.name().to_owned()
        }
        _ => return None,
    };
    let issued = |s: CertStatus| matches!(s, CertStatus::Issued | CertStatus::Expired);
    let ever_issued =
        recorded.issued_expiry.is_some() || issued(recorded.status) || issued(prior.status);
    (recorded.replaced_because.as_deref() == Some(because.as_str()) && !ever_issued)
        .then_some(because)
}

/// The expiry the certificate had when first seen issued: as recorded, or — issued since it
/// was last recorded — as the cloud reports it now.
fn issued_expiry(recorded: &ResourceState, prior: &Prior) -> Option<DateTime<Utc>> {
    let issued = |s: CertStatus| matches!(s, CertStatus::Issued | CertStatus::Expired);
    let issued_since = !issued(recorded.status) && issued(prior.status);
    recorded.issued_expiry.or(if issued_since { prior.not_after } else { None })
}

/// How long before its expiry resource `desired`'s certificate is renewed: its
/// `lifecycle.renew_before`, or for an ACME one [`acme_renew_before`].
pub(crate) fn renew_before(
    desired: &ResourceConfig,
    recorded: Option<&ResourceState>,
    remote: Option<&RemoteCertificate>,
) -> RenewBefore {
    match &desired.args.acme {
        Some(acme) => acme_renew_before(acme, recorded, remote),
        None => desired.lifecycle.renew_before,
    }
}

/// When an ACME certificate is renewed: with `min_days_remaining` left, or a third of its
/// lifetime (a 90-day certificate with 30 days left, a 45-day one with 15) — 30 days while
/// its lifetime is not known.
fn acme_renew_before(
    acme: &certplan_core::AcmeArgs,
    recorded: Option<&ResourceState>,
    remote: Option<&RemoteCertificate>,
) -> RenewBefore {
    if let Some(days) = acme.min_days_remaining {
        return RenewBefore::from_days(days);
    }
    let dates = |r: Option<&RemoteCertificate>| r.and_then(|r| Some((r.not_before?, r.not_after?)));
    let recorded = recorded.and_then(|r| Some((r.not_before?, r.not_after?)));
    match dates(remote).or(recorded) {
        Some((from, to)) if to > from => RenewBefore::from_duration((to - from) / 3),
        _ => RenewBefore::from_days(30),
    }
}

/// Chooses the action for a resource that is both declared and recorded.
fn decide(
    desired: &CertificateArgs,
    renew_before: RenewBefore,
    prior: &Prior,
    remote: Option<&RemoteCertificate>,
    now: DateTime<Utc>,
) -> (Action, Reason) {
    use CertStatus::*;
    let id = prior.id.clone();
    if !prior.exists {
        return (Action::Create, Reason::Gone { id });
    }
    match prior.status {
        // A revoked certificate stays as it is; certplan applies for a new one beside it.
        Revoking | Revoked => {
            return (Action::Create, Reason::Unusable { id, status: prior.status });
        }
        Failed | Cancelling | Cancelled => {
            return (Action::Replace, Reason::Unusable { id, status: prior.status });
        }
        _ => {}
    }
    let deadline = remote.and_then(|r| r.validation_deadline);
    if prior.status.is_pending()
        && let Some(deadline) = deadline.filter(|d| now > *d)
    {
        return (Action::Replace, Reason::ValidationTimedOut { id, deadline });
    }
    let (forcing, in_place) = changed_arguments(&prior.args, desired);
    if !forcing.is_empty() {
        return (Action::Replace, Reason::ArgumentsChanged { forcing });
    }
    match (prior.status, prior.not_after) {
        (Expired, Some(end)) => return (Action::Replace, Reason::Expired { not_after: end }),
        (Issued, Some(end)) if now >= end => {
            return (Action::Replace, Reason::Expired { not_after: end });
        }
        // A renewal applies with the declared alias and project, so it covers their changes.
        (Issued, Some(end)) if now >= end - renew_before.duration() => {
            let days_left = (end - now).num_days();
            return (Action::Renew, Reason::Expiring { not_after: end, days_left, renew_before });
        }
        _ => {}
    }
    if !in_place.is_empty() {
        return (Action::Update, Reason::AttributesChanged { changed: in_place });
    }
    match (prior.status, prior.not_after) {
        (status, _) if status.is_pending() => (
            Action::NoOp,
            Reason::Pending {
                status,
                records: remote.map(|r| r.validation.clone()).unwrap_or_default(),
                deadline,
                // Validated without a person: by Tencent Cloud DNS itself, or by a record
                // certplan publishes (dns_challenge).
                automatic: desired.publish_validation.is_some()
                    || (desired.dv_auth_method != Some(certplan_core::DvAuthMethod::Dns)
                        && desired.dv_auth_method != Some(certplan_core::DvAuthMethod::File)),
            },
        ),
        (Issued, Some(end)) => (
            Action::NoOp,
            Reason::UpToDate { not_after: end, renews_at: end - renew_before.duration() },
        ),
        (status, _) => (Action::NoOp, Reason::Waiting { status }),
    }
}

/// Lists the arguments that differ, in the provider's order, split into those that force a
/// new application and those that change in place.
fn changed_arguments(
    before: &CertificateArgs,
    after: &CertificateArgs,
) -> (Vec<Argument>, Vec<Argument>) {
    let (before, after) = (before.with_defaults(), after.with_defaults());
    Argument::ALL
        .into_iter()
        .filter(|&argument| before.value(argument) != after.value(argument))
        .partition(|argument| !argument.changes_in_place())
}
