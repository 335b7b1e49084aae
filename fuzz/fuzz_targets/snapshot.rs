//! Fuzz target: `Store::from_snapshot_bytes` on arbitrary bytes, as given and with the header's
//! length and CRC repaired (the checks are in `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| userstore_fuzz::check_snapshot(data));
