//! Every finding kind, from a role and cluster made for it.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use eks_node_role_guard::domain::RoleName;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const MINIMAL: &str = "AmazonEKSWorkerNodeMinimalPolicy";
const PULL: &str = "AmazonEC2ContainerRegistryPullOnly";
const READ: &str = "AmazonEC2ContainerRegistryReadOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";

fn trust(services: &[&str]) -> serde_json::Value {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":services},"Action":"sts:AssumeRole"}]})
}

/// A role as IAM would show it.
fn role(name: &str, services: &[&str], policies: &[&str]) -> LiveRole {
    LiveRole {
        name: RoleName::parse(name).unwrap(),
        path: eks_node_role_guard::domain::RolePath::root(),
        arn: format!("arn:aws:iam::123456789012:role/{name}"),
        role_id: format!("AROA{}", name.len()),
        trust: Some(trust(services)),
        description: None,
        boundary: None,
        tags: BTreeMap::new(),
        attached: policies
            .iter()
            .map(|p| {
                if p.contains(':') {
                    PolicyArn::parse(p, "test").unwrap()
                } else {
                    PolicyArn::aws_managed(Partition::Aws, p)
                }
            })
            .collect(),
        instance_profiles: vec![],
    }
}

fn node_role(policies: &[&str]) -> LiveRole {
    role("nodes", &["ec2.amazonaws.com"], policies)
}

fn cluster(name: &str, family: IpFamily, node_role: &str) -> ClusterFacts {
    ClusterFacts {
        name: name.into(),
        role_arn: Some("arn:aws:iam::123456789012:role/cluster-role".into()),
        ip_family: family,
        node_groups: vec![("ng".into(), format!("arn:aws:iam::123456789012:role/{node_role}"))],
        ..ClusterFacts::default()
    }
}

fn judged(live: LiveRole, clusters: &[ClusterFacts]) -> RoleReport {
    let name = live.name.as_str().to_string();
    let subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_arn: live.arn.clone(),
        uses: uses_of(&name, clusters),
        role_name: name,
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    judge(&subject, clusters)
}

fn kinds(r: &RoleReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.kind).collect()
}

fn note_kinds(r: &RoleReport) -> Vec<&'static str> {
    r.notes.iter().map(|f| f.kind).collect()
}

#[test]
fn a_role_made_by_the_procedure_complies() {
    let r = judged(node_role(&[WORKER, PULL, CNI]), &[cluster("prod", IpFamily::Ipv4, "nodes")]);
    assert_eq!((r.verdict, kinds(&r)), (Verdict::Compliant, vec![]), "{r:?}");
    assert_eq!(r.used_by, ["prod/ng"]);
}

#[test]
fn each_missing_node_policy_is_named() {
    let r = judged(node_role(&[PULL]), &[cluster("prod", IpFamily::Ipv4, "nodes")]);
    assert_eq!(r.verdict, Verdict::NonCompliant);
    assert_eq!(kinds(&r), ["missing-policy"]);
    assert!(r.findings[0].message.starts_with("AmazonEKSWorkerNodePolicy is not attached"), "{r:?}");
    // The CNI policy: the VPC CNI shows no role of its own to the EKS API, but an IRSA annotation on aws-node
    // (which the API cannot see) may give it one: a note.
    assert_eq!(note_kinds(&r), ["cni-role-unknown"]);
    assert!(r.notes[0].message.starts_with("AmazonEKS_CNI_Policy is not attached"), "{r:?}");
    assert!(r.notes[0].message.contains("kubectl -n kube-system get sa aws-node"), "{r:?}");
    // Where the stack of a managed role declares the CNI policy, its absence stays a finding.
    let mut spec = eks_node_role_guard::testing::spec();
    spec.name = RoleName::parse("nodes").unwrap();
    let r = managed_judged(spec, node_role(&[WORKER, PULL]), &[cluster("prod", IpFamily::Ipv4, "nodes")]);
    assert_eq!(kinds(&r), ["missing-policy"], "{r:?}");
    assert!(r.findings[0].message.starts_with("AmazonEKS_CNI_Policy is not attached"), "{r:?}");
}

