//! The generated host side of the plugin contract (`wit/`): the only `bindgen!` in the host.
#![allow(missing_docs, clippy::all)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "stage",
});

pub use self::portcullis::plugin::types;
