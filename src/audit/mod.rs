//! The audit: the procedure's "check for an existing node role", for a whole account. What the clusters say
//! (`ClusterFacts`), how each role is used (`Use`), and the judgement of each role against the procedure
//! (`judge`) — pure, so every finding is unit-tested. `collect` gathers the facts through the ports; the
//! `eks-node-role-audit` binary adds the EKS client (never linked into the Lambda function) and prints.

pub mod collect;
pub mod render;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::domain::policies::{self, CLUSTER_PRINCIPAL, FARGATE_PRINCIPAL};
use crate::domain::{IpFamily, LiveRole, NodeClass, Partition, PolicyArn};
use crate::state::Record;

const READ_ONLY_REGISTRY: &str = "AmazonEC2ContainerRegistryReadOnly";

/// What one cluster tells about its roles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterFacts {
    pub name: String,
    /// The cluster role (`roleArn`).
    pub role_arn: Option<String>,
    /// `kubernetesNetworkConfig.ipFamily`; a cluster without one is ipv4.
    pub ip_family: IpFamily,
    /// `computeConfig.nodeRoleArn` of an EKS Auto Mode cluster.
    pub auto_mode_node_role: Option<String>,
    pub node_groups: Vec<(String, String)>,
    /// Fargate profiles and their pod execution roles.
    pub fargate_profiles: Vec<(String, String)>,
    /// How `aws-node` (the VPC CNI) gets its own role, when it does: the `vpc-cni` add-on's service account role
    /// or a Pod Identity association. `None`: none known (then the node role needs the CNI policy).
    pub cni_own_role: Option<String>,
    /// What could not be seen (an API the endpoint does not offer, ...).
    pub notes: Vec<String>,
}

/// How a role is used by a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    NodeGroup { cluster: String, node_group: String },
    AutoModeNodes { cluster: String },
    ClusterRole { cluster: String },
    FargateProfile { cluster: String, profile: String },
}

impl Use {
    pub fn cluster(&self) -> &str {
        match self {
            Use::NodeGroup { cluster, .. }
            | Use::AutoModeNodes { cluster }
            | Use::ClusterRole { cluster }
            | Use::FargateProfile { cluster, .. } => cluster,
        }
    }

    fn is_node_use(&self) -> bool {
        matches!(self, Use::NodeGroup { .. } | Use::AutoModeNodes { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Use::NodeGroup { cluster, node_group } => format!("{cluster}/{node_group}"),
            Use::AutoModeNodes { cluster } => format!("{cluster} (Auto Mode nodes)"),
            Use::ClusterRole { cluster } => format!("{cluster} (cluster role)"),
            Use::FargateProfile { cluster, profile } => format!("{cluster}/{profile} (Fargate)"),
        }
    }
}

/// Whether the guard manages a role.
#[derive(Debug, Clone, PartialEq)]
pub enum Managed {
    /// The state item exists and records this role's RoleId.
    Yes(Box<Record>),
    No,
    /// An item exists for the name but records another RoleId: nothing is enforced on this role.
    OtherRole,
    /// No state table was given: unknown.
    Unknown,
}

impl Managed {
    pub fn label(&self) -> &'static str {
        match self {
            Managed::Yes(_) => "yes",
            Managed::No => "no",
            Managed::OtherRole => "other-role",
            Managed::Unknown => "unknown",
        }
    }
}

/// One role to judge: the live role (`None` when a node group names a role that does not exist), its inline
/// policies, how clusters use it, why it was looked at, and whether the guard manages it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub role_name: String,
    pub role_arn: String,
    pub live: Option<LiveRole>,
    pub inline_policies: Vec<String>,
    pub uses: BTreeSet<Use>,
    pub managed: Managed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: &'static str,
    pub message: String,
}

fn finding(kind: &'static str, message: impl Into<String>) -> Finding {
    Finding { kind, message: message.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Meets the procedure for every use.
    Compliant,
    /// At least one finding.
    NonCompliant,
    /// No node group uses it (its would-be findings are notes).
    Unused,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::NonCompliant => "non-compliant",
            Verdict::Unused => "unused",
        }
    }
}

/// The judgement of one role.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleReport {
    pub role_name: String,
    pub role_arn: String,
    pub verdict: Verdict,
    pub managed: &'static str,
    pub used_by: Vec<String>,
    pub findings: Vec<Finding>,
    pub notes: Vec<Finding>,
    /// The node class the role was judged as.
    #[serde(skip)]
    pub node_class: NodeClass,
    /// The IP families of the clusters whose nodes use it.
    #[serde(skip)]
    pub ip_families: BTreeSet<IpFamily>,
    /// Whether the VPC CNI has its own role in every cluster using this role.
    #[serde(skip)]
    pub cni_separate: bool,
}

