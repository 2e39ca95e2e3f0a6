//! Gathering the audit's facts through the ports: the clusters (`Clusters`: EKS in the binary, in memory in
//! tests), IAM (`NodeRoleIam`) and the state table (`StateStore`, when one is given). Read-only throughout.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
#[cfg(any(test, feature = "test-util"))]
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::{judge, uses_of, ClusterFacts, Managed, RoleReport, Subject, Use, Verdict};
use eks_node_role_guard::domain::policies::{is_ipv6_cni_document, named_like_ipv6_cni};
use eks_node_role_guard::domain::RoleName;
use eks_node_role_guard::domain::{CniCheck, Ownership};
use eks_node_role_guard::error::{Error, Result};
use eks_node_role_guard::iam::NodeRoleIam;
use eks_node_role_guard::state::StateStore;

/// The clusters of one region, as EKS describes them.
pub trait Clusters: Send + Sync {
    /// Every cluster's name.
    fn names(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// One cluster with its node groups, Fargate profiles and how the VPC CNI gets its role.
    fn facts(&self, name: &str) -> impl Future<Output = Result<ClusterFacts>> + Send;
}

/// Clusters held in memory (tests).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Default)]
pub struct MemoryClusters(Arc<Mutex<BTreeMap<String, ClusterFacts>>>);

#[cfg(any(test, feature = "test-util"))]
impl MemoryClusters {
    pub fn add(&self, facts: ClusterFacts) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(facts.name.clone(), facts);
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clusters for MemoryClusters {
    async fn names(&self) -> Result<Vec<String>> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect())
    }

    async fn facts(&self, name: &str) -> Result<ClusterFacts> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("no cluster named {name}")))
    }
}

/// What to audit.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these clusters (and the roles their nodes use); empty: every cluster, plus the roles named as the
    /// procedure names them and the roles the guard manages.
    pub clusters: Vec<String>,
}

/// The whole audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub roles: Vec<RoleReport>,
    /// What each role was judged from, in the order of `roles`.
    #[serde(skip)]
    pub subjects: Vec<Subject>,
    pub clusters: Vec<ClusterSummary>,
    /// What could not be seen account-wide (e.g. no state table given).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    pub name: String,
    pub ip_family: &'static str,
    pub notes: Vec<String>,
}

impl AuditReport {
    /// 0: every used role complies; 1: findings.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.roles.iter().any(|r| r.verdict == Verdict::NonCompliant))
    }
}

/// Progress for a person watching (called once per cluster).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

const CONCURRENCY: usize = 8;

