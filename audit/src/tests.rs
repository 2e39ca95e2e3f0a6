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
    let messages: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(kinds(&r), ["missing-policy", "missing-policy"]);
    assert!(messages[0].starts_with("AmazonEKSWorkerNodePolicy is not attached"), "{messages:?}");
    assert!(messages[1].starts_with("AmazonEKS_CNI_Policy is not attached"), "{messages:?}");
}

#[test]
fn an_ipv6_cluster_needs_the_ipv6_cni_policy_not_the_ipv4_one() {
    let c = [cluster("v6", IpFamily::Ipv6, "nodes")];
    let r = judged(node_role(&[WORKER, PULL, CNI]), &c);
    assert_eq!(kinds(&r), ["missing-policy"]);
    assert!(r.findings[0].message.starts_with("AmazonEKS_CNI_IPv6_Policy"));
    let ok = judged(node_role(&[WORKER, PULL, "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy"]), &c);
    assert_eq!(ok.verdict, Verdict::Compliant, "{ok:?}");
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
    assert_eq!(kinds(&r), ["cni-role-missing"], "{r:?}");
    assert!(r.findings[0].message.contains("the VPC CNI of prod has no role of its own"), "{r:?}");
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
