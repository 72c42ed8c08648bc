//! Sans-IO parser of the kernel's socket tables (`/proc/net/{tcp,tcp6,udp,udp6}`): which
//! sockets listen, on which address and port, under which inode.
//!
//! The kernel prints each address as 32-bit words in *host* byte order (`%08X` of the word
//! as it sits in memory), so `0100007F` is 127.0.0.1 on a little-endian machine, and an IPv6
//! address is four such words, each byte-swapped. The port is a plain number in hex.

use super::{Family, Proto};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TCP `LISTEN` in the `st` column.
const TCP_LISTEN: u8 = 0x0A;
/// UDP's "unconnected" state (`TCP_CLOSE` reused): bound, no peer.
const UDP_UNCONNECTED: u8 = 0x07;

/// A listening socket as the socket table shows it, before its owner is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// TCP or UDP.
    pub proto: Proto,
    /// The bound address (`0.0.0.0` or `::` for every address).
    pub address: IpAddr,
    /// The bound port.
    pub port: u16,
    /// The socket's inode, which names it in `/proc/<pid>/fd` (`socket:[inode]`).
    pub inode: u64,
}

/// Byte order of the words in the address columns: the order of the kernel that wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// This machine's order: the one `/proc` of the running kernel uses.
    pub(crate) const NATIVE: ByteOrder = if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };
}

/// The listening sockets in the text of one socket table: TCP sockets in `LISTEN`, UDP
/// sockets bound and unconnected (no peer). `family` says which table it is (`tcp` or
/// `tcp6`), i.e. how wide the addresses are. The header and any line that does not parse
/// are skipped.
pub fn parse_proc_net(text: &str, proto: Proto, family: Family) -> Vec<Socket> {
    parse_in(text, proto, family, ByteOrder::NATIVE)
}

/// [`parse_proc_net`] for text written by a kernel with byte order `order`.
pub(crate) fn parse_in(text: &str, proto: Proto, family: Family, order: ByteOrder) -> Vec<Socket> {
    text.lines()
        .filter_map(|line| parse_line(line, proto, family, order))
        .collect()
}

/// One row: `sl: local remote st tx:rx tr:when retrnsmt uid timeout inode ...`.
fn parse_line(line: &str, proto: Proto, family: Family, order: ByteOrder) -> Option<Socket> {
    let mut fields = line.split_whitespace();
    fields.next()?.strip_suffix(':')?;
    let (address, port) = endpoint(fields.next()?, family, order)?;
    let (remote, remote_port) = endpoint(fields.next()?, family, order)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let inode = fields.nth(5)?.parse().ok()?;
    let listening = match proto {
        Proto::Tcp => state == TCP_LISTEN,
        Proto::Udp => state == UDP_UNCONNECTED && remote_port == 0 && remote.is_unspecified(),
    };
    listening.then_some(Socket {
        proto,
        address,
        port,
        inode,
    })
}

/// `ADDR:PORT`, both hex.
fn endpoint(field: &str, family: Family, order: ByteOrder) -> Option<(IpAddr, u16)> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let addr = match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(words::<1, 4>(addr, order)?)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(words::<4, 16>(addr, order)?)),
    };
    Some((addr, port))
}

/// `W` words of eight hex digits, each turned from host order back into the network
/// order bytes it was stored from; `B` is `4 * W`.
fn words<const W: usize, const B: usize>(hex: &str, order: ByteOrder) -> Option<[u8; B]> {
    if hex.len() != 8 * W || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; B];
    for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[8 * i..8 * i + 8], 16).ok()?;
        chunk.copy_from_slice(&match order {
            ByteOrder::Little => word.to_le_bytes(),
            ByteOrder::Big => word.to_be_bytes(),
        });
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on x86_64 (Linux 6.x) in a scratch network namespace running
    // `nc -4 -lk 8080`, `nc -l 127.0.0.1 9090`, `nc -6 -lk 8443`, `nc -6 -l ::1 9091`,
    // `nc -4 -u -l 5353` and `nc -6 -u -l 5354`.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 539222 1 00000000c3975086 100 0 0 10 0                    
   1: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 539402 1 0000000022277a33 100 0 0 10 0                    
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2383 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 539408 1 00000000e9f48d8f 100 0 0 10 0
   1: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 539294 1 00000000e3d804ac 100 0 0 10 0
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 2683: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 539300 2 0000000017fd9d2d 0        
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 2684: 00000000000000000000000000000000:14EA 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 539305 2 000000005786c12d 0
";

    // Same machine, another namespace: a listener on 198.51.100.1:8080 with one connection
    // accepted (both ends ESTABLISHED), a UDP listener on 5353 that has received a datagram
    // from 127.0.0.1:43171 (openbsd nc then connects it to that peer) and the sender's socket,
    // `nc -6 -u -l 2001:db8::1 5355` and `nc -6 -lk ::ffff:127.0.0.1 8081`.
    const TCP_BUSY: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 016433C6:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 541225 1 0000000022277a33 100 0 0 10 0                    
   1: 016433C6:A8FE 016433C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 540107 2 0000000005d1c8f3 20 0 0 10 -1                    
   2: 016433C6:1F90 016433C6:A8FE 01 00000000:00000000 00:00000000 00000000     0        0 541226 1 00000000c7edb73a 20 0 0 10 -1                    
