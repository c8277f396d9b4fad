//! What an apply did, as a whole ([`Report`]) and of its delivery work ([`Delivered`]).

use certplan_core::{Address, RemoteCertificate, Summary};

use crate::error::{ChangeError, DeliveryError};

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    /// The changes made, counted as the plan's summary counts them.
    pub done: Summary,
    pub failed: Vec<(Address, ChangeError)>,
    /// Certificates applied for in this apply and not issued when it ended, with what they
    /// wait for.
    pub pending: Vec<(Address, RemoteCertificate)>,
    /// Changes not started because the run was interrupted.
    pub not_started: Vec<Address>,
    /// Whether an interrupt stopped the apply early: changes not started, or waits for
    /// issuance cut short (their certificates are in `pending`).
    pub interrupted: bool,
    /// The plan's delivery work: done, failed, left for later.
    pub delivery: Delivered,
}

/// What delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Work done: deployments followed to their end, exports written, hooks run.
    pub done: usize,
    pub failed: Vec<(Address, DeliveryError)>,
    /// Work left for a later apply, with why (a certificate not issued yet, an interrupt).
    pub pending: Vec<(Address, String)>,
    /// Whether an interrupt left work undone.
    pub interrupted: bool,
}
