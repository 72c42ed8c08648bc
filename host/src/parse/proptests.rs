//! Property tests: records the kernel can print, rendered in its exact format inside a
//! random wrapper, parse back to the same record; random bytes, token soup and mutated
//! records never panic, and whatever parses renders as valid JSON and text.

use proptest::prelude::*;
use proptest::sample::select;

use super::render::render;
use super::strategies::{ENVELOPES, record};
use super::{ParseOptions, Parser, json, text};

fn parser() -> Parser {
    Parser::new(ParseOptions {
        reference_unix_secs: 1_788_220_800,
        utc_offset_secs: 0,
    })
}

/// Everything downstream of a parse must cope with what the parser returns.
fn check_outputs(line: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(Some(ev)) = parser().parse(line) {
        let mut out = Vec::new();
        json::write_json(&ev, &mut out);
        let v: Result<serde_json::Value, _> = serde_json::from_slice(&out);
        prop_assert!(
            v.is_ok(),
            "invalid JSON {:?}",
            String::from_utf8_lossy(&out)
        );
        out.clear();
        text::write_text(&ev, &mut out);
    }
    Ok(())
}

/// Pieces of kernel text, to reach deep parser states more often than random bytes do.
const TOKENS: &[&str] = &[
    "IN=",
    " OUT=",
    "eth0 ",
    "MAC=",
    "aa:bb:",
    "08:00 ",
    "SRC=",
    "DST=",
    "1.2.3.4 ",
    "2001:0db8:0000:0000:0000:0000:0000:0001 ",
    "LEN=",
    "TOS=0x",
    "PREC=0x",
    "TTL=",
    "ID=",
    "00 ",
    "65535 ",
    "4294967296 ",
    "DF ",
    "FRAG:",
    "OPT (",
    ") ",
    "OPT ( ",
    "PROTO=",
    "TCP ",
    "UDP ",
    "ICMP ",
    "ICMPv6 ",
    "SPT=",
    "DPT=",
    "WINDOW=",
    "RES=0x",
    "SYN ",
    "ACK ",
    "URGP=",
    "TYPE=",
    "CODE=",
    "[",
    "]",
    "INCOMPLETE [",
    " bytes]",
    "UID=",
    "MARK=0x",
    " ",
    "TRUNCATED",
    "ARP HTYPE=",
    "MACSRC=",
    "TUNNEL=",
    "->",
    "\u{e9}",
    "\0",
    "=",
    ":",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn kernel_text_round_trips(
        rec in record(),
        env in select(ENVELOPES),
        trailing_space in any::<bool>(),
    ) {
        let mut line = format!("{env}{}", render(&rec));
        if !trailing_space {
            line.truncate(line.trim_end_matches(' ').len());
        }
        let ev = parser().parse(line.as_bytes());
        prop_assert!(matches!(ev, Ok(Some(_))), "{ev:?}\n{line}");
        if let Ok(Some(ev)) = ev {
            prop_assert_eq!(&ev.record, &rec, "{}", line);
        }
        check_outputs(line.as_bytes())?;
    }

    #[test]
    fn mutated_records_never_panic(
        rec in record(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5, any::<u8>()), 1..5),
    ) {
        let mut line = render(&rec).into_bytes();
        for (at, kind, byte) in edits {
            let i = at.index(line.len() + 1);
            match kind {
                0 => line.truncate(i),
                1 => { line.insert(i, byte); }
                2 if i < line.len() => { line.remove(i); }
                3 if i < line.len() => line[i] = byte,
                _ => {
                    let tok = TOKENS[usize::from(byte) % TOKENS.len()].as_bytes();
                    line.splice(i..i, tok.iter().copied());
                }
            }
        }
        check_outputs(&line)?;
    }

    #[test]
    fn random_bytes_never_panic(line in prop::collection::vec(any::<u8>(), 0..400)) {
        check_outputs(&line)?;
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(select(TOKENS), 0..60)) {
        check_outputs(toks.concat().as_bytes())?;
    }
}
