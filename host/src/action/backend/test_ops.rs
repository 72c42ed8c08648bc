//! Ops and networks for the backends' unit tests.

use super::Op;
use portcullis_abi::net::IpNet;
use std::sync::Arc;

pub fn net(s: &str) -> IpNet {
    IpNet::parse(s).unwrap()
}

pub fn add(t: &str, expires_at: i64) -> Op {
    Op::Add {
        target: net(t),
        expires_at,
        reason: Arc::from("test"),
        origin: Arc::from("test"),
    }
}

pub fn remove(t: &str) -> Op {
    Op::Remove {
        target: net(t),
        why: Arc::from("test"),
    }
}
