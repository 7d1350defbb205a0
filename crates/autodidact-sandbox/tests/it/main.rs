//! Integration tests of autodidact-sandbox, one module per theme. Hostile cases run under
//! both isolation paths (`support::each_isolation`).

#![cfg(target_os = "linux")]

mod basics;
mod config;
mod files;
mod limits;
mod network;
mod output;
mod processes;
mod support;
