//! The audit: the procedure's "check for an existing node role", for a whole account. What the clusters say
//! (`ClusterFacts`), how each role is used (`Use`), and the judgement of each role against the procedure
//! (`judge`) — pure, so every finding is unit-tested. `collect` gathers the facts through the ports; the
//! `eks-node-role-audit` binary adds the EKS client (never linked into the Lambda function) and prints.

pub mod asff;
pub mod collect;
pub mod org;
pub mod render;
pub mod settings;

use std::collections::BTreeSet;

use serde::Serialize;

use eks_node_role_guard::domain::policies::{self, CLUSTER_PRINCIPAL, FARGATE_PRINCIPAL};
use eks_node_role_guard::domain::{CniCheck, IpFamily, LiveRole, NodeClass, Partition, PolicyArn};
use eks_node_role_guard::state::Record;

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
    /// `accessConfig.authenticationMode`: `API`, `API_AND_CONFIG_MAP` or `CONFIG_MAP`; `None` when not shown.
    pub authentication_mode: Option<String>,
    /// The cluster's access entries for IAM roles; `None` when they could not be read.
    pub access_entries: Option<Vec<AccessEntry>>,
    /// The node groups whose AMI type is a Windows one (their nodes need an `EC2_WINDOWS` entry).
    pub windows_node_groups: BTreeSet<String>,
}

/// An access entry of a cluster, as `DescribeAccessEntry` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub principal_arn: String,
    /// `EC2_LINUX`, `EC2_WINDOWS`, `EC2` (Auto Mode), `HYBRID_LINUX`, `STANDARD`, `FARGATE_LINUX`.
    pub kind: String,
    /// `createdAt`, in seconds since the epoch.
    pub created_at: Option<i64>,
}

/// The access entry types that let nodes join (the others are for people and Fargate).
pub const NODE_ENTRY_TYPES: [&str; 4] = ["EC2_LINUX", "EC2_WINDOWS", "EC2", "HYBRID_LINUX"];

/// How a role is used by a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    NodeGroup {
        cluster: String,
        node_group: String,
    },
    AutoModeNodes {
        cluster: String,
    },
    ClusterRole {
        cluster: String,
    },
    FargateProfile {
        cluster: String,
        profile: String,
    },
    /// An access entry of a node type names the role: self-managed nodes, Karpenter, hybrid nodes (and the
    /// entries EKS makes for node groups and Auto Mode).
    AccessEntry {
        cluster: String,
        kind: String,
    },
}

impl Use {
    pub fn cluster(&self) -> &str {
        match self {
            Use::NodeGroup { cluster, .. }
            | Use::AutoModeNodes { cluster }
            | Use::ClusterRole { cluster }
            | Use::FargateProfile { cluster, .. }
            | Use::AccessEntry { cluster, .. } => cluster,
        }
    }

