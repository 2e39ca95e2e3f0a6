//! The test infrastructure both members' tests share (a dev-only workspace member): a moto server per test, a
//! real HTTP listener standing in for the ResponseURL, the fault proxy, the Runtime API emulator and stub, the
//! request builders, and the function wired to moto (`Harness`) or to the in-memory adapters
//! (`memory::MemoryAccount`). Everything started here is stopped by process id when its guard drops, pass or
//! fail.

pub mod account;
pub mod authorize;
pub mod cfn_model;
pub mod fault_proxy;
pub mod http;
pub mod iam_policy;
pub mod memory;
pub mod runtime_stub;
pub mod scenarios;
pub mod template;

mod binary;
mod harness;
mod listener;
mod moto;
mod payloads;
mod processes;

pub use binary::*;
pub use eks_node_role_guard::notify::Notifier;
pub use harness::*;
pub use listener::*;
pub use moto::*;
pub use payloads::*;
pub use processes::*;
