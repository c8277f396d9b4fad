//! certplan-export against real material and a real filesystem: certificates minted with
//! rcgen (an issuing CA and a leaf it signed), files written into temporary directories, hooks
//! run by the real `sh`.

mod check;
mod files;
mod hook;
mod support;
