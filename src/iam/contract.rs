//! The IAM port's contract: the behaviours the core relies on, checked against every implementation (the
//! in-memory IAM in unit tests, moto in `tests/iam_contract.rs`). Panics on the first broken promise; tests only.

use std::collections::BTreeMap;

use serde_json::json;

use super::NodeRoleIam;
use crate::domain::{policies, Action, Partition, PolicyArn, RoleName, RolePath};
use crate::error::IamCode;

fn create(path: &str) -> Action {
    Action::CreateRole {
        path: RolePath::parse(path).unwrap(),
        trust: policies::ec2_trust_policy(Partition::Aws),
        description: Some("contract".into()),
        boundary: None,
        tags: BTreeMap::from([("eks-node-role-guard:managed".to_string(), "true".to_string())]),
    }
}

/// Runs every promise against `iam`, with role and profile names that start with `prefix`.
pub async fn check<I: NodeRoleIam>(iam: &I, prefix: &str) {
    let name = RoleName::parse(&format!("{prefix}Nodes")).unwrap();
    let worker = policies::worker_node_policy(Partition::Aws);
    let missing = PolicyArn::aws_managed(Partition::Aws, "DoesNotExist");
    assert_eq!(iam.get_role(&name).await.unwrap(), None, "absent at first");
    assert_eq!(iam.read_role(&name).await.unwrap(), None);

    // CreateRole answers with the role; names are unique without regard to case.
    let role = iam.create_role(&name, &create("/contract/")).await.unwrap();
    assert!(role.role_id.starts_with("AROA"), "{}", role.role_id);
    assert_eq!(role.path.as_str(), "/contract/");
    assert!(role.arn.ends_with(&format!(":role/contract/{name}")), "{}", role.arn);
    assert_eq!(role.tags.get("eks-node-role-guard:managed").map(String::as_str), Some("true"));
    let again = iam.create_role(&name, &create("/")).await.unwrap_err();
    assert!(again.is_iam(IamCode::EntityAlreadyExists), "{again}");
    // (IAM compares role names without regard to case; moto 5.2.5 does not, so that promise is checked against
    // the in-memory IAM alone, below, and the core never relies on it: state items are keyed by the lower-cased
    // name.)

    // Attachments: a missing policy is NoSuchEntity; detaching what is gone is done.
    iam.apply(&name, &Action::AttachPolicy(worker.clone())).await.unwrap();
    let e = iam.apply(&name, &Action::AttachPolicy(missing)).await.unwrap_err();
    assert!(e.is_iam(IamCode::NoSuchEntity), "{e}");
    assert!(iam.read_role(&name).await.unwrap().unwrap().attached.contains(&worker));
    iam.apply(&name, &Action::DetachPolicy(worker.clone())).await.unwrap();
    iam.apply(&name, &Action::DetachPolicy(worker.clone())).await.unwrap();
    assert!(iam.read_role(&name).await.unwrap().unwrap().attached.is_empty());
    let absent = RoleName::parse(&format!("{prefix}Absent")).unwrap();
    let e = iam.apply(&absent, &Action::AttachPolicy(worker.clone())).await.unwrap_err();
    assert!(e.is_iam(IamCode::NoSuchEntity), "{e}");

    // Tags, trust, description.
    let tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
    iam.apply(&name, &Action::TagRole(tags)).await.unwrap();
    iam.apply(&name, &Action::UntagRole(["team".to_string()].into())).await.unwrap();
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]});
    iam.apply(&name, &Action::UpdateTrust(trust.clone())).await.unwrap();
    let live = iam.get_role(&name).await.unwrap().unwrap();
    assert!(!live.tags.contains_key("team"));
    assert!(policies::same_policy(live.trust.as_ref().unwrap(), &trust));

    // An instance profile holds one role; the second is refused with the holder named.
    let profile = format!("{prefix}Profile");
    iam.create_instance_profile(&profile, &RolePath::parse("/contract/").unwrap()).await.unwrap();
    iam.create_instance_profile(&profile, &RolePath::parse("/contract/").unwrap()).await.unwrap();
    assert!(iam.instance_profile_tags(&profile).await.unwrap().is_some());
    iam.apply(&name, &Action::AddToInstanceProfile(profile.clone())).await.unwrap();
    iam.apply(&name, &Action::AddToInstanceProfile(profile.clone())).await.unwrap();
    let second = RoleName::parse(&format!("{prefix}Second")).unwrap();
    iam.create_role(&second, &create("/")).await.unwrap();
    let e = iam.apply(&second, &Action::AddToInstanceProfile(profile.clone())).await.unwrap_err();
    assert!(e.to_string().contains(name.as_str()), "names the holder: {e}");
    let live = iam.read_role(&name).await.unwrap().unwrap();
    assert_eq!(live.instance_profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), [profile.as_str()]);

    // A role with attachments or a profile cannot be deleted; emptied, it can, and twice is fine.
    iam.apply(&name, &Action::AttachPolicy(worker.clone())).await.unwrap();
    let e = iam.apply(&name, &Action::DeleteRole).await.unwrap_err();
    assert!(e.is_iam(IamCode::DeleteConflict), "{e}");
    for a in [
        Action::RemoveFromInstanceProfile(profile.clone()),
        Action::DeleteInstanceProfile(profile.clone()),
        Action::DetachPolicy(worker),
        Action::DeleteRole,
        Action::DeleteRole,
    ] {
        iam.apply(&name, &a).await.unwrap_or_else(|e| panic!("{a}: {e}"));
    }
    assert_eq!(iam.get_role(&name).await.unwrap(), None);
    assert!(iam.instance_profile_tags(&profile).await.unwrap().is_none());
    iam.apply(&second, &Action::DeleteRole).await.unwrap();

    // What the account allows and holds.
    assert!(iam.attached_policies_quota().await.unwrap() >= 10);
    let customer = PolicyArn::parse("arn:aws:iam::123456789012:policy/NoSuchPolicy", "x").unwrap();
    assert_eq!(iam.policy_document(&customer).await.unwrap(), None);
    assert!(iam.list_roles(Some("/contract/")).await.unwrap().iter().all(|r| r.path.starts_with("/contract/")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_iam_keeps_the_contract() {
        check(&super::super::MemoryIam::new(), "mem").await;
    }

    #[tokio::test]
    async fn the_memory_iam_compares_role_names_as_iam_does() {
        let iam = super::super::MemoryIam::new();
        let name = RoleName::parse("Nodes").unwrap();
        let role = iam.create_role(&name, &create("/")).await.unwrap();
        let other = RoleName::parse("NODES").unwrap();
        let e = iam.create_role(&other, &create("/")).await.unwrap_err();
        assert!(e.is_iam(IamCode::EntityAlreadyExists), "{e}");
        assert_eq!(iam.get_role(&other).await.unwrap().unwrap().role_id, role.role_id);
    }
}