fn same_role(arn: &str, name: &str) -> bool {
    arn.rsplit('/').next().is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// How every cluster uses the role named `name`.
pub fn uses_of(name: &str, clusters: &[ClusterFacts]) -> BTreeSet<Use> {
    let mut uses = BTreeSet::new();
    for c in clusters {
        let cluster = c.name.clone();
        for (ng, role) in &c.node_groups {
            if same_role(role, name) {
                uses.insert(Use::NodeGroup { cluster: cluster.clone(), node_group: ng.clone() });
            }
        }
        if c.auto_mode_node_role.as_deref().is_some_and(|r| same_role(r, name)) {
            uses.insert(Use::AutoModeNodes { cluster: cluster.clone() });
        }
        if c.role_arn.as_deref().is_some_and(|r| same_role(r, name)) {
            uses.insert(Use::ClusterRole { cluster: cluster.clone() });
        }
        for (profile, role) in &c.fargate_profiles {
            if same_role(role, name) {
                uses.insert(Use::FargateProfile { cluster: cluster.clone(), profile: profile.clone() });
            }
        }
    }
    uses
}

fn aws_policy(live: &LiveRole, name: &str) -> bool {
    live.attached.iter().any(|p| p.as_str().contains(":iam::aws:policy/") && p.name() == name)
}

fn ipv6_cni(live: &LiveRole) -> Option<&PolicyArn> {
    live.attached.iter().find(|p| p.name().ends_with(policies::CNI_IPV6_POLICY))
}

/// Judges one role against the procedure, with the facts of the clusters that use it. A managed role is judged
/// against its state item (node class, CNI choice, IP family), the others against how clusters use them.
pub fn judge(subject: &Subject, clusters: &[ClusterFacts]) -> RoleReport {
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let node_uses: Vec<&Use> = subject.uses.iter().filter(|u| u.is_node_use()).collect();
    let clusters_of = |u: &Use| clusters.iter().find(|c| c.name == u.cluster());
    let record = match &subject.managed {
        Managed::Yes(r) => Some(r.as_ref()),
        _ => None,
    };
    let auto_mode = node_uses.iter().any(|u| matches!(u, Use::AutoModeNodes { .. }));
    let node_class = match record {
        Some(r) => r.desired.node_class,
        None if auto_mode || subject.role_name.eq_ignore_ascii_case(crate::domain::adoption::AUTO_MODE_ROLE) => {
            NodeClass::AutoMode
        }
        None => NodeClass::Standard,
    };
    let ip_families: BTreeSet<IpFamily> =
        node_uses.iter().filter_map(|u| clusters_of(u)).map(|c| c.ip_family).collect();
    let node_clusters: Vec<&ClusterFacts> = node_uses.iter().filter_map(|u| clusters_of(u)).collect();
    let cni_separate = !node_clusters.is_empty() && node_clusters.iter().all(|c| c.cni_own_role.is_some());

    if let Managed::OtherRole = subject.managed {
        notes.push(finding(
            "state-item-for-another-role",
            "the guard has a state item for this name that records another RoleId: nothing is enforced on this role",
        ));
    }

    let Some(live) = &subject.live else {
        findings.push(finding(
            "role-not-found",
            format!(
                "{} names the role {}, which does not exist: its nodes cannot join",
                describe(&node_uses),
                subject.role_name
            ),
        ));
        return report(subject, findings, notes, node_class, ip_families, cni_separate);
    };

    // Roles the procedure forbids as node roles.
    for u in subject.uses.iter().filter(|u| matches!(u, Use::ClusterRole { .. })) {
        if !node_uses.is_empty() {
            findings.push(finding(
                "cluster-role-used-as-node-role",
                format!("it is the cluster role of {} and a node role of {}: \"You can't use the same role that is used to create any clusters.\"", u.cluster(), describe(&node_uses)),
            ));
        }
    }
    for u in subject.uses.iter().filter(|u| matches!(u, Use::FargateProfile { .. })) {
        if !node_uses.is_empty() {
            findings.push(finding(
                "fargate-role-used-as-node-role",
                format!("it is the pod execution role of {} and a node role of {}: \"The Amazon EC2 node groups must have a different IAM role than the Fargate profile.\"", u.describe(), describe(&node_uses)),
            ));
        }
    }

    // Trust, by meaning.
    let services = live.trust.as_ref().map(policies::trusted_services).unwrap_or_default();
    let ec2 = ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"];
    if !services.iter().any(|s| ec2.contains(&s.as_str())) {
        findings.push(finding(
            "trust-not-ec2",
            "its trust policy does not let EC2 (ec2.amazonaws.com) assume it: nodes cannot use it",
        ));
    } else if let Some(t) = live.trust.as_ref() {
        let partition = Partition::parse(live.arn.split(':').nth(1).unwrap_or("aws")).unwrap_or(Partition::Aws);
        // Cluster and Fargate principals have findings of their own (below).
        let others: Vec<&String> = services
            .iter()
            .filter(|s| !ec2.contains(&s.as_str()) && *s != CLUSTER_PRINCIPAL && *s != FARGATE_PRINCIPAL)
            .collect();
        if !others.is_empty() {
            findings.push(finding(
                "trust-broader-than-ec2",
                format!(
                    "its trust policy also trusts {}: the procedure trusts EC2 only",
                    others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        } else if !policies::same_policy(t, &policies::ec2_trust_policy(partition)) && services.len() == 1 {
            notes.push(finding(
                "trust-differs",
                "its trust policy trusts EC2 but is not the procedure's document (conditions or other statements)",
            ));
        }
        if services.contains(CLUSTER_PRINCIPAL)
            && !subject.uses.iter().any(|u| matches!(u, Use::ClusterRole { .. }))
            && !node_uses.is_empty()
        {
            findings.push(finding(
                "cluster-role-used-as-node-role",
                "it trusts eks.amazonaws.com, so it is an Amazon EKS cluster role",
            ));
        }
        if services.contains(FARGATE_PRINCIPAL)
            && !subject.uses.iter().any(|u| matches!(u, Use::FargateProfile { .. }))
            && !node_uses.is_empty()
        {
            findings.push(finding(
                "fargate-role-used-as-node-role",
                "it trusts eks-fargate-pods.amazonaws.com, so it is a Fargate pod execution role",
            ));
        }
    }

    // The worker and registry policies.
    match node_class {
        NodeClass::Standard => {
            if !aws_policy(live, policies::WORKER_NODE_POLICY) {
                findings.push(missing(policies::WORKER_NODE_POLICY, "the nodes cannot join the cluster"));
            }
        }
        NodeClass::AutoMode => {
            if !aws_policy(live, policies::WORKER_NODE_MINIMAL_POLICY) {
                if aws_policy(live, policies::WORKER_NODE_POLICY) {
                    notes.push(finding("worker-policy-broader-than-needed", "Auto Mode nodes need only AmazonEKSWorkerNodeMinimalPolicy; AmazonEKSWorkerNodePolicy grants more"));
                } else {
                    findings
                        .push(missing(policies::WORKER_NODE_MINIMAL_POLICY, "Auto Mode nodes cannot join the cluster"));
                }
            }
        }
    }
    if !aws_policy(live, policies::ECR_PULL_ONLY_POLICY) {
        if aws_policy(live, READ_ONLY_REGISTRY) {
            notes.push(finding("registry-policy-broader-than-needed", "AmazonEC2ContainerRegistryReadOnly grants more than the nodes need: AmazonEC2ContainerRegistryPullOnly is enough"));
        } else {
            findings.push(missing(policies::ECR_PULL_ONLY_POLICY, "the nodes cannot pull images from Amazon ECR"));
        }
    }

    // The CNI policy: by IP family, or none when the VPC CNI has its own role (or Auto Mode runs networking).
    let has_v4 = aws_policy(live, policies::CNI_POLICY);
    let has_v6 = ipv6_cni(live).is_some();
    let needs_cni = match record {
        Some(r) => r.desired.attach_cni,
        None => node_class == NodeClass::Standard && !cni_separate,
    };
    let families: BTreeSet<IpFamily> = match record {
        Some(r) => [r.desired.ip_family].into(),
        None if ip_families.is_empty() => [IpFamily::Ipv4].into(),
        None => ip_families.clone(),
    };
    if needs_cni {
        if families.contains(&IpFamily::Ipv4) && !has_v4 {
            findings.push(missing(policies::CNI_POLICY, "the VPC CNI on these nodes cannot assign IPv4 addresses"));
        }
        if families.contains(&IpFamily::Ipv6) && !has_v6 {
            findings.push(missing(
                policies::CNI_IPV6_POLICY,
                "the VPC CNI on these nodes cannot assign IPv6 addresses (create it from AWS's document)",
            ));
        }
    } else if has_v4 || has_v6 {
        let why = if node_class == NodeClass::AutoMode {
            "Auto Mode runs networking itself".to_string()
        } else if let Some(own) = node_clusters.iter().find_map(|c| c.cni_own_role.as_deref()) {
            format!("the VPC CNI has its own role ({own})")
        } else {
            "the guard's state item says the CNI policy is not attached to this role".to_string()
        };
        findings.push(finding(
            "cni-policy-on-node-role",
            format!(
                "a CNI policy is still attached although {why}: the procedure says to remove it from the node role"
            ),
        ));
    }
    for r in record.into_iter() {
        if r.desired.ip_family == IpFamily::Ipv4 && ip_families.contains(&IpFamily::Ipv6)
            || r.desired.ip_family == IpFamily::Ipv6 && ip_families.contains(&IpFamily::Ipv4)
        {
            findings.push(finding(
                "ip-family-mismatch",
                format!(
                    "its stack declares IpFamily {}, but clusters of another family use it",
                    r.desired.ip_family.as_str()
                ),
            ));
        }
        if r.desired.node_class == NodeClass::Standard && auto_mode {
            findings.push(finding(
                "node-class-mismatch",
                "an Auto Mode cluster uses it, but its stack declares NodeClass standard",
            ));
        }
        for p in r.desired.required_policies() {
            if !live.attached.contains(&p)
                && !policies::NODE_POLICIES.contains(&p.name())
                && !p.name().ends_with(policies::CNI_IPV6_POLICY)
            {
                findings.push(missing(p.name(), "its stack declares it (AdditionalPolicyArns)"));
            }
        }
    }

    // What else the role carries: listed, not judged.
    if let Some(b) = &live.boundary {
        notes.push(finding(
            "permissions-boundary",
            format!("permissions boundary {}: it limits what the node policies grant", b.as_str()),
        ));
    }
    let known: BTreeSet<&str> = policies::NODE_POLICIES.iter().copied().collect();
    for p in
        live.attached.iter().filter(|p| !known.contains(p.name()) && !p.name().ends_with(policies::CNI_IPV6_POLICY))
    {
        notes.push(finding("additional-policy", format!("also attached: {}", p.as_str())));
    }
    for p in &subject.inline_policies {
        notes.push(finding("inline-policy", format!("inline policy {p}")));
    }
    report(subject, findings, notes, node_class, ip_families, cni_separate)
}

fn missing(policy: &str, consequence: &str) -> Finding {
    finding("missing-policy", format!("{policy} is not attached: {consequence}"))
}

fn describe(uses: &[&Use]) -> String {
    if uses.is_empty() {
        return "no node group".into();
    }
    uses.iter().map(|u| u.describe()).collect::<Vec<_>>().join(", ")
}

fn report(
    subject: &Subject,
    mut findings: Vec<Finding>,
    mut notes: Vec<Finding>,
    node_class: NodeClass,
    ip_families: BTreeSet<IpFamily>,
    cni_separate: bool,
) -> RoleReport {
    findings.dedup_by(|a, b| a.kind == b.kind && a.message == b.message);
    let used = subject.uses.iter().any(Use::is_node_use);
    let managed = matches!(subject.managed, Managed::Yes(_));
    if !used && managed {
        notes.insert(0, finding("not-used-by-a-node-group", "no node group or Auto Mode cluster uses it yet"));
    }
    let verdict = if !used && !managed {
        // A role no node group uses: what would be findings are notes.
        notes.splice(0..0, findings.drain(..).map(|f| Finding { kind: f.kind, message: f.message }));
        notes.insert(0, finding("not-used-by-a-node-group", "no node group or Auto Mode cluster uses it"));
        Verdict::Unused
    } else if findings.is_empty() {
        Verdict::Compliant
    } else {
        Verdict::NonCompliant
    };
    RoleReport {
        role_name: subject.role_name.clone(),
        role_arn: subject.role_arn.clone(),
        verdict,
        managed: subject.managed.label(),
        used_by: subject.uses.iter().map(Use::describe).collect(),
        findings,
        notes,
        node_class,
        ip_families,
        cni_separate,
    }
}

#[cfg(test)]
mod tests;
