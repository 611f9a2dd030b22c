//! Whether the Kubernetes cluster has room for a second RayCluster of a spec, before anything
//! changes. A RayService upgrade of the cluster spec (upgradeStrategy NewCluster) creates a
//! pending RayCluster beside the serving one and deletes the old one only once traffic has
//! switched, so for the length of the upgrade both need a place.
//!
//! The model follows the scheduler's filters for each pod of the new cluster: node Ready and
//! not cordoned, taints and tolerations, nodeSelector and required node affinity, resource
//! requests against allocatable (cpu, memory, pods and any extended resource), topology spread
//! rules with `whenUnsatisfiable: DoNotSchedule`, required pod (anti-)affinity. It places the
//! pods greedily, largest first, each on the fitting node with the most free cpu.
//!
//! What it leaves out: preferred rules and ScheduleAnyway spread (they never block); host ports,
//! volumes (zonal disks, volume limits) and DRA claims; a RuntimeClass's pod overhead for the new
//! pods (set by admission, which we do not run); nominated pods and preemption (a higher-priority
//! pod may still take a place); a namespaceSelector of a pod affinity term on labels other than
//! `kubernetes.io/metadata.name` (namespaces are not listed, so such a selector matches nothing);
//! KubeRay's optional history-collector sidecar; a pod template's `nodeName`. The scheduler
//! itself scores nodes with more than free cpu, so a fit found here is a good sign, not a
//! promise, and a greedy miss is possible where a smarter packing would fit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Cluster, describe_kube_error};
use crate::error::{Error, Result};

/// What the check reads: (verb, API group, resource, cluster-scoped).
pub const PERMISSIONS: &[(&str, &str, &str, bool)] =
    &[("list", "", "nodes", true), ("list", "", "pods", true)];

/// Items per list request: bounds the memory of one page on a large cluster.
const PAGE: u32 = 500;

/// More new pods than this are not placed one by one (a spec with millions of replicas).
const MAX_NEW_PODS: u64 = 2000;

/// The `ray.io/cluster` value of the new cluster's pods. KubeRay picks a random name; this one
/// is no valid label value, so no existing pod has it, which is all the rules need to know.
const NEW_CLUSTER: &str = "(new)";

const HOSTNAME: &str = "kubernetes.io/hostname";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// Where the check stands for the new cluster: what it needs, where each pod went.
#[derive(Debug, Clone, Serialize)]
pub struct Room {
    /// The namespace the new cluster's pods go to.
    pub namespace: String,
    /// The sum of the new pods' requests.
    pub needed: Resources,
    /// The new pods, in the order they were placed.
    pub pods: Vec<PodRoom>,
    /// How many of them found a node.
    pub placed: usize,
    /// Every node, by name.
    pub nodes: Vec<NodeRoom>,
}

/// One pod of the new cluster and where it went.
#[derive(Debug, Clone, Serialize)]
pub struct PodRoom {
    /// "head pod", "worker pod 1 of 2", "worker pod 1 of 2 in group gpu".
    pub pod: String,
    pub requests: Resources,
    /// The node it was placed on.
    pub node: Option<String>,
    /// When it fits nowhere: for each node, the first reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_room: Vec<NodeReason>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeReason {
    pub node: String,
    pub reason: String,
}

/// A node: what it has free before and after the new pods.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRoom {
    pub name: String,
    /// Why no pod goes there at all (not Ready, cordoned); None for a schedulable node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<String>,
    /// cpu, memory, pods and whatever else the new pods request.
    pub allocatable: Resources,
    pub free_before: Resources,
    pub free_after: Resources,
    /// The new pods placed here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_pods: Vec<String>,
}

/// How many nodes' reasons the refusal names (the rest are counted).
const REASONS_SHOWN: usize = 10;

impl Room {
    /// None when every pod of the new cluster has a place; else a one-line reason with numbers.
    pub fn refusal(&self) -> Option<String> {
        let first = self.pods.iter().find(|p| p.node.is_none())?;
        let n = self.pods.len();
        let mut reasons: Vec<String> = first
            .no_room
            .iter()
            .take(REASONS_SHOWN)
            .map(|r| format!("{}: {}", r.node, r.reason))
            .collect();
        if first.no_room.len() > REASONS_SHOWN {
            reasons.push(format!(
                "{} more nodes",
                first.no_room.len() - REASONS_SHOWN
            ));
        }
        if reasons.is_empty() {
            reasons.push("the cluster lists no nodes".into());
        }
        Some(format!(
            "no room for a second RayCluster: {n} pods need {}; placed {} of {n}: {} ({}) fits on no schedulable node ({})",
            self.needed.show(),
            self.placed,
            first.pod,
            first.requests.show(),
            reasons.join("; ")
        ))
    }

    /// Lines for a human: per node free cpu/memory before and after placing, what went where.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![format!(
            "a second RayCluster in namespace {}: {} pods need {}; {} of {} placed",
            self.namespace,
            self.pods.len(),
            self.needed.show(),
            self.placed,
            self.pods.len()
        )];
        for n in &self.nodes {
            match &n.unschedulable {
                Some(why) => out.push(format!("node {}: {why}, no pod goes there", n.name)),
                None => {
                    let mut line = format!(
                        "node {}: free {}; after placing {}",
                        n.name,
                        n.free_before.show_of(&n.allocatable),
                        n.free_after.show_all()
                    );
                    if !n.new_pods.is_empty() {
                        line.push_str(&format!(" ({})", n.new_pods.join(", ")));
                    }
                    out.push(line);
                }
            }
        }
        for p in &self.pods {
            match &p.node {
                Some(node) => out.push(format!("{} ({}) on {node}", p.pod, p.requests.show())),
                None => {
                    out.push(format!(
                        "{} ({}) fits on no node:",
                        p.pod,
                        p.requests.show()
                    ));
                    out.extend(
                        p.no_room
                            .iter()
                            .map(|r| format!("  {}: {}", r.node, r.reason)),
                    );
                }
            }
        }
        out
    }
}

/// Reads the schedulable nodes and the pods on them, and places the new cluster's pods.
pub async fn room_for_new_cluster(cluster: &Cluster, ray_cluster_config: &Value) -> Result<Room> {
    // The spec first: a bad one is the user's to fix whatever the cluster holds.
    let new_pods = new_cluster_pods(ray_cluster_config, &cluster.namespace)?;
    let nodes = list_nodes(&cluster.client).await?;
    let pods = list_bound_pods(&cluster.client).await?;
    Ok(place(&cluster.namespace, &nodes, pods, new_pods))
}

// ---------------------------------------------------------------------------------------------
// Quantities and resource lists

/// An amount in thousandths of its unit: millicores for cpu, so "500m" is exact. Other
/// resources are kept in whole units (see `whole_units`).
type Milli = i128;

/// Parses a Kubernetes quantity ("500m", "2", "1.5", "4Gi", "512Mi", "1G", "1e3") into
/// thousandths, rounded up as Kubernetes rounds a request it cannot hold exactly.
fn parse_quantity(text: &str) -> std::result::Result<Milli, String> {
    let bad = || format!("{text:?} is not a quantity (such as 500m, 2, 1.5, 4Gi or 1e3)");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err(bad());
    }
    let (binary_exp, decimal_exp) = suffix_exponents(suffix).ok_or_else(bad)?;
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 36 {
        return Err(format!("{text:?} has too many digits"));
    }
    let too_large = || format!("{text:?} is too large");
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad())?
    };
    let scaled = mantissa
        .checked_mul(1u128 << binary_exp)
        .ok_or_else(too_large)?;
    // value × 1000 = scaled × 10^(decimal_exp + 3 − digits after the point)
    let exp10 = decimal_exp + 3 - fraction.len() as i64;
    let value = if exp10 >= 0 {
        u32::try_from(exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .and_then(|p| scaled.checked_mul(p))
            .ok_or_else(too_large)?
    } else {
        match u32::try_from(-exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
        {
            Some(p) => scaled.div_ceil(p),
            // Smaller than any unit: the least positive amount, or zero.
            None => u128::from(scaled > 0),
        }
    };
    let value = Milli::try_from(value).map_err(|_| too_large())?;
    if negative && value != 0 {
        return Err(format!("{text:?} is negative"));
    }
    Ok(value)
}

/// (power of 2, power of 10) that a quantity's suffix multiplies by.
fn suffix_exponents(suffix: &str) -> Option<(u32, i64)> {
    Some(match suffix {
        "" => (0, 0),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            (0, exp.parse().ok()?)
        }
    })
}

/// The scheduler compares cpu in millicores and everything else in whole units, rounding a
/// fraction up ("1.5" bytes is 2).
fn whole_units(resource: &str, milli: Milli) -> Milli {
    if resource == "cpu" {
        milli
    } else {
        milli.div_euclid(1000) * 1000 + if milli.rem_euclid(1000) > 0 { 1000 } else { 0 }
    }
}

/// Resources counted in bytes, shown in Gi/Mi/Ki.
fn is_bytes(resource: &str) -> bool {
    matches!(resource, "memory" | "ephemeral-storage" | "storage")
        || resource.starts_with("hugepages-")
}

/// An amount for a human: cores with up to 3 decimals, bytes in Gi/Mi/Ki with up to 2
/// (cut, not rounded, so a free amount never shows more than there is), other counts plain.
fn show(resource: &str, milli: Milli) -> String {
    if !is_bytes(resource) {
        return decimal(milli, 1000, 3);
    }
    let bytes = milli / 1000;
    for (unit, size) in [("Gi", 1i128 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes.abs() >= size {
            return format!("{}{unit}", decimal(bytes * 100 / size, 100, 2));
        }
    }
    bytes.to_string()
}

/// `value / scale` with at most `places` decimals, trailing zeros dropped.
fn decimal(value: i128, scale: i128, places: usize) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let (whole, frac) = (value.abs() / scale, value.abs() % scale);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:0places$}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// Amounts by resource name (cpu, memory, pods, nvidia.com/gpu, …), in thousandths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources(BTreeMap<String, Milli>);

impl Resources {
    fn get(&self, name: &str) -> Milli {
        self.0.get(name).copied().unwrap_or(0)
    }

    fn set(&mut self, name: &str, value: Milli) {
        self.0.insert(name.to_string(), value);
    }

