//! The policy documents of the procedure: the EC2 trust policy and the IPv6 CNI policy, plus how a live trust
//! policy is compared with the one the nodes need.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{AccountId, Partition, PolicyArn};

pub const WORKER_NODE_POLICY: &str = "AmazonEKSWorkerNodePolicy";
/// The Auto Mode node role's worker policy.
pub const WORKER_NODE_MINIMAL_POLICY: &str = "AmazonEKSWorkerNodeMinimalPolicy";
pub const ECR_PULL_ONLY_POLICY: &str = "AmazonEC2ContainerRegistryPullOnly";
pub const CNI_POLICY: &str = "AmazonEKS_CNI_Policy";
pub const CNI_IPV6_POLICY: &str = "AmazonEKS_CNI_IPv6_Policy";

/// ECR read-only: works, but more than nodes need (the procedure now uses the pull-only policy).
pub const ECR_READ_ONLY_POLICY: &str = "AmazonEC2ContainerRegistryReadOnly";

/// What an AWS managed node policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePolicy {
    pub name: &'static str,
    /// Required on a standard node role (the CNI policy: when the role carries the CNI's permissions).
    pub standard: bool,
    /// Required on an EKS Auto Mode node role.
    pub auto_mode: bool,
    /// The function may attach (and so detach) it.
    pub attachable: bool,
    /// Grants more than nodes need: the audit says so.
    pub broader_than_needed: bool,
}

/// The AWS managed policies that belong on a node role — the one table the guard (required, attachable,
/// acceptable on adoption) and the audit (known, broader than needed) both read. Any of them is acceptable on
/// an adopted role.
pub const NODE_POLICIES: [NodePolicy; 5] = [
    NodePolicy {
        name: WORKER_NODE_POLICY,
        standard: true,
        auto_mode: false,
        attachable: true,
        broader_than_needed: false,
    },
    NodePolicy {
        name: WORKER_NODE_MINIMAL_POLICY,
        standard: false,
        auto_mode: true,
        attachable: true,
        broader_than_needed: false,
    },
    NodePolicy {
        name: ECR_PULL_ONLY_POLICY,
        standard: true,
        auto_mode: true,
        attachable: true,
        broader_than_needed: false,
    },
    NodePolicy {
        name: ECR_READ_ONLY_POLICY,
        standard: false,
        auto_mode: false,
        attachable: false,
        broader_than_needed: true,
    },
    NodePolicy { name: CNI_POLICY, standard: true, auto_mode: false, attachable: true, broader_than_needed: false },
];

/// The node policies of a partition, as ARNs, that pass `filter`.
pub fn node_policies(p: Partition, filter: impl Fn(&NodePolicy) -> bool) -> BTreeSet<PolicyArn> {
    NODE_POLICIES.iter().filter(|n| filter(n)).map(|n| PolicyArn::aws_managed(p, n.name)).collect()
}

/// The table's row for `arn` — only when `arn` is AWS's own policy of that name: a customer policy named
/// `AmazonEKSWorkerNodePolicy` is not a node policy.
pub fn node_policy(arn: &PolicyArn) -> Option<&'static NodePolicy> {
    NODE_POLICIES.iter().find(|n| *arn == PolicyArn::aws_managed(arn.partition(), n.name))
}

/// Whether `arn` is the IPv6 CNI policy the guard uses: one named `AmazonEKS_CNI_IPv6_Policy`, or
/// `installation`'s own (the template's `IPV6_CNI_POLICY_ARN`). Either is attached only once its document is
/// verified (`is_ipv6_cni_document`); a change to either starts a sweep.
pub fn is_ipv6_cni(arn: &PolicyArn, installation: Option<&PolicyArn>) -> bool {
    installation == Some(arn) || arn.name() == CNI_IPV6_POLICY
}

/// A policy named like an IPv6 CNI policy (`AmazonEKS_CNI_IPv6_Policy`, or an installation's
/// `<stack>-AmazonEKS_CNI_IPv6_Policy`): what the audit reads the document of, never trusting the name.
pub fn named_like_ipv6_cni(arn: &PolicyArn) -> bool {
    arn.name().ends_with(CNI_IPV6_POLICY)
}

/// The actions of the IPv6 CNI policy in the EKS guide (`cni_ipv6_policy_document`): every one is needed.
const IPV6_CNI_ACTIONS: [&str; 5] = [
    "ec2:AssignIpv6Addresses",
    "ec2:DescribeInstances",
    "ec2:DescribeTags",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstanceTypes",
];
/// The actions the VPC CNI project's own IPv6 policy adds (aws/amazon-vpc-cni-k8s, `docs/iam-policy.md`).
const IPV6_CNI_VPC_CNI_ACTIONS: [&str; 3] =
    ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:ModifyNetworkInterfaceAttribute"];

