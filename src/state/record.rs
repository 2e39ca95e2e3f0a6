//! The state item's one codec: `Record` ⇄ DynamoDB attributes. Attribute names are the table's contract
//! (documented in docs/reference.md); `pk` is the only key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Phase, Record};
use crate::domain::{NodeRoleSpec, Owner, RoleName};
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
        (DESIRED.to_string(), s(&serde_json::to_string(&record.desired).expect("a spec always serialises"))),
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
    let desired: NodeRoleSpec = serde_json::from_str(&text(DESIRED)?).map_err(|_| bad(DESIRED))?;
    let owner = Owner { stack_id: text(OWNER_STACK_ID)?, logical_id: text(OWNER_LOGICAL_ID)? };
    if desired.owner != owner || !desired.name.as_str().eq_ignore_ascii_case(role_name.as_str()) {
        return Err(bad(DESIRED));
    }
    let phase = match text(PHASE)?.as_str() {
        "active" => Phase::Active,
        "deleting" => Phase::Deleting,
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
    Ok(Record {
        role_name,
        role_id: opt(ROLE_ID),
        owner,
        phase,
        desired,
        original_trust,
        own_profile: opt(OWN_PROFILE),
        repairs,
        trail,
        version: item.get(VERSION).and_then(number).ok_or_else(|| bad(VERSION))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::tests::{ipv6_spec, spec};

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
        assert_eq!(back, Record { version: 7, ..r });
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
