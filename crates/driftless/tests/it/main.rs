//! Integration tests of the facade: whole reconciles through `Pipeline`.

mod pipeline;