/// Whether a policy document is one of the IPv6 CNI policies AWS publishes in `p`: the one verification. Both
/// the EKS guide's (five actions) and the VPC CNI project's (eight) pass; so does any document within them that
/// grants the guide's five. Nothing else passes: an action beyond those eight (wildcards included), `ec2:CreateTags`
/// on anything but network interfaces or beside another action, `Deny`, `Not*`, a principal or a condition.
pub fn is_ipv6_cni_document(doc: &Value, p: Partition) -> bool {
    if doc.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        return false;
    }
    let Some(statements) = normalise(doc) else { return false };
    let lower = |a: &&str| a.to_ascii_lowercase();
    let allowed: BTreeSet<String> = IPV6_CNI_ACTIONS.iter().chain(&IPV6_CNI_VPC_CNI_ACTIONS).map(lower).collect();
    let everything = BTreeSet::from(["*".to_string()]);
    let network_interfaces = BTreeSet::from([format!("arn:{p}:ec2:*:*:network-interface/*")]);
    let (mut granted, mut tags) = (BTreeSet::new(), false);
    for s in &statements {
        let plain = s.effect == "Allow"
            && s.principal.is_empty()
            && s.not_principal.is_empty()
            && s.not_action.is_empty()
            && s.not_resource.is_empty()
            && s.condition.is_empty()
            && !s.action.is_empty();
        if !plain {
            return false;
        }
        if s.action.contains("ec2:createtags") {
            if s.action.len() != 1 || s.resource != network_interfaces {
                return false;
            }
            tags = true;
        } else if s.resource == everything && s.action.is_subset(&allowed) {
            granted.extend(s.action.iter().cloned());
        } else {
            return false;
        }
    }
    tags && IPV6_CNI_ACTIONS.iter().map(lower).all(|a| granted.contains(&a))
}

/// Service principals whose presence marks a role that must never become a node role.
pub const CLUSTER_PRINCIPAL: &str = "eks.amazonaws.com";
pub const FARGATE_PRINCIPAL: &str = "eks-fargate-pods.amazonaws.com";

pub fn worker_node_policy(p: Partition) -> PolicyArn {
    PolicyArn::aws_managed(p, WORKER_NODE_POLICY)
}
pub fn ecr_pull_only_policy(p: Partition) -> PolicyArn {
    PolicyArn::aws_managed(p, ECR_PULL_ONLY_POLICY)
}
pub fn cni_policy(p: Partition) -> PolicyArn {
    PolicyArn::aws_managed(p, CNI_POLICY)
}
/// The account's own `AmazonEKS_CNI_IPv6_Policy` (used only after its document is verified).
pub fn cni_ipv6_policy(p: Partition, account: &AccountId) -> PolicyArn {
    PolicyArn::customer(p, account, CNI_IPV6_POLICY)
}

