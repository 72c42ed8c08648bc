//! Fuzz target: any bytes through the line parser, then whatever it returns through the
//! JSON and text writers. Never a panic; the JSON is always valid.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The parser module exactly as the host compiles it (see Cargo.toml for why not the crate).
#[allow(dead_code, unused_imports)]
#[path = "../../host/src/parse/mod.rs"]
mod parse;

use parse::{ParseOptions, Parser, json, text};

fuzz_target!(|line: &[u8]| {
    let mut parser = Parser::new(ParseOptions {
        reference_unix_secs: 1_788_220_800,
        utc_offset_secs: 0,
    });
    if let Ok(Some(ev)) = parser.parse(line) {
        let mut out = Vec::new();
        json::write_json(&ev, &mut out);
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
            panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(&out));
        }
        out.clear();
        text::write_text(&ev, &mut out);
    }
});
