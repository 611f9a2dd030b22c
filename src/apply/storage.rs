//! Preflight for the bundle's PersistentVolumeClaims: a claim that can never bind leaves Redis
//! Pending forever, and the RayService with it, so it is refused before anything changes.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::{Item, Resolved};
use crate::cluster::{Cluster, KubeContext, describe_kube_error};
use crate::error::{Error, Result};

const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// A StorageClass as far as binding is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub default: bool,
}

/// Every claim of the bundle that does not exist yet must be able to bind.
pub async fn check_claims(cluster: &Cluster, items: &[Item], resolved: &[Resolved]) -> Result<()> {
    for (item, res) in items.iter().zip(resolved) {
        if item.object["kind"] != "PersistentVolumeClaim" {
            continue;
        }
        let exists = res
            .api
            .get_opt(&res.name)
            .await
            .context(&item.label)?
            .is_some();
        check_claim_binds(cluster, &item.object, exists).await?;
    }
    Ok(())
}

/// Refuses a new claim that names no class when the cluster has no default one, or names a
/// class that does not exist. Without permission to list classes it warns and lets it through.
pub async fn check_claim_binds(cluster: &Cluster, claim: &Value, exists: bool) -> Result<()> {
    if exists {
        return Ok(()); // bound or binding already: its class cannot change
    }
    let api: Api<StorageClass> = Api::all(cluster.client.clone());
    let classes = match api.list(&ListParams::default()).await {
        Ok(list) => list.items.iter().map(class_of).collect::<Vec<_>>(),
        Err(e) => {
            eprintln!(
                "warning: cannot list StorageClasses ({}): not checked that {} can bind",
                describe_kube_error(&e),
                claim_label(claim)
            );
            return Ok(());
        }
    };
    match claim_problem(claim["spec"]["storageClassName"].as_str(), &classes) {
        Some(problem) => Err(Error::failed(format!(
            "{}: {problem}; nothing was changed",
            claim_label(claim)
        ))),
        None => Ok(()),
    }
}

fn class_of(sc: &StorageClass) -> Class {
    let annotations = sc.metadata.annotations.clone().unwrap_or_default();
    Class {
        name: sc.metadata.name.clone().unwrap_or_default(),
        default: DEFAULT_CLASS_ANNOTATIONS
            .iter()
            .any(|a| annotations.get(*a).is_some_and(|v| v == "true")),
    }
}

fn claim_label(claim: &Value) -> String {
    format!(
        "persistentvolumeclaim/{}",
        claim["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Why a new claim of class `wanted` (None: the default class; "": statically bound volumes
/// only, the user's business) would never bind among `classes`.
pub fn claim_problem(wanted: Option<&str>, classes: &[Class]) -> Option<String> {
    let names = || {
        classes
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some("") => None,
        Some(name) if classes.iter().any(|c| c.name == name) => None,
        Some(name) if classes.is_empty() => Some(format!(
            "StorageClass {name:?} does not exist and the cluster has none: install a storage provisioner, or generate with --redis-storage none (Redis then loses its data with its pod)"
        )),
        Some(name) => Some(format!(
            "StorageClass {name:?} does not exist (the cluster has: {}): generate with --storage-class naming one of them",
            names()
        )),
        None if classes.iter().any(|c| c.default) => None,
        None if classes.is_empty() => Some(
            "it names no StorageClass and the cluster has none, so it would never bind and Redis would never start: install a storage provisioner, or generate with --redis-storage none (Redis then loses its data with its pod)".into(),
        ),
        None => Some(format!(
            "it names no StorageClass and none of the cluster's ({}) is the default, so it would never bind and Redis would never start: generate with --storage-class NAME, or mark a class default (annotation storageclass.kubernetes.io/is-default-class=true)",
            names()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, default: bool) -> Class {
        Class {
            name: name.into(),
            default,
        }
    }

    #[test]
    fn a_claim_without_a_class_needs_a_default_class() {
        assert_eq!(claim_problem(None, &[class("gp3", true)]), None);
        let none_default =
            claim_problem(None, &[class("gp3", false), class("io2", false)]).unwrap();
        assert!(none_default.contains("gp3, io2") && none_default.contains("--storage-class"));
        let no_class = claim_problem(None, &[]).unwrap();
        assert!(no_class.contains("--redis-storage none"), "{no_class}");
    }

    #[test]
    fn a_named_class_must_exist_and_an_empty_name_is_left_to_the_user() {
        assert_eq!(claim_problem(Some("io2"), &[class("io2", false)]), None);
        let missing = claim_problem(Some("fast"), &[class("gp3", true)]).unwrap();
        assert!(
            missing.contains("\"fast\"") && missing.contains("gp3"),
            "{missing}"
        );
        assert_eq!(claim_problem(Some(""), &[]), None);
    }
}
