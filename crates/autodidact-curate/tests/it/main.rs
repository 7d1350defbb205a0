//! Integration tests of autodidact-curate, one module per theme.

mod config;
mod curate;
mod decontaminate;
mod persist;
mod select;
mod support;