    fn add(&mut self, other: &Resources) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_insert(0) += v;
        }
    }

    fn subtract(&mut self, other: &Resources) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_insert(0) -= v;
        }
    }

    fn max_with(&mut self, other: &Resources) {
        for (k, v) in &other.0 {
            let e = self.0.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Only the named resources (absent ones as zero).
    fn only(&self, names: &BTreeSet<String>) -> Resources {
        Resources(names.iter().map(|n| (n.clone(), self.get(n))).collect())
    }

    /// cpu, memory, then the others by name, pods last.
    fn names(&self) -> Vec<&str> {
        let rank = |n: &str| match n {
            "cpu" => 0,
            "memory" => 1,
            "pods" => 3,
            _ => 2,
        };
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_by_key(|n| (rank(n), *n));
        names
    }

    /// "cpu 2, memory 4Gi": the non-zero amounts.
    pub fn show(&self) -> String {
        let parts: Vec<String> = self
            .names()
            .into_iter()
            .filter(|n| self.get(n) != 0)
            .map(|n| format!("{n} {}", show(n, self.get(n))))
            .collect();
        if parts.is_empty() {
            "no resources".into()
        } else {
            parts.join(", ")
        }
    }

    /// "cpu 0, memory 20Gi": every amount, zeros too.
    fn show_all(&self) -> String {
        self.names()
            .into_iter()
            .map(|n| format!("{n} {}", show(n, self.get(n))))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "cpu 3 of 16, memory 20Gi of 62.5Gi": these amounts out of `total`.
    fn show_of(&self, total: &Resources) -> String {
        self.names()
            .into_iter()
            .map(|n| format!("{n} {} of {}", show(n, self.get(n)), show(n, total.get(n))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Serialize for Resources {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for n in self.names() {
            map.serialize_entry(n, &show(n, self.get(n)))?;
        }
        map.end()
    }
}

/// A resource list (`requests`, `limits`, `allocatable`) from text quantities; `path` names
/// the field in errors.
fn resource_list<'a>(
    entries: impl IntoIterator<Item = (&'a str, String)>,
    path: &str,
) -> Result<Resources> {
    let mut out = Resources::default();
    for (name, text) in entries {
        let milli =
            parse_quantity(&text).map_err(|e| Error::invalid(&format!("{path}.{name}"), e))?;
        out.set(name, whole_units(name, milli));
    }
    Ok(out)
}

/// A resource list in a spec given as JSON: quantities are strings, or numbers when YAML wrote
/// `cpu: 2`.
fn resource_list_json(v: &Value, path: &str) -> Result<Resources> {
    let Some(map) = v.as_object() else {
        if v.is_null() {
            return Ok(Resources::default());
        }
        return Err(Error::invalid(
            path,
            "must be a map of resource names to quantities",
        ));
    };
    let mut entries = Vec::new();
    for (name, q) in map {
        let text = match q {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(Error::invalid(
                    &format!("{path}.{name}"),
                    format!("{other} is not a quantity (such as 500m, 2, 1.5, 4Gi or 1e3)"),
                ));
            }
        };
        entries.push((name.as_str(), text));
    }
    resource_list(entries, path)
}

fn resource_list_typed(map: Option<&BTreeMap<String, Quantity>>, path: &str) -> Result<Resources> {
    resource_list(
        map.into_iter()
            .flatten()
            .map(|(k, q)| (k.as_str(), q.0.clone())),
        path,
    )
}

/// A container's requests: Kubernetes defaults a missing request to the limit, resource by
/// resource, so a limit alone reserves as much.
fn requests_or_limits(requests: Resources, limits: &Resources) -> Resources {
    let mut out = requests;
    for (k, v) in &limits.0 {
        out.0.entry(k.clone()).or_insert(*v);
    }
    out
}

/// What the scheduler reserves for a pod (its "effective request"): the containers run together,
/// so their requests add up; init containers run one at a time before them, so each only needs
/// to fit on its own, beside the sidecars (init containers with restartPolicy Always) started
/// before it, which keep running and so also add to the containers' sum. The larger of the two
/// phases counts. Pod-level requests replace the containers' for cpu and memory; the runtime
/// class's overhead comes on top.
fn effective_requests(
    containers: &[Resources],
    init_containers: &[(Resources, bool)],
    pod_level: &Resources,
    overhead: &Resources,
) -> Resources {
    let mut total = Resources::default();
    for c in containers {
        total.add(c);
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for (c, sidecar) in init_containers {
        if *sidecar {
            total.add(c);
            sidecars.add(c);
            init_peak.max_with(&sidecars);
        } else {
            let mut during = c.clone();
            during.add(&sidecars);
            init_peak.max_with(&during);
        }
    }
    total.max_with(&init_peak);
    for name in ["cpu", "memory"] {
        if let Some(v) = pod_level.0.get(name) {
            total.set(name, *v);
        }
    }
    total.add(overhead);
    total
}

/// The effective request of a pod spec given as JSON (a RayCluster pod template's `spec`), with
/// the containers KubeRay adds to it.
fn template_requests(
    spec: &Value,
    path: &str,
    added_containers: &[Resources],
    added_init: &[Resources],
) -> Result<Resources> {
    let container = |c: &Value, path: String| -> Result<Resources> {
        let requests = resource_list_json(
            &c["resources"]["requests"],
            &format!("{path}.resources.requests"),
        )?;
        let limits = resource_list_json(
            &c["resources"]["limits"],
            &format!("{path}.resources.limits"),
        )?;
        Ok(requests_or_limits(requests, &limits))
    };
    let list = |key: &str| -> Result<&[Value]> {
        match &spec[key] {
            Value::Null => Ok(&[]),
            Value::Array(a) => Ok(a),
            _ => Err(Error::invalid(
                &format!("{path}.{key}"),
                "must be a list of containers",
            )),
        }
    };
    let mut containers = Vec::new();
    for (i, c) in list("containers")?.iter().enumerate() {
        containers.push(container(c, format!("{path}.containers[{i}]"))?);
    }
    containers.extend(added_containers.iter().cloned());
    let mut init = Vec::new();
    for (i, c) in list("initContainers")?.iter().enumerate() {
        init.push((
            container(c, format!("{path}.initContainers[{i}]"))?,
            c["restartPolicy"] == "Always",
        ));
    }
    init.extend(added_init.iter().map(|r| (r.clone(), false)));
    let pod_level = requests_or_limits(
        resource_list_json(
            &spec["resources"]["requests"],
            &format!("{path}.resources.requests"),
        )?,
        &resource_list_json(
            &spec["resources"]["limits"],
            &format!("{path}.resources.limits"),
        )?,
    );
    Ok(effective_requests(
        &containers,
        &init,
        &pod_level,
        &Resources::default(),
    ))
}

/// The effective request of a pod read from the API.
fn pod_requests(pod: &Pod, path: &str) -> Result<Resources> {
    let Some(spec) = &pod.spec else {
        return Ok(Resources::default());
    };
    let container = |c: &Container, path: String| -> Result<Resources> {
        let r = c.resources.as_ref();
        Ok(requests_or_limits(
            resource_list_typed(
                r.and_then(|r| r.requests.as_ref()),
                &format!("{path}.requests"),
            )?,
            &resource_list_typed(r.and_then(|r| r.limits.as_ref()), &format!("{path}.limits"))?,
        ))
    };
    let containers = spec
        .containers
        .iter()
        .map(|c| container(c, format!("{path} container {}", c.name)))
        .collect::<Result<Vec<_>>>()?;
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            Ok((
                container(c, format!("{path} init container {}", c.name))?,
                c.restart_policy.as_deref() == Some("Always"),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let level = spec.resources.as_ref();
    let pod_level = requests_or_limits(
        resource_list_typed(
            level.and_then(|r| r.requests.as_ref()),
            &format!("{path} pod requests"),
        )?,
        &resource_list_typed(
            level.and_then(|r| r.limits.as_ref()),
            &format!("{path} pod limits"),
        )?,
    );
    let overhead = resource_list_typed(spec.overhead.as_ref(), &format!("{path} overhead"))?;
    Ok(effective_requests(
        &containers,
        &init,
        &pod_level,
        &overhead,
    ))
}

// ---------------------------------------------------------------------------------------------
// Selectors, taints, node affinity

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One requirement on a label (or, for matchFields, on `metadata.name`).
#[derive(Debug, Clone)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let number = |s: &str| s.parse::<i64>().ok();
        match self.op {
            Op::In => value.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(have), Some(bound)) = (
                    value.and_then(|v| number(v)),
                    self.values.first().and_then(|v| number(v)),
                ) else {
                    return false;
                };
                if self.op == Op::Gt {
                    have > bound
                } else {
                    have < bound
                }
            }
        }
    }
}

fn requirement(
    key: &str,
    operator: &str,
    values: Option<&Vec<String>>,
    allowed: &[(&str, Op)],
    path: &str,
) -> Result<Requirement> {
    let Some((_, op)) = allowed.iter().find(|(name, _)| *name == operator) else {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        return Err(Error::invalid(
            &format!("{path}.operator"),
            format!("{operator:?} is not one of {}", names.join(", ")),
        ));
    };
    Ok(Requirement {
        key: key.to_string(),
        op: *op,
        values: values.cloned().unwrap_or_default(),
    })
}

const LABEL_OPS: &[(&str, Op)] = &[
    ("In", Op::In),
    ("NotIn", Op::NotIn),
    ("Exists", Op::Exists),
    ("DoesNotExist", Op::DoesNotExist),
];
const NODE_OPS: &[(&str, Op)] = &[
    ("In", Op::In),
    ("NotIn", Op::NotIn),
    ("Exists", Op::Exists),
    ("DoesNotExist", Op::DoesNotExist),
    ("Gt", Op::Gt),
    ("Lt", Op::Lt),
];

/// A pod label selector. A null selector in a spread rule or affinity term matches no pod;
/// an empty one matches every pod.
#[derive(Debug, Clone, Default)]
struct Selector {
    nothing: bool,
    requirements: Vec<Requirement>,
}

impl Selector {
    fn nothing() -> Selector {
        Selector {
            nothing: true,
            requirements: Vec::new(),
        }
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// matchLabelKeys / mismatchLabelKeys: the owner pod's own values of these keys join the
    /// selector (key In / NotIn its value); a key the owner lacks is left out, as Kubernetes does.
    fn with_label_keys(
        mut self,
        match_keys: Option<&Vec<String>>,
        mismatch_keys: Option<&Vec<String>>,
        own: &BTreeMap<String, String>,
    ) -> Selector {
        for (keys, op) in [(match_keys, Op::In), (mismatch_keys, Op::NotIn)] {
            for key in keys.into_iter().flatten() {
                if let Some(v) = own.get(key) {
                    self.requirements.push(Requirement {
                        key: key.clone(),
                        op,
                        values: vec![v.clone()],
                    });
                }
            }
        }
        self
    }
}

fn label_selector(s: Option<&LabelSelector>, path: &str) -> Result<Selector> {
    let Some(s) = s else {
        return Ok(Selector::nothing());
    };
    let mut requirements: Vec<Requirement> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| Requirement {
            key: k.clone(),
            op: Op::In,
            values: vec![v.clone()],
        })
        .collect();
    for (i, e) in s.match_expressions.iter().flatten().enumerate() {
        requirements.push(requirement(
            &e.key,
            &e.operator,
            e.values.as_ref(),
            LABEL_OPS,
            &format!("{path}.matchExpressions[{i}]"),
        )?);
    }
    Ok(Selector {
        nothing: false,
        requirements,
    })
}

#[derive(Debug, Clone, PartialEq)]
struct Taint {
    key: String,
    value: String,
    effect: String,
}

impl std::fmt::Display for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Toleration {
    #[serde(default)]
    key: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    effect: String,
}

/// Kubernetes' rule: an empty effect tolerates every effect; an empty key (with Exists)
/// every key; Exists any value; Equal (the default) only the same value.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !t.effect.is_empty() && t.effect != taint.effect {
        return false;
    }
    if !t.key.is_empty() && t.key != taint.key {
        return false;
    }
    match t.operator.as_str() {
        "Exists" => true,
        "" | "Equal" => t.value == taint.value,
        _ => false,
    }
}

/// The first taint that keeps the pod off the node: NoSchedule and NoExecute ones count
/// (PreferNoSchedule only steers).
fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerations.iter().any(|t| tolerates(t, taint))
    })
}

