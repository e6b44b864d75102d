//! `switchboard policy verify`: properties of the policy set proved for
//! every request the schema allows, not only for the decision cases someone
//! wrote. Properties and the assumptions they rest on live beside the
//! policies (`policies/properties/*.cedar`, see [`properties`]); each is
//! compiled per request environment by Cedar's symbolic compiler
//! (`cedar-policy-symcc`) and decided by the cvc5 solver, which finds a
//! concrete counterexample when a property does not hold.

#![warn(missing_docs)]

pub mod check;
pub mod properties;

pub use cedar_policy_symcc::Env;
pub use check::{Change, Finding, Verdict, Verifier, VerifyError};
pub use properties::{Claim, Properties, Property, PropertyError};
