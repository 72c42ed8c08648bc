//! TCP flag bits as carried in a batch record's `tcp_flags` field.
//!
//! The bit positions follow the TCP header (RFC 9293 plus the AE bit of RFC 9768), so a
//! record's flags read the same way a packet's do.

/// FIN: no more data from sender.
pub const FIN: u16 = 1 << 0;
/// SYN: synchronise sequence numbers.
pub const SYN: u16 = 1 << 1;
/// RST: reset the connection.
pub const RST: u16 = 1 << 2;
/// PSH: push function.
pub const PSH: u16 = 1 << 3;
/// ACK: the acknowledgment field is significant.
pub const ACK: u16 = 1 << 4;
/// URG: the urgent pointer is significant.
pub const URG: u16 = 1 << 5;
/// ECE: ECN echo.
pub const ECE: u16 = 1 << 6;
/// CWR: congestion window reduced.
pub const CWR: u16 = 1 << 7;
/// AE: accurate ECN (the kernel prints it as `AE`).
pub const AE: u16 = 1 << 8;

/// Every flag with the token the kernel prints for it, in the kernel's print order.
pub const KERNEL_ORDER: [(u16, &str); 9] = [
    (AE, "AE"),
    (CWR, "CWR"),
    (ECE, "ECE"),
    (URG, "URG"),
    (ACK, "ACK"),
    (PSH, "PSH"),
    (RST, "RST"),
    (SYN, "SYN"),
    (FIN, "FIN"),
];