/// One term of required node affinity: all its label and field requirements must hold. An
/// empty term matches no node (Kubernetes' rule).
#[derive(Debug, Clone, Default)]
struct NodeTerm {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

/// Where a pod may go by the node's own properties.
#[derive(Debug, Clone, Default)]
struct NodePlacement {
    node_selector: BTreeMap<String, String>,
    /// requiredDuringSchedulingIgnoredDuringExecution: one of the terms must match; None: no rule.
    required: Option<Vec<NodeTerm>>,
}

impl NodePlacement {
    /// Why the node's labels or name do not suit the pod, if they do not.
    fn mismatch(&self, node: &NodeInfo) -> Option<String> {
        for (k, v) in &self.node_selector {
            if node.labels.get(k) != Some(v) {
                return Some(format!("node selector {k}={v} not matched"));
            }
        }
        let terms = self.required.as_ref()?;
        let fields = BTreeMap::from([("metadata.name".to_string(), node.name.clone())]);
        let matched = terms.iter().any(|t| {
            !(t.labels.is_empty() && t.fields.is_empty())
                && t.labels.iter().all(|r| r.matches(&node.labels))
                && t.fields.iter().all(|r| r.matches(&fields))
        });
        (!matched).then(|| "required node affinity not matched".to_string())
    }
}

fn node_term(t: &NodeSelectorTerm, path: &str) -> Result<NodeTerm> {
    let reqs =
        |list: Option<&Vec<NodeSelectorRequirement>>, what: &str| -> Result<Vec<Requirement>> {
            list.into_iter()
                .flatten()
                .enumerate()
                .map(|(i, r)| {
                    requirement(
                        &r.key,
                        &r.operator,
                        r.values.as_ref(),
                        NODE_OPS,
                        &format!("{path}.{what}[{i}]"),
                    )
                })
                .collect()
        };
    Ok(NodeTerm {
        labels: reqs(t.match_expressions.as_ref(), "matchExpressions")?,
        fields: reqs(t.match_fields.as_ref(), "matchFields")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Spread and pod (anti-)affinity rules

/// A topology spread rule that blocks (whenUnsatisfiable DoNotSchedule).
#[derive(Debug, Clone)]
struct Spread {
    max_skew: i64,
    key: String,
    /// labelSelector with matchLabelKeys folded in.
    selector: Selector,
    min_domains: Option<i64>,
    /// nodeAffinityPolicy Honor (the default): only nodes the pod may go to by its node selector
    /// and affinity count as domains.
    honor_affinity: bool,
    /// nodeTaintsPolicy Honor (default Ignore): only nodes whose taints the pod tolerates count.
    honor_taints: bool,
}

fn spread_rules(
    rules: &[TopologySpreadConstraint],
    own_labels: &BTreeMap<String, String>,
    path: &str,
) -> Result<Vec<Spread>> {
    let mut out = Vec::new();
    for (i, c) in rules.iter().enumerate() {
        let path = format!("{path}[{i}]");
        match c.when_unsatisfiable.as_str() {
            "DoNotSchedule" => {}
            "ScheduleAnyway" => continue,
            other => {
                return Err(Error::invalid(
                    &format!("{path}.whenUnsatisfiable"),
                    format!("{other:?} is not DoNotSchedule or ScheduleAnyway"),
                ));
            }
        }
        if c.max_skew < 1 {
            return Err(Error::invalid(
                &format!("{path}.maxSkew"),
                format!("{} is not a whole number of at least 1", c.max_skew),
            ));
        }
        let policy = |v: Option<&String>, default: bool, field: &str| match v.map(String::as_str) {
            None => Ok(default),
            Some("Honor") => Ok(true),
            Some("Ignore") => Ok(false),
            Some(other) => Err(Error::invalid(
                &format!("{path}.{field}"),
                format!("{other:?} is not Honor or Ignore"),
            )),
        };
        out.push(Spread {
            max_skew: i64::from(c.max_skew),
            key: c.topology_key.clone(),
            selector: label_selector(c.label_selector.as_ref(), &format!("{path}.labelSelector"))?
                .with_label_keys(c.match_label_keys.as_ref(), None, own_labels),
            min_domains: c.min_domains.map(i64::from),
            honor_affinity: policy(c.node_affinity_policy.as_ref(), true, "nodeAffinityPolicy")?,
            honor_taints: policy(c.node_taints_policy.as_ref(), false, "nodeTaintsPolicy")?,
        });
    }
    Ok(out)
}

/// The namespaces a pod affinity term looks at.
#[derive(Debug, Clone, Default)]
struct Namespaces {
    names: BTreeSet<String>,
    /// namespaceSelector, judged on the one label every namespace has,
    /// `kubernetes.io/metadata.name` (an empty selector: every namespace).
    selector: Option<Selector>,
}

impl Namespaces {
    fn contains(&self, namespace: &str) -> bool {
        self.names.contains(namespace)
            || self.selector.as_ref().is_some_and(|s| {
                s.matches(&BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    namespace.to_string(),
                )]))
            })
    }
}

/// A required pod affinity or anti-affinity term.
#[derive(Debug, Clone)]
struct Term {
    selector: Selector,
    key: String,
    namespaces: Namespaces,
}

impl Term {
    fn matches(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.namespaces.contains(namespace) && self.selector.matches(labels)
    }
}

/// A term as Kubernetes reads it for a pod in `own_namespace` with `own_labels`: no namespaces
/// and no namespaceSelector mean the pod's own namespace.
fn pod_term(
    t: &PodAffinityTerm,
    own_namespace: &str,
    own_labels: &BTreeMap<String, String>,
    path: &str,
) -> Result<Term> {
    let selector = label_selector(t.label_selector.as_ref(), &format!("{path}.labelSelector"))?
        .with_label_keys(
            t.match_label_keys.as_ref(),
            t.mismatch_label_keys.as_ref(),
            own_labels,
        );
    let mut names: BTreeSet<String> = t.namespaces.iter().flatten().cloned().collect();
    let ns_selector = match &t.namespace_selector {
        Some(s) => Some(label_selector(
            Some(s),
            &format!("{path}.namespaceSelector"),
        )?),
        None => None,
    };
    if names.is_empty() && ns_selector.is_none() {
        names.insert(own_namespace.to_string());
    }
    Ok(Term {
        selector,
        key: t.topology_key.clone(),
        namespaces: Namespaces {
            names,
            selector: ns_selector,
        },
    })
}

/// (required affinity terms, required anti-affinity terms) of a pod's affinity.
fn pod_terms(
    affinity: Option<&Affinity>,
    own_namespace: &str,
    own_labels: &BTreeMap<String, String>,
    path: &str,
) -> Result<(Vec<Term>, Vec<Term>)> {
    let terms = |list: Option<&Vec<PodAffinityTerm>>, path: String| -> Result<Vec<Term>> {
        list.into_iter()
            .flatten()
            .enumerate()
            .map(|(i, t)| pod_term(t, own_namespace, own_labels, &format!("{path}[{i}]")))
            .collect()
    };
    let affinity_terms = terms(
        affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        format!("{path}.podAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
    )?;
    let anti_terms = terms(
        affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        format!("{path}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
    )?;
    Ok((affinity_terms, anti_terms))
}

// ---------------------------------------------------------------------------------------------
// The new cluster's pods

/// A pod of the new RayCluster as the scheduler will see it.
#[derive(Debug, Clone)]
struct NewPod {
    name: String,
    head: bool,
    labels: BTreeMap<String, String>,
    requests: Resources,
    tolerations: Vec<Toleration>,
    placement: NodePlacement,
    spread: Vec<Spread>,
    affinity: Vec<Term>,
    anti_affinity: Vec<Term>,
}

/// The sidecar KubeRay adds to the head when `enableInTreeAutoscaling` is on: 500m and 512Mi
/// unless `autoscalerOptions.resources` says otherwise.
fn autoscaler_requests(config: &Value, base: &str) -> Result<Option<Resources>> {
    if config["enableInTreeAutoscaling"] != true {
        return Ok(None);
    }
    let resources = &config["autoscalerOptions"]["resources"];
    if resources.is_null() {
        let mut r = Resources::default();
        r.set("cpu", 500);
        r.set("memory", 512 * (1 << 20) * 1000);
        return Ok(Some(r));
    }
    let path = format!("{base}.autoscalerOptions.resources");
    Ok(Some(requests_or_limits(
        resource_list_json(&resources["requests"], &format!("{path}.requests"))?,
        &resource_list_json(&resources["limits"], &format!("{path}.limits"))?,
    )))
}

/// The init container KubeRay adds to every worker to wait for the GCS (200m, 256Mi): it only
/// counts when the worker's own containers request less.
fn wait_gcs_ready_requests() -> Resources {
    let mut r = Resources::default();
    r.set("cpu", 200);
    r.set("memory", 256 * (1 << 20) * 1000);
    r
}

/// How many pods a worker group has, as KubeRay counts them: none when suspended; else
/// `replicas` (missing: minReplicas) held within [minReplicas, maxReplicas], times numOfHosts.
fn worker_group_pods(group: &Value, path: &str) -> Result<u64> {
    if group["suspend"] == true {
        return Ok(0);
    }
    let int = |key: &str| -> Result<Option<u64>> {
        match &group[key] {
            Value::Null => Ok(None),
            v => v
                .as_u64()
                .filter(|n| *n <= i32::MAX as u64)
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid(
                        &format!("{path}.{key}"),
                        format!("{v} is not a whole number from 0 to 2147483647"),
                    )
                }),
        }
    };
    let min = int("minReplicas")?.unwrap_or(0);
    let max = int("maxReplicas")?.unwrap_or(i32::MAX as u64);
    let desired = match int("replicas")? {
        None => min,
        Some(r) if r < min => min,
        Some(r) if r > max => max,
        Some(r) => r,
    };
    Ok(desired * int("numOfHosts")?.unwrap_or(1))
}

/// A JSON field read as `T`, or T's default when absent; a malformed one names its path.
fn typed<T: DeserializeOwned + Default>(v: &Value, path: &str, what: &str) -> Result<T> {
    if v.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(v.clone())
        .map_err(|e| Error::invalid(path, format!("not a valid {what}: {e}")))
}

/// The labels KubeRay gives a pod of the new cluster: its own, the template's (and the group's
/// `labels`) over them, and the three it does not let a template change.
fn new_pod_labels(
    template: &Value,
    group: &Value,
    head: bool,
    group_name: &str,
    path: &str,
) -> Result<BTreeMap<String, String>> {
    let node_type = if head { "head" } else { "worker" };
    let mut labels = BTreeMap::from([
        ("ray.io/is-ray-node".to_string(), "yes".to_string()),
        (
            "ray.io/identifier".to_string(),
            format!("{NEW_CLUSTER}-{node_type}"),
        ),
        ("app.kubernetes.io/name".to_string(), "kuberay".to_string()),
        (
            "app.kubernetes.io/created-by".to_string(),
            "kuberay-operator".to_string(),
        ),
    ]);
    let template_labels: BTreeMap<String, String> = typed(
        &template["metadata"]["labels"],
        &format!("{path}.metadata.labels"),
        "label map",
    )?;
    labels.extend(template_labels);
    let group_labels: BTreeMap<String, String> =
        typed(&group["labels"], &format!("{path}.labels"), "label map")?;
    labels.extend(group_labels);
    labels.insert("ray.io/cluster".into(), NEW_CLUSTER.into());
    labels.insert("ray.io/node-type".into(), node_type.into());
    labels.insert("ray.io/group".into(), group_name.into());
    // A RayService's head starts out of its serve Service; its workers are in it.
    labels.insert("ray.io/serve".into(), (!head).to_string());
    Ok(labels)
}

/// One pod of a group, from the group's template.
fn new_pod(
    name: String,
    group: &Value,
    group_path: &str,
    head: bool,
    namespace: &str,
    added_containers: &[Resources],
    added_init: &[Resources],
) -> Result<NewPod> {
    let template = &group["template"];
    let path = format!("{group_path}.template");
    if !template.is_object() {
        return Err(Error::invalid(
            &path,
            "missing: every group needs a pod template",
        ));
    }
    let spec = &template["spec"];
    let spec_path = format!("{path}.spec");
    let group_name = if head {
        "headgroup"
    } else {
        group["groupName"].as_str().unwrap_or_default()
    };
    let labels = new_pod_labels(template, group, head, group_name, group_path)?;
    let requests = template_requests(spec, &spec_path, added_containers, added_init)?;
    let tolerations: Vec<Toleration> = typed(
        &spec["tolerations"],
        &format!("{spec_path}.tolerations"),
        "toleration list",
    )?;
    let affinity: Option<Affinity> = typed(
        &spec["affinity"],
        &format!("{spec_path}.affinity"),
        "affinity",
    )?;
    let affinity_path = format!("{spec_path}.affinity");
    let required = affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|s| {
            s.node_selector_terms
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    node_term(
                        t,
                        &format!("{affinity_path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"),
                    )
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let placement = NodePlacement {
        node_selector: typed(
            &spec["nodeSelector"],
            &format!("{spec_path}.nodeSelector"),
            "label map",
        )?,
        required,
    };
    let constraints: Vec<TopologySpreadConstraint> = typed(
        &spec["topologySpreadConstraints"],
        &format!("{spec_path}.topologySpreadConstraints"),
        "list of topology spread constraints",
    )?;
    let spread = spread_rules(
        &constraints,
        &labels,
        &format!("{spec_path}.topologySpreadConstraints"),
    )?;
    let (affinity_terms, anti_affinity) =
        pod_terms(affinity.as_ref(), namespace, &labels, &affinity_path)?;
    Ok(NewPod {
        name,
        head,
        labels,
        requests,
        tolerations,
        placement,
        spread,
        affinity: affinity_terms,
        anti_affinity,
    })
}

/// The pods a RayCluster of this spec has: one head, and each worker group's pods.
fn new_cluster_pods(config: &Value, namespace: &str) -> Result<Vec<NewPod>> {
    let base = "spec.rayClusterConfig";
    if !config.is_object() {
        return Err(Error::invalid(
            base,
            "must be a RayCluster spec (an object)",
        ));
    }
    let head_path = format!("{base}.headGroupSpec");
    let autoscaler: Vec<Resources> = autoscaler_requests(config, base)?.into_iter().collect();
    let mut pods = vec![new_pod(
        "head pod".into(),
        &config["headGroupSpec"],
        &head_path,
        true,
        namespace,
        &autoscaler,
        &[],
    )?];
    let groups = match &config["workerGroupSpecs"] {
        Value::Null => &[][..],
        Value::Array(a) => a,
        _ => {
            return Err(Error::invalid(
                &format!("{base}.workerGroupSpecs"),
                "must be a list of worker groups",
            ));
        }
    };
    let mut counts = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        counts.push(worker_group_pods(
            g,
            &format!("{base}.workerGroupSpecs[{i}]"),
        )?);
    }
    let total: u64 = counts.iter().sum();
    if total > MAX_NEW_PODS {
        return Err(Error::failed(format!(
            "{base}.workerGroupSpecs: {total} worker pods are more than the capacity check places one by one (at most {MAX_NEW_PODS})"
        )));
    }
    let named_groups = counts.iter().filter(|c| **c > 0).count() > 1;
    for (i, (g, count)) in groups.iter().zip(counts).enumerate() {
        if count == 0 {
            continue;
        }
        let path = format!("{base}.workerGroupSpecs[{i}]");
        let name = |k: u64| {
            let group = g["groupName"].as_str().unwrap_or_default();
            if named_groups {
                format!("worker pod {k} of {count} in group {group}")
            } else {
                format!("worker pod {k} of {count}")
            }
        };
        let first = new_pod(
            name(1),
            g,
            &path,
            false,
            namespace,
            &[],
            &[wait_gcs_ready_requests()],
        )?;
        for k in 1..=count {
            pods.push(NewPod {
                name: name(k),
                ..first.clone()
            });
        }
    }
    Ok(pods)
}

// ---------------------------------------------------------------------------------------------
// Nodes and the pods on them

/// A node as the placement sees it.
#[derive(Debug, Clone)]
struct NodeInfo {
    name: String,
    labels: BTreeMap<String, String>,
    /// Its taints, with those the node controller puts on a cordoned or unready node even when
    /// the listed object does not carry them yet.
    taints: Vec<Taint>,
    cordoned: bool,
    /// Why it is not Ready, when it is not.
    not_ready: Option<String>,
    allocatable: Resources,
}

fn node_info(node: &Node) -> Result<NodeInfo> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let spec = node.spec.as_ref();
    let mut taints: Vec<Taint> = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone(),
        })
        .collect();
    let cordoned = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let status = node.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let not_ready = match ready {
        Some(c) if c.status == "True" => None,
        Some(c) => Some(format!(
            "not Ready (Ready={}{})",
            c.status,
            c.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )),
        None => Some("not Ready (no Ready condition)".into()),
    };
    let mut implied = Vec::new();
    if cordoned {
        implied.push(UNSCHEDULABLE_TAINT);
    }
    match ready.map(|c| c.status.as_str()) {
        Some("True") => {}
        Some("False") => implied.push(NOT_READY_TAINT),
        _ => implied.push(UNREACHABLE_TAINT),
    }
    for key in implied {
        if !taints
            .iter()
            .any(|t| t.key == key && t.effect == "NoSchedule")
        {
            taints.push(Taint {
                key: key.into(),
                value: String::new(),
                effect: "NoSchedule".into(),
            });
        }
    }
    let allocatable = resource_list_typed(
        status.and_then(|s| s.allocatable.as_ref()),
        &format!("node {name} allocatable"),
    )
    .map_err(|e| Error::failed(e.to_string()))?;
    Ok(NodeInfo {
        labels: node.metadata.labels.clone().unwrap_or_default(),
        name,
        taints,
        cordoned,
        not_ready,
        allocatable,
    })
}