";
    const TCP6_MAPPED: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 541227 1 00000000e9f48d8f 100 0 0 10 0
";
    const UDP_CONNECTED: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 8843: 0100007F:14E9 0100007F:A8A3 01 00000000:00000000 00:00000000 00000000     0        0 540088 2 00000000928521b5 0        
13893: 0100007F:A8A3 0100007F:14E9 01 00000000:00000000 00:00000000 00000000     0        0 541235 2 0000000017fd9d2d 0        
";
    const UDP6_DOC: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 8845: B80D0120000000000000000001000000:14EB 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 540087 2 000000003a8003f1 0
";

    fn parse(text: &str, proto: Proto, family: Family) -> Vec<(String, u16, u64)> {
        parse_in(text, proto, family, ByteOrder::Little)
            .into_iter()
            .map(|s| {
                assert_eq!(s.proto, proto);
                (s.address.to_string(), s.port, s.inode)
            })
            .collect()
    }

    fn row(addr: &str, port: u16, inode: u64) -> (String, u16, u64) {
        (addr.to_string(), port, inode)
    }

    #[test]
    fn tcp_listeners_on_every_and_one_ipv4_address() {
        assert_eq!(
            parse(TCP, Proto::Tcp, Family::V4),
            [row("0.0.0.0", 8080, 539222), row("127.0.0.1", 9090, 539402)]
        );
    }

    #[test]
    fn tcp6_words_are_byte_swapped_each() {
        assert_eq!(
            parse(TCP6, Proto::Tcp, Family::V6),
            [row("::1", 9091, 539408), row("::", 8443, 539294)]
        );
        assert_eq!(
            parse(TCP6_MAPPED, Proto::Tcp, Family::V6),
            [row("::ffff:127.0.0.1", 8081, 541227)]
        );
    }

    #[test]
    fn unconnected_udp_sockets_are_listeners() {
        assert_eq!(
            parse(UDP, Proto::Udp, Family::V4),
            [row("0.0.0.0", 5353, 539300)]
        );
        assert_eq!(
            parse(UDP6, Proto::Udp, Family::V6),
            [row("::", 5354, 539305)]
        );
        assert_eq!(
            parse(UDP6_DOC, Proto::Udp, Family::V6),
            [row("2001:db8::1", 5355, 540087)]
        );
    }

    #[test]
    fn established_and_connected_sockets_are_not() {
        assert_eq!(
            parse(TCP_BUSY, Proto::Tcp, Family::V4),
            [row("198.51.100.1", 8080, 541225)]
        );
        assert_eq!(parse(UDP_CONNECTED, Proto::Udp, Family::V4), []);
    }

    #[test]
    fn an_unconnected_udp_state_with_a_peer_is_not_a_listener() {
        let line = " 1: 0100007F:14E9 0100007F:A8A3 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0";
        assert_eq!(parse(line, Proto::Udp, Family::V4), []);
        let line = " 1: 0100007F:14E9 0100007F:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0";
        assert_eq!(parse(line, Proto::Udp, Family::V4), []);
    }

    #[test]
    fn big_endian_kernels_print_words_in_network_order() {
        let line = "0: 7F000001:1F90 00000000:0000 0A 0:0 0:0 0 0 0 42";
        assert_eq!(
            parse_in(line, Proto::Tcp, Family::V4, ByteOrder::Big)[0].address,
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let line = "0: 20010DB8000000000000000000000001:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 42";
        assert_eq!(
            parse_in(line, Proto::Tcp, Family::V6, ByteOrder::Big)[0].address,
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_wrong_family_or_damaged_lines_are_skipped() {
        // A tcp6 table read as tcp: every address is the wrong width.
        assert_eq!(parse(TCP6, Proto::Tcp, Family::V4), []);
        assert_eq!(parse(TCP, Proto::Tcp, Family::V6), []);
        for damaged in [
            "",
            "0: 00000000:1F90",
            "0: 00000000:1F90 00000000:0000 0A 0:0 0:0 0 0 0",
            "0: 00000000:1F90 00000000:0000 0A 0:0 0:0 0 0 0 notanumber",
            "0: 0000000G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
            "0: 00000000:1F9G0 00000000:0000 0A 0:0 0:0 0 0 0 1",
            "0: 00000000:10000 00000000:0000 0A 0:0 0:0 0 0 0 1",
            "0: 000000é:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
            "0 00000000:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
        ] {
            assert_eq!(parse(damaged, Proto::Tcp, Family::V4), [], "{damaged:?}");
        }
        // A multi-byte character across a word boundary: skipped, not a slicing panic.
        let v6 = format!(
            "0: 0000000é{}:1F90 {}:0000 0A 0:0 0:0 0 0 0 1",
            "0".repeat(23),
            "0".repeat(32)
        );
        assert_eq!(parse(&v6, Proto::Tcp, Family::V6), []);
        // The same line undamaged parses, so the cases above fail for their damage alone.
        assert_eq!(
            parse(
                "0: 00000000:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
                Proto::Tcp,
                Family::V4
            ),
            [row("0.0.0.0", 8080, 1)]
        );
    }
}
