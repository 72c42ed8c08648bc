//! A plugin's description (`describe()`), host side.

use super::bindings::types as wit;
use std::fmt;

/// One configuration key a plugin understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key.
    pub name: String,
    /// Kind of value, in words.
    pub kind: String,
    /// Default as written in a config; `None` when required.
    pub default: Option<String>,
    /// What it does.
    pub doc: String,
}

/// What a plugin says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// Short name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One sentence.
    pub summary: String,
    /// Config keys.
    pub config: Vec<ConfigKey>,
    /// Annotation keys it wants on events.
    pub reads: Vec<String>,
}

impl Description {
    pub(crate) fn from_wit(d: wit::Description) -> Self {
        Description {
            name: d.name,
            version: d.version,
            summary: d.summary,
            config: d
                .config
                .into_iter()
                .map(|k| ConfigKey {
                    name: k.name,
                    kind: k.kind,
                    default: k.default,
                    doc: k.doc,
                })
                .collect(),
            reads: d.reads,
        }
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.name, self.version)?;
        if !self.summary.is_empty() {
            writeln!(f, "  {}", self.summary)?;
        }
        if !self.config.is_empty() {
            writeln!(f, "  config:")?;
            for k in &self.config {
                let default = k
                    .default
                    .as_deref()
                    .map(|d| format!(", default {d}"))
                    .unwrap_or_else(|| ", required".into());
                writeln!(f, "    {} ({}{default}): {}", k.name, k.kind, k.doc)?;
            }
        }
        if !self.reads.is_empty() {
            writeln!(f, "  reads annotations: {}", self.reads.join(", "))?;
        }
        Ok(())
    }
}