/// A pod bound to a node (one already there, or a new one placed).
#[derive(Debug, Clone)]
struct Placed {
    namespace: String,
    name: String,
    node: String,
    labels: BTreeMap<String, String>,
    requests: Resources,
    /// Being deleted: still holds its requests and its anti-affinity, but spread rules no longer
    /// count it.
    terminating: bool,
    anti_affinity: Vec<Term>,
}

/// A pod from the API as the placement needs it; None when it is bound to no node or finished.
fn placed_pod(pod: &Pod) -> Result<Option<Placed>> {
    let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        return Ok(None);
    };
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Ok(None);
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let requests = pod_requests(pod, &format!("pod {namespace}/{name}"))
        .map_err(|e| Error::failed(e.to_string()))?;
    // The API server validated these terms; one it would not is left out rather than failing
    // the whole check.
    let anti_affinity = pod_terms(
        pod.spec.as_ref().and_then(|s| s.affinity.as_ref()),
        &namespace,
        &labels,
        "",
    )
    .map(|(_, anti)| anti)
    .unwrap_or_default();
    Ok(Some(Placed {
        terminating: pod.metadata.deletion_timestamp.is_some(),
        namespace,
        name,
        node,
        labels,
        requests,
        anti_affinity,
    }))
}

/// Lists every page of `api`, keeping what `keep` makes of each item, so only the small
/// summaries outlive a page.
async fn list_pages<K, T>(
    api: &Api<K>,
    fields: Option<&str>,
    what: &str,
    missing_permission: &str,
    mut keep: impl FnMut(&K) -> Result<Option<T>>,
) -> Result<Vec<T>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(PAGE);
    if let Some(f) = fields {
        params = params.fields(f);
    }
    let mut out = Vec::new();
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| list_error(&e, what, missing_permission))?;
        for item in &page.items {
            out.extend(keep(item)?);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}

/// A failed list; a refusal (403) says which permission the check needs.
fn list_error(e: &kube::Error, what: &str, missing_permission: &str) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 403 => Error::failed(format!(
            "cannot list {what}: the capacity check needs {missing_permission} ({})",
            s.message
        )),
        _ => Error::failed(format!("cannot list {what}: {}", describe_kube_error(e))),
    }
}

async fn list_nodes(client: &kube::Client) -> Result<Vec<NodeInfo>> {
    let api: Api<Node> = Api::all(client.clone());
    let mut nodes = list_pages(
        &api,
        None,
        "nodes",
        "permission to list nodes (cluster-scoped: a ClusterRole with verb list on nodes)",
        |n| node_info(n).map(Some),
    )
    .await?;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nodes)
}

async fn list_bound_pods(client: &kube::Client) -> Result<Vec<Placed>> {
    let api: Api<Pod> = Api::all(client.clone());
    list_pages(
        &api,
        Some("status.phase!=Succeeded,status.phase!=Failed"),
        "pods in all namespaces",
        "permission to list pods in all namespaces (a ClusterRole with verb list on pods): other namespaces' pods use the nodes too",
        placed_pod,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Placement

/// The nodes and the pods on them; the new pods join as they are placed.
struct World<'a> {
    namespace: &'a str,
    nodes: &'a [NodeInfo],
    by_name: BTreeMap<&'a str, &'a NodeInfo>,
    pods: Vec<Placed>,
    /// Per node, the sum of its pods' requests, with `pods` counting them.
    used: BTreeMap<String, Resources>,
}

impl<'a> World<'a> {
    fn new(namespace: &'a str, nodes: &'a [NodeInfo], pods: Vec<Placed>) -> World<'a> {
        let mut world = World {
            namespace,
            nodes,
            by_name: nodes.iter().map(|n| (n.name.as_str(), n)).collect(),
            pods: Vec::new(),
            used: BTreeMap::new(),
        };
        for p in pods {
            world.bind(p);
        }
        world
    }

    fn bind(&mut self, pod: Placed) {
        let used = self.used.entry(pod.node.clone()).or_default();
        used.add(&pod.requests);
        used.add(&Resources(BTreeMap::from([("pods".to_string(), 1000)])));
        self.pods.push(pod);
    }

    /// Allocatable less what the node's pods request.
    fn free(&self, node: &NodeInfo) -> Resources {
        let mut free = node.allocatable.clone();
        if let Some(used) = self.used.get(&node.name) {
            free.subtract(used);
        }
        free
    }

    /// The value of `key` on the node of `pod`, when its node is known and has the label.
    fn domain_of(&self, pod: &Placed, key: &str) -> Option<&'a str> {
        self.by_name
            .get(pod.node.as_str())
            .and_then(|n| n.labels.get(key))
            .map(String::as_str)
    }
}

/// A spread rule's counts for one pod about to be placed.
struct SpreadCount<'p> {
    rule: &'p Spread,
    /// Matching pods per domain (value of the topology key) over the eligible nodes.
    counts: BTreeMap<String, i64>,
    /// The fewest matching pods in a domain, and that domain; None: no eligible domain.
    fewest: Option<(i64, String)>,
    /// Whether the pod matches the rule's selector itself (then it adds one where it lands).
    self_match: i64,
}

