//! Every call the released binary makes is one real IAM would allow under the template's policies, rendered for
//! the function's settings (`test_support::authorize`; every deployed `Harness` checks its calls as it ends).
//! Here: the check itself bites, and a whole lifecycle under the template's default and recommended parameters.

use serde_json::json;
use test_support::authorize::{denied, requests_of};
use test_support::template::Rendered;
use test_support::*;

/// The function's calls, checked under a rendering that does not reach its roles, are reported denied with
/// the statement that would have allowed them: the check can fail.
#[tokio::test]
async fn a_call_outside_the_rendered_reach_is_reported_with_the_statement_that_missed_it() {
    let h = Harness::deployed(&[]).await;
    assert_eq!(h.create("NodeRole", json!({"RoleName": "nodes"})).await["Status"], "SUCCESS");
    let (recorded, seen) = (h.aws.recorded(), h.aws.seen());
    let rendered = Rendered::template(&[]);
    let (policies, principal) = (rendered.guard_policies(), rendered.guard_role_arn());
    let requests: Vec<_> = recorded.iter().flat_map(|c| requests_of(c, &seen, &principal)).collect();
    let actions: std::collections::BTreeSet<&str> = requests.iter().map(|r| r.action.as_str()).collect();
    // What IAM authorizes beyond the calls themselves is there: the label's TagRole, the profile's PassRole.
    for a in [
        "iam:CreateRole",
        "iam:TagRole",
        "iam:PassRole",
        "iam:AttachRolePolicy",
        "dynamodb:PutItem",
        "cloudformation:DescribeStackResource",
    ] {
        assert!(actions.contains(a), "{a} in {actions:?}");
    }
    let tagged = requests.iter().find(|r| r.action == "iam:TagRole").unwrap();
    assert_eq!(tagged.context["aws:tagkeys"].len(), 4, "the label's four keys: {tagged}");
    // The harness's function reaches every role (no RoleNamePrefix); the default template only `eks-node-*`.
    let denials = denied(&recorded, &seen, &policies, &principal);
    let create = denials.iter().find(|d| d.starts_with("iam:CreateRole on arn:aws:iam::123456789012:role/nodes"));
    let create = create.unwrap_or_else(|| panic!("{denials:#?}"));
    assert!(create.contains("CreateLabelledRolesInScope (Allow): its Resource does not cover it"), "{create}");
    assert!(denials.iter().any(|d| d.starts_with("iam:AttachRolePolicy on arn:aws:iam::123456789012:role/nodes")));
    // Under the rendering for its settings, none is.
    let mine = Rendered::for_env(&h.binary.as_ref().unwrap().1.env);
    assert_eq!(denied(&recorded, &seen, &mine.guard_policies(), &mine.guard_role_arn()), Vec::<String>::new());
}

/// A lifecycle (Create, an IPv6 Update, a repair, a sweep, Delete, adoption and release) by a function configured
/// as the template's defaults and as its recommended parameters (a prefix and a path) configure it: every call
/// allowed by the corresponding rendering (checked as the harness ends).
#[tokio::test]
async fn a_lifecycle_under_the_default_and_the_recommended_parameters_stays_within_the_bound() {
    for (prefix, path) in [("eks-node-", "/"), ("eks-node-", "/eks-nodes/")] {
        let ipv6 = format!("arn:aws:iam::123456789012:policy/{}-AmazonEKS_CNI_IPv6_Policy", template::STACK_NAME);
        let env = [
            ("ROLE_NAME_PREFIX", prefix),
            ("ROLE_PATH_PREFIX", path),
            ("IPV6_CNI_POLICY_ARN", ipv6.as_str()),
            ("ADOPTABLE_ROLE_NAMES", "eksNodeRole,AmazonEKSNodeRole,NodeInstanceRole,AmazonEKSAutoNodeRole"),
        ];
        let h = Harness::deployed(&env).await;
        let document = eks_node_role_guard::domain::policies::cni_ipv6_policy_document(
            eks_node_role_guard::domain::Partition::Aws,
        );
        let name = format!("{}-AmazonEKS_CNI_IPv6_Policy", template::STACK_NAME);
        h.iam.create_policy().policy_name(name).policy_document(document.to_string()).send().await.unwrap();
        let v1 = json!({"RoleName": "eks-node-a", "Path": path});
        let r = h.create("NodeRole", v1.clone()).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        let v2 = json!({"RoleName": "eks-node-a", "Path": path, "IpFamily": "ipv6", "Tags": [{"Key": "team", "Value": "a"}]});
        let r = h.send(&update("NodeRole", "eks-node-a", v2.clone(), v1, &h.url())).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        h.detach("eks-node-a", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy").await;
        let out = h.deliver(&drift_event("drift-detach-role-policy.json", "eks-node-a")).await.unwrap();
        assert_eq!(out["outcomes"][0]["outcome"], "repaired", "{out}");
        let sweep = std::fs::read_to_string(repo().join("events/scheduled-sweep.json")).unwrap();
        let out = h.deliver(&serde_json::from_str(&sweep).unwrap()).await.unwrap();
        assert!(out["outcomes"].as_array().is_some(), "{out}");
        let r = h.send(&delete("NodeRole", "eks-node-a", v2, &h.url())).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        assert!(h.role("eks-node-a").await.is_none());
        // An adoptable role made by hand, adopted and released.
        let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        let made = h.iam.create_role().role_name("AmazonEKSNodeRole").assume_role_policy_document(trust.to_string());
        made.send().await.unwrap();
        let adopt = json!({"RoleName": "AmazonEKSNodeRole", "AdoptExistingRole": "true"});
        let r = h.create("Adopted", adopt.clone()).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        let r = h.send(&delete("Adopted", "AmazonEKSNodeRole", adopt, &h.url())).await;
        assert_eq!(r["Status"], "SUCCESS", "{r}");
        assert!(h.aws.recorded().len() > 40, "{} calls", h.aws.recorded().len());
    }
}
