//! The one place a cluster's connection settings are loaded, for the target and the
//! Lease alike.

use std::path::Path;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;

/// Loads how to reach a cluster: the kubeconfig file `kubeconfig` (else `KUBECONFIG`,
/// else `~/.kube/config`) at `context` (else the current context), falling back to the
/// in-cluster service account when there is no kubeconfig and no context was asked for.
pub async fn load(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Config, Error> {
    let kube_options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config_error =
        |reason: String, e: Box<dyn std::error::Error + Send + Sync>| Error::Config {
            context: context.map(str::to_owned),
            reason,
            source: Some(e),
        };
    if let Some(path) = kubeconfig {
        let file = Kubeconfig::read_from(path).map_err(|e| {
            config_error(
                format!("cannot read kubeconfig {}", path.display()),
                e.into(),
            )
        })?;
        return Config::from_custom_kubeconfig(file, &kube_options)
            .await
            .map_err(|e| config_error(format!("kubeconfig {}", path.display()), e.into()));
    }
    match Config::from_kubeconfig(&kube_options).await {
        Ok(config) => Ok(config),
        Err(kubeconfig_error) if context.is_none() => {
            Config::incluster().map_err(|incluster_error| Error::Config {
                context: None,
                reason: format!(
                    "no kubeconfig ({kubeconfig_error}; set KUBECONFIG or write ~/.kube/config) and not running in a cluster"
                ),
                source: Some(incluster_error.into()),
            })
        }
        Err(e) => Err(config_error(
            "cannot load the kubeconfig (KUBECONFIG or ~/.kube/config)".into(),
            e.into(),
        )),
    }
}