#[test]
fn an_ipv6_cluster_needs_the_ipv6_cni_policy_not_the_ipv4_one() {
    let mut c = [cluster("v6", IpFamily::Ipv6, "nodes")];
    let r = judged(node_role(&[WORKER, PULL, CNI]), &c);
    assert_eq!((kinds(&r), note_kinds(&r)), (vec![], vec!["cni-role-unknown"]), "{r:?}");
    assert!(r.notes[0].message.starts_with("AmazonEKS_CNI_IPv6_Policy"));
    // With the add-on's role known to be someone else's... the VPC CNI has its own role: no CNI policy needed.
    c[0].cni_own_role = Some("vpc-cni add-on role arn:aws:iam::123456789012:role/cni".into());
    let r = judged(node_role(&[WORKER, PULL]), &c);
    assert_eq!(r.verdict, Verdict::Compliant, "{r:?}");
    let ok = judged(node_role(&[WORKER, PULL, "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"]), &c[..0]);
    assert_eq!(ok.verdict, Verdict::Unused, "{ok:?}");
}

/// The AWS CDK gives an IPv6 cluster's node role an inline policy granting `ec2:AssignIpv6Addresses` instead of
/// the IPv6 CNI policy: accepted, with a note.
#[test]
fn a_cdk_ipv6_role_with_an_inline_grant_is_accepted_with_a_note() {
    let c = [cluster("v6", IpFamily::Ipv6, "nodes")];
    let live = node_role(&[WORKER, PULL, CNI]);
    let subject = Subject {
        created: None,
        inline_grants_ipv6: true,
        role_arn: live.arn.clone(),
        uses: uses_of("nodes", &c),
        role_name: "nodes".into(),
        live: Some(live),
        inline_policies: vec!["NodeIpv6".into()],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    let r = judge(&subject, &c);
    assert_eq!(r.verdict, Verdict::Compliant, "{r:?}");
    assert!(note_kinds(&r).contains(&"cni-ipv6-inline"), "{r:?}");
}

#[test]
fn the_read_only_registry_policy_is_noted_as_broader_than_needed() {
    let r = judged(node_role(&[WORKER, READ, CNI]), &[cluster("prod", IpFamily::Ipv4, "nodes")]);
    assert_eq!(r.verdict, Verdict::Compliant);
    assert_eq!(note_kinds(&r), ["registry-policy-broader-than-needed"]);
}

#[test]
fn a_cni_policy_on_the_node_role_is_a_finding_when_the_vpc_cni_has_its_own_role() {
    let mut c = cluster("prod", IpFamily::Ipv4, "nodes");
    c.cni_own_role = Some("vpc-cni add-on role arn:aws:iam::123456789012:role/cni".into());
    let r = judged(node_role(&[WORKER, PULL, CNI]), &[c.clone()]);
    assert_eq!(kinds(&r), ["cni-policy-on-node-role"]);
    assert!(r.findings[0].message.contains("remove it"), "{:?}", r.findings);
    let without = judged(node_role(&[WORKER, PULL]), &[c]);
    assert_eq!(without.verdict, Verdict::Compliant);
}

#[test]
fn the_cluster_role_reused_as_a_node_role_is_caught() {
    let mut c = cluster("prod", IpFamily::Ipv4, "shared");
    c.role_arn = Some("arn:aws:iam::123456789012:role/shared".into());
    let r = judged(role("shared", &["ec2.amazonaws.com", "eks.amazonaws.com"], &[WORKER, PULL, CNI]), &[c]);
    assert_eq!(kinds(&r), ["cluster-role-used-as-node-role"], "{r:?}");
    assert!(r.findings[0].message.contains("You can't use the same role"));
}

#[test]
fn a_fargate_pod_execution_role_reused_as_a_node_role_is_caught() {
    let mut c = cluster("prod", IpFamily::Ipv4, "pods");
    c.fargate_profiles = vec![("fp".into(), "arn:aws:iam::123456789012:role/pods".into())];
    let r = judged(role("pods", &["ec2.amazonaws.com", "eks-fargate-pods.amazonaws.com"], &[WORKER, PULL, CNI]), &[c]);
    assert_eq!(kinds(&r), ["fargate-role-used-as-node-role"], "{r:?}");
}

#[test]
fn a_trust_without_ec2_or_with_more_than_ec2_is_a_finding() {
    let c = [cluster("prod", IpFamily::Ipv4, "nodes")];
    let r = judged(role("nodes", &["lambda.amazonaws.com"], &[WORKER, PULL, CNI]), &c);
    assert_eq!(kinds(&r), ["trust-not-ec2"]);
    let r = judged(role("nodes", &["ec2.amazonaws.com", "ssm.amazonaws.com"], &[WORKER, PULL, CNI]), &c);
    assert_eq!(kinds(&r), ["trust-broader-than-ec2"]);
    // By meaning: a list of one and an upper-case action are the same document.
    let mut same = node_role(&[WORKER, PULL, CNI]);
    same.trust = Some(
        json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":["STS:AssumeRole"]}}),
    );
    assert_eq!(judged(same, &c).verdict, Verdict::Compliant);
}

#[test]
fn a_node_group_naming_a_deleted_role_is_a_finding() {
    let c = [cluster("prod", IpFamily::Ipv4, "gone")];
    let subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_name: "gone".into(),
        role_arn: "arn:aws:iam::123456789012:role/gone".into(),
        live: None,
        inline_policies: vec![],
        uses: uses_of("gone", &c),
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    assert_eq!(kinds(&judge(&subject, &c)), ["role-not-found"]);
}

#[test]
fn an_auto_mode_role_needs_the_minimal_worker_policy_and_no_cni_policy() {
    let c = [ClusterFacts {
        name: "auto".into(),
        auto_mode_node_role: Some("arn:aws:iam::123456789012:role/AmazonEKSAutoNodeRole".into()),
        ..ClusterFacts::default()
    }];
    let r = judged(role("AmazonEKSAutoNodeRole", &["ec2.amazonaws.com"], &[MINIMAL, PULL]), &c);
    assert_eq!((r.verdict, r.node_class), (Verdict::Compliant, NodeClass::AutoMode), "{r:?}");
    assert_eq!(r.used_by, ["auto (Auto Mode nodes)"]);
    let r = judged(role("AmazonEKSAutoNodeRole", &["ec2.amazonaws.com"], &[PULL, CNI]), &c);
    assert_eq!(kinds(&r), ["missing-policy", "cni-policy-on-node-role"], "{r:?}");
    assert!(r.findings[0].message.starts_with(MINIMAL));
}

#[test]
fn a_role_no_node_group_uses_is_a_note_not_a_finding() {
    let r = judged(role("eksNodeRole", &["ec2.amazonaws.com"], &[PULL]), &[]);
    assert_eq!(r.verdict, Verdict::Unused);
    assert!(r.findings.is_empty());
    assert_eq!(note_kinds(&r)[0], "not-used-by-a-node-group");
    assert!(note_kinds(&r).contains(&"missing-policy"), "{r:?}");
}

#[test]
fn boundaries_extra_and_inline_policies_are_listed() {
    let mut live = node_role(&[WORKER, PULL, CNI, "AmazonSSMManagedInstanceCore"]);
    live.boundary = Some(PolicyArn::parse("arn:aws:iam::123456789012:policy/Boundary", "t").unwrap());
    let c = [cluster("prod", IpFamily::Ipv4, "nodes")];
    let subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_name: "nodes".into(),
        role_arn: live.arn.clone(),
        uses: uses_of("nodes", &c),
        live: Some(live),
        inline_policies: vec!["extra".into()],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    let r = judge(&subject, &c);
    assert_eq!(r.verdict, Verdict::Compliant);
    assert_eq!(note_kinds(&r), ["permissions-boundary", "additional-policy", "inline-policy"]);
}

#[test]
fn a_managed_role_is_judged_against_its_state_item() {
    let mut spec = eks_node_role_guard::testing::spec();
    spec.name = RoleName::parse("nodes").unwrap();
    spec.attach_cni = false;
    let live = node_role(&[WORKER, PULL, CNI]);
    let record = eks_node_role_guard::state::Record {
        role_id: Some(live.role_id.clone()),
        ..eks_node_role_guard::state::Record::new(spec)
    };
    let mut c = [cluster("prod", IpFamily::Ipv6, "nodes")];
    c[0].cni_own_role = Some("vpc-cni add-on role arn:aws:iam::123456789012:role/cni".into());
    let subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_name: "nodes".into(),
        role_arn: live.arn.clone(),
        uses: uses_of("nodes", &c),
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Yes(Box::new(record)),
        ipv6_cni: CniCheck::NotNeeded,
    };
    let r = judge(&subject, &c);
    assert_eq!(r.managed, "yes");
    // The item says no CNI policy on this role (its VPC CNI has its own) and ipv4, but an ipv6 cluster uses it.
    assert_eq!(kinds(&r), ["cni-policy-on-node-role", "ip-family-mismatch"], "{r:?}");
}

