//! The monitor's tests, one module per theme, built into one test binary.

mod config;
mod decide;
mod metrics;
mod shakespeare;
mod tail;