    fn is_node_use(&self) -> bool {
        matches!(self, Use::NodeGroup { .. } | Use::AutoModeNodes { .. } | Use::AccessEntry { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Use::NodeGroup { cluster, node_group } => format!("{cluster}/{node_group}"),
            Use::AutoModeNodes { cluster } => format!("{cluster} (Auto Mode nodes)"),
            Use::ClusterRole { cluster } => format!("{cluster} (cluster role)"),
            Use::FargateProfile { cluster, profile } => format!("{cluster}/{profile} (Fargate)"),
            Use::AccessEntry { cluster, kind } => format!("{cluster} (access entry {kind})"),
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
    /// An item exists and the role does not: deleted outside its stack (the guard raises RoleDeleted).
    Deleted,
    /// The item is orphaned: its stack resource is gone, and the guard no longer enforces the role.
    Orphaned,
    /// No state table was given: unknown.
    Unknown,
}

impl Managed {
    pub fn label(&self) -> &'static str {
        match self {
            Managed::Yes(_) => "yes",
            Managed::No => "no",
            Managed::OtherRole => "other-role",
            Managed::Deleted => "deleted",
            Managed::Orphaned => "orphaned",
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
    /// The policy named like the IPv6 CNI policy that is attached, checked by its document (`collect` reads it;
    /// `NotNeeded` when none is attached): never trusted by its name alone.
    pub ipv6_cni: CniCheck,
    /// `CreateDate` (seconds since the epoch), when known: an access entry made before it names a deleted role.
    pub created: Option<i64>,
    /// An inline policy allows `ec2:AssignIpv6Addresses` (as the AWS CDK gives IPv6 node roles).
    pub inline_grants_ipv6: bool,
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
        for e in c.access_entries.iter().flatten() {
            if same_role(&e.principal_arn, name) && NODE_ENTRY_TYPES.contains(&e.kind.as_str()) {
                uses.insert(Use::AccessEntry { cluster: cluster.clone(), kind: e.kind.clone() });
            }
        }
    }
    uses
}

/// AWS's own node policy `name` (from the one table) is attached.
fn aws_policy(live: &LiveRole, name: &str) -> bool {
    live.attached.iter().any(|p| policies::node_policy(p).is_some_and(|n| n.name == name))
}

fn ipv6_cni(live: &LiveRole) -> Option<&PolicyArn> {
    live.attached.iter().find(|p| policies::named_like_ipv6_cni(p))
}

/// A policy the audit knows as a node policy: AWS's own (the one table), or one named like the IPv6 CNI policy
/// (its document is judged on its own). A customer policy that merely takes a node policy's name is not.
fn known_node_policy(p: &PolicyArn) -> bool {
    policies::node_policy(p).is_some() || policies::named_like_ipv6_cni(p)
}

/// Judges one role against the procedure, with the facts of the clusters that use it. A managed role is judged
/// against its state item (node class, CNI choice, IP family), the others against how clusters use them.
pub fn judge(subject: &Subject, clusters: &[ClusterFacts]) -> RoleReport {
    let j = Judging::new(subject, clusters);
    let mut out = Said::default();
    if let Managed::OtherRole = subject.managed {
        out.note(
            "state-item-for-another-role",
            "the guard has a state item for this name that records another RoleId: nothing is enforced on this role",
        );
    }
    if let Managed::Orphaned = subject.managed {
        out.note(
            "orphaned",
            "the guard's item for this role is orphaned (its stack resource is gone): nothing is enforced on it; a stack may take it over with AdoptExistingRole",
        );
    }
    let labelled = subject.live.as_ref().is_some_and(|l| eks_node_role_guard::domain::Label::of(&l.tags).is_some());
    if subject.managed == Managed::No && labelled {
        out.note(
            "unverified-label",
            "the role carries eks-node-role-guard's label but the guard has no state item for it: a copied or forged \
             label, which gets the role nothing; CloudTrail's TagRole or CreateRole events say who put it there",
        );
    }
    match &subject.live {
        None if subject.managed == Managed::Deleted => out.find(
            "managed-role-deleted",
            format!(
                "the guard manages {} but the role does not exist: it was deleted outside its stack, which must be updated or re-created",
                subject.role_name
            ),
        ),
        None => out.find(
            "role-not-found",
            format!(
                "{} names the role {}, which does not exist: its nodes cannot join",
                describe(&j.node_uses),
                subject.role_name
            ),
        ),
        Some(live) => {
            j.forbidden_reuse(&mut out);
            j.trust(live, &mut out);
            j.worker_and_registry(live, &mut out);
            j.cni(live, &mut out);
            j.against_item(live, &mut out);
            j.access(&mut out);
            j.listed(live, &mut out);
        }
    }
    report(subject, out, j.node_class, j.ip_families, j.cni_separate)
}

/// What the judgement says: findings (they decide the verdict) and notes (listed only).
#[derive(Default)]
struct Said {
    findings: Vec<Finding>,
    notes: Vec<Finding>,
}

impl Said {
    fn find(&mut self, kind: &'static str, message: impl Into<String>) {
        self.findings.push(finding(kind, message));
    }
    fn note(&mut self, kind: &'static str, message: impl Into<String>) {
        self.notes.push(finding(kind, message));
    }
}

/// The facts one role is judged with.
struct Judging<'a> {
    subject: &'a Subject,
    clusters: &'a [ClusterFacts],
    node_uses: Vec<&'a Use>,
    node_clusters: Vec<&'a ClusterFacts>,
    record: Option<&'a Record>,
    auto_mode: bool,
    node_class: NodeClass,
    ip_families: BTreeSet<IpFamily>,
    cni_separate: bool,
}

impl<'a> Judging<'a> {
    fn new(subject: &'a Subject, clusters: &'a [ClusterFacts]) -> Self {
        let node_uses: Vec<&Use> = subject.uses.iter().filter(|u| u.is_node_use()).collect();
        let mut node_clusters: Vec<&ClusterFacts> =
            node_uses.iter().filter_map(|u| clusters.iter().find(|c| c.name == u.cluster())).collect();
        node_clusters.dedup_by_key(|c| c.name.clone());
        let record = match &subject.managed {
            Managed::Yes(r) => Some(r.as_ref()),
            _ => None,
        };
        let auto_mode = node_uses.iter().any(|u| matches!(u, Use::AutoModeNodes { .. }));
        let node_group = node_uses.iter().any(|u| matches!(u, Use::NodeGroup { .. }));
        // A node group's nodes need the standard role (worker policy, CNI policy) even when Auto Mode nodes share
        // it; the Auto Mode name alone decides only for a role nothing uses yet.
        let named_auto = subject.role_name.eq_ignore_ascii_case(eks_node_role_guard::domain::reach::AUTO_MODE_ROLE);
        let node_class = match record {
            Some(r) => r.desired.node_class,
            None if !node_group && (auto_mode || named_auto) => NodeClass::AutoMode,
            None => NodeClass::Standard,
        };
        Judging {
            clusters,
            ip_families: node_clusters.iter().map(|c| c.ip_family).collect(),
            cni_separate: !node_clusters.is_empty() && node_clusters.iter().all(|c| c.cni_own_role.is_some()),
            subject,
            node_uses,
            node_clusters,
            record,
            auto_mode,
            node_class,
        }
    }

    fn used_as(&self, kind: fn(&Use) -> bool) -> bool {
        self.subject.uses.iter().any(kind)
    }

    /// Roles the procedure forbids as node roles: a cluster role, a Fargate pod execution role.
    fn forbidden_reuse(&self, out: &mut Said) {
        if self.node_uses.is_empty() {
            return;
        }
        let nodes = describe(&self.node_uses);
        for u in &self.subject.uses {
            match u {
                Use::ClusterRole { cluster } => out.find(
                    "cluster-role-used-as-node-role",
                    format!("it is the cluster role of {cluster} and a node role of {nodes}: \"You can't use the same role that is used to create any clusters.\""),
                ),
                Use::FargateProfile { .. } => out.find(
                    "fargate-role-used-as-node-role",
                    format!("it is the pod execution role of {} and a node role of {nodes}: \"The Amazon EC2 node groups must have a different IAM role than the Fargate profile.\"", u.describe()),
                ),
                _ => {}
            }
        }
    }

    /// The trust policy, by meaning: EC2 and nothing else.
    fn trust(&self, live: &LiveRole, out: &mut Said) {
        let services = live.trust.as_ref().map(policies::trusted_services).unwrap_or_default();
        let ec2 = ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"];
        if !services.iter().any(|s| ec2.contains(&s.as_str())) {
            out.find(
                "trust-not-ec2",
                "its trust policy does not let EC2 (ec2.amazonaws.com) assume it: nodes cannot use it",
            );
            return;
        }
        // Cluster and Fargate principals have findings of their own; any other principal (a service, an
        // account, a federated identity, anyone) may assume the nodes' permissions.
        let principals = live.trust.as_ref().map(policies::trusted_principals).unwrap_or_default();
        let others: Vec<String> = principals
            .iter()
            .filter(|(kind, id)| {
                kind != "Service" || (!ec2.contains(&id.as_str()) && id != CLUSTER_PRINCIPAL && id != FARGATE_PRINCIPAL)
            })
            .map(|(kind, id)| if kind == "Service" { id.clone() } else { format!("{kind} {id}") })
            .collect();
        let partition = Partition::of_arn(&live.arn).unwrap_or(Partition::Aws);
        if !others.is_empty() {
            out.find(
                "trust-broader-than-ec2",
                format!("its trust policy also trusts {}: the procedure trusts EC2 only", others.join(", ")),
            );
        } else if principals.len() == 1 && live.trust.as_ref().is_some_and(|t| !policies::is_ec2_trust(t, partition)) {
            out.note(
                "trust-differs",
                "its trust policy trusts EC2 but is not the procedure's document (conditions or other statements)",
            );
        }
        if self.node_uses.is_empty() {
            return;
        }
        if services.contains(CLUSTER_PRINCIPAL) && !self.used_as(|u| matches!(u, Use::ClusterRole { .. })) {
            out.find(
                "cluster-role-used-as-node-role",
                "it trusts eks.amazonaws.com, so it is an Amazon EKS cluster role",
            );
        }
        if services.contains(FARGATE_PRINCIPAL) && !self.used_as(|u| matches!(u, Use::FargateProfile { .. })) {
            out.find(
                "fargate-role-used-as-node-role",
                "it trusts eks-fargate-pods.amazonaws.com, so it is a Fargate pod execution role",
            );
        }
    }

    /// The worker policy of the node class, and the registry policy.
    fn worker_and_registry(&self, live: &LiveRole, out: &mut Said) {
        match self.node_class {
            NodeClass::Standard if !aws_policy(live, policies::WORKER_NODE_POLICY) => {
                out.findings.push(missing(policies::WORKER_NODE_POLICY, "the nodes cannot join the cluster"));
            }
            NodeClass::AutoMode if !aws_policy(live, policies::WORKER_NODE_MINIMAL_POLICY) => {
                if aws_policy(live, policies::WORKER_NODE_POLICY) {
                    out.note("worker-policy-broader-than-needed", "Auto Mode nodes need only AmazonEKSWorkerNodeMinimalPolicy; AmazonEKSWorkerNodePolicy grants more");
                } else {
                    out.findings
                        .push(missing(policies::WORKER_NODE_MINIMAL_POLICY, "Auto Mode nodes cannot join the cluster"));
                }
            }
            _ => {}
        }
        if aws_policy(live, policies::ECR_PULL_ONLY_POLICY) {
            return;
        }
        if aws_policy(live, policies::ECR_READ_ONLY_POLICY) {
            out.note("registry-policy-broader-than-needed", "AmazonEC2ContainerRegistryReadOnly grants more than the nodes need: AmazonEC2ContainerRegistryPullOnly is enough");
        } else {
            out.findings.push(missing(policies::ECR_PULL_ONLY_POLICY, "the nodes cannot pull images from Amazon ECR"));
        }
    }

    /// The CNI policy: by IP family, or none when the VPC CNI has its own role (or Auto Mode runs networking).
    fn cni(&self, live: &LiveRole, out: &mut Said) {
        let has_v4 = aws_policy(live, policies::CNI_POLICY);
        let has_v6 = ipv6_cni(live).is_some();
        if let CniCheck::Tampered(arn) = &self.subject.ipv6_cni {
            out.find(
                "cni-ipv6-policy-not-aws-document",
                format!(
                    "{arn} is named like AWS's IPv6 CNI policy but its document is not AWS's: it may grant anything"
                ),
            );
        }
        let needs_cni = match self.record {
            Some(r) => r.desired.attach_cni,
            None => self.node_class == NodeClass::Standard && !self.cni_separate,
        };
        let families: BTreeSet<IpFamily> = match self.record {
            Some(r) => [r.desired.ip_family].into(),
            None if self.ip_families.is_empty() => [IpFamily::Ipv4].into(),
            None => self.ip_families.clone(),
        };
        // Without a vpc-cni add-on role or a Pod Identity association, the VPC CNI may still have a role of its
        // own through the aws-node service account's annotation (IRSA), which the EKS API does not show.
        let unseen = self.record.is_none() && self.cni_unseen();
        if needs_cni {
            if families.contains(&IpFamily::Ipv4) && !has_v4 {
                let m = missing(policies::CNI_POLICY, "the VPC CNI on these nodes cannot assign IPv4 addresses");
                if unseen {
                    out.note("cni-role-unknown", format!("{}, unless the VPC CNI has a role of its own through the aws-node service account's eks.amazonaws.com/role-arn annotation, which the EKS API cannot see (check: kubectl -n kube-system get sa aws-node -o yaml)", m.message));
                } else {
                    out.findings.push(m);
                }
            }
            if families.contains(&IpFamily::Ipv6) && !has_v6 {
                let m = missing(
                    policies::CNI_IPV6_POLICY,
                    "the VPC CNI on these nodes cannot assign IPv6 addresses (create it from AWS's document)",
                );
                if self.subject.inline_grants_ipv6 {
                    out.note("cni-ipv6-inline", "an inline policy allows ec2:AssignIpv6Addresses (as the AWS CDK gives IPv6 node roles) instead of the IPv6 CNI policy: accepted; the managed policy is what the procedure attaches");
                } else if unseen {
                    out.note("cni-role-unknown", format!("{}, unless the VPC CNI has a role of its own through the aws-node service account's annotation, which the EKS API cannot see", m.message));
                } else {
                    out.findings.push(m);
                }
            }
        } else if has_v4 || has_v6 {
            let why = if self.node_class == NodeClass::AutoMode {
                "Auto Mode runs networking itself".to_string()
            } else if let Some(own) = self.node_clusters.iter().find_map(|c| c.cni_own_role.as_deref()) {
                format!("the VPC CNI has its own role ({own})")
            } else {
                "the guard's state item says the CNI policy is not attached to this role".to_string()
            };
            out.find(
                "cni-policy-on-node-role",
                format!(
                    "a CNI policy is still attached although {why}: the procedure says to remove it from the node role, once no cluster outside this report (another region, or one --cluster left out) runs the VPC CNI with it"
                ),
            );
        }
    }

    /// A managed role against what its stack declares.
    fn against_item(&self, live: &LiveRole, out: &mut Said) {
        let Some(r) = self.record else { return };
        let other_family = match r.desired.ip_family {
            IpFamily::Ipv4 => IpFamily::Ipv6,
            IpFamily::Ipv6 => IpFamily::Ipv4,
        };
        if self.ip_families.contains(&other_family) {
            out.find(
                "ip-family-mismatch",
                format!(
                    "its stack declares IpFamily {}, but clusters of another family use it",
                    r.desired.ip_family.as_str()
                ),
            );
        }
        if r.desired.node_class == NodeClass::Standard && self.auto_mode {
            out.find("node-class-mismatch", "an Auto Mode cluster uses it, but its stack declares NodeClass standard");
        }
        let node_groups: Vec<&Use> =
            self.node_uses.iter().copied().filter(|u| matches!(u, Use::NodeGroup { .. })).collect();
        if r.desired.node_class == NodeClass::AutoMode && !node_groups.is_empty() {
            out.find(
                "node-class-mismatch",
                format!(
                    "{} uses it, but its stack declares NodeClass auto-mode: a node group's nodes need AmazonEKSWorkerNodePolicy and the VPC CNI's policy, which an Auto Mode role does not carry",
                    describe(&node_groups)
                ),
            );
        }
        // The stack keeps the CNI policy off the role: right only where the VPC CNI has a role of its own.
        let cni_without_role: Vec<&str> =
            self.node_clusters.iter().filter(|c| c.cni_own_role.is_none()).map(|c| c.name.as_str()).collect();
        if r.desired.node_class == NodeClass::Standard && !r.desired.attach_cni && !cni_without_role.is_empty() {
            // What the EKS API cannot see (an IRSA annotation on aws-node) may give it one: a note, not a finding.
            out.note(
                "cni-role-missing",
                format!(
                    "its stack declares AttachCniPolicy false, but the VPC CNI of {} shows no role of its own to the EKS API (no vpc-cni add-on role, no Pod Identity association): unless the aws-node service account's eks.amazonaws.com/role-arn annotation names one, pods there get no addresses",
                    cni_without_role.join(", ")
                ),
            );
        }
        for p in r.desired.required_policies() {
            if !live.attached.contains(&p) && !known_node_policy(&p) {
                out.findings.push(missing(p.name(), "its stack declares it (AdditionalPolicyArns)"));
            }
        }
    }

    /// Whether no cluster whose nodes use the role shows the VPC CNI a role of its own.
    fn cni_unseen(&self) -> bool {
        !self.node_clusters.is_empty() && self.node_clusters.iter().all(|c| c.cni_own_role.is_none())
    }

    /// The clusters' access entries for the role: one where the cluster needs it, of the type its nodes need,
    /// made after the role (an entry binds the role's unique id, not its name).
    fn access(&self, out: &mut Said) {
        let name = &self.subject.role_name;
        for c in self.clusters {
            let uses: Vec<&Use> = self.node_uses.iter().copied().filter(|u| u.cluster() == c.name).collect();
            if uses.is_empty() {
                continue;
            }
            let Some(entries) = &c.access_entries else { continue };
            let mine: Vec<&AccessEntry> = entries.iter().filter(|e| same_role(&e.principal_arn, name)).collect();
            // Node groups and Auto Mode need an entry (EKS makes it); what only an entry names has one.
            let needing: Vec<&Use> = uses
                .iter()
                .copied()
                .filter(|u| matches!(u, Use::NodeGroup { .. } | Use::AutoModeNodes { .. }))
                .collect();
            if mine.is_empty() && !needing.is_empty() {
                match c.authentication_mode.as_deref() {
                    Some("API") => out.find(
                        "access-entry-missing",
                        format!(
                            "cluster {} authenticates with access entries only (API) and has none for this role: the nodes of {} cannot join",
                            c.name,
                            describe(&needing)
                        ),
                    ),
                    Some("API_AND_CONFIG_MAP") => out.note(
                        "access-entry-missing",
                        format!(
                            "cluster {} has no access entry for this role: the aws-auth ConfigMap may map it, which the EKS API cannot see",
                            c.name
                        ),
                    ),
                    _ => {}
                }
            }
            let auto = uses.iter().any(|u| matches!(u, Use::AutoModeNodes { .. }));
            let (mut windows, mut linux) = (false, false);
            for u in &uses {
                if let Use::NodeGroup { node_group, .. } = u {
                    if c.windows_node_groups.contains(node_group) {
                        windows = true;
                    } else {
                        linux = true;
                    }
                }
            }
            let expected: Vec<&str> = [(auto, "EC2"), (windows, "EC2_WINDOWS"), (linux, "EC2_LINUX")]
                .into_iter()
                .filter_map(|(b, k)| b.then_some(k))
                .collect();
            for e in &mine {
                let fits = if expected.is_empty() {
                    NODE_ENTRY_TYPES.contains(&e.kind.as_str())
                } else {
                    expected.contains(&e.kind.as_str())
                };
                if !fits {
                    let wanted =
                        if expected.is_empty() { NODE_ENTRY_TYPES.join(" or ") } else { expected.join(" or ") };
                    out.find(
                        "access-entry-wrong-type",
                        format!(
                            "the access entry of cluster {} for this role is of type {}; its nodes ({}) need {wanted}: they cannot join (or join without their OS's permissions)",
                            c.name,
                            e.kind,
                            describe(&uses)
                        ),
                    );
                }
                if let (Some(at), Some(made)) = (e.created_at, self.subject.created) {
                    if at < made {
                        out.find(
                            "access-entry-stale",
                            format!(
                                "the access entry of cluster {} for this role was made before the role itself: it binds the unique id of a deleted role of the same name, and nodes cannot join; delete the entry and create it again",
                                c.name
                            ),
                        );
                    }
                }
            }
        }
    }

    /// What else the role carries: listed, not judged.
    fn listed(&self, live: &LiveRole, out: &mut Said) {
        if let Some(b) = &live.boundary {
            out.note(
                "permissions-boundary",
                format!("permissions boundary {}: it limits what the node policies grant", b.as_str()),
            );
        }
        for p in live.attached.iter().filter(|p| !known_node_policy(p)) {
            out.note("additional-policy", format!("also attached: {}", p.as_str()));
        }
        for p in &self.subject.inline_policies {
            out.note("inline-policy", format!("inline policy {p}"));
        }
    }
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
    said: Said,
    node_class: NodeClass,
    ip_families: BTreeSet<IpFamily>,
    cni_separate: bool,
) -> RoleReport {
    let Said { mut findings, mut notes } = said;
    findings.dedup_by(|a, b| a.kind == b.kind && a.message == b.message);
    let used = subject.uses.iter().any(Use::is_node_use);
    // A deleted managed role is a finding whether or not nodes still name it.
    let managed = matches!(subject.managed, Managed::Yes(_) | Managed::Deleted);
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
