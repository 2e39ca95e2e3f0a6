//! Fixtures for tests and benchmarks (the `test-util` feature): a node role's desired state as a Create with
//! default properties makes it, and its IPv6 twin.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{
    AccountId, Boundary, IpFamily, NodeClass, NodeRoleSpec, Owner, Partition, PolicyArn, RemediationMode, RoleName,
    RolePath,
};

/// The desired state of `NodeRole`, made by resource `NodeRole` of stack `prod`: IPv4, standard nodes.
pub fn spec() -> NodeRoleSpec {
    NodeRoleSpec {
        name: RoleName::parse("NodeRole").unwrap(),
        path: RolePath::root(),
        partition: Partition::Aws,
        account: AccountId::parse("123456789012").unwrap(),
        region: "us-east-1".into(),
        description: Some("Amazon EKS - Node role".into()),
        node_class: NodeClass::Standard,
        ip_family: IpFamily::Ipv4,
        attach_cni: true,
        ipv6_cni_policy: None,
        extra_policies: BTreeSet::new(),
        boundary: Boundary::Absent,
        instance_profile: Some("NodeRole".into()),
        external_profile: false,
        remediation: RemediationMode::Enforce,
        owner: Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/uuid".into(),
            logical_id: "NodeRole".into(),
        },
        adopted: false,
        preexisting: BTreeSet::new(),
        user_tags: BTreeMap::new(),
    }
}

/// The same on an IPv6 cluster, with the account's verified `AmazonEKS_CNI_IPv6_Policy`.
pub fn ipv6_spec() -> NodeRoleSpec {
    NodeRoleSpec {
        ip_family: IpFamily::Ipv6,
        ipv6_cni_policy: Some(
            PolicyArn::parse("arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy", "x").unwrap(),
        ),
        ..spec()
    }
}