/// The trust policy of the procedure: the partition's EC2 service principal may assume the role.
pub fn ec2_trust_policy(p: Partition) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": p.ec2_principal() },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The IPv6 CNI policy exactly as AWS publishes it (both wildcards included), partition-aware.
pub fn cni_ipv6_policy_document(p: Partition) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:AssignIpv6Addresses",
                    "ec2:DescribeInstances",
                    "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeInstanceTypes"
                ],
                "Resource": "*"
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": [format!("arn:{p}:ec2:*:*:network-interface/*")]
            }
        ]
    })
}

/// Whether `doc` is the procedure's trust policy in `p`. In `aws-cn` the EC2 principal has two spellings that IAM
/// accepts, `ec2.amazonaws.com.cn` (what the tool writes) and `ec2.amazonaws.com`: either is right, and a role
/// keeps the one it has.
pub fn is_ec2_trust(doc: &Value, p: Partition) -> bool {
    same_policy(doc, &ec2_trust_policy(p))
        || (p == Partition::AwsCn && same_policy(doc, &ec2_trust_policy(Partition::Aws)))
}

/// IAM returns policy documents URL-encoded; this decodes when needed and parses.
pub fn parse_document(raw: &str) -> Option<Value> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).ok();
    }
    let decoded = urlencoding::decode(raw).ok()?;
    serde_json::from_str(&decoded).ok()
}

/// One statement reduced to what decides its meaning: order of lists, `Sid` and string-vs-list do not matter.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct NormalStatement {
    effect: String,
    principal: BTreeSet<(String, String)>,
    not_principal: BTreeSet<(String, String)>,
    action: BTreeSet<String>,
    not_action: BTreeSet<String>,
    resource: BTreeSet<String>,
    not_resource: BTreeSet<String>,
    condition: String,
}

fn string_set(v: Option<&Value>, lowercase: bool) -> BTreeSet<String> {
    let norm = |s: &str| {
        if lowercase {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    match v {
        Some(Value::String(s)) => BTreeSet::from([norm(s)]),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(norm).collect(),
        _ => BTreeSet::new(),
    }
}

fn principal_set(v: Option<&Value>) -> BTreeSet<(String, String)> {
    match v {
        Some(Value::String(s)) => BTreeSet::from([("*".to_string(), s.clone())]),
        Some(Value::Object(m)) => m
            .iter()
            .flat_map(|(kind, ids)| string_set(Some(ids), false).into_iter().map(move |id| (kind.clone(), id)))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn normalise(doc: &Value) -> Option<BTreeSet<NormalStatement>> {
    let statements = match doc.get("Statement")? {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => return None,
    };
    statements
        .iter()
        .map(|s| {
            Some(NormalStatement {
                effect: s.get("Effect")?.as_str()?.to_string(),
                principal: principal_set(s.get("Principal")),
                not_principal: principal_set(s.get("NotPrincipal")),
                action: string_set(s.get("Action"), true),
                not_action: string_set(s.get("NotAction"), true),
                resource: string_set(s.get("Resource"), false),
                not_resource: string_set(s.get("NotResource"), false),
                condition: s.get("Condition").map(|c| c.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Whether two policy documents mean the same thing (same statements, ignoring order, Sid and list shape).
pub fn same_policy(a: &Value, b: &Value) -> bool {
    match (normalise(a), normalise(b)) {
        (Some(x), Some(y)) => x == y && a.get("Version") == b.get("Version"),
        _ => false,
    }
}

/// Every principal an Allow statement of the document trusts, as `(kind, id)`: `("Service", "ec2.amazonaws.com")`,
/// `("AWS", "arn:aws:iam::111122223333:root")`, `("*", "*")`; a `NotPrincipal` allow trusts everyone else.
pub fn trusted_principals(doc: &Value) -> BTreeSet<(String, String)> {
    normalise(doc)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.effect == "Allow")
        .flat_map(|s| {
            let anyone = (!s.not_principal.is_empty()).then(|| ("*".to_string(), "*".to_string()));
            s.principal.into_iter().chain(anyone)
        })
        .collect()
}

/// Service principals an Allow statement of the document trusts.
pub fn trusted_services(doc: &Value) -> BTreeSet<String> {
    normalise(doc)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.effect == "Allow")
        .flat_map(|s| s.principal.into_iter())
        .filter(|(kind, _)| kind == "Service")
        .map(|(_, id)| id)
        .collect()
}

/// Why a role may not be a node role, quoting the procedure's rule; `None` when it may.
/// Why a role's trust policy keeps it from being adopted, if it does: it names a principal other than an AWS
/// service (`AWS`, `Federated`, `CanonicalUser`, `*`), or carries a condition or a `Not*` element. Adoption puts
/// EC2's trust in its place, which is sound only when nothing but services could assume the role before.
pub fn foreign_trust(doc: &Value) -> Option<String> {
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Some("its trust policy has no statement the guard can read".into()),
    };
    for st in statements {
        for not in ["NotPrincipal", "NotAction", "NotResource"] {
            if st.get(not).is_some() {
                return Some(format!("its trust policy uses {not}: only a trust of AWS services can be adopted"));
            }
        }
        if st.get("Condition").is_some() {
            return Some(
                "its trust policy carries a condition: only a plain trust of AWS services can be adopted".into(),
            );
        }
        if st.get("Effect").and_then(Value::as_str) == Some("Deny") {
            continue;
        }
        match st.get("Principal") {
            Some(Value::Object(p)) => {
                if let Some(kind) = p.keys().find(|k| k.as_str() != "Service") {
                    return Some(format!(
                        "its trust policy names {kind} principals: the guard adopts only roles that AWS services alone may assume (it would replace that trust with EC2's, and never hands a trust back)"
                    ));
                }
            }
            _ => {
                return Some(
                    "its trust policy names any principal (`*`): only a trust of AWS services can be adopted".into(),
                )
            }
        }
    }
    None
}

pub fn forbidden_trust(doc: &Value) -> Option<&'static str> {
    let services = trusted_services(doc);
    if services.contains(CLUSTER_PRINCIPAL) {
        Some("it trusts eks.amazonaws.com, so it is an Amazon EKS cluster role: \"You can't use the same role that is used to create any clusters.\"")
    } else if services.contains(FARGATE_PRINCIPAL) {
        Some("it trusts eks-fargate-pods.amazonaws.com, so it is a Fargate pod execution role: \"The Amazon EC2 node groups must have a different IAM role than the Fargate profile.\"")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_trust_of_services_may_be_adopted() {
        let doc = |st: Value| serde_json::json!({"Version": "2012-10-17", "Statement": st});
        let allow = |principal: Value| serde_json::json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
        let ok = [
            doc(serde_json::json!([allow(serde_json::json!({"Service": "ec2.amazonaws.com"}))])),
            doc(serde_json::json!([allow(serde_json::json!({"Service": ["ssm.amazonaws.com", "ec2.amazonaws.com"]}))])),
            doc(allow(serde_json::json!({"Service": "ec2.amazonaws.com"}))),
        ];
        for d in ok {
            assert_eq!(foreign_trust(&d), None, "{d}");
        }
        let refused = [
            (doc(serde_json::json!([allow(serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"}))])), "AWS"),
            (doc(serde_json::json!([allow(serde_json::json!({"Service": "ec2.amazonaws.com", "AWS": "*"}))])), "AWS"),
            (
                doc(serde_json::json!([allow(serde_json::json!({"Federated": "cognito-identity.amazonaws.com"}))])),
                "Federated",
            ),
            (doc(serde_json::json!([allow(serde_json::json!({"CanonicalUser": "abc"}))])), "CanonicalUser"),
            (doc(serde_json::json!([allow(serde_json::json!("*"))])), "any principal"),
            (
                doc(
                    serde_json::json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}]),
                ),
                "condition",
            ),
            (
                doc(serde_json::json!([{"Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "sts:AssumeRole"}])),
                "NotPrincipal",
            ),
            (serde_json::json!({"Version": "2012-10-17"}), "no statement"),
        ];
        for (d, why) in refused {
            let got = foreign_trust(&d).unwrap_or_else(|| panic!("accepted: {d}"));
            assert!(got.contains(why), "{why}: {got}");
        }
    }

    #[test]
    fn trust_policy_is_the_procedures_document() {
        let expected: Value = serde_json::from_str(
            r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" } ] }"#,
        )
        .unwrap();
        assert_eq!(ec2_trust_policy(Partition::Aws), expected);
        assert_eq!(ec2_trust_policy(Partition::AwsCn)["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com.cn");
    }

    #[test]
    fn ipv6_cni_policy_has_the_wildcards_aws_publishes() {
        let d = cni_ipv6_policy_document(Partition::Aws);
        assert_eq!(d["Statement"][0]["Resource"], "*");
        assert_eq!(d["Statement"][0]["Action"].as_array().unwrap().len(), 5);
        assert_eq!(d["Statement"][1]["Action"][0], "ec2:CreateTags");
        assert_eq!(d["Statement"][1]["Resource"][0], "arn:aws:ec2:*:*:network-interface/*");
        let cn = cni_ipv6_policy_document(Partition::AwsCn);
        assert_eq!(cn["Statement"][1]["Resource"][0], "arn:aws-cn:ec2:*:*:network-interface/*");
    }

    /// aws/amazon-vpc-cni-k8s `docs/iam-policy.md`: the IPv6 policy with eight actions.
    fn vpc_cni_ipv6_document(p: Partition) -> Value {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": [
                    "ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets", "ec2:ModifyNetworkInterfaceAttribute"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": [format!("arn:{p}:ec2:*:*:network-interface/*")]}
            ]
        })
    }

    #[test]
    fn both_ipv6_cni_policies_aws_publishes_pass_and_nothing_broader_does() {
        for p in [Partition::Aws, Partition::AwsCn] {
            assert!(is_ipv6_cni_document(&cni_ipv6_policy_document(p), p), "the EKS guide's, {p}");
            assert!(is_ipv6_cni_document(&vpc_cni_ipv6_document(p), p), "the VPC CNI project's, {p}");
        }
        let base = vpc_cni_ipv6_document(Partition::Aws);
        let edited = |edit: &dyn Fn(&mut Value)| {
            let mut d = base.clone();
            edit(&mut d);
            d
        };
        let refused: Vec<(&str, Value)> = vec![
            ("a wildcard action", edited(&|d| d["Statement"][0]["Action"][1] = "ec2:*".into())),
            ("another service", edited(&|d| d["Statement"][0]["Action"][1] = "iam:PassRole".into())),
            ("Describe*", edited(&|d| d["Statement"][0]["Action"][1] = "ec2:Describe*".into())),
            ("CreateTags everywhere", edited(&|d| d["Statement"][1]["Resource"] = "*".into())),
            (
                "CreateTags on instances",
                edited(&|d| d["Statement"][1]["Resource"][0] = "arn:aws:ec2:*:*:instance/*".into()),
            ),
            (
                "CreateTags beside another action",
                edited(&|d| d["Statement"][1]["Action"].as_array_mut().unwrap().push("ec2:DeleteTags".into())),
            ),
            ("no CreateTags", edited(&|d| d["Statement"].as_array_mut().unwrap().truncate(1))),
            ("a needed action missing", edited(&|d| d["Statement"][0]["Action"][0] = "ec2:DescribeSubnets".into())),
            (
                "an action on a narrower resource",
                edited(&|d| d["Statement"][0]["Resource"] = "arn:aws:ec2:*:*:instance/*".into()),
            ),
            ("Deny", edited(&|d| d["Statement"][0]["Effect"] = "Deny".into())),
            ("NotAction", edited(&|d| d["Statement"][0]["NotAction"] = "iam:*".into())),
            ("NotResource", edited(&|d| d["Statement"][0]["NotResource"] = "arn:aws:s3:::x".into())),
            (
                "a condition",
                edited(&|d| {
                    d["Statement"][0]["Condition"] = serde_json::json!({"Bool": {"aws:ViaAWSService": "true"}})
                }),
            ),
            ("a principal", edited(&|d| d["Statement"][0]["Principal"] = "*".into())),
            ("another version", edited(&|d| d["Version"] = "2008-10-17".into())),
            ("another partition's network interfaces", cni_ipv6_policy_document(Partition::AwsCn)),
            (
                "an extra statement",
                edited(&|d| {
                    d["Statement"]
                        .as_array_mut()
                        .unwrap()
                        .push(serde_json::json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
                }),
            ),
        ];
        for (case, doc) in refused {
            assert!(!is_ipv6_cni_document(&doc, Partition::Aws), "{case}: {doc}");
        }
        let case_and_shape = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "a", "Effect": "Allow", "Action": ["EC2:AssignIpv6Addresses", "ec2:describeinstances", "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces"], "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:DescribeInstanceTypes", "Resource": ["*"]},
            {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:network-interface/*"}]});
        assert!(is_ipv6_cni_document(&case_and_shape, Partition::Aws), "case, Sid, list shape and split statements");
    }

    #[test]
    fn trust_comparison_ignores_shape_but_not_meaning() {
        let want = ec2_trust_policy(Partition::Aws);
        let same = serde_json::json!({"Version":"2012-10-17","Statement":{"Sid":"x","Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":["STS:AssumeRole"]}});
        assert!(same_policy(&want, &same));
        let encoded = urlencoding::encode(&want.to_string()).into_owned();
        assert!(same_policy(&want, &parse_document(&encoded).unwrap()));
        let extra = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ssm.amazonaws.com"]},"Action":"sts:AssumeRole"}]});
        assert!(!same_policy(&want, &extra));
        let deny = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        assert!(!same_policy(&want, &deny));
        let cond = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]});
        assert!(!same_policy(&want, &cond));
        assert!(!same_policy(&want, &serde_json::json!({"Version":"2012-10-17"})));
        assert!(parse_document("%7Bnot json").is_none());
    }

    #[test]
    fn cluster_and_fargate_roles_are_recognised() {
        let cluster = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        assert!(forbidden_trust(&cluster)
            .unwrap()
            .contains("You can't use the same role that is used to create any clusters."));
        let fargate = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["eks-fargate-pods.amazonaws.com"]},"Action":"sts:AssumeRole"}]});
        assert!(forbidden_trust(&fargate).unwrap().contains("Fargate profile"));
        assert!(forbidden_trust(&ec2_trust_policy(Partition::Aws)).is_none());
    }

    #[test]
    fn in_aws_cn_both_ec2_principal_spellings_are_the_procedures_trust_and_only_there() {
        let (global, china) = (ec2_trust_policy(Partition::Aws), ec2_trust_policy(Partition::AwsCn));
        assert!(is_ec2_trust(&china, Partition::AwsCn) && is_ec2_trust(&global, Partition::AwsCn));
        assert!(is_ec2_trust(&global, Partition::Aws) && !is_ec2_trust(&china, Partition::Aws));
        assert!(is_ec2_trust(&global, Partition::AwsUsGov) && !is_ec2_trust(&china, Partition::AwsUsGov));
        let both = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ec2.amazonaws.com.cn"]},"Action":"sts:AssumeRole"}]});
        assert!(!is_ec2_trust(&both, Partition::AwsCn), "one principal, not both");
    }
}
