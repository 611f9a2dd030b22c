//! Where the pods run and how fast they leave a lost node: the worker spread over nodes or
//! zones, and the toleration that shortens Kubernetes' five minutes of Redis on a dead node.

use serde::Serialize;

use crate::cli::GenerateOptions;
use crate::error::{Error, Result};

/// How long Redis stays bound to a node that is not ready or unreachable before it is deleted:
/// its Deployment then replaces it at once (measured on the rig: a new Redis 85 s after the
/// power-off instead of about 350 s), yet longer than a kubelet's restart or a brief network
/// blip. Ray pods keep Kubernetes' 300 s: KubeRay replaces one only once its object is gone,
/// which a dead node's kubelet never finishes, so a shorter toleration gains nothing there and
/// deletes them after a blip (scripts/node-loss.sh).
pub const DEFAULT_NODE_LOSS_TOLERATION_S: u64 = 30;
/// Kubernetes' own default (the DefaultTolerationSeconds admission plugin): a longer one only
/// keeps pods longer on a dead node.
pub const KUBERNETES_TOLERATION_S: u64 = 300;

/// The topology the worker pods are spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// One worker per Kubernetes node at most (while there are nodes to go round).
    Node,
    /// Even over zones, and over nodes inside each zone.
    Zone,
    /// No rule: a one-node cluster.
    None,
}

/// `--spread`: node (the default), zone or none. The flag is checked by clap; a values file
/// reaches here unchecked.
pub(super) fn spread(o: &GenerateOptions) -> Result<Spread> {
    match o.spread.as_deref() {
        None | Some("node") => Ok(Spread::Node),
        Some("zone") => Ok(Spread::Zone),
        Some("none") => Ok(Spread::None),
        Some(other) => Err(Error::invalid(
            "spread",
            format!("must be node, zone or none (got {other:?})"),
        )),
    }
}

/// `--node-loss-toleration`: whole seconds from 1 to Kubernetes' 300.
pub(super) fn node_loss_toleration(o: &GenerateOptions) -> Result<u64> {
    let Some(text) = &o.node_loss_toleration else {
        return Ok(DEFAULT_NODE_LOSS_TOLERATION_S);
    };
    let d = crate::flags::duration("node-loss-toleration", text)?;
    let allowed = format!(
        "must be whole seconds from 1s to {KUBERNETES_TOLERATION_S}s (Kubernetes' default), e.g. {DEFAULT_NODE_LOSS_TOLERATION_S}s (got {text:?})"
    );
    // tolerationSeconds is whole seconds; 0 evicts at the first missed heartbeat.
    if d.subsec_nanos() != 0 || d.as_secs() == 0 || d.as_secs() > KUBERNETES_TOLERATION_S {
        return Err(Error::invalid("node-loss-toleration", allowed));
    }
    Ok(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(spread: Option<&str>, toleration: Option<&str>) -> GenerateOptions {
        GenerateOptions {
            spread: spread.map(str::to_string),
            node_loss_toleration: toleration.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn spread_defaults_to_node_and_names_the_allowed_values() {
        assert_eq!(spread(&with(None, None)).unwrap(), Spread::Node);
        assert_eq!(spread(&with(Some("zone"), None)).unwrap(), Spread::Zone);
        assert_eq!(spread(&with(Some("none"), None)).unwrap(), Spread::None);
        let e = spread(&with(Some("rack"), None)).unwrap_err().to_string();
        assert!(
            e.contains("spread") && e.contains("node, zone or none"),
            "{e}"
        );
    }

    #[test]
    fn toleration_is_whole_seconds_up_to_the_kubernetes_default() {
        assert_eq!(node_loss_toleration(&with(None, None)).unwrap(), 30);
        assert_eq!(node_loss_toleration(&with(None, Some("1m"))).unwrap(), 60);
        assert_eq!(node_loss_toleration(&with(None, Some("45"))).unwrap(), 45);
        for bad in ["0s", "1.5s", "500ms", "301s", "10m", "soon"] {
            let e = node_loss_toleration(&with(None, Some(bad))).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("node-loss-toleration"), "{bad}: {e}");
        }
    }
}