#[test]
fn a_role_shared_by_auto_mode_and_a_node_group_is_judged_for_the_node_group() {
    let mut c = cluster("mixed", IpFamily::Ipv4, "AmazonEKSAutoNodeRole");
    c.auto_mode_node_role = Some("arn:aws:iam::123456789012:role/AmazonEKSAutoNodeRole".into());
    let r = judged(role("AmazonEKSAutoNodeRole", &["ec2.amazonaws.com"], &[MINIMAL, PULL, CNI]), &[c.clone()]);
    assert_eq!(r.node_class, NodeClass::Standard);
    assert_eq!(kinds(&r), ["missing-policy"], "{r:?}");
    assert!(r.findings[0].message.starts_with(WORKER), "the node group needs the full worker policy");
    // Its CNI policy is needed by the node group's nodes: never "remove it".
    let named_only = judged(
        role("AmazonEKSAutoNodeRole", &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]),
        &[cluster("ng", IpFamily::Ipv4, "AmazonEKSAutoNodeRole")],
    );
    assert_eq!((named_only.verdict, kinds(&named_only)), (Verdict::Compliant, vec![]), "{named_only:?}");
}

#[test]
fn a_trust_that_also_lets_an_account_or_anyone_assume_the_role_is_a_finding() {
    let c = [cluster("prod", IpFamily::Ipv4, "nodes")];
    let mut live = node_role(&[WORKER, PULL, CNI]);
    live.trust = Some(json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}));
    let r = judged(live.clone(), &c);
    assert_eq!(kinds(&r), ["trust-broader-than-ec2"]);
    assert!(r.findings[0].message.contains("AWS arn:aws:iam::999999999999:root"), "{:?}", r.findings);
    live.trust = Some(json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
        {"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}));
    assert_eq!(kinds(&judged(live, &c)), ["trust-broader-than-ec2"]);
}

#[test]
fn an_ipv6_cni_policy_is_judged_by_its_document_not_its_name() {
    let c = [cluster("v6", IpFamily::Ipv6, "nodes")];
    let v6 = "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy";
    let live = node_role(&[WORKER, PULL, v6]);
    let mut subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_name: "nodes".into(),
        role_arn: live.arn.clone(),
        uses: uses_of("nodes", &c),
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::Tampered(PolicyArn::parse(v6, "x").unwrap()),
    };
    assert_eq!(kinds(&judge(&subject, &c)), ["cni-ipv6-policy-not-aws-document"]);
    subject.ipv6_cni = CniCheck::Verified(PolicyArn::parse(v6, "x").unwrap());
    assert_eq!(judge(&subject, &c).verdict, Verdict::Compliant);
}