/// Runs the audit. Errors only when something could not be checked at all (AccessDenied, an unreachable
/// endpoint, an unknown `--cluster`): the caller exits 2 with it.
pub async fn audit<C: Clusters, I: NodeRoleIam, S: StateStore>(
    clusters: &C,
    iam: &I,
    store: Option<&S>,
    scope: &Scope,
    progress: Progress<'_>,
) -> Result<AuditReport> {
    let all = clusters.names().await?;
    // A state table named but absent (an account of an organisation where the guard is not installed): said, and
    // the audit goes on without it.
    let mut notes = Vec::new();
    let (store, items) = match store {
        Some(s) => match s.list().await {
            Ok(items) => (Some(s), Some(items)),
            Err(e) if matches!(&e, Error::Aws { code: Some(c), .. } if c == "ResourceNotFoundException") => {
                notes.push(format!("the state table was not found ({e}): whether the guard manages a role is unknown"));
                (None, None)
            }
            Err(e) => return Err(e),
        },
        None => (None, None),
    };
    let names: Vec<String> = if scope.clusters.is_empty() {
        all
    } else {
        for c in &scope.clusters {
            if !all.contains(c) {
                return Err(Error::invalid(format!(
                    "no cluster named {c} in this region (clusters: {})",
                    all.join(", ")
                )));
            }
        }
        scope.clusters.clone()
    };
    let total = names.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let facts: Vec<ClusterFacts> = stream::iter(names)
        .map(|name| {
            let done = &done;
            async move {
                let f = clusters.facts(&name).await;
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total, &name);
                f
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    let mut candidates: BTreeMap<String, String> = BTreeMap::new(); // lower-cased name → ARN or name
    let mut add = |arn_or_name: &str| {
        let name = arn_or_name.rsplit('/').next().unwrap_or(arn_or_name).to_string();
        candidates.entry(name.to_ascii_lowercase()).or_insert_with(|| arn_or_name.to_string());
    };
    for c in &facts {
        c.node_groups.iter().for_each(|(_, role)| add(role));
        c.auto_mode_node_role.iter().for_each(|role| add(role));
        // Roles only access entries name: self-managed nodes, Karpenter, hybrid nodes.
        for e in c.access_entries.iter().flatten() {
            if super::NODE_ENTRY_TYPES.contains(&e.kind.as_str()) && e.principal_arn.contains(":role/") {
                add(&e.principal_arn);
            }
        }
    }
    // ListRoles once: the procedure's search, and each role's CreateDate (an access entry older than its role
    // names a deleted one).
    let with_entries = facts.iter().any(|c| c.access_entries.as_ref().is_some_and(|e| !e.is_empty()));
    let listed = if scope.clusters.is_empty() || with_entries { iam.list_roles(None).await? } else { Vec::new() };
    let created: BTreeMap<String, i64> =
        listed.iter().filter_map(|r| r.created.map(|c| (r.name.to_ascii_lowercase(), c))).collect();
    if scope.clusters.is_empty() {
        // "If a role that contains eksNodeRole, AmazonEKSNodeRole, or NodeInstanceRole does exist" (and
        // AmazonEKSAutoNodeRole, for Auto Mode): eksctl's `…-NodeInstanceRole-…` roles included.
        for r in &listed {
            if SEARCHED_NAMES.iter().any(|n| r.name.to_ascii_lowercase().contains(&n.to_ascii_lowercase())) {
                add(&r.name);
            }
        }
        match &items {
            Some(items) => items.iter().for_each(|r| add(r.role_name.as_str())),
            None if notes.is_empty() => notes.push(
                "no state table given (STATE_TABLE_NAME or --state-table): whether the guard manages a role is unknown"
                    .to_string(),
            ),
            None => {}
        }
    } else if store.is_none() && notes.is_empty() {
        notes.push("no state table given: whether the guard manages a role is unknown".to_string());
    }
    // IAM roles are account-wide; the clusters read here are one region's (and with --cluster, some of them).
    notes.push(if scope.clusters.is_empty() {
        "roles are judged by this region's clusters only: a role that clusters in other regions use may need what this report says to remove".to_string()
    } else {
        "roles are judged by the named clusters only: a role that other clusters (here or in other regions) use may need what this report says to remove".to_string()
    });

    let (facts_ref, created_ref) = (&facts, &created);
    let found: Vec<(Subject, Option<String>)> = stream::iter(candidates.into_values())
        .map(|arn_or_name| async move { subject(iam, store, &arn_or_name, facts_ref, created_ref).await })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut subjects = Vec::with_capacity(found.len());
    for (s, note) in found {
        if let Some(n) = note.filter(|n| !notes.contains(n)) {
            notes.push(n);
        }
        subjects.push(s);
    }
    let mut judged: Vec<(RoleReport, Subject)> = subjects.into_iter().map(|s| (judge(&s, &facts), s)).collect();
    judged.sort_by_key(|(r, _)| r.role_name.to_ascii_lowercase());
    let (roles, subjects) = judged.into_iter().unzip();
    let clusters = facts
        .iter()
        .map(|c| ClusterSummary { name: c.name.clone(), ip_family: c.ip_family.as_str(), notes: c.notes.clone() })
        .collect();
    Ok(AuditReport { roles, subjects, clusters, notes })
}

/// The names the procedure's "check for an existing node role" searches for, as parts of a role's name.
pub const SEARCHED_NAMES: [&str; 4] = ["eksNodeRole", "AmazonEKSNodeRole", "NodeInstanceRole", "AmazonEKSAutoNodeRole"];

/// One role's facts, and what could not be read of it (a note for the report).
async fn subject<I: NodeRoleIam, S: StateStore>(
    iam: &I,
    store: Option<&S>,
    arn_or_name: &str,
    clusters: &[ClusterFacts],
    created: &BTreeMap<String, i64>,
) -> Result<(Subject, Option<String>)> {
    let name = arn_or_name.rsplit('/').next().unwrap_or(arn_or_name).to_string();
    let uses: BTreeSet<Use> = uses_of(&name, clusters);
    let Ok(role_name) = RoleName::parse(&name) else {
        return Ok((
            Subject {
                created: None,
                inline_grants_ipv6: false,
                role_name: name.clone(),
                role_arn: arn_or_name.to_string(),
                live: None,
                inline_policies: Vec::new(),
                uses,
                managed: Managed::No,
                ipv6_cni: CniCheck::NotNeeded,
            },
            None,
        ));
    };
    let (live, inline, record) =
        futures_util::join!(iam.read_role(&role_name), iam.inline_policy_names(&role_name), async {
            match store {
                Some(s) => s.get(&role_name).await,
                None => Ok(None),
            }
        });
    let live = live?;
    let inline = match (&live, inline) {
        (None, _) => Vec::new(),
        (Some(_), r) => r?,
    };
    let record = record?;
    let orphaned = record.as_ref().is_some_and(|r| r.phase == eks_node_role_guard::state::Phase::Orphaned);
    let managed = match (store, Ownership::of(record.as_ref(), live.as_ref())) {
        (None, _) => Managed::Unknown,
        (Some(_), _) if orphaned => Managed::Orphaned,
        (Some(_), Ownership::Absent | Ownership::Unmanaged) => Managed::No,
        (Some(_), Ownership::Recorded) => Managed::Yes(Box::new(record.expect("a recorded role has its item"))),
        (Some(_), Ownership::Gone) => Managed::Deleted,
        // The guard's repair trusts the RoleId alone, and so does the audit.
        (Some(_), _) => Managed::OtherRole,
    };
    let ipv6_cni = match live.as_ref().and_then(|l| l.attached.iter().find(|p| named_like_ipv6_cni(p))) {
        None => CniCheck::NotNeeded,
        Some(arn) => match iam.policy_document(arn).await? {
            Some(doc) if is_ipv6_cni_document(&doc, arn.partition()) => CniCheck::Verified(arn.clone()),
            Some(_) => CniCheck::Tampered(arn.clone()),
            None => CniCheck::Missing(arn.clone()),
        },
    };
    // An inline policy granting the IPv6 CNI's action (the AWS CDK's IPv6 node roles) stands in for the policy.
    let mut inline_grants_ipv6 = false;
    let mut note = None;
    for p in &inline {
        match iam.inline_policy_document(&role_name, p).await {
            Ok(Some(doc)) => inline_grants_ipv6 |= allows_action(&doc, "ec2:AssignIpv6Addresses"),
            Ok(None) => {}
            Err(e) => match missing_permission(&e) {
                Some(perm) => {
                    note = Some(format!("inline policies were not read ({perm} denied): one granting ec2:AssignIpv6Addresses is not recognised"));
                    break;
                }
                None => return Err(e),
            },
        }
    }
    let created = created.get(&name.to_ascii_lowercase()).copied();
    Ok((
        Subject {
            created,
            inline_grants_ipv6,
            ipv6_cni,
            role_name: live.as_ref().map(|l| l.name.as_str().to_string()).unwrap_or(name),
            role_arn: live.as_ref().map(|l| l.arn.clone()).unwrap_or_else(|| arn_or_name.to_string()),
            live,
            inline_policies: inline,
            uses,
            managed,
        },
        note,
    ))
}

/// Whether a policy document allows `action` on some resource (an `Allow` whose `Action` names it or a wildcard
/// over it; `NotAction` and conditions are not weighed).
fn allows_action(doc: &serde_json::Value, action: &str) -> bool {
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements.iter().filter(|s| s["Effect"] == "Allow").any(|s| {
        let actions = match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => vec![],
        };
        actions.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            let target = action.to_ascii_lowercase();
            a == target || a == "*" || a.strip_suffix('*').is_some_and(|p| target.starts_with(p))
        })
    })
}

