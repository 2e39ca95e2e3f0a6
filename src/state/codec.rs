//! The state item's one codec: `Record` ⇄ DynamoDB attributes. Attribute names are the table's contract
//! (documented in docs/reference.md); `pk` is the only key. The desired state is stored as `DesiredV1`, a
//! schema written out here field by field: renaming or retyping anything in the domain cannot change what the
//! table holds, and an item written by an older version reads the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Phase, Record};
use crate::domain::{
    AccountId, Boundary, IpFamily, NodeClass, NodeRoleSpec, Owner, Partition, PolicyArn, RemediationMode, RoleName,
    RolePath,
};
use crate::error::{Error, Result};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const ROLE_NAME: &str = "roleName";
pub const ROLE_ID: &str = "roleId";
pub const OWNER_STACK_ID: &str = "ownerStackId";
pub const OWNER_LOGICAL_ID: &str = "ownerLogicalId";
pub const PHASE: &str = "phase";
pub const DESIRED: &str = "desired";
pub const ORIGINAL_TRUST: &str = "originalTrust";
/// An adopted role's boundary before adoption: its ARN, or `none`.
pub const ORIGINAL_BOUNDARY: &str = "originalBoundary";
pub const OWN_PROFILE: &str = "ownProfile";
pub const REPAIRS: &str = "repairs";
pub const TRAIL: &str = "trail";
pub const VERSION: &str = "version";
pub const UPDATED_AT: &str = "updatedAt";

/// The item for `record` at `version`, stamped `updated_at` (unix seconds).
pub fn encode(record: &Record, version: u64, updated_at: u64) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut item = Item::from([
        (PK.to_string(), s(&record.key())),
        (ROLE_NAME.to_string(), s(record.role_name.as_str())),
        (OWNER_STACK_ID.to_string(), s(&record.owner.stack_id)),
        (OWNER_LOGICAL_ID.to_string(), s(&record.owner.logical_id)),
        (PHASE.to_string(), s(record.phase.as_str())),
        (DESIRED.to_string(), s(&encode_desired(&record.desired))),
        (REPAIRS.to_string(), AttributeValue::L(record.repairs.iter().map(|t| n(*t)).collect())),
        (TRAIL.to_string(), AttributeValue::L(record.trail.iter().map(|t| s(t)).collect())),
        (VERSION.to_string(), n(version)),
        (UPDATED_AT.to_string(), n(updated_at)),
    ]);
    if let Some(id) = &record.role_id {
        item.insert(ROLE_ID.into(), s(id));
    }
    if let Some(t) = &record.original_trust {
        item.insert(ORIGINAL_TRUST.into(), s(&t.to_string()));
    }
    if let Some(p) = &record.own_profile {
        item.insert(OWN_PROFILE.into(), s(p));
    }
    if let Some(b) = &record.original_boundary {
        item.insert(ORIGINAL_BOUNDARY.into(), s(b.as_ref().map_or("none", |b| b.as_str())));
    }
    item
}

/// The record an item holds. An item that does not decode is an error naming the attribute: the function
/// never guesses what to enforce.
pub fn decode(item: &Item) -> Result<Record> {
    let pk = item.get(PK).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("?");
    let bad = |attr: &str| Error::invalid(format!("state item '{pk}': attribute {attr} is missing or invalid"));
    let text = |attr: &'static str| item.get(attr).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| bad(attr));
    let opt = |attr: &'static str| item.get(attr).and_then(|v| v.as_s().ok()).cloned();
    let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    let role_name = RoleName::parse(&text(ROLE_NAME)?).map_err(|_| bad(ROLE_NAME))?;
    if role_name.as_str().to_ascii_lowercase() != pk {
        return Err(bad(PK));
    }
    let desired = decode_desired(&text(DESIRED)?).ok_or_else(|| bad(DESIRED))?;
    let owner = Owner { stack_id: text(OWNER_STACK_ID)?, logical_id: text(OWNER_LOGICAL_ID)? };
    if desired.owner != owner || !desired.name.as_str().eq_ignore_ascii_case(role_name.as_str()) {
        return Err(bad(DESIRED));
    }
    let phase = match text(PHASE)?.as_str() {
        "active" => Phase::Active,
        "deleting" => Phase::Deleting,
        "orphaned" => Phase::Orphaned,
        _ => return Err(bad(PHASE)),
    };
    let list = |attr: &'static str| match item.get(attr) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(l)) => Ok(l.clone()),
        Some(_) => Err(bad(attr)),
    };
    let repairs = list(REPAIRS)?.iter().map(number).collect::<Option<Vec<u64>>>().ok_or_else(|| bad(REPAIRS))?;
    let trail =
        list(TRAIL)?.iter().map(|v| v.as_s().ok().cloned()).collect::<Option<Vec<_>>>().ok_or_else(|| bad(TRAIL))?;
    let original_trust = match opt(ORIGINAL_TRUST) {
        Some(t) => Some(serde_json::from_str(&t).map_err(|_| bad(ORIGINAL_TRUST))?),
        None => None,
    };
    let original_boundary = match opt(ORIGINAL_BOUNDARY).as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(arn) => Some(Some(PolicyArn::parse(arn, ORIGINAL_BOUNDARY).map_err(|_| bad(ORIGINAL_BOUNDARY))?)),
    };
    Ok(Record {
        role_name,
        role_id: opt(ROLE_ID),
        owner,
        phase,
        desired,
        original_trust,
        original_boundary,
        own_profile: opt(OWN_PROFILE),
        repairs,
        trail,
        version: item.get(VERSION).and_then(number).ok_or_else(|| bad(VERSION))?,
    })
}