/// A managed role (its item declares `spec`) used by these clusters.
fn managed_judged(spec: eks_node_role_guard::domain::NodeRoleSpec, live: LiveRole, c: &[ClusterFacts]) -> RoleReport {
    let record = eks_node_role_guard::state::Record {
        role_id: Some(live.role_id.clone()),
        ..eks_node_role_guard::state::Record::new(spec)
    };
    let subject = Subject {
        created: None,
        inline_grants_ipv6: false,
        role_name: live.name.as_str().to_string(),
        role_arn: live.arn.clone(),
        uses: uses_of(live.name.as_str(), c),
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Yes(Box::new(record)),
        ipv6_cni: CniCheck::NotNeeded,
    };
    judge(&subject, c)
}

#[test]
fn a_stack_that_keeps_the_cni_policy_off_needs_a_vpc_cni_with_its_own_role() {
    let mut spec = eks_node_role_guard::testing::spec();
    spec.name = RoleName::parse("nodes").unwrap();
    spec.attach_cni = false;
    let mut c = [cluster("prod", IpFamily::Ipv4, "nodes")];
    let r = managed_judged(spec.clone(), node_role(&[WORKER, PULL]), &c);
    // The EKS API shows no role of the VPC CNI's own; an annotation it cannot see may give one: a note.
    assert_eq!((kinds(&r), note_kinds(&r)), (vec![], vec!["cni-role-missing"]), "{r:?}");
    assert!(r.notes[0].message.contains("the VPC CNI of prod shows no role of its own"), "{r:?}");
    c[0].cni_own_role = Some("Pod Identity association a-1 of kube-system/aws-node".into());
    let r = managed_judged(spec, node_role(&[WORKER, PULL]), &c);
    assert_eq!((r.verdict, kinds(&r)), (Verdict::Compliant, vec![]), "{r:?}");
}

