//! Counters and gauges that plugins report through the `counter-add` and `gauge-set`
//! imports, kept per stage.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Most distinct metric names one stage may create; further names are ignored, so a plugin
/// cannot grow the host's memory through metric names.
pub const MAX_NAMES_PER_STAGE: usize = 256;

/// A metric's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Only ever added to.
    Counter(u64),
    /// Set to the latest value.
    Gauge(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Counter(c) => write!(f, "{c}"),
            Value::Gauge(g) => write!(f, "{g}"),
        }
    }
}

/// The metrics of every stage, keyed by (stage, name).
#[derive(Debug, Default)]
pub struct PluginMetrics {
    values: Mutex<BTreeMap<(String, String), Value>>,
}

/// Whether `name` is a valid metric name: 1-64 characters of `[a-z0-9_]`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PluginMetrics {
    fn update(&self, stage: &str, name: &str, f: impl FnOnce(Option<Value>) -> Value) {
        if !valid_name(name) {
            return;
        }
        let Ok(mut values) = self.values.lock() else {
            return;
        };
        let key = (stage.to_string(), name.to_string());
        if let Some(v) = values.get_mut(&key) {
            *v = f(Some(*v));
            return;
        }
        if values
            .range((stage.to_string(), String::new())..)
            .take_while(|((s, _), _)| s == stage)
            .count()
            >= MAX_NAMES_PER_STAGE
        {
            return;
        }
        values.insert(key, f(None));
    }

    /// Adds `delta` to a counter (a gauge of the same name becomes a counter).
    pub fn counter_add(&self, stage: &str, name: &str, delta: u64) {
        self.update(stage, name, |v| match v {
            Some(Value::Counter(c)) => Value::Counter(c.saturating_add(delta)),
            _ => Value::Counter(delta),
        });
    }

    /// Sets a gauge.
    pub fn gauge_set(&self, stage: &str, name: &str, value: f64) {
        self.update(stage, name, |_| Value::Gauge(value));
    }

    /// Every metric as (stage, name, value), sorted.
    pub fn snapshot(&self) -> Vec<(String, String, Value)> {
        match self.values.lock() {
            Ok(v) => v
                .iter()
                .map(|((s, n), v)| (s.clone(), n.clone(), *v))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sets_and_refuses_bad_names() {
        let m = PluginMetrics::default();
        m.counter_add("flood", "bans", 2);
        m.counter_add("flood", "bans", 3);
        m.gauge_set("flood", "sources_tracked", 7.0);
        m.counter_add("flood", "Bad-Name", 1);
        m.counter_add("flood", "", 1);
        let all = m.snapshot();
        assert_eq!(
            all,
            [
                ("flood".into(), "bans".into(), Value::Counter(5)),
                ("flood".into(), "sources_tracked".into(), Value::Gauge(7.0)),
            ]
        );
    }

    #[test]
    fn names_per_stage_are_bounded() {
        let m = PluginMetrics::default();
        for i in 0..MAX_NAMES_PER_STAGE + 10 {
            m.counter_add("a", &format!("n{i}"), 1);
        }
        m.counter_add("b", "other", 1);
        let all = m.snapshot();
        assert_eq!(
            all.iter().filter(|(s, _, _)| s == "a").count(),
            MAX_NAMES_PER_STAGE
        );
        assert_eq!(all.iter().filter(|(s, _, _)| s == "b").count(), 1);
    }
}
