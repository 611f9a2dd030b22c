//! The head pod: the guide's drill. With GCS fault tolerance the workers and their Serve
//! replicas must come through untouched.

use futures::future::BoxFuture;

use super::{Target, Victim, describe_ray_pod, ray_pod_victim};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rayservice::Role;
use crate::status::Facts;

pub struct Head;

impl Target for Head {
    fn id(&self) -> &'static str {
        "head"
    }

    fn word(&self) -> &'static str {
        "head"
    }

    fn role(&self) -> Role {
        Role::Head
    }

    /// Replicas on the head die with it: that is a configuration fault, not a drill result.
    fn preflight(&self, facts: &Facts) -> Result<()> {
        let head_ip = facts
            .pods
            .iter()
            .find(|p| p.role == Role::Head)
            .and_then(|h| h.ip.as_ref());
        let on_head = facts.dashboard_error.is_none()
            && facts.replicas.iter().any(|r| Some(&r.node_ip) == head_ip);
        if on_head {
            return Err(Error::failed(format!(
                "rayservice/{} has Serve replicas on its head pod, which die with it: start the head with num-cpus: \"0\" (kubectl rayha lint)",
                facts.name
            )));
        }
        Ok(())
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        describe_ray_pod(facts, Role::Head)
    }

    fn pick<'a>(&'a self, _: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move { ray_pod_victim(facts, Role::Head) })
    }
}
