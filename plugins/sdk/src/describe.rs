//! What a plugin says about itself: name, version, summary, config keys.

/// One configuration key, as `portcullis plugin check` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key's name.
    pub name: String,
    /// The kind of value in words (`integer`, `duration`, `list of networks`).
    pub kind: String,
    /// The default as written in a config; `None` when required.
    pub default: Option<String>,
    /// What it does.
    pub doc: String,
}

impl ConfigKey {
    /// A key with a default.
    pub fn new(name: &str, kind: &str, default: Option<&str>, doc: &str) -> Self {
        ConfigKey {
            name: name.into(),
            kind: kind.into(),
            default: default.map(Into::into),
            doc: doc.into(),
        }
    }
}

/// A plugin's description. Fields left empty are filled in by [`crate::export_plugin!`]:
/// `name` and `version` from the crate's `Cargo.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// Short name.
    pub name: String,
    /// Version (semver).
    pub version: String,
    /// One sentence on what it does.
    pub summary: String,
    /// The keys its config understands.
    pub config: Vec<ConfigKey>,
    /// Annotation keys (beyond `country`, `asn`, `org`, `city`) it wants to see.
    pub reads: Vec<String>,
}

impl Description {
    /// A description with a summary and config keys.
    pub fn new(summary: &str, config: Vec<ConfigKey>) -> Self {
        Description {
            summary: summary.into(),
            config,
            ..Description::default()
        }
    }
}
