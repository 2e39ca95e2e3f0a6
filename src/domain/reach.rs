//! Which roles the function may take over (adopt) and which policies it may attach: the operator's
//! declarations, checked before anything is written. Pure.
//!
//! The procedure's existing-role check fixes the trust policy of an existing node role. The guard does that only
//! for roles the operator named (`AdoptableRoleNames`), never for its own role, AWS's service or reserved roles,
//! a cluster or Fargate role, or a role carrying permissions it cannot prove belong on a node.

use std::collections::BTreeSet;

use super::live::LiveRole;
use super::policies;
use super::{Partition, PolicyArn};

/// `AdoptableRoleNames` when the operator gives none: the names the procedure checks for.
pub const DEFAULT_ADOPTABLE: &str = "eksNodeRole,AmazonEKSNodeRole,NodeInstanceRole,AmazonEKSAutoNodeRole";

/// The name the Auto Mode procedure checks for: adopting it takes `NodeClass: auto-mode`.
pub const AUTO_MODE_ROLE: &str = "AmazonEKSAutoNodeRole";

/// `AllowedAdditionalPolicyArns` when the operator gives none (the template's default).
pub const DEFAULT_ALLOWED_ADDITIONAL: [&str; 2] = ["AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"];

/// Paths of roles AWS owns or that belong to a service: never adopted.
const RESERVED_PATHS: [&str; 3] = ["/aws-service-role/", "/aws-reserved/", "/service-role/"];

/// A role name pattern: exact, with `*` matching any run of characters. Case matters: the function's IAM
/// permissions name these roles by ARN (`role/NAME`), and IAM matches ARNs in a policy case-sensitively, so a name
/// that differs only in case would pass here and be denied there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    pub fn new(s: &str) -> Self {
        NamePattern(s.trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// The operator's declarations that bound adoption and attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowances {
    pub adoptable: Vec<NamePattern>,
    /// Policies besides the node policies that AdditionalPolicyArns may attach and an adopted role may carry.
    pub allowed_additional: BTreeSet<PolicyArn>,
    /// The function's own execution role: never adopted, whatever the list says.
    pub own_role: Option<String>,
    /// Permissions boundaries a `PermissionsBoundary` property may name (the installation's
    /// AllowedPermissionsBoundaryArns); empty: none.
    pub allowed_boundaries: BTreeSet<PolicyArn>,
    /// The installation's RolePathPrefix and RoleNamePrefix: with a name prefix, IAM denies the function every
    /// path that starts with the two together (`/eks-nodes-x/`), where `*` would otherwise reach.
    pub path_prefix: String,
    pub name_prefix: String,
    /// `RESERVED_TAG_PREFIXES`: tag keys the operator keeps for itself (ABAC, cost allocation), which stack
    /// authors may neither write nor remove through the function (compared without regard to case, as IAM keys).
    pub reserved_tag_prefixes: Vec<String>,
}

/// What a role is adopted as: a name the operator declared adoptable, or an orphaned role of the guard's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopting {
    DeclaredName,
    Orphan,
}

impl Allowances {
    pub fn new(adoptable: &str, allowed_additional: BTreeSet<PolicyArn>, own_role: Option<String>) -> Self {
        Allowances {
            adoptable: adoptable.split(',').filter(|s| !s.trim().is_empty()).map(NamePattern::new).collect(),
            allowed_additional,
            own_role,
            allowed_boundaries: BTreeSet::new(),
            path_prefix: "/".into(),
            name_prefix: String::new(),
            reserved_tag_prefixes: Vec::new(),
        }
    }

    /// Why the function cannot reach a role at `path`, if it cannot: with a RoleNamePrefix, a path that starts
    /// with RolePathPrefix + RoleNamePrefix (the template's Deny `NothingBelowAPathNamedLikeThePrefix`).
    pub fn path_out_of_reach(&self, path: &str) -> Option<String> {
        let below = format!("{}{}", self.path_prefix, self.name_prefix);
        (!self.name_prefix.is_empty() && path.starts_with(&below)).then(|| {
            format!(
                "path {path} starts with RolePathPrefix + RoleNamePrefix ({below}), which this installation may not touch: a role there could be named anything"
            )
        })
    }

    /// Why a `PermissionsBoundary` property cannot be used, if it cannot.
    /// Why a RoleName is outside the installation's scope, if it is: with a `RoleNamePrefix`, a name must start
    /// with it (as IAM matches ARNs: case matters) unless it is an adoptable name.
    pub fn name_out_of_reach(&self, name: &str) -> Option<String> {
        let outside =
            !self.name_prefix.is_empty() && !name.starts_with(&self.name_prefix) && !self.is_adoptable_name(name);
        outside.then(|| {
            format!(
                "RoleName '{name}' is outside this installation's scope: it must start with the RoleNamePrefix '{}' (or be one of the AdoptableRoleNames, with AdoptExistingRole); leave RoleName out for a generated name that does",
                self.name_prefix
            )
        })
    }

