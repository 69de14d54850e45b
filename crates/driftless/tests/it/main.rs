//! Integration tests of the facade: whole reconciles through `Pipeline`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

#[cfg(feature = "kube")]
mod kube_health;
mod pipeline;
