//! Fuzzes YAML loading: any text must load or fail with an error, never panic, hang or
//! exhaust memory (aliases and depth are bounded). What loads must become objects or
//! fail cleanly, and must write back to YAML that reads as the same value.
#![no_main]

use driftless_core::Object;
use driftless_core::yaml::{LoadOptions, from_str_documents, from_str_multi, to_string};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(documents) = from_str_multi(text) else {
        return;
    };
    for value in documents {
        let _ = Object::new(value.clone());
        let written = to_string(&value).expect("every loaded value can be written");
        let back = from_str_multi(&written).expect("written YAML loads again");
        assert_eq!(back, vec![value], "round trip through:\n{written}");
    }
    // Tight limits must fail cleanly too.
    let tight = LoadOptions::default()
        .max_document_bytes(64)
        .max_alias_nodes(16)
        .max_depth(8);
    let _ = from_str_documents(text, &tight);
});
