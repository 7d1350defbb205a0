//! Hallucination guards for text: "how do you know if it hallucinated the answer or it's a
//! real answer?"
//!
//! Three independent signals, each a plain function over texts, so that the pipeline, the
//! `eval-guards` command and the tests run the same code:
//!
//! - [`grounding`]: every claim of a response checked against its context (the fast path:
//!   numbers, names, quotations, rare words and negations);
//! - [`consistency`]: a response against further samples of the same prompt (SelfCheckGPT's
//!   n-gram support per sentence; majority agreement of short final answers);
//! - [`math`]: executable verification of worked solutions (each step's arithmetic
//!   recomputed, the final answer extracted and compared with the last step and with a
//!   checker when the task has one), and [`code`]: a code answer's solution and tests, taken
//!   apart for the sandbox (`autodidact-sandbox`) to run.
//!
//! The building blocks: [`claims`] (sentences and list items), [`numbers`] (values in
//! digits and in words), [`words`] (tokens, common words, negations). [`eval`] builds the
//! labelled benchmarks of `autodidact eval-guards` from real text.

#![deny(missing_docs)]

pub mod claims;
pub mod code;
pub mod consistency;
pub mod eval;
pub mod grounding;
pub mod math;
pub mod numbers;
pub mod words;
