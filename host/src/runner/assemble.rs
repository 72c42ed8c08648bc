//! Assembling a chain from the configuration: the plugin engine, the services the stages'
//! imports reach (GeoIP, clock, metrics), and the stages themselves, each restored from
//! saved state when the same plugin wrote it.

use super::RunError;
use crate::clock::Clock;
use crate::config::Config;
use crate::geo::GeoService;
use crate::metrics::PluginMetrics;
use crate::pipeline::Pipeline;
use crate::plugin::{
    HostServices, LoadedPlugin, PluginSource, Runtime, RuntimeOptions, StageInstance,
};
use crate::plugin_state::SavedState;
use std::collections::HashMap;
use std::sync::Arc;

/// The engine for `config`: fuel metering when a stage has a fuel budget, precompiled
/// plugins cached in the state folder.
pub fn runtime_for(config: &Config) -> Result<Runtime, RunError> {
    Runtime::new(RuntimeOptions {
        fuel: config.uses_fuel(),
        cache_dir: Some(config.cache_dir()),
    })
    .map_err(RunError::Engine)
}

/// What the stages' imports reach, for `config`: opens the GeoIP/ASN databases.
pub fn services_for(config: &Config, clock: Arc<dyn Clock>) -> Result<HostServices, RunError> {
    let geo = GeoService::open(&config.geoip)?;
    if !geo.current().is_empty() {
        tracing::info!("geoip: {}", geo.current().describe());
    }
    Ok(HostServices {
        clock,
        geo: Arc::new(geo),
        metrics: Arc::new(PluginMetrics::default()),
    })
}

/// The stages of `config`, each started from its entry in `saved` when that was written
/// by the same plugin.
pub(super) fn build_pipeline(
    config: &Config,
    runtime: &Runtime,
    services: &HostServices,
    mut saved: HashMap<String, SavedState>,
) -> Result<Pipeline, RunError> {
    let mut loaded: HashMap<PluginSource, LoadedPlugin> = HashMap::new();
    let interval = i64::try_from(config.snapshot_interval.as_millis()).unwrap_or(i64::MAX);
    let mut pipeline = Pipeline::new(interval);
    for stage in &config.stages {
        let err = |source| RunError::Stage {
            stage: stage.name.clone(),
            source,
        };
        let plugin = match loaded.get(&stage.plugin) {
            Some(p) => p.clone(),
            None => {
                let p = runtime.load(&stage.plugin).map_err(err)?;
                loaded.insert(stage.plugin.clone(), p.clone());
                p
            }
        };
        let mut instance = StageInstance::new(
            runtime,
            &plugin,
            &stage.name,
            stage.config_json.clone(),
            stage.limits,
            services.clone(),
        )
        .map_err(err)?;
        if let Some(saved) = saved.remove(&stage.name) {
            let name = &instance.description().name;
            if saved.plugin == *name {
                instance.restore(saved.bytes).map_err(err)?;
                tracing::info!(stage = %stage.name, "restored saved state");
            } else {
                tracing::warn!(
                    stage = %stage.name,
                    "saved state was written by plugin {:?}, not {name:?}; starting afresh",
                    saved.plugin
                );
            }
        }
        pipeline.push(instance, stage.on_error);
    }
    Ok(pipeline)
}