/// Kubernetes' PodTopologySpread counting: domains are the values of the topology key on the
/// eligible nodes (having every key of the pod's rules, and by the rule's policies passing the
/// pod's node affinity and tolerating its taints); pods counted are those of the pod's namespace
/// matching the selector, not being deleted, on eligible nodes.
fn spread_count<'p>(rule: &'p Spread, pod: &NewPod, world: &World) -> SpreadCount<'p> {
    let keys: Vec<&str> = pod.spread.iter().map(|s| s.key.as_str()).collect();
    let eligible = |n: &NodeInfo| {
        keys.iter().all(|k| n.labels.contains_key(*k))
            && (!rule.honor_affinity || pod.placement.mismatch(n).is_none())
            && (!rule.honor_taints || untolerated_taint(&n.taints, &pod.tolerations).is_none())
    };
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut eligible_nodes = BTreeSet::new();
    for n in world.nodes.iter().filter(|n| eligible(n)) {
        if let Some(domain) = n.labels.get(&rule.key) {
            counts.entry(domain.clone()).or_insert(0);
            eligible_nodes.insert(n.name.as_str());
        }
    }
    for p in &world.pods {
        if p.terminating
            || p.namespace != world.namespace
            || !eligible_nodes.contains(p.node.as_str())
            || !rule.selector.matches(&p.labels)
        {
            continue;
        }
        if let Some(domain) = world.domain_of(p, &rule.key) {
            *counts.entry(domain.to_string()).or_insert(0) += 1;
        }
    }
    let mut fewest = counts
        .iter()
        .min_by_key(|(_, c)| **c)
        .map(|(d, c)| (*c, d.clone()));
    if let Some(min_domains) = rule.min_domains
        && (counts.len() as i64) < min_domains
    {
        // Fewer domains than minDomains: the scheduler takes the minimum as 0.
        fewest = Some((
            0,
            format!(
                "a domain short of minDomains {min_domains} ({} eligible)",
                counts.len()
            ),
        ));
    }
    SpreadCount {
        rule,
        counts,
        fewest,
        self_match: i64::from(rule.selector.matches(&pod.labels)),
    }
}

impl SpreadCount<'_> {
    /// Why the rule keeps the pod off `node`, if it does: matching pods there (with the pod)
    /// may exceed the fewest in any domain by at most maxSkew.
    fn violation(&self, node: &NodeInfo) -> Option<String> {
        let key = &self.rule.key;
        let Some(here) = node.labels.get(key) else {
            return Some(format!("no {key} label, which a spread rule needs"));
        };
        let (fewest, where_fewest) = self.fewest.as_ref()?;
        let count = self.counts.get(here).copied().unwrap_or(0) + self.self_match;
        if count - fewest <= self.rule.max_skew {
            return None;
        }
        Some(if key == HOSTNAME {
            format!(
                "spread maxSkew {}: {count} matching pods would be here, {fewest} on {where_fewest}",
                self.rule.max_skew
            )
        } else {
            format!(
                "spread over {key} maxSkew {}: {count} matching pods would be in {here}, {fewest} in {where_fewest}",
                self.rule.max_skew
            )
        })
    }
}

/// For one pod term: the domains (values of its topology key) holding a matching pod, with one
/// such pod's name.
fn term_domains(term: &Term, world: &World) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in &world.pods {
        if term.matches(&p.namespace, &p.labels)
            && let Some(d) = world.domain_of(p, &term.key)
        {
            out.entry(d.to_string())
                .or_insert_with(|| format!("{}/{}", p.namespace, p.name));
        }
    }
    out
}

/// What the pod (anti-)affinity filter needs for one pod about to be placed.
struct AffinityCheck {
    anti: Vec<(String, BTreeMap<String, String>)>,
    affinity: Vec<(String, BTreeMap<String, String>)>,
    /// No pod anywhere matches the pod's affinity terms, and the pod matches them itself: the
    /// first of a group that wants to be together may go anywhere (Kubernetes' rule).
    first_of_group: bool,
    /// (topology key, value) → the placed pod whose required anti-affinity matches the new pod.
    blocked_by: BTreeMap<(String, String), String>,
}

fn affinity_check(pod: &NewPod, world: &World) -> AffinityCheck {
    let anti = pod
        .anti_affinity
        .iter()
        .map(|t| (t.key.clone(), term_domains(t, world)))
        .collect();
    let affinity: Vec<(String, BTreeMap<String, String>)> = pod
        .affinity
        .iter()
        .map(|t| (t.key.clone(), term_domains(t, world)))
        .collect();
    let first_of_group = affinity.iter().all(|(_, d)| d.is_empty())
        && pod
            .affinity
            .iter()
            .all(|t| t.matches(world.namespace, &pod.labels));
    let mut blocked_by = BTreeMap::new();
    for p in &world.pods {
        for t in &p.anti_affinity {
            if t.matches(world.namespace, &pod.labels)
                && let Some(d) = world.domain_of(p, &t.key)
            {
                blocked_by
                    .entry((t.key.clone(), d.to_string()))
                    .or_insert_with(|| format!("{}/{}", p.namespace, p.name));
            }
        }
    }
    AffinityCheck {
        anti,
        affinity,
        first_of_group,
        blocked_by,
    }
}

impl AffinityCheck {
    fn violation(&self, node: &NodeInfo) -> Option<String> {
        for (key, domains) in &self.anti {
            if let Some(pod) = node.labels.get(key).and_then(|v| domains.get(v)) {
                return Some(format!("anti-affinity: pod {pod} is {}", within(key)));
            }
        }
        for ((key, value), pod) in &self.blocked_by {
            if node.labels.get(key) == Some(value) {
                return Some(format!(
                    "pod {pod} is {} and its anti-affinity excludes this pod",
                    within(key)
                ));
            }
        }
        for (key, domains) in &self.affinity {
            let Some(value) = node.labels.get(key) else {
                return Some(format!("no {key} label, which a pod affinity rule needs"));
            };
            if !self.first_of_group && !domains.contains_key(value) {
                return Some(format!("pod affinity: no matching pod {}", within(key)));
            }
        }
        None
    }
}

/// "here" for the hostname key, else "in the same <key>".
fn within(key: &str) -> String {
    if key == HOSTNAME {
        "here".into()
    } else {
        format!("in the same {key}")
    }
}

/// Why no pod goes to the node whatever its spec: not Ready, cordoned.
fn node_unschedulable(node: &NodeInfo) -> Option<String> {
    if let Some(r) = &node.not_ready {
        return Some(r.clone());
    }
    node.cordoned.then(|| "cordoned".to_string())
}

/// The first resource the pod requests more of than the node has free (a pod also takes one of
/// the node's `pods`).
fn short_resource(
    requests: &Resources,
    free: &Resources,
    allocatable: &Resources,
) -> Option<String> {
    let mut need = requests.clone();
    need.set("pods", 1000);
    need.names().into_iter().find_map(|name| {
        let (n, f) = (need.get(name), free.get(name));
        (n > 0 && f < n).then(|| {
            format!(
                "{name} {} of {} free",
                show(name, f),
                show(name, allocatable.get(name))
            )
        })
    })
}

/// The first reason, in the scheduler's filter order, that `pod` cannot go to `node`.
fn why_not(
    pod: &NewPod,
    node: &NodeInfo,
    free: &Resources,
    spread: &[SpreadCount],
    affinity: &AffinityCheck,
) -> Option<String> {
    if let Some(r) = &node.not_ready {
        return Some(r.clone());
    }
    let cordon = Taint {
        key: UNSCHEDULABLE_TAINT.into(),
        value: String::new(),
        effect: "NoSchedule".into(),
    };
    if node.cordoned && !pod.tolerations.iter().any(|t| tolerates(t, &cordon)) {
        return Some("cordoned".into());
    }
    if let Some(t) = untolerated_taint(&node.taints, &pod.tolerations) {
        return Some(format!("taint {t} not tolerated"));
    }
    if let Some(r) = pod.placement.mismatch(node) {
        return Some(r);
    }
    if let Some(r) = short_resource(&pod.requests, free, &node.allocatable) {
        return Some(r);
    }
    if let Some(r) = spread.iter().find_map(|s| s.violation(node)) {
        return Some(r);
    }
    affinity.violation(node)
}

