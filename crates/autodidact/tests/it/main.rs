//! Integration tests of the `autodidact` binary: the real executable against a scripted
//! OpenAI-compatible server on 127.0.0.1, each test in its own temp directory.
//!
//! Modules by theme; `server` is the scripted server, `util` the shared helpers.

mod server;
mod util;

mod api_key;
mod arithmetic;
mod collapse;
mod dedup;
mod bad_input;
mod code;
mod commands;
mod curation;
mod faults;
mod guards;
mod happy;
mod interrupt;
mod resume;
mod seeds;
