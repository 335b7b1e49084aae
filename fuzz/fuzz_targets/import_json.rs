//! Fuzz target: `Store::import_json` on arbitrary bytes (the checks are in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| userstore_fuzz::check_import(data));