    /// Why a managed role is out of the installation's reach now, if it is (its `RoleNamePrefix` or
    /// `RolePathPrefix` narrowed since the role was made): IAM would refuse the function's writes to it.
    pub fn role_out_of_reach(&self, name: &str, path: &str) -> Option<String> {
        if self.is_adoptable_name(name) {
            return None;
        }
        let outside = !path.starts_with(&self.path_prefix) || !name.starts_with(&self.name_prefix);
        outside.then(|| {
            format!(
                "role {name} (path {path}) is outside this installation's scope (RolePathPrefix '{}', RoleNamePrefix '{}'): the function can no longer change it. To keep managing it, update the guard's stack with the prefixes it had (an empty RoleNamePrefix needs AccountWideScope=true and the SCPs); or delete its resource",
                self.path_prefix, self.name_prefix
            )
        })
    }

    /// Whether a tag key starts with a prefix the operator reserved.
    pub fn is_reserved_tag(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.reserved_tag_prefixes.iter().any(|p| key.starts_with(&p.to_ascii_lowercase()))
    }

    /// Why a resource's `Tags` may not be written, if they may not: a key the operator reserved.
    pub fn reserved_tags_asked<'a>(&self, keys: impl Iterator<Item = &'a String>) -> Option<String> {
        let asked: Vec<&str> = keys.filter(|k| self.is_reserved_tag(k)).map(String::as_str).collect();
        (!asked.is_empty()).then(|| {
            format!(
                "Tags {} use a prefix the operator reserved ({}): remove them from the resource",
                asked.join(", "),
                self.reserved_tag_prefixes.join(", ")
            )
        })
    }

    pub fn disallowed_boundary(&self, b: &PolicyArn) -> Option<String> {
        if self.allowed_boundaries.contains(b) {
            return None;
        }
        let allowed = if self.allowed_boundaries.is_empty() {
            "none".to_string()
        } else {
            self.allowed_boundaries.iter().map(PolicyArn::as_str).collect::<Vec<_>>().join(", ")
        };
        Some(format!(
            "PermissionsBoundary {} is not in AllowedPermissionsBoundaryArns of this installation ({allowed}): ask its operator to allow it, or remove the property",
            b.as_str()
        ))
    }

    /// The defaults, in a partition.
    pub fn defaults(partition: Partition) -> Self {
        let allowed = DEFAULT_ALLOWED_ADDITIONAL.iter().map(|n| PolicyArn::aws_managed(partition, n)).collect();
        Allowances::new(DEFAULT_ADOPTABLE, allowed, None)
    }

    pub fn is_adoptable_name(&self, name: &str) -> bool {
        self.adoptable.iter().any(|p| p.matches(name))
    }

    /// AdditionalPolicyArns outside the allow-list, named, or `None`.
    pub fn disallowed_additional(&self, extra: &BTreeSet<PolicyArn>) -> Option<String> {
        let bad: Vec<&str> =
            extra.iter().filter(|p| !self.allowed_additional.contains(*p)).map(|p| p.as_str()).collect();
        (!bad.is_empty()).then(|| {
            format!(
                "AdditionalPolicyArns {} {} not in AllowedAdditionalPolicyArns of this installation ({}): ask its operator to allow {}",
                bad.join(", "),
                if bad.len() == 1 { "is" } else { "are" },
                self.allowed_list(),
                if bad.len() == 1 { "it" } else { "them" },
            )
        })
    }

    fn allowed_list(&self) -> String {
        if self.allowed_additional.is_empty() {
            "none".into()
        } else {
            self.allowed_additional.iter().map(PolicyArn::name).collect::<Vec<_>>().join(", ")
        }
    }

    /// The policies the function may attach and detach: the required node policies, the IPv6 CNI policy, and
    /// `AllowedAdditionalPolicyArns` (the template's `AttachOnlyNodePolicies` statement says the same).
    pub fn attachable(&self, partition: Partition, ipv6_cni: Option<&PolicyArn>) -> BTreeSet<PolicyArn> {
        policies::node_policies(partition, |n| n.attachable)
            .into_iter()
            .chain(ipv6_cni.cloned())
            .chain(self.allowed_additional.iter().cloned())
            .collect()
    }

    /// Why `live` may not be adopted (every reason, each with its fix), or `None` when it may.
    /// `ipv6_cni` is the verified IPv6 CNI policy, if the installation has one.
    pub fn refusal(
        &self,
        live: &LiveRole,
        inline_policies: &[String],
        partition: Partition,
        ipv6_cni: Option<&PolicyArn>,
        node_class: crate::domain::NodeClass,
    ) -> Option<String> {
        self.refusal_as(Adopting::DeclaredName, live, inline_policies, partition, ipv6_cni, node_class)
    }

    /// The same, for a role adopted `as` a declared name or as an orphan (its stack resource gone: the guard made
    /// or adopted it, so it is in the installation's scope whatever its name; what it holds is checked all the same).
    pub fn refusal_as(
        &self,
        adopting: Adopting,
        live: &LiveRole,
        inline_policies: &[String],
        partition: Partition,
        ipv6_cni: Option<&PolicyArn>,
        node_class: crate::domain::NodeClass,
    ) -> Option<String> {
        let check_name = adopting == Adopting::DeclaredName;
        let mut why = Vec::new();
        let name = live.name.as_str();
        if name.eq_ignore_ascii_case(AUTO_MODE_ROLE) && node_class != crate::domain::NodeClass::AutoMode {
            why.push(format!(
                "{AUTO_MODE_ROLE} is the EKS Auto Mode node role: set NodeClass to auto-mode to adopt it"
            ));
        }
        if self.own_role.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(name)) {
            why.push("it is this function's own execution role".to_string());
        }
        if check_name && !self.is_adoptable_name(name) {
            why.push(format!(
                "its name is not in AdoptableRoleNames ({}): the operator must declare it a node role first",
                self.adoptable.iter().map(NamePattern::as_str).collect::<Vec<_>>().join(", ")
            ));
        }
        why.extend(self.content_problems(live, inline_policies, partition, ipv6_cni));
        (!why.is_empty()).then(|| format!("role {name} cannot be adopted: {}", why.join("; ")))
    }

    /// What in a role's content no node role may have: a reserved path, a trust policy beyond EC2's, inline
    /// policies, managed policies that are neither node policies nor allowed. Adoption refuses such a role; so
    /// does a Create that finds its name taken by a role carrying this resource's label (labels can be copied).
    pub fn content_problems(
        &self,
        live: &LiveRole,
        inline_policies: &[String],
        partition: Partition,
        ipv6_cni: Option<&PolicyArn>,
    ) -> Vec<String> {
        let mut why = Vec::new();
        if let Some(p) = RESERVED_PATHS.iter().find(|p| live.path.as_str().starts_with(**p)) {
            why.push(format!("its path {p} marks a role that AWS or a service owns"));
        }
        why.extend(self.path_out_of_reach(live.path.as_str()).map(|w| format!("its {w}")));
        match live.trust.as_ref() {
            None => why.push("its trust policy could not be read".to_string()),
            Some(t) => {
                why.extend(policies::forbidden_trust(t).map(str::to_string));
                why.extend(policies::foreign_trust(t));
            }
        }
        for p in inline_policies {
            why.push(format!("it carries the inline policy '{p}': delete it first"));
        }
        let node: BTreeSet<PolicyArn> =
            policies::node_policies(partition, |_| true).into_iter().chain(ipv6_cni.cloned()).collect();
        for p in live.attached.iter().filter(|p| !node.contains(*p) && !self.allowed_additional.contains(*p)) {
            why.push(format!(
                "it carries {}, which is neither a node policy nor in AllowedAdditionalPolicyArns: detach it first, or allow it",
                p.as_str()
            ));
        }
        why
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::RoleName;

    fn role(name: &str, path: &str, service: &str, attached: &[&str]) -> LiveRole {
        LiveRole {
            name: RoleName::parse(name).unwrap(),
            path: crate::domain::RolePath::parse(path).unwrap(),
            arn: format!("arn:aws:iam::123456789012:role{path}{name}"),
            role_id: "AROA1".into(),
            trust: Some(
                serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":service},"Action":"sts:AssumeRole"}]}),
            ),
            description: None,
            boundary: None,
            tags: BTreeMap::new(),
            attached: attached.iter().map(|a| PolicyArn::aws_managed(Partition::Aws, a)).collect(),
            instance_profiles: vec![],
        }
    }

    fn rules() -> Allowances {
        Allowances { own_role: Some("guard-GuardRole-1".into()), ..Allowances::defaults(Partition::Aws) }
    }

    #[test]
    fn only_the_declared_names_match_exactly_with_their_case_as_iam_matches_arns() {
        let r = rules();
        assert!(r.is_adoptable_name("AmazonEKSNodeRole"));
        assert!(!r.is_adoptable_name("amazoneksnoderole"), "IAM would deny role/amazoneksnoderole");
        assert!(!r.is_adoptable_name("eksctl-prod-nodegroup-NodeInstanceRole-1A2B"), "no 'contains' search");
        let wide = Allowances::new("*NodeInstanceRole*", BTreeSet::new(), None);
        assert!(wide.is_adoptable_name("eksctl-prod-nodegroup-NodeInstanceRole-1A2B"));
        assert!(!wide.is_adoptable_name("ci-deployer"));
    }

    #[test]
    fn a_clean_node_role_with_a_declared_name_may_be_adopted() {
        let live = role(
            "AmazonEKSNodeRole",
            "/",
            "ec2.amazonaws.com",
            &["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"],
        );
        assert_eq!(rules().refusal(&live, &[], Partition::Aws, None, crate::domain::NodeClass::Standard), None);
        let auto = role("AmazonEKSAutoNodeRole", "/", "ec2.amazonaws.com", &["AmazonEKSWorkerNodeMinimalPolicy"]);
        assert_eq!(rules().refusal(&auto, &[], Partition::Aws, None, crate::domain::NodeClass::AutoMode), None);
        let why = rules().refusal(&auto, &[], Partition::Aws, None, crate::domain::NodeClass::Standard).unwrap();
        assert!(why.contains("set NodeClass to auto-mode"), "{why}");
    }

    #[test]
    fn every_disqualification_is_named() {
        let cases: [(LiveRole, Vec<String>, &str); 7] = [
            (role("ci-deployer", "/", "ec2.amazonaws.com", &[]), vec![], "not in AdoptableRoleNames"),
            (role("guard-GuardRole-1", "/", "lambda.amazonaws.com", &[]), vec![], "own execution role"),
            (role("AmazonEKSNodeRole", "/service-role/", "ec2.amazonaws.com", &[]), vec![], "/service-role/"),
            (role("AmazonEKSNodeRole", "/", "eks.amazonaws.com", &[]), vec![], "cluster role"),
            (role("AmazonEKSNodeRole", "/", "eks-fargate-pods.amazonaws.com", &[]), vec![], "Fargate"),
            (
                role("AmazonEKSNodeRole", "/", "ec2.amazonaws.com", &["AdministratorAccess"]),
                vec![],
                "AdministratorAccess",
            ),
            (
                role("AmazonEKSNodeRole", "/", "ec2.amazonaws.com", &[]),
                vec!["s3-all".to_string()],
                "inline policy 's3-all'",
            ),
        ];
        for (live, inline, expected) in cases {
            let why = rules()
                .refusal(&live, &inline, Partition::Aws, None, crate::domain::NodeClass::Standard)
                .unwrap_or_default();
            assert!(why.contains(expected), "{expected}: {why}");
        }
    }

    #[test]
    fn a_path_named_like_the_prefix_is_out_of_reach_and_only_then() {
        let mut r = Allowances::defaults(Partition::Aws);
        assert_eq!(r.path_out_of_reach("/eks-nodes-x/"), None, "no name prefix: the scope is the path prefix");
        r.name_prefix = "eks-nodes-".into();
        for path in ["/", "/nodes/", "/eks-nodes/", "/x/eks-nodes-a/"] {
            assert_eq!(r.path_out_of_reach(path), None, "{path}");
        }
        for path in ["/eks-nodes-x/", "/eks-nodes-/", "/eks-nodes-a/b/"] {
            let why = r.path_out_of_reach(path).unwrap_or_else(|| panic!("{path}"));
            assert!(why.contains("RolePathPrefix + RoleNamePrefix (/eks-nodes-)"), "{why}");
        }
        r.path_prefix = "/teams/".into();
        assert!(r.path_out_of_reach("/teams/eks-nodes-a/").is_some());
        assert_eq!(r.path_out_of_reach("/teams/"), None);
        assert_eq!(
            r.path_out_of_reach("/eks-nodes-a/"),
            None,
            "outside the path prefix the scope does not reach anyway"
        );
    }

    #[test]
    fn additional_policies_must_be_allowed_by_the_operator() {
        let r = rules();
        let ok = BTreeSet::from([PolicyArn::aws_managed(Partition::Aws, "AmazonSSMManagedInstanceCore")]);
        assert_eq!(r.disallowed_additional(&ok), None);
        let admin = BTreeSet::from([PolicyArn::aws_managed(Partition::Aws, "AdministratorAccess")]);
        assert!(r.disallowed_additional(&admin).unwrap().contains("AdministratorAccess"));
    }
}