/// The `desired` attribute, version 1: the JSON document every item holds. Its names are the table's, not the
/// domain's (the owner's keys are snake_case inside a camelCase document, as first written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DesiredV1 {
    name: String,
    path: String,
    partition: String,
    account: String,
    region: String,
    description: Option<String>,
    /// Absent from items written before Auto Mode: `standard`.
    #[serde(default = "standard")]
    node_class: String,
    ip_family: String,
    attach_cni: bool,
    ipv6_cni_policy: Option<String>,
    extra_policies: BTreeSet<String>,
    boundary: BoundaryV1,
    instance_profile: Option<String>,
    external_profile: bool,
    remediation: String,
    owner: OwnerV1,
    adopted: bool,
    preexisting: BTreeSet<String>,
    user_tags: BTreeMap<String, String>,
}

fn standard() -> String {
    NodeClass::Standard.as_str().to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "arn")]
enum BoundaryV1 {
    Absent,
    Keep,
    Set(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OwnerV1 {
    stack_id: String,
    logical_id: String,
}

/// The desired state as the table stores it.
pub fn encode_desired(d: &NodeRoleSpec) -> String {
    let arns = |set: &BTreeSet<PolicyArn>| set.iter().map(|p| p.as_str().to_string()).collect();
    let v1 = DesiredV1 {
        name: d.name.to_string(),
        path: d.path.as_str().to_string(),
        partition: d.partition.as_str().to_string(),
        account: d.account.as_str().to_string(),
        region: d.region.clone(),
        description: d.description.clone(),
        node_class: d.node_class.as_str().to_string(),
        ip_family: d.ip_family.as_str().to_string(),
        attach_cni: d.attach_cni,
        ipv6_cni_policy: d.ipv6_cni_policy.as_ref().map(|p| p.as_str().to_string()),
        extra_policies: arns(&d.extra_policies),
        boundary: match &d.boundary {
            Boundary::Absent => BoundaryV1::Absent,
            Boundary::Keep => BoundaryV1::Keep,
            Boundary::Set(arn) => BoundaryV1::Set(arn.as_str().to_string()),
        },
        instance_profile: d.instance_profile.clone(),
        external_profile: d.external_profile,
        remediation: d.remediation.as_str().to_string(),
        owner: OwnerV1 { stack_id: d.owner.stack_id.clone(), logical_id: d.owner.logical_id.clone() },
        adopted: d.adopted,
        preexisting: arns(&d.preexisting),
        user_tags: d.user_tags.clone(),
    };
    serde_json::to_string(&v1).expect("strings and booleans always serialise")
}

/// The desired state a stored document holds; `None` when any value is not valid: the function never guesses
/// what to enforce.
pub fn decode_desired(text: &str) -> Option<NodeRoleSpec> {
    let v1: DesiredV1 = serde_json::from_str(text).ok()?;
    let arn = |s: &str| PolicyArn::parse(s, "desired").ok();
    let arns = |set: &BTreeSet<String>| set.iter().map(|s| arn(s)).collect::<Option<BTreeSet<_>>>();
    Some(NodeRoleSpec {
        name: RoleName::parse(&v1.name).ok()?,
        path: RolePath::parse(&v1.path).ok()?,
        partition: Partition::parse(&v1.partition)?,
        account: AccountId::parse(&v1.account)?,
        region: v1.region,
        description: v1.description,
        node_class: NodeClass::parse(&v1.node_class).ok()?,
        ip_family: IpFamily::parse(&v1.ip_family).ok()?,
        attach_cni: v1.attach_cni,
        ipv6_cni_policy: match v1.ipv6_cni_policy {
            Some(p) => Some(arn(&p)?),
            None => None,
        },
        extra_policies: arns(&v1.extra_policies)?,
        boundary: match v1.boundary {
            BoundaryV1::Absent => Boundary::Absent,
            BoundaryV1::Keep => Boundary::Keep,
            BoundaryV1::Set(p) => Boundary::Set(arn(&p)?),
        },
        instance_profile: v1.instance_profile,
        external_profile: v1.external_profile,
        remediation: RemediationMode::parse(&v1.remediation, "remediation").ok()?,
        owner: Owner { stack_id: v1.owner.stack_id, logical_id: v1.owner.logical_id },
        adopted: v1.adopted,
        preexisting: arns(&v1.preexisting)?,
        user_tags: v1.user_tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ipv6_spec, spec};

    fn arn(s: &str) -> PolicyArn {
        PolicyArn::parse(s, "x").unwrap()
    }

    #[test]
    fn the_desired_state_is_stored_in_the_v1_schema_exactly() {
        // The table's data, written out: a change here is a change of every installation's stored items.
        let stored: serde_json::Value = serde_json::from_str(&encode_desired(&ipv6_spec())).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({
                "name": "NodeRole", "path": "/", "partition": "aws", "account": "123456789012",
                "region": "us-east-1", "description": "Amazon EKS - Node role", "nodeClass": "standard",
                "ipFamily": "ipv6", "attachCni": true,
                "ipv6CniPolicy": "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy",
                "extraPolicies": [], "boundary": {"kind": "absent"}, "instanceProfile": "NodeRole",
                "externalProfile": false, "remediation": "enforce",
                "owner": {"stack_id": "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/uuid", "logical_id": "NodeRole"},
                "adopted": false, "preexisting": [], "userTags": {}
            })
        );
    }

    #[test]
    fn the_desired_state_survives_the_round_trip_and_an_item_from_before_auto_mode_reads_as_standard() {
        let s = NodeRoleSpec {
            boundary: Boundary::Set(arn("arn:aws:iam::123456789012:policy/Boundary")),
            remediation: RemediationMode::DryRun,
            adopted: true,
            preexisting: BTreeSet::from([arn("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")]),
            user_tags: BTreeMap::from([("team".into(), "a".into())]),
            path: RolePath::parse("/eks/").unwrap(),
            node_class: NodeClass::AutoMode,
            ..ipv6_spec()
        };
        assert_eq!(decode_desired(&encode_desired(&s)), Some(s));
        for b in [Boundary::Absent, Boundary::Keep] {
            let s2 = NodeRoleSpec { boundary: b, ..spec() };
            assert_eq!(decode_desired(&encode_desired(&s2)), Some(s2));
        }
        let mut old: serde_json::Value = serde_json::from_str(&encode_desired(&spec())).unwrap();
        old.as_object_mut().unwrap().remove("nodeClass");
        assert_eq!(decode_desired(&old.to_string()), Some(spec()));
    }

    #[test]
    fn a_stored_desired_state_with_an_invalid_value_is_refused_not_guessed() {
        let good: serde_json::Value = serde_json::from_str(&encode_desired(&spec())).unwrap();
        for (field, value) in [
            ("ipFamily", serde_json::json!("ipv5")),
            ("name", serde_json::json!("not a role name")),
            ("partition", serde_json::json!("aws-moon")),
            ("extraPolicies", serde_json::json!(["arn:aws:s3:::bucket"])),
            ("boundary", serde_json::json!({"kind": "set", "arn": "AdministratorAccess"})),
            ("remediation", serde_json::json!("sometimes")),
            ("owner", serde_json::json!({"stackId": "x", "logicalId": "y"})),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert_eq!(decode_desired(&bad.to_string()), None, "{field}");
        }
    }

    #[test]
    fn a_record_survives_the_round_trip() {
        let mut r = Record::new(ipv6_spec());
        r.role_id = Some("AROAEXAMPLE".into());
        r.phase = Phase::Deleting;
        r.original_trust = Some(serde_json::json!({"Version":"2012-10-17","Statement":[]}));
        r.own_profile = Some("NodeRole".into());
        r.repairs = vec![1, 2, 3];
        r.note(1_795_000_000, "created");
        let item = encode(&r, 7, 1_795_000_000);
        assert_eq!(item[PK].as_s().unwrap(), "noderole");
        let back = decode(&item).unwrap();
        assert_eq!(back, Record { version: 7, ..r.clone() });
        // The boundary before adoption, as recorded: none, or an ARN; and the orphaned phase.
        let arn = crate::domain::PolicyArn::parse("arn:aws:iam::123456789012:policy/found", "b").unwrap();
        for original in [Some(None), Some(Some(arn))] {
            let o = Record { original_boundary: original.clone(), phase: Phase::Orphaned, ..r.clone() };
            assert_eq!(decode(&encode(&o, 7, 0)).unwrap(), Record { version: 7, ..o }, "{original:?}");
        }
        // An item of an earlier version has no `originalBoundary`: read as it is, the boundary not recorded.
        let mut earlier = encode(&Record { original_boundary: Some(None), ..r.clone() }, 7, 0);
        earlier.remove(ORIGINAL_BOUNDARY);
        assert_eq!(decode(&earlier).unwrap().original_boundary, None);
    }

    #[test]
    fn an_item_that_contradicts_itself_is_refused() {
        let item = encode(&Record::new(spec()), 1, 0);
        for (attr, value) in [
            (OWNER_STACK_ID, AttributeValue::S("arn:aws:cloudformation:us-east-1:111111111111:stack/x/y".into())),
            (PK, AttributeValue::S("otherrole".into())),
            (PHASE, AttributeValue::S("paused".into())),
            (REPAIRS, AttributeValue::L(vec![AttributeValue::S("soon".into())])),
            (DESIRED, AttributeValue::S("{}".into())),
        ] {
            let mut bad = item.clone();
            bad.insert(attr.into(), value);
            let e = decode(&bad).unwrap_err().to_string();
            assert!(e.contains("state item"), "{attr}: {e}");
        }
    }
}
