//! One file per subcommand.

pub mod arithmetic;
pub mod collapse;
pub mod dedup;
pub mod eval_guards;
pub mod export;
pub mod init;
pub mod inspect;
pub mod run;
