//! `renew_before` durations are part of the shared vocabulary (the plan's reasons name them);
//! the parser reads them with [`RenewBefore::parse`].

pub use certplan_core::RenewBefore;