#[test]
fn a_node_group_using_a_role_its_stack_declares_auto_mode_is_a_mismatch() {
    let mut spec = eks_node_role_guard::testing::spec();
    spec.name = RoleName::parse("nodes").unwrap();
    spec.node_class = NodeClass::AutoMode;
    spec.attach_cni = false;
    let r = managed_judged(spec, node_role(&[MINIMAL, PULL]), &[cluster("prod", IpFamily::Ipv4, "nodes")]);
    assert!(kinds(&r).contains(&"node-class-mismatch"), "{r:?}");
    let m = r.findings.iter().find(|f| f.kind == "node-class-mismatch").unwrap();
    assert!(m.message.contains("prod/") && m.message.contains("declares NodeClass auto-mode"), "{m:?}");
}

#[test]
fn a_customer_policy_named_like_a_node_policy_is_listed_and_does_not_stand_in_for_it() {
    // Hostile: a customer-managed policy that takes AWS's node policy's name may grant anything. The audit and
    // the guard read the same node-policy table: only AWS's own ARN is a node policy.
    let look_alike = "arn:aws:iam::123456789012:policy/AmazonEKSWorkerNodePolicy";
    let c = [cluster("prod", IpFamily::Ipv4, "nodes")];
    let r = judged(node_role(&[look_alike, PULL, CNI]), &c);
    assert!(kinds(&r).contains(&"missing-policy"), "AWS's worker policy is still missing: {r:?}");
    let listed: Vec<&str> =
        r.notes.iter().filter(|n| n.kind == "additional-policy").map(|n| n.message.as_str()).collect();
    assert_eq!(listed, [format!("also attached: {look_alike}")], "{r:?}");
    // The same role with AWS's policy lists nothing extra: the table knows it.
    let r = judged(node_role(&[WORKER, PULL, CNI]), &c);
    assert_eq!(r.verdict, Verdict::Compliant);
    assert!(note_kinds(&r).is_empty(), "{r:?}");
    // The guard agrees: the look-alike is not acceptable on an adopted role.
    let rules = eks_node_role_guard::domain::reach::Allowances::defaults(Partition::Aws);
    let mut adoptable = node_role(&[look_alike]);
    adoptable.name = RoleName::parse("eksNodeRole").unwrap();
    let refusal = rules.refusal(&adoptable, &[], Partition::Aws, None, NodeClass::Standard).unwrap();
    assert!(refusal.contains(look_alike), "{refusal}");
}

fn entry(role: &str, kind: &str, created_at: i64) -> AccessEntry {
    AccessEntry {
        principal_arn: format!("arn:aws:iam::123456789012:role/{role}"),
        kind: kind.into(),
        created_at: Some(created_at),
    }
}

