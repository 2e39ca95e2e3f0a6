//! What a CloudFormation request asks of the lifecycle, in the domain's terms: the resource asking, its stack,
//! and the validated properties (`crate::cfn` translates a request into an `Intent`; the reconciler carries it
//! out).

use std::collections::{BTreeMap, BTreeSet};

use super::{IpFamily, NodeClass, Owner, PolicyArn, RemediationMode, RoleName, RolePath, StackRef};

pub const DEFAULT_DESCRIPTION: &str = "Amazon EKS - Node role";

/// A Create, Update or Delete of one `Custom::EksNodeRole`.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub owner: Owner,
    pub stack: StackRef,
    pub action: Lifecycle,
}

impl Intent {
    /// The PhysicalResourceId an Update or Delete names (`None` for a Create).
    pub fn physical_id(&self) -> Option<&str> {
        match &self.action {
            Lifecycle::Create(_) => None,
            Lifecycle::Update { physical_id, .. } | Lifecycle::Delete { physical_id } => Some(physical_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    Create(Properties),
    /// `old`: the role's identity in the old properties (`None` when unreadable: updated in place).
    Update {
        properties: Properties,
        old: Option<RoleIdentity>,
        physical_id: String,
    },
    Delete {
        physical_id: String,
    },
}

/// The resource's properties, validated (`crate::cfn::properties` reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    pub role_name: Option<RoleName>,
    pub path: RolePath,
    /// `None` when not given: a created role gets the default, an adopted role keeps its own.
    pub description: Option<String>,
    pub ip_family: IpFamily,
    pub attach_cni: bool,
    pub additional_policies: BTreeSet<PolicyArn>,
    pub boundary: Option<PolicyArn>,
    pub tags: BTreeMap<String, String>,
    pub create_instance_profile: bool,
    pub adopt_existing: bool,
    pub remediation: RemediationMode,
    pub node_class: NodeClass,
    /// `ServiceTimeout` (seconds): how long CloudFormation waits for the answer before it gives up.
    pub service_timeout: Option<u64>,
}

/// What identifies the role in a request's properties.
/// What identifies the role in a request's properties: read leniently from OldResourceProperties, whose other
/// values may not pass today's validation (they were accepted, or refused, by an earlier request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleIdentity {
    pub role_name: Option<RoleName>,
    pub path: RolePath,
}
