//! End to end: the real `certplan` binary against the real sandbox (`certplan sandbox serve`)
//! over loopback HTTP, with real config and state files in a temp directory. One test binary, so
//! the suite links once; a module for each part of certplan a user would notice, and the harness
//! they share.

mod accounts;
mod acme;
mod apply;
mod attention;
mod config;
mod credentials;
mod delivery;
mod docs;
mod examples;
mod faults;
mod harness;
mod inventory;
mod migration;
mod notify;
mod outside;
mod recording;
mod reliability;
mod reporting;
mod state_commands;
mod teams;
mod terraform_habits;
mod validation;