/// A compliant node role in a cluster of `mode` with these access entries.
fn judged_with_entries(mode: &str, entries: Vec<AccessEntry>, created: Option<i64>, c: ClusterFacts) -> RoleReport {
    let c =
        ClusterFacts { authentication_mode: Some(mode.into()), access_entries: Some(entries), cni_own_role: None, ..c };
    let live = node_role(&[WORKER, PULL, CNI]);
    let clusters = [c];
    let subject = Subject {
        created,
        inline_grants_ipv6: false,
        role_arn: live.arn.clone(),
        uses: uses_of("nodes", &clusters),
        role_name: "nodes".into(),
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    judge(&subject, &clusters)
}

#[test]
fn a_node_role_without_an_access_entry_is_a_finding_in_api_mode_and_a_note_beside_the_config_map() {
    let c = || cluster("prod", IpFamily::Ipv4, "nodes");
    let r = judged_with_entries("API", vec![], None, c());
    assert_eq!(kinds(&r), ["access-entry-missing"], "{r:?}");
    assert!(r.findings[0].message.contains("the nodes of prod/ng cannot join"), "{r:?}");
    let r = judged_with_entries("API_AND_CONFIG_MAP", vec![], None, c());
    assert_eq!((r.verdict, note_kinds(&r)), (Verdict::Compliant, vec!["access-entry-missing"]), "{r:?}");
    assert!(r.notes[0].message.contains("the aws-auth ConfigMap may map it"), "{r:?}");
    let r = judged_with_entries("CONFIG_MAP", vec![], None, c());
    assert_eq!((r.verdict, note_kinds(&r)), (Verdict::Compliant, vec![]), "{r:?}");
    let r = judged_with_entries("API", vec![entry("nodes", "EC2_LINUX", 200)], Some(100), c());
    assert_eq!((r.verdict, kinds(&r)), (Verdict::Compliant, vec![]), "{r:?}");
}

#[test]
fn an_access_entry_of_the_wrong_type_is_a_finding_in_every_mode() {
    // Windows nodes given EC2_LINUX.
    let mut windows = cluster("prod", IpFamily::Ipv4, "nodes");
    windows.windows_node_groups.insert("ng".into());
    for mode in ["API", "API_AND_CONFIG_MAP"] {
        let r = judged_with_entries(mode, vec![entry("nodes", "EC2_LINUX", 200)], Some(100), windows.clone());
        assert_eq!(kinds(&r), ["access-entry-wrong-type"], "{mode}: {r:?}");
        assert!(r.findings[0].message.contains("need EC2_WINDOWS"), "{r:?}");
    }
    // A person's entry (STANDARD) for a node role.
    let r = judged_with_entries(
        "API",
        vec![entry("nodes", "STANDARD", 200)],
        None,
        cluster("prod", IpFamily::Ipv4, "nodes"),
    );
    assert_eq!(kinds(&r), ["access-entry-wrong-type"], "{r:?}");
    // Auto Mode needs EC2.
    let auto = ClusterFacts {
        name: "auto".into(),
        auto_mode_node_role: Some("arn:aws:iam::123456789012:role/nodes".into()),
        ..ClusterFacts::default()
    };
    let r = judged_with_entries("API", vec![entry("nodes", "EC2_LINUX", 200)], None, auto.clone());
    assert!(kinds(&r).contains(&"access-entry-wrong-type"), "{r:?}");
    assert!(r.findings.iter().any(|f| f.message.contains("need EC2")), "{r:?}");
    let r = judged_with_entries("API", vec![entry("nodes", "EC2", 200)], None, auto);
    assert!(!kinds(&r).contains(&"access-entry-wrong-type"), "{r:?}");
}

/// An access entry binds the role's unique id: one made before the role (deleted and created again under the
/// same name) lets no node in.
#[test]
fn an_access_entry_older_than_its_role_is_a_finding() {
    let c = || cluster("prod", IpFamily::Ipv4, "nodes");
    let r = judged_with_entries("API_AND_CONFIG_MAP", vec![entry("nodes", "EC2_LINUX", 100)], Some(200), c());
    assert_eq!(kinds(&r), ["access-entry-stale"], "{r:?}");
    assert!(r.findings[0].message.contains("made before the role itself"), "{r:?}");
    let r = judged_with_entries("API_AND_CONFIG_MAP", vec![entry("nodes", "EC2_LINUX", 300)], Some(200), c());
    assert_eq!(kinds(&r), Vec::<&str>::new(), "{r:?}");
}

/// Roles only access entries name (self-managed nodes, Karpenter) are node roles: judged as such, and one whose
/// role no longer exists is a finding.
#[test]
fn roles_known_only_from_access_entries_are_audited_as_node_roles() {
    let c = [ClusterFacts {
        name: "prod".into(),
        authentication_mode: Some("API".into()),
        access_entries: Some(vec![entry("KarpenterNodeRole-prod", "EC2_LINUX", 100)]),
        ..ClusterFacts::default()
    }];
    let live = role("KarpenterNodeRole-prod", &["ec2.amazonaws.com"], &[PULL]);
    let subject = Subject {
        created: Some(50),
        inline_grants_ipv6: false,
        role_arn: live.arn.clone(),
        uses: uses_of("KarpenterNodeRole-prod", &c),
        role_name: "KarpenterNodeRole-prod".into(),
        live: Some(live),
        inline_policies: vec![],
        managed: Managed::Unknown,
        ipv6_cni: CniCheck::NotNeeded,
    };
    let r = judge(&subject, &c);
    assert_eq!(r.used_by, ["prod (access entry EC2_LINUX)"]);
    assert_eq!((r.verdict, kinds(&r)), (Verdict::NonCompliant, vec!["missing-policy"]), "{r:?}");
    let gone = Subject { live: None, ..subject };
    let r = judge(&gone, &c);
    assert_eq!(kinds(&r), ["role-not-found"], "{r:?}");
    assert!(r.findings[0].message.contains("prod (access entry EC2_LINUX) names the role"), "{r:?}");
}