/// The permission a failed read needed, e.g. `eks:DescribeCluster`, when the error says access was denied.
pub fn missing_permission(e: &Error) -> Option<String> {
    let (service, operation, code) = match e {
        Error::Iam { operation, code, .. } => ("iam", *operation, code.as_deref()),
        Error::Aws { service, operation, code, .. } => (*service, *operation, code.as_deref()),
        _ => return None,
    };
    let denied = code.is_some_and(|c| {
        c.contains("AccessDenied") || c == "UnauthorizedOperation" || c == "UnrecognizedClientException"
    });
    // The IAM action's prefix: the service's name in lower case (`STS` → `sts`, `SecurityHub` → `securityhub`).
    denied.then(|| format!("{}:{operation}", service.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use eks_node_role_guard::domain::{Action, IpFamily, Partition, PolicyArn};
    use eks_node_role_guard::iam::MemoryIam;
    use eks_node_role_guard::state::{Expect, MemoryStore, Record};

    fn make_role(iam: &MemoryIam, name: &str, policies: &[&str]) {
        let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        let create = Action::CreateRole {
            path: eks_node_role_guard::domain::RolePath::root(),
            trust,
            description: None,
            boundary: None,
            tags: BTreeMap::new(),
        };
        iam.outside(name, &create).unwrap();
        for p in policies {
            iam.outside(name, &Action::AttachPolicy(PolicyArn::aws_managed(Partition::Aws, p))).unwrap();
        }
    }

    fn cluster(name: &str, role: &str) -> ClusterFacts {
        ClusterFacts {
            name: name.into(),
            ip_family: IpFamily::Ipv4,
            node_groups: vec![("ng".into(), format!("arn:aws:iam::123456789012:role/{role}"))],
            ..ClusterFacts::default()
        }
    }

    #[tokio::test]
    async fn every_cluster_reports_progress_and_narrowing_keeps_only_its_node_roles() {
        let (iam, clusters) = (MemoryIam::new(), MemoryClusters::default());
        for i in 0..6 {
            make_role(
                &iam,
                &format!("nodes-{i}"),
                &["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"],
            );
            clusters.add(cluster(&format!("c{i}"), &format!("nodes-{i}")));
        }
        make_role(&iam, "eksNodeRole", &[]);
        let calls = AtomicUsize::new(0);
        let progress = |done: usize, total: usize, _: &str| {
            assert_eq!(total, 6);
            assert!((1..=6).contains(&done));
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let all = audit(&clusters, &iam, None::<&MemoryStore>, &Scope::default(), &progress).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 6);
        assert_eq!(all.roles.len(), 7, "six node roles and the declared name");
        assert_eq!(all.exit_code(), 0, "an unused role is a note: {:?}", all.roles);
        assert!(all.notes[0].contains("unknown"));
        let one = audit(&clusters, &iam, None::<&MemoryStore>, &Scope { clusters: vec!["c3".into()] }, &|_, _, _| ())
            .await
            .unwrap();
        assert_eq!(one.roles.iter().map(|r| r.role_name.as_str()).collect::<Vec<_>>(), ["nodes-3"]);
        let unknown =
            audit(&clusters, &iam, None::<&MemoryStore>, &Scope { clusters: vec!["nope".into()] }, &|_, _, _| ()).await;
        assert!(unknown.unwrap_err().to_string().contains("no cluster named nope"));
    }

    #[tokio::test]
    async fn a_copied_label_does_not_make_a_role_managed() {
        let (iam, clusters, store) = (MemoryIam::new(), MemoryClusters::default(), MemoryStore::new());
        make_role(&iam, "nodes", &["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]);
        let label = eks_node_role_guard::testing::spec().labels();
        iam.outside("nodes", &Action::TagRole(label)).unwrap();
        clusters.add(cluster("prod", "nodes"));
        let report = audit(&clusters, &iam, Some(&store), &Scope::default(), &|_, _, _| ()).await.unwrap();
        let r = &report.roles[0];
        assert_eq!(r.managed, "no", "tags decide nothing: only a state item with the role's RoleId does");
        assert_eq!(r.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), ["missing-policy"], "judged as any role");
        assert_eq!(r.notes.iter().map(|n| n.kind).collect::<Vec<_>>(), ["unverified-label"], "and the label reported");
        // Without the state table the audit cannot tell a copied label from a genuine one: no such note.
        let blind = audit(&clusters, &iam, None::<&MemoryStore>, &Scope::default(), &|_, _, _| ()).await.unwrap();
        assert!(blind.roles[0].notes.iter().all(|n| n.kind != "unverified-label"), "{:?}", blind.roles[0].notes);
    }

    #[tokio::test]
    async fn an_item_recording_another_role_id_does_not_make_a_role_managed() {
        let (iam, clusters, store) = (MemoryIam::new(), MemoryClusters::default(), MemoryStore::new());
        make_role(
            &iam,
            "nodes",
            &["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"],
        );
        clusters.add(cluster("prod", "nodes"));
        let mut spec = eks_node_role_guard::testing::spec();
        spec.name = RoleName::parse("nodes").unwrap();
        let stale = Record { role_id: Some("AROAOTHERROLE".into()), ..Record::new(spec) };
        store.put(&stale, Expect::NewOrOwn).await.unwrap();
        let report = audit(&clusters, &iam, Some(&store), &Scope::default(), &|_, _, _| ()).await.unwrap();
        let r = &report.roles[0];
        assert_eq!((r.managed, r.verdict), ("other-role", Verdict::Compliant));
        assert_eq!(r.notes[0].kind, "state-item-for-another-role");
    }

    #[tokio::test]
    async fn a_managed_role_deleted_outside_its_stack_is_a_finding_even_unused() {
        let (iam, clusters, store) = (MemoryIam::new(), MemoryClusters::default(), MemoryStore::new());
        let mut spec = eks_node_role_guard::testing::spec();
        spec.name = RoleName::parse("gone").unwrap();
        let item = Record { role_id: Some("AROAGONE".into()), ..Record::new(spec) };
        store.put(&item, Expect::NewOrOwn).await.unwrap();
        let report = audit(&clusters, &iam, Some(&store), &Scope::default(), &|_, _, _| ()).await.unwrap();
        let r = report.roles.iter().find(|r| r.role_name == "gone").unwrap();
        assert_eq!((r.managed, r.verdict), ("deleted", Verdict::NonCompliant));
        assert_eq!(r.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), ["managed-role-deleted"]);
        assert_eq!(report.exit_code(), 1);
        assert!(report.notes.iter().any(|n| n.contains("this region's clusters only")), "{:?}", report.notes);
        // Orphaned (its stack resource gone): not the guard's any more, judged as any role, and said so.
        let gone = store.get(&RoleName::parse("gone").unwrap()).await.unwrap().unwrap();
        let orphaned = Record { phase: eks_node_role_guard::state::Phase::Orphaned, ..gone.clone() };
        store.put(&orphaned, Expect::Version(gone.version)).await.unwrap();
        let report = audit(&clusters, &iam, Some(&store), &Scope::default(), &|_, _, _| ()).await.unwrap();
        let r = report.roles.iter().find(|r| r.role_name == "gone").unwrap();
        assert_eq!(r.managed, "orphaned");
        assert!(r.notes.iter().any(|n| n.kind == "orphaned"), "{:?}", r.notes);
        assert!(r.findings.iter().all(|f| f.kind != "managed-role-deleted"), "{:?}", r.findings);
        assert_eq!(report.exit_code(), 0, "an orphaned item is no finding of its own");
    }

    /// The procedure's search as it says it ("a role that contains eksNodeRole, AmazonEKSNodeRole, or
    /// NodeInstanceRole"), each role's age from ListRoles against its access entries, and a CDK IPv6 role's inline
    /// grant read from its document.
    #[tokio::test]
    async fn the_search_finds_names_that_contain_the_procedures_and_entries_and_inline_grants_are_read() {
        let (iam, clusters) = (MemoryIam::new(), MemoryClusters::default());
        let all = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"];
        make_role(&iam, "eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1A2B3C", &all);
        make_role(&iam, "unrelated-app", &[]);
        make_role(&iam, "KarpenterNodeRole-prod", &all);
        iam.set_created("KarpenterNodeRole-prod", 2_000);
        make_role(&iam, "cdk-v6-nodes", &["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"]);
        let grant = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses"],"Resource":"*"}]});
        iam.put_inline_policy_document("cdk-v6-nodes", "NodeIpv6", grant);
        let arn = |r: &str| format!("arn:aws:iam::123456789012:role/{r}");
        clusters.add(ClusterFacts {
            name: "prod".into(),
            authentication_mode: Some("API".into()),
            access_entries: Some(vec![super::super::AccessEntry {
                principal_arn: arn("KarpenterNodeRole-prod"),
                kind: "EC2_LINUX".into(),
                created_at: Some(1_000),
            }]),
            ..ClusterFacts::default()
        });
        clusters.add(ClusterFacts {
            name: "v6".into(),
            ip_family: IpFamily::Ipv6,
            node_groups: vec![("ng".into(), arn("cdk-v6-nodes"))],
            ..ClusterFacts::default()
        });
        let report = audit(&clusters, &iam, None::<&MemoryStore>, &Scope::default(), &|_, _, _| ()).await.unwrap();
        let names: Vec<&str> = report.roles.iter().map(|r| r.role_name.as_str()).collect();
        assert!(names.contains(&"eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1A2B3C"), "{names:?}");
        assert!(!names.contains(&"unrelated-app"), "{names:?}");
        let karpenter = report.roles.iter().find(|r| r.role_name == "KarpenterNodeRole-prod").unwrap();
        assert_eq!(
            karpenter.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
            ["access-entry-stale"],
            "{karpenter:?}"
        );
        let cdk = report.roles.iter().find(|r| r.role_name == "cdk-v6-nodes").unwrap();
        assert_eq!(cdk.verdict, Verdict::Compliant, "{cdk:?}");
        assert!(cdk.notes.iter().any(|n| n.kind == "cni-ipv6-inline"), "{cdk:?}");
        assert!(iam.calls().iter().any(|c| c.starts_with("GetRolePolicy cdk-v6-nodes")), "{:?}", iam.calls());
    }
}
