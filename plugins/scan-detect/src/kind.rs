//! What kind of probe an event is, by protocol and TCP flags, as psad names them.

use portcullis_sdk::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};

/// The kind of one probe. The discriminants are saved in snapshots: append, never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// TCP with SYN only (nmap `-sS`, `-sT`).
    Syn = 0,
    /// TCP with FIN only (`-sF`).
    Fin = 1,
    /// TCP with no flag at all (`-sN`).
    Null = 2,
    /// TCP with FIN, PSH and URG (`-sX`; psad's XMAS).
    Xmas = 3,
    /// TCP with ACK only (`-sA`, `-sW`).
    Ack = 4,
    /// TCP with any other combination of flags.
    Tcp = 5,
    /// UDP (`-sU`).
    Udp = 6,
    /// ICMP or ICMPv6 (counts towards host sweeps only: it has no ports).
    Icmp = 7,
    /// Any other IP protocol.
    Ip = 8,
}

/// The six flags that tell probes apart; ECN bits (ECE, CWR, AE) are ignored, so an
/// ECN-capable SYN is still a SYN.
const CLASSIC: u16 = FIN | SYN | RST | PSH | ACK | URG;

impl Kind {
    /// Classifies a probe of IP protocol `proto` with TCP flag bits `flags`.
    pub fn of(proto: u8, flags: u16) -> Kind {
        match proto {
            6 => match flags & CLASSIC {
                SYN => Kind::Syn,
                FIN => Kind::Fin,
                0 => Kind::Null,
                f if f == FIN | PSH | URG => Kind::Xmas,
                ACK => Kind::Ack,
                _ => Kind::Tcp,
            },
            17 => Kind::Udp,
            1 | 58 => Kind::Icmp,
            _ => Kind::Ip,
        }
    }

    /// The kind a saved byte stands for (`None` for a byte no version wrote).
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Syn,
            1 => Kind::Fin,
            2 => Kind::Null,
            3 => Kind::Xmas,
            4 => Kind::Ack,
            5 => Kind::Tcp,
            6 => Kind::Udp,
            7 => Kind::Icmp,
            8 => Kind::Ip,
            _ => return None,
        })
    }

    /// The name used in ban reasons and notes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Syn => "SYN",
            Kind::Fin => "FIN",
            Kind::Null => "NULL",
            Kind::Xmas => "XMAS",
            Kind::Ack => "ACK",
            Kind::Tcp => "TCP",
            Kind::Udp => "UDP",
            Kind::Icmp => "ICMP",
            Kind::Ip => "IP",
        }
    }
}

/// What a scan is called: the kind of at least four in five of its probes, `None`
/// (`mixed`) otherwise. One stray packet (a RST among SYNs) does not hide a SYN scan.
pub fn classify(kinds: impl Iterator<Item = Kind>) -> Option<Kind> {
    let mut counts = [0usize; 9];
    let mut total = 0;
    for k in kinds {
        counts[k as usize] += 1;
        total += 1;
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map(|(i, n)| (i, *n))
        .unwrap_or((0, 0));
    if total == 0 || n * 5 < total * 4 {
        return None;
    }
    Kind::from_u8(best as u8)
}

/// The name of a classification: the kind's, or `mixed`.
pub fn label(class: Option<Kind>) -> &'static str {
    class.map_or("mixed", Kind::name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::tcp_flags::{AE, CWR, ECE};

    #[test]
    fn classifies_tcp_flags_as_psad_does() {
        assert_eq!(Kind::of(6, SYN), Kind::Syn);
        assert_eq!(Kind::of(6, SYN | ECE | CWR), Kind::Syn);
        assert_eq!(Kind::of(6, FIN), Kind::Fin);
        assert_eq!(Kind::of(6, 0), Kind::Null);
        assert_eq!(Kind::of(6, AE), Kind::Null);
        assert_eq!(Kind::of(6, URG | PSH | FIN), Kind::Xmas);
        assert_eq!(Kind::of(6, ACK), Kind::Ack);
        for other in [
            SYN | ACK,
            RST,
            ACK | RST,
            ACK | PSH,
            FIN | ACK,
            URG | PSH | FIN | SYN,
        ] {
            assert_eq!(Kind::of(6, other), Kind::Tcp, "{other:#x}");
        }
        assert_eq!(Kind::of(17, 0), Kind::Udp);
        assert_eq!(Kind::of(1, 0), Kind::Icmp);
        assert_eq!(Kind::of(58, 0), Kind::Icmp);
        assert_eq!(Kind::of(132, 0), Kind::Ip);
    }

    #[test]
    fn saved_bytes_round_trip() {
        for b in 0..=8 {
            assert_eq!(Kind::from_u8(b).map(|k| k as u8), Some(b));
        }
        assert_eq!(Kind::from_u8(9), None);
    }

    #[test]
    fn a_scan_is_named_by_four_in_five_of_its_probes() {
        let name = |parts: &[(Kind, usize)]| {
            label(classify(
                parts.iter().flat_map(|(k, n)| std::iter::repeat_n(*k, *n)),
            ))
        };
        assert_eq!(name(&[(Kind::Syn, 20)]), "SYN");
        assert_eq!(name(&[(Kind::Syn, 16), (Kind::Tcp, 4)]), "SYN");
        assert_eq!(name(&[(Kind::Syn, 15), (Kind::Udp, 5)]), "mixed");
        assert_eq!(name(&[(Kind::Xmas, 3)]), "XMAS");
        assert_eq!(name(&[]), "mixed");
    }
}