/// Places the new pods one by one, largest first (the head first among equals), each on the
/// fitting node with the most free cpu (then memory), roughly what the scheduler's
/// LeastAllocated scoring prefers; each placed pod then counts for the next ones' rules.
fn place(
    namespace: &str,
    nodes: &[NodeInfo],
    pods: Vec<Placed>,
    mut new_pods: Vec<NewPod>,
) -> Room {
    let mut world = World::new(namespace, nodes, pods);
    let before: Vec<Resources> = nodes.iter().map(|n| world.free(n)).collect();
    new_pods.sort_by_key(|p| {
        (
            Reverse(p.requests.get("cpu")),
            Reverse(p.requests.get("memory")),
            !p.head,
        )
    });
    let mut needed = Resources::default();
    let mut rooms = Vec::new();
    let mut placed_on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pod in &new_pods {
        needed.add(&pod.requests);
        let spread: Vec<SpreadCount> = pod
            .spread
            .iter()
            .map(|r| spread_count(r, pod, &world))
            .collect();
        let affinity = affinity_check(pod, &world);
        let mut no_room = Vec::new();
        let mut best: Option<(&NodeInfo, (Milli, Milli))> = None;
        for node in nodes {
            let free = world.free(node);
            match why_not(pod, node, &free, &spread, &affinity) {
                Some(reason) => no_room.push(NodeReason {
                    node: node.name.clone(),
                    reason,
                }),
                None => {
                    let score = (free.get("cpu"), free.get("memory"));
                    if best.is_none_or(|(_, b)| score > b) {
                        best = Some((node, score));
                    }
                }
            }
        }
        drop(spread);
        let node = best.map(|(n, _)| n.name.clone());
        if let Some(n) = &node {
            placed_on
                .entry(n.clone())
                .or_default()
                .push(pod.name.clone());
            world.bind(Placed {
                namespace: namespace.to_string(),
                name: pod.name.clone(),
                node: n.clone(),
                labels: pod.labels.clone(),
                requests: pod.requests.clone(),
                terminating: false,
                anti_affinity: pod.anti_affinity.clone(),
            });
        }
        rooms.push(PodRoom {
            pod: pod.name.clone(),
            requests: pod.requests.clone(),
            no_room: if node.is_some() { Vec::new() } else { no_room },
            node,
        });
    }
    let mut shown: BTreeSet<String> = ["cpu", "memory", "pods"].map(String::from).into();
    shown.extend(needed.0.keys().cloned());
    let node_rooms = nodes
        .iter()
        .zip(before)
        .map(|(n, before)| NodeRoom {
            name: n.name.clone(),
            unschedulable: node_unschedulable(n),
            allocatable: n.allocatable.only(&shown),
            free_before: before.only(&shown),
            free_after: world.free(n).only(&shown),
            new_pods: placed_on.remove(&n.name).unwrap_or_default(),
        })
        .collect();
    Room {
        namespace: namespace.to_string(),
        needed,
        placed: rooms.iter().filter(|r| r.node.is_some()).count(),
        pods: rooms,
        nodes: node_rooms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GI: Milli = (1 << 30) * 1000;

    fn res(pairs: &[(&str, &str)]) -> Resources {
        resource_list(pairs.iter().map(|(k, v)| (*k, v.to_string())), "test").unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node(name: &str, cpu: &str, memory: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: labels(&[(HOSTNAME, name)]),
            taints: Vec::new(),
            cordoned: false,
            not_ready: None,
            allocatable: res(&[("cpu", cpu), ("memory", memory), ("pods", "110")]),
        }
    }

    fn pod_on(ns: &str, name: &str, node: &str, l: &[(&str, &str)], cpu: &str) -> Placed {
        Placed {
            namespace: ns.into(),
            name: name.into(),
            node: node.into(),
            labels: labels(l),
            requests: res(&[("cpu", cpu), ("memory", "1Gi")]),
            terminating: false,
            anti_affinity: Vec::new(),
        }
    }

    const SHOP: &[(&str, &str)] = &[
        ("app.kubernetes.io/instance", "shop"),
        ("app.kubernetes.io/part-of", "kubectl-rayha"),
    ];

    /// A serving cluster's pod of the bundle: its labels as KubeRay set them.
    fn serving(name: &str, node: &str, node_type: &str) -> Placed {
        let mut l = SHOP.to_vec();
        l.extend([
            ("ray.io/cluster", "shop-raycluster-abcde"),
            ("ray.io/node-type", node_type),
        ]);
        pod_on(
            "shop",
            name,
            node,
            &l,
            if node_type == "head" { "1" } else { "2" },
        )
    }

    /// The bundle's worker spread rule, with or without matchLabelKeys.
    fn spread_rule(match_label_keys: bool, taints_policy: &str) -> Value {
        let mut rule = json!({
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "nodeTaintsPolicy": taints_policy,
            "labelSelector": {"matchLabels": {
                "app.kubernetes.io/instance": "shop",
                "app.kubernetes.io/part-of": "kubectl-rayha",
                "ray.io/node-type": "worker"}},
        });
        if match_label_keys {
            rule["matchLabelKeys"] = json!(["ray.io/cluster"]);
        }
        rule
    }

    /// A RayCluster spec like the bundle's: head cpu 1 / 2Gi, `workers` workers of cpu 2 / 4Gi
    /// whose pod spec gets `worker_spec` merged in.
    fn config(workers: u64, worker_spec: Value) -> Value {
        let meta = json!({"labels": {
            "app.kubernetes.io/instance": "shop", "app.kubernetes.io/part-of": "kubectl-rayha"}});
        let mut spec = json!({"containers": [{"name": "ray-worker", "resources": {
            "requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}}]});
        for (k, v) in worker_spec.as_object().cloned().unwrap_or_default() {
            spec[k] = v;
        }
        json!({
            "headGroupSpec": {"rayStartParams": {"num-cpus": "0"}, "template": {
                "metadata": meta,
                "spec": {"containers": [{"name": "ray-head", "resources": {
                    "requests": {"cpu": "1", "memory": "2Gi"},
                    "limits": {"cpu": "1", "memory": "5Gi"}}}]}}},
            "workerGroupSpecs": [{"groupName": "worker", "replicas": workers,
                "minReplicas": workers, "maxReplicas": workers,
                "template": {"metadata": meta, "spec": spec}}],
        })
    }

    fn room(nodes: &[NodeInfo], pods: Vec<Placed>, config: &Value) -> Room {
        place(
            "shop",
            nodes,
            pods,
            new_cluster_pods(config, "shop").unwrap(),
        )
    }

    fn where_placed(room: &Room, prefix: &str) -> Vec<Option<String>> {
        room.pods
            .iter()
            .filter(|p| p.pod.starts_with(prefix))
            .map(|p| p.node.clone())
            .collect()
    }

    fn reason(room: &Room, pod: &str, node: &str) -> String {
        let p = room.pods.iter().find(|p| p.pod == pod).unwrap();
        p.no_room
            .iter()
            .find(|r| r.node == node)
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| panic!("{pod} has no reason for {node}: {p:?}"))
    }

    #[test]
    fn quantities_parse_as_kubernetes_reads_them() {
        let cases: &[(&str, Milli)] = &[
            ("500m", 500),
            ("2", 2000),
            ("1.5", 1500),
            (".5", 500),
            ("5.", 5000),
            ("+1", 1000),
            ("0", 0),
            ("-0", 0),
            ("0.1m", 1),
            ("4Gi", 4 * GI),
            ("512Mi", 512 * (1 << 20) * 1000),
            ("1Ki", 1024 * 1000),
            ("1G", 1_000_000_000_000),
            ("2k", 2_000_000),
            ("1e3", 1_000_000),
            ("1E3", 1_000_000),
            ("1e-3", 1),
            ("25e-1", 2500),
            ("1E", 1_000_000_000_000_000_000_000),
            ("1.5Gi", 3 * GI / 2),
        ];
        for (text, want) in cases {
            assert_eq!(parse_quantity(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn bad_quantities_are_refused_with_the_text() {
        for text in [
            "abc", "", "1.2.3", "2 Gi", "2gb", "1e", "Gi", "1ee3", ".", "1e+", "m",
        ] {
            let e = parse_quantity(text).unwrap_err();
            assert!(
                e.starts_with(&format!("{text:?} is not a quantity")),
                "{text}: {e}"
            );
        }
        assert_eq!(parse_quantity("-1").unwrap_err(), "\"-1\" is negative");
        assert_eq!(parse_quantity("1e40").unwrap_err(), "\"1e40\" is too large");
        assert!(
            parse_quantity("9Ei9Ei")
                .unwrap_err()
                .contains("not a quantity")
        );
        // Non-cpu amounts are whole units: 1.5 bytes reserves 2.
        assert_eq!(whole_units("memory", 1500), 2000);
        assert_eq!(whole_units("cpu", 1500), 1500);
    }

    #[test]
    fn an_unparsable_request_names_its_field() {
        let mut c = config(2, json!({}));
        c["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] =
            json!("abc");
        let e = new_cluster_pods(&c, "shop").unwrap_err().to_string();
        assert!(
            e.contains("spec.rayClusterConfig.workerGroupSpecs[0].template.spec.containers[0].resources.requests.cpu: \"abc\" is not a quantity"),
            "{e}"
        );
        let mut c = config(1, json!({}));
        c["headGroupSpec"]["template"]["spec"]["initContainers"] =
            json!([{"name": "i", "resources": {"limits": {"memory": true}}}]);
        let e = new_cluster_pods(&c, "shop").unwrap_err().to_string();
        assert!(
            e.contains("spec.rayClusterConfig.headGroupSpec.template.spec.initContainers[0].resources.limits.memory: true is not a quantity"),
            "{e}"
        );
        // YAML's `cpu: 2` arrives as a number, which is a quantity.
        let mut c = config(1, json!({}));
        c["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": 2, "memory": "1Gi"}});
        let pods = new_cluster_pods(&c, "shop").unwrap();
        assert_eq!(pods[0].requests.get("cpu"), 2000);
    }

    #[test]
    fn amounts_show_in_cores_and_binary_units() {
        assert_eq!(show("cpu", 500), "0.5");
        assert_eq!(show("cpu", 1250), "1.25");
        assert_eq!(show("cpu", 16000), "16");
        assert_eq!(show("cpu", 1), "0.001");
        assert_eq!(show("cpu", -500), "-0.5");
        assert_eq!(show("memory", 4 * GI), "4Gi");
        assert_eq!(show("memory", 3 * GI / 2), "1.5Gi");
        assert_eq!(show("memory", 512 * (1 << 20) * 1000), "512Mi");
        // Cut, not rounded: one byte short of 16Gi is not shown as 16Gi.
        assert_eq!(show("memory", 16 * GI - 1000), "15.99Gi");
        assert_eq!(show("memory", 100_000), "100");
        assert_eq!(show("nvidia.com/gpu", 2000), "2");
        assert_eq!(
            res(&[("memory", "4Gi"), ("cpu", "2"), ("pods", "1")]).show(),
            "cpu 2, memory 4Gi, pods 1"
        );
    }

    #[test]
    fn effective_request_is_the_larger_of_the_containers_and_each_init_phase() {
        let cpu = |c: &str| res(&[("cpu", c)]);
        // Containers add up; an init container only needs to fit on its own.
        let r = effective_requests(
            &[cpu("1"), cpu("1")],
            &[(cpu("3"), false)],
            &Resources::default(),
            &Resources::default(),
        );
        assert_eq!(r.get("cpu"), 3000);
        let r = effective_requests(
            &[cpu("1"), cpu("1")],
            &[(cpu("1.5"), false)],
            &Resources::default(),
            &Resources::default(),
        );
        assert_eq!(r.get("cpu"), 2000);
        // A sidecar runs beside the later init containers and beside the containers.
        let r = effective_requests(
            &[cpu("2")],
            &[(cpu("0.5"), true), (cpu("3"), false)],
            &Resources::default(),
            &Resources::default(),
        );
        assert_eq!(r.get("cpu"), 3500);
        let r = effective_requests(
            &[cpu("4")],
            &[(cpu("0.5"), true), (cpu("3"), false)],
            &Resources::default(),
            &Resources::default(),
        );
        assert_eq!(r.get("cpu"), 4500);
        // Pod-level requests replace the containers' cpu; overhead comes on top.
        let r = effective_requests(&[cpu("4")], &[], &cpu("1"), &cpu("0.25"));
        assert_eq!(r.get("cpu"), 1250);

        // A missing request is the limit, resource by resource.
        let spec = json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"memory": "1Gi"},
                    "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"memory": "3Gi"}}}],
        });
        let r = template_requests(&spec, "spec", &[], &[]).unwrap();
        assert_eq!(r.get("cpu"), 2500);
        assert_eq!(r.get("memory"), 3 * GI);
        assert_eq!(r.get("nvidia.com/gpu"), 1000);
    }

    #[test]
    fn worker_counts_follow_kuberay() {
        let count = |g: Value| worker_group_pods(&g, "g").unwrap();
        assert_eq!(count(json!({"replicas": 3})), 3);
        assert_eq!(count(json!({})), 0);
        assert_eq!(count(json!({"minReplicas": 2})), 2);
        assert_eq!(count(json!({"replicas": 1, "minReplicas": 2})), 2);
        assert_eq!(count(json!({"replicas": 9, "maxReplicas": 4})), 4);
        assert_eq!(count(json!({"replicas": 2, "numOfHosts": 4})), 8);
        assert_eq!(count(json!({"replicas": 2, "suspend": true})), 0);
        let e = worker_group_pods(&json!({"replicas": -1}), "spec.w")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.w.replicas: -1 is not a whole number"),
            "{e}"
        );

        // Suspended groups and empty ones add no pods; two groups name theirs.
        let mut c = config(2, json!({}));
        let mut other = c["workerGroupSpecs"][0].clone();
        other["groupName"] = json!("gpu");
        other["replicas"] = json!(1);
        other["minReplicas"] = json!(0);
        let mut suspended = other.clone();
        suspended["suspend"] = json!(true);
        c["workerGroupSpecs"] = json!([c["workerGroupSpecs"][0], other, suspended]);
        let names: Vec<String> = new_cluster_pods(&c, "shop")
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "head pod",
                "worker pod 1 of 2 in group worker",
                "worker pod 2 of 2 in group worker",
                "worker pod 1 of 1 in group gpu"
            ]
        );
    }

    #[test]
    fn kuberay_adds_its_containers_and_fixes_its_labels() {
        let mut c = config(
            1,
            json!({"containers": [{"name": "w", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}),
        );
        c["enableInTreeAutoscaling"] = json!(true);
        c["headGroupSpec"]["template"]["metadata"]["labels"]["ray.io/cluster"] = json!("mine");
        let pods = new_cluster_pods(&c, "shop").unwrap();
        let (head, worker) = (&pods[0], &pods[1]);
        // The autoscaler sidecar: 500m and 512Mi beside the head's 1 and 2Gi.
        assert_eq!(head.requests.get("cpu"), 1500);
        assert_eq!(head.requests.get("memory"), 5 * GI / 2);
        // wait-gcs-ready (200m, 256Mi) is larger than this worker's own container.
        assert_eq!(worker.requests.get("cpu"), 200);
        assert_eq!(worker.requests.get("memory"), GI / 4);
        assert_eq!(head.labels["ray.io/cluster"], NEW_CLUSTER);
        assert_eq!(head.labels["ray.io/node-type"], "head");
        assert_eq!(worker.labels["ray.io/node-type"], "worker");
        assert_eq!(worker.labels["app.kubernetes.io/instance"], "shop");
        assert_eq!(worker.labels["ray.io/group"], "worker");

        c["autoscalerOptions"] =
            json!({"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}});
        let head = &new_cluster_pods(&c, "shop").unwrap()[0];
        assert_eq!(head.requests.get("cpu"), 1250);
    }

    #[test]
    fn nodes_from_the_api_carry_their_state() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "rig-node-2", "labels": {"kubernetes.io/hostname": "rig-node-2"}},
            "spec": {"unschedulable": true, "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "15500m", "memory": "64Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]},
        }))
        .unwrap();
        let info = node_info(&n).unwrap();
        assert!(info.cordoned);
        assert_eq!(
            info.not_ready.as_deref(),
            Some("not Ready (Ready=Unknown: NodeStatusUnknown)")
        );
        let keys: Vec<&str> = info.taints.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["dedicated", UNSCHEDULABLE_TAINT, UNREACHABLE_TAINT]);
        assert_eq!(info.allocatable.get("cpu"), 15500);
        assert_eq!(
            node_unschedulable(&info).as_deref(),
            Some("not Ready (Ready=Unknown: NodeStatusUnknown)")
        );

        let ready: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"allocatable": {"cpu": "2"}, "conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap();
        let info = node_info(&ready).unwrap();
        assert!(
            info.not_ready.is_none()
                && info.taints.is_empty()
                && node_unschedulable(&info).is_none()
        );

        let broken: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "lots"}}}))
        .unwrap();
        let e = node_info(&broken).unwrap_err().to_string();
        assert!(
            e.contains("node n allocatable.cpu: \"lots\" is not a quantity"),
            "{e}"
        );
    }

    #[test]
    fn pods_from_the_api_count_while_bound_and_not_finished() {
        let pod = |v: Value| placed_pod(&serde_json::from_value(v).unwrap()).unwrap();
        let spec = json!({"nodeName": "n1", "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3"}}}],
            "overhead": {"cpu": "100m"}});
        let p = pod(
            json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec,
            "status": {"phase": "Running"}}),
        )
        .unwrap();
        assert_eq!(
            (p.node.as_str(), p.requests.get("cpu"), p.terminating),
            ("n1", 3100, false)
        );
        let mut unbound = spec.clone();
        unbound.as_object_mut().unwrap().remove("nodeName");
        assert!(pod(json!({"metadata": {"name": "p"}, "spec": unbound})).is_none());
        assert!(
            pod(json!({"metadata": {"name": "p"}, "spec": spec, "status": {"phase": "Succeeded"}}))
                .is_none()
        );
        let going = pod(json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": spec})).unwrap();
        assert!(going.terminating);
    }

    #[test]
    fn tolerations_match_as_kubernetes_says() {
        let taint = Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        };
        let t = |key: &str, operator: &str, value: &str, effect: &str| Toleration {
            key: key.into(),
            operator: operator.into(),
            value: value.into(),
            effect: effect.into(),
        };
        assert!(tolerates(
            &t("dedicated", "Equal", "gpu", "NoSchedule"),
            &taint
        ));
        assert!(tolerates(&t("dedicated", "", "gpu", ""), &taint));
        assert!(tolerates(&t("dedicated", "Exists", "", ""), &taint));
        assert!(tolerates(&t("", "Exists", "", ""), &taint));
        assert!(!tolerates(
            &t("dedicated", "Equal", "cpu", "NoSchedule"),
            &taint
        ));
        assert!(!tolerates(
            &t("dedicated", "Exists", "", "NoExecute"),
            &taint
        ));
        assert!(!tolerates(&t("other", "Exists", "", ""), &taint));
        let soft = Taint {
            effect: "PreferNoSchedule".into(),
            ..taint.clone()
        };
        assert!(untolerated_taint(std::slice::from_ref(&soft), &[]).is_none());
        assert_eq!(
            untolerated_taint(std::slice::from_ref(&taint), &[]),
            Some(&taint)
        );
    }

    #[test]
    fn unready_cordoned_and_tainted_nodes_are_passed_over_with_their_reason() {
        let mut unready = node("n1", "16", "64Gi");
        unready.not_ready = Some("not Ready (Ready=False)".into());
        let mut cordoned = node("n2", "16", "64Gi");
        cordoned.cordoned = true;
        cordoned.taints.push(Taint {
            key: UNSCHEDULABLE_TAINT.into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        });
        let mut tainted = node("n3", "16", "64Gi");
        tainted.taints.push(Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        });
        let nodes = [unready, cordoned, tainted];
        let r = room(&nodes, Vec::new(), &config(1, json!({})));
        assert_eq!(r.placed, 0);
        assert_eq!(reason(&r, "head pod", "n1"), "not Ready (Ready=False)");
        assert_eq!(reason(&r, "head pod", "n2"), "cordoned");
        assert_eq!(
            reason(&r, "head pod", "n3"),
            "taint dedicated=gpu:NoSchedule not tolerated"
        );
        let refusal = r.refusal().unwrap();
        assert!(refusal.contains("(n1: not Ready (Ready=False); n2: cordoned; n3: taint dedicated=gpu:NoSchedule not tolerated)"), "{refusal}");
        assert_eq!(r.nodes[1].unschedulable.as_deref(), Some("cordoned"));

        // The workers tolerate the taint; the head does not.
        let r = room(
            &nodes,
            Vec::new(),
            &config(
                1,
                json!({"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
            ),
        );
        assert_eq!(where_placed(&r, "worker"), [Some("n3".to_string())]);
        assert_eq!(where_placed(&r, "head"), [None]);
    }

    #[test]
    fn node_selector_and_required_node_affinity_choose_the_nodes() {
        let mut nodes = [
            node("a", "32", "64Gi"),
            node("b", "16", "64Gi"),
            node("c", "8", "64Gi"),
            node("d", "4", "64Gi"),
        ];
        nodes[1].labels.insert("pool".into(), "ray".into());
        nodes[2].labels.insert("pool".into(), "ray".into());
        nodes[2].labels.insert("gen".into(), "5".into());
        nodes[3].labels.insert("pool".into(), "ray".into());
        nodes[3].labels.insert("gen".into(), "3".into());
        let r = room(
            &nodes,
            Vec::new(),
            &config(1, json!({"nodeSelector": {"pool": "ray"}})),
        );
        // With a, the biggest, excluded, the worker goes to b, the next.
        assert_eq!(where_placed(&r, "worker"), [Some("b".to_string())]);
        let r = room(
            &nodes,
            Vec::new(),
            &config(1, json!({"nodeSelector": {"pool": "gpu"}})),
        );
        assert_eq!(
            reason(&r, "worker pod 1 of 1", "b"),
            "node selector pool=gpu not matched"
        );

        let affinity = |exprs: Value, fields: Value| {
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": exprs, "matchFields": fields}]}}}})
        };
        let on = |spec: Value| {
            where_placed(&room(&nodes, Vec::new(), &config(1, spec)), "worker")[0].clone()
        };
        assert_eq!(
            on(affinity(
                json!([{"key": "gen", "operator": "Gt", "values": ["4"]}]),
                json!([])
            ))
            .as_deref(),
            Some("c")
        );
        assert_eq!(
            on(affinity(
                json!([{"key": "gen", "operator": "Lt", "values": ["4"]}]),
                json!([])
            ))
            .as_deref(),
            Some("d")
        );
        assert_eq!(
            on(affinity(
                json!([{"key": "gen", "operator": "Exists"}]),
                json!([])
            ))
            .as_deref(),
            Some("c")
        );
        assert_eq!(
            on(affinity(
                json!([{"key": "pool", "operator": "DoesNotExist"}]),
                json!([])
            ))
            .as_deref(),
            Some("a")
        );
        assert_eq!(
            on(affinity(
                json!([{"key": "pool", "operator": "In", "values": ["ray"]},
            {"key": "gen", "operator": "NotIn", "values": ["5"]}]),
                json!([])
            ))
            .as_deref(),
            Some("b")
        );
        assert_eq!(
            on(affinity(
                json!([]),
                json!([{"key": "metadata.name", "operator": "In", "values": ["d"]}])
            ))
            .as_deref(),
            Some("d")
        );
        let r = room(
            &nodes,
            Vec::new(),
            &config(
                1,
                affinity(
                    json!([{"key": "gen", "operator": "Gt", "values": ["9"]}]),
                    json!([]),
                ),
            ),
        );
        assert_eq!(
            reason(&r, "worker pod 1 of 1", "c"),
            "required node affinity not matched"
        );

        let bad = config(
            1,
            affinity(json!([{"key": "gen", "operator": "Near"}]), json!([])),
        );
        let e = new_cluster_pods(&bad, "shop").unwrap_err().to_string();
        assert!(e.contains("nodeSelectorTerms[0].matchExpressions[0].operator: \"Near\" is not one of In, NotIn"), "{e}");
    }

    /// Four nodes: n1 holds the serving head, n2 and n3 (the biggest) its workers.
    fn four_nodes() -> ([NodeInfo; 4], Vec<Placed>) {
        let nodes = [
            node("n1", "8", "32Gi"),
            node("n2", "16", "32Gi"),
            node("n3", "16", "32Gi"),
            node("n4", "8", "32Gi"),
        ];
        let pods = vec![
            serving("shop-raycluster-abcde-head", "n1", "head"),
            serving("shop-raycluster-abcde-worker-1", "n2", "worker"),
            serving("shop-raycluster-abcde-worker-2", "n3", "worker"),
        ];
        (nodes, pods)
    }

    #[test]
    fn the_bundle_spread_rule_lets_new_workers_sit_beside_the_serving_ones() {
        let (nodes, pods) = four_nodes();
        let r = room(
            &nodes,
            pods,
            &config(
                2,
                json!({"topologySpreadConstraints": [spread_rule(true, "Honor")]}),
            ),
        );
        assert_eq!(r.refusal(), None);
        // matchLabelKeys leaves the serving workers out of the count: the new ones take the
        // nodes with the most free cpu, which hold the old ones, one each.
        assert_eq!(
            where_placed(&r, "worker"),
            [Some("n2".to_string()), Some("n3".to_string())]
        );
    }

    #[test]
    fn a_spread_rule_without_match_label_keys_counts_the_serving_workers() {
        let (nodes, pods) = four_nodes();
        let r = room(
            &nodes,
            pods,
            &config(
                2,
                json!({"topologySpreadConstraints": [spread_rule(false, "Honor")]}),
            ),
        );
        assert_eq!(r.refusal(), None);
        // n2 and n3 hold a serving worker each: the new ones go to the nodes without.
        assert_eq!(
            where_placed(&r, "worker"),
            [Some("n4".to_string()), Some("n1".to_string())]
        );

        // Both serving workers on n1, and n2 too small: no place is within maxSkew.
        let nodes = [node("n1", "16", "32Gi"), node("n2", "1", "32Gi")];
        let pods = vec![
            serving("shop-raycluster-abcde-worker-1", "n1", "worker"),
            serving("shop-raycluster-abcde-worker-2", "n1", "worker"),
        ];
        let r = room(
            &nodes,
            pods.clone(),
            &config(
                1,
                json!({"topologySpreadConstraints": [spread_rule(false, "Honor")]}),
            ),
        );
        let refusal = r.refusal().unwrap();
        assert!(refusal.contains("worker pod 1 of 1 (cpu 2, memory 4Gi) fits on no schedulable node (n1: spread maxSkew 1: 3 matching pods would be here, 0 on n2; n2: cpu 1 of 1 free)"), "{refusal}");
        // Serving workers being deleted no longer count.
        let going: Vec<Placed> = pods
            .iter()
            .cloned()
            .map(|p| Placed {
                terminating: true,
                ..p
            })
            .collect();
        let r = room(
            &nodes,
            going,
            &config(
                1,
                json!({"topologySpreadConstraints": [spread_rule(false, "Honor")]}),
            ),
        );
        assert_eq!(where_placed(&r, "worker"), [Some("n1".to_string())]);
        // The bundle's rule places it.
        let r = room(
            &nodes,
            pods,
            &config(
                1,
                json!({"topologySpreadConstraints": [spread_rule(true, "Honor")]}),
            ),
        );
        assert_eq!(r.refusal(), None);
    }

    #[test]
    fn the_taints_policy_decides_whether_a_tainted_node_is_a_domain() {
        let mut control = node("cp", "4", "8Gi");
        control.taints.push(Taint {
            key: "node-role.kubernetes.io/control-plane".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        });
        let nodes = [control, node("n1", "16", "32Gi"), node("n2", "16", "32Gi")];
        let pods = vec![
            serving("shop-raycluster-abcde-worker-1", "n1", "worker"),
            serving("shop-raycluster-abcde-worker-2", "n2", "worker"),
        ];
        // Ignore (the default): the control plane's zero counts, every worker node is too skewed.
        let r = room(
            &nodes,
            pods.clone(),
            &config(
                1,
                json!({"topologySpreadConstraints": [spread_rule(false, "Ignore")]}),
            ),
        );
        assert_eq!(where_placed(&r, "worker"), [None]);
        assert_eq!(
            reason(&r, "worker pod 1 of 1", "n1"),
            "spread maxSkew 1: 2 matching pods would be here, 0 on cp"
        );
        // Honor: the control plane is no domain; 2 − 1 is within maxSkew.
        let r = room(
            &nodes,
            pods,
            &config(
                1,
                json!({"topologySpreadConstraints": [spread_rule(false, "Honor")]}),
            ),
        );
        assert!(where_placed(&r, "worker")[0].is_some());
    }

    #[test]
    fn min_domains_takes_the_fewest_as_zero_while_domains_are_missing() {
        let nodes = [node("n1", "16", "32Gi"), node("n2", "16", "32Gi")];
        let mut rule = spread_rule(true, "Honor");
        let r = room(
            &nodes,
            Vec::new(),
            &config(3, json!({"topologySpreadConstraints": [rule.clone()]})),
        );
        assert_eq!(r.refusal(), None);
        rule["minDomains"] = json!(3);
        let r = room(
            &nodes,
            Vec::new(),
            &config(3, json!({"topologySpreadConstraints": [rule]})),
        );
        let some = |n: &str| Some(n.to_string());
        assert_eq!(where_placed(&r, "worker"), [some("n1"), some("n2"), None]);
        assert_eq!(
            reason(&r, "worker pod 3 of 3", "n1"),
            "spread maxSkew 1: 2 matching pods would be here, 0 on a domain short of minDomains 3 (2 eligible)"
        );
    }

    #[test]
    fn a_zone_spread_rule_counts_by_zone() {
        let mut nodes = [
            node("a1", "16", "32Gi"),
            node("a2", "16", "32Gi"),
            node("b1", "3", "32Gi"),
        ];
        for (n, z) in nodes.iter_mut().zip(["a", "a", "b"]) {
            n.labels
                .insert("topology.kubernetes.io/zone".into(), z.into());
        }
        let mut rule = spread_rule(true, "Honor");
        rule["topologyKey"] = json!("topology.kubernetes.io/zone");
        let r = room(
            &nodes,
            Vec::new(),
            &config(4, json!({"topologySpreadConstraints": [rule]})),
        );
        // Zone a, zone b, zone a again (a2, the most free); the fourth would make zone a 3 to
        // zone b's 1, and b1 has no cpu left.
        let some = |n: &str| Some(n.to_string());
        assert_eq!(
            where_placed(&r, "worker"),
            [some("a1"), some("b1"), some("a2"), None]
        );
        assert_eq!(
            reason(&r, "worker pod 4 of 4", "a1"),
            "spread over topology.kubernetes.io/zone maxSkew 1: 3 matching pods would be in a, 1 in b"
        );
        assert_eq!(reason(&r, "worker pod 4 of 4", "b1"), "cpu 1 of 3 free");
    }

    #[test]
    fn required_anti_affinity_keeps_matching_pods_apart() {
        let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname",
             "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "shop", "ray.io/node-type": "worker"}}}]}}});
        let nodes = [
            node("n1", "16", "32Gi"),
            node("n2", "16", "32Gi"),
            node("n3", "8", "32Gi"),
        ];
        let mut pods = vec![
            serving("shop-raycluster-abcde-worker-1", "n1", "worker"),
            serving("shop-raycluster-abcde-worker-2", "n2", "worker"),
        ];
        // The same labels in another namespace do not count.
        let mut l = SHOP.to_vec();
        l.push(("ray.io/node-type", "worker"));
        pods.push(pod_on("other", "lookalike", "n3", &l, "1"));
        let r = room(&nodes, pods, &config(2, anti.clone()));
        assert_eq!(where_placed(&r, "worker"), [Some("n3".to_string()), None]);
        assert_eq!(
            reason(&r, "worker pod 2 of 2", "n1"),
            "anti-affinity: pod shop/shop-raycluster-abcde-worker-1 is here"
        );
        assert_eq!(
            reason(&r, "worker pod 2 of 2", "n3"),
            "anti-affinity: pod shop/worker pod 1 of 2 is here"
        );
        assert!(r.refusal().unwrap().contains("placed 2 of 3"));

        // A pod already there whose own anti-affinity excludes Ray workers.
        let mut loner = pod_on("other", "loner", "n1", &[("app", "loner")], "1");
        loner.anti_affinity = pod_terms(
            Some(
                &serde_json::from_value(
                    json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "namespaces": ["shop"],
                 "labelSelector": {"matchLabels": {"ray.io/node-type": "worker"}}}]}}),
                )
                .unwrap(),
            ),
            "other",
            &loner.labels,
            "",
        )
        .unwrap()
        .1;
        let nodes = [node("n1", "16", "32Gi"), node("n2", "8", "32Gi")];
        let r = room(&nodes, vec![loner], &config(1, json!({})));
        assert_eq!(where_placed(&r, "worker"), [Some("n2".to_string())]);
        assert_eq!(where_placed(&r, "head"), [Some("n1".to_string())]);
    }

    #[test]
    fn required_pod_affinity_keeps_a_group_together() {
        let together = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "matchLabelKeys": ["ray.io/cluster"],
             "labelSelector": {"matchLabels": {"ray.io/node-type": "worker"}}}]}}});
        let nodes = [node("n1", "16", "32Gi"), node("n2", "15", "32Gi")];
        // The first worker goes anywhere (n1, the most free); the second only beside it, even
        // though n2 then has more free cpu.
        let r = room(&nodes, Vec::new(), &config(2, together));
        assert_eq!(
            where_placed(&r, "worker"),
            [Some("n1".to_string()), Some("n1".to_string())]
        );
    }

    #[test]
    fn a_cluster_without_room_is_refused_with_the_numbers() {
        let nodes = [node("n1", "4", "16Gi"), node("n2", "4", "16Gi")];
        let pods = vec![pod_on("kube-system", "busy", "n1", &[], "3.5")];
        let r = room(&nodes, pods, &config(2, json!({})));
        let refusal = r.refusal().unwrap();
        assert_eq!(
            refusal,
            "no room for a second RayCluster: 3 pods need cpu 5, memory 10Gi; placed 2 of 3: \
             head pod (cpu 1, memory 2Gi) fits on no schedulable node \
             (n1: cpu 0.5 of 4 free; n2: cpu 0 of 4 free)"
        );
        let lines = r.describe();
        assert!(lines.contains(&"node n1: free cpu 0.5 of 4, memory 15Gi of 16Gi, pods 109 of 110; after placing cpu 0.5, memory 15Gi, pods 109".to_string()), "{lines:#?}");
        assert!(
            lines.contains(&"head pod (cpu 1, memory 2Gi) fits on no node:".to_string()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"  n2: cpu 0 of 4 free".to_string()),
            "{lines:#?}"
        );
        assert!(lines.contains(&"node n2: free cpu 4 of 4, memory 16Gi of 16Gi, pods 110 of 110; after placing cpu 0, memory 8Gi, pods 108 (worker pod 1 of 2, worker pod 2 of 2)".to_string()), "{lines:#?}");
        assert_eq!(
            r.nodes[1].new_pods,
            ["worker pod 1 of 2", "worker pod 2 of 2"]
        );

        // Twice the nodes: it fits.
        let nodes = [node("n1", "8", "16Gi"), node("n2", "4", "16Gi")];
        let pods = vec![pod_on("kube-system", "busy", "n1", &[], "3.5")];
        let r = room(&nodes, pods, &config(2, json!({})));
        assert_eq!(r.refusal(), None);
        assert_eq!(r.placed, 3);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["needed"], json!({"cpu": "5", "memory": "10Gi"}));
    }

    #[test]
    fn a_pod_also_needs_a_pod_slot_and_extended_resources() {
        let mut full = node("n1", "16", "32Gi");
        full.allocatable.set("pods", 1000);
        let mut gpu = node("n2", "4", "32Gi");
        gpu.allocatable.set("nvidia.com/gpu", 1000);
        let nodes = [full, gpu];
        let pods = vec![pod_on("kube-system", "dns", "n1", &[], "0.1")];
        let c = config(
            1,
            json!({"containers": [{"name": "w", "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "2"}}}]}),
        );
        let r = room(&nodes, pods, &c);
        assert_eq!(
            reason(&r, "worker pod 1 of 1", "n1"),
            "nvidia.com/gpu 0 of 0 free"
        );
        assert_eq!(
            reason(&r, "worker pod 1 of 1", "n2"),
            "nvidia.com/gpu 1 of 1 free"
        );
        // n1 has the most free cpu but no pod slot left.
        assert_eq!(where_placed(&r, "head"), [Some("n2".to_string())]);
        assert_eq!(
            short_resource(
                &res(&[("cpu", "1")]),
                &res(&[("cpu", "8"), ("pods", "0")]),
                &res(&[("pods", "1")])
            )
            .as_deref(),
            Some("pods 0 of 1 free")
        );
    }

    #[test]
    fn a_forbidden_list_names_the_missing_permission() {
        let status = |code: u16| {
            kube::Error::Api(
                kube::core::Status {
                    code,
                    message: "pods is forbidden: User \"u\" cannot list resource \"pods\" at the cluster scope".into(),
                    ..Default::default()
                }
                .boxed(),
            )
        };
        let e = list_error(
            &status(403),
            "pods in all namespaces",
            "permission to list pods in all namespaces",
        )
        .to_string();
        assert!(e.starts_with("cannot list pods in all namespaces: the capacity check needs permission to list pods in all namespaces (pods is forbidden"), "{e}");
        let e = list_error(&status(500), "nodes", "x").to_string();
        assert!(
            e.starts_with("cannot list nodes: pods is forbidden") && !e.contains("needs"),
            "{e}"
        );
    }

    #[test]
    fn a_refusal_names_ten_nodes_at_most() {
        let nodes: Vec<NodeInfo> = (0..12)
            .map(|i| node(&format!("n{i:02}"), "0.5", "1Gi"))
            .collect();
        let refusal = room(&nodes, Vec::new(), &config(0, json!({})))
            .refusal()
            .unwrap();
        assert!(
            refusal.contains("n09: cpu 0.5 of 0.5 free; 2 more nodes)"),
            "{refusal}"
        );
        assert!(!refusal.contains("n10:"), "{refusal}");
    }
}
