//! The drill lock: a Lease `<name>-rayha-failover` that names who runs a drill on a RayService
//! and until when, so a second drill is refused; an expired one (its drill died) is taken over.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, DeleteParams, PostParams};

use super::now_unix;
use crate::cluster::{self, Cluster, KubeContext};
use crate::error::{Error, Result};

/// A Lease other users can see: who runs a drill on this RayService, until when.
pub struct Lock {
    api: Api<Lease>,
    name: String,
    holder: String,
}

const LOCK_SECONDS: i32 = 60;

impl Lock {
    pub async fn acquire(cluster: &Cluster, rayservice: &str) -> Result<Lock> {
        let api: Api<Lease> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let name = format!("{rayservice}-rayha-failover");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let holder = format!("{user}@{} pid {}", host.trim(), std::process::id());
        let lease = Lease {
            metadata: kube::core::ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "kubectl-rayha".to_string(),
                    ),
                    (
                        "app.kubernetes.io/instance".to_string(),
                        rayservice.to_string(),
                    ),
                ])),
                ..Default::default()
            },
            spec: Some(lease_spec(&holder)),
        };
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => return Ok(Lock { api, name, holder }),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                return Err(cluster::kube_failure(
                    format!("cannot take the drill lock (lease {name})"),
                    &e,
                ));
            }
        }
        let existing = api
            .get(&name)
            .await
            .context(format!("cannot read lease {name}"))?;
        let spec = existing.spec.clone().unwrap_or_default();
        let expires = spec.renew_time.as_ref().map(|t| {
            t.0.as_second() + i64::from(spec.lease_duration_seconds.unwrap_or(LOCK_SECONDS))
        });
        let now = now_unix() as i64;
        if expires.is_some_and(|e| e > now) {
            return Err(Error::failed(format!(
                "another failover drill on rayservice/{rayservice} is running: held by {} until {} s from now (lease {name})",
                spec.holder_identity.as_deref().unwrap_or("unknown"),
                expires.unwrap_or(now) - now
            )));
        }
        // An expired lock of a drill that died: take it over.
        let mut taken = existing;
        taken.spec = Some(lease_spec(&holder));
        api.replace(&name, &PostParams::default(), &taken)
            .await
            .context(format!("cannot take over the expired lease {name}"))?;
        Ok(Lock { api, name, holder })
    }

    pub async fn renew(&self) {
        if let Ok(mut lease) = self.api.get(&self.name).await {
            lease.spec = Some(lease_spec(&self.holder));
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }

    pub async fn release(&self) {
        let _ = self.api.delete(&self.name, &DeleteParams::default()).await;
    }
}

fn lease_spec(holder: &str) -> LeaseSpec {
    let now = k8s_openapi::jiff::Timestamp::now();
    LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(LOCK_SECONDS),
        acquire_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            now,
        )),
        renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            now,
        )),
        ..Default::default()
    }
}
