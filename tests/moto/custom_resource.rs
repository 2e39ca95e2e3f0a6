//! The custom resource against a real IAM endpoint (moto) and a real ResponseURL listener, where the real
//! services matter: policy documents and versions (IPv6), adoption of what IAM really holds, instance profiles,
//! quotas, the response's wire format. Replacements, rollbacks and refusals that are the core's logic alone run on
//! the in-memory adapters (`tests/fast.rs`).

use serde_json::json;
use test_support::*;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const ECR: &str = "AmazonEC2ContainerRegistryPullOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";
const IPV6: &str = "AmazonEKS_CNI_IPv6_Policy";
const SSM_ARN: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

#[tokio::test]
async fn creates_the_role_with_the_ec2_trust_policy_and_the_three_ipv4_policies() {
    let h = Harness::new().await;
    let r = h.create("NodeRole", json!({"Tags": [{"Key": "team", "Value": "platform"}]})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    let name = r["PhysicalResourceId"].as_str().unwrap();
    assert!(name.starts_with("prod-eks-NodeRole-") && name.len() <= 64, "{name}");
    assert_eq!(r["Data"]["RoleName"], name);
    assert_eq!(r["Data"]["Arn"], format!("arn:aws:iam::{ACCOUNT}:role/{name}"));
    assert!(r["Data"]["RoleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(r["Data"]["InstanceProfileName"], name);
    assert_eq!(r["Data"]["InstanceProfileArn"], format!("arn:aws:iam::{ACCOUNT}:instance-profile/{name}"));
    assert_eq!(r["Data"]["CniPolicyArn"], "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy");
    assert_eq!(r["Data"]["Adopted"], "false");

    assert_eq!(h.attached(name).await, names(&[WORKER, ECR, CNI]));
    assert_eq!(
        h.trust(name).await,
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]})
    );
    assert_eq!(h.profiles_of(name).await, vec![name.to_string()]);
    let role = h.role(name).await.unwrap();
    assert_eq!(role.description(), Some("Amazon EKS - Node role"));
    // The role carries a label for people; the state item is the authority.
    let stack = h.stack_for("NodeRole").await;
    let tags = h.tags(name).await;
    assert_eq!(tags["team"], "platform");
    assert_eq!(tags["eks-node-role-guard:managed"], "true");
    assert_eq!(tags["eks-node-role-guard:stack-id"], stack);
    assert_eq!(tags["eks-node-role-guard:logical-id"], "NodeRole");
    assert_eq!(tags["eks-node-role-guard:region"], "us-east-1");
    assert_eq!(tags.len(), 5, "label and user tags only: {tags:?}");
    let item = h.record(name).await.expect("state item");
    assert_eq!(item.role_id.as_deref(), r["Data"]["RoleId"].as_str());
    assert_eq!((item.owner.stack_id.as_str(), item.owner.logical_id.as_str()), (stack.as_str(), "NodeRole"));
    assert_eq!(item.desired.remediation.as_str(), "enforce");
    assert_eq!(item.own_profile.as_deref(), Some(name), "the tool made the profile, so it may delete it");
    assert!(item.trail[0].ends_with(" created"), "{:?}", item.trail);
}

#[tokio::test]
async fn ipv6_attaches_the_accounts_ipv6_cni_policy_once_verified_and_never_deletes_it() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "no IPv6 policy yet: {r}");
    assert!(r["Reason"].as_str().unwrap().contains("set CreateIpv6CniPolicy=true"), "{r}");
    assert!(h.role("nodes").await.is_none() && !h.policy_exists(IPV6_POLICY_ARN).await, "nothing created");

    h.make_ipv6_policy(&aws_ipv6_document()).await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["CniPolicyArn"], IPV6_POLICY_ARN);
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, IPV6]));
    let versions = h.iam.list_policy_versions().policy_arn(IPV6_POLICY_ARN).send().await.unwrap().versions.unwrap();
    assert_eq!(versions.len(), 1, "used as it is, never written");
    let d = h.send(&delete("Nodes", "nodes", json!({}), &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(h.role("nodes").await.is_none());
    assert!(h.policy_exists(IPV6_POLICY_ARN).await, "the function never deletes the IPv6 policy");
}

/// The VPC CNI project's own IPv6 policy (aws/amazon-vpc-cni-k8s `docs/iam-policy.md`, eight actions) is AWS's
/// too: an account that made it from there gets IPv6 node roles; one broader by a single action does not.
#[tokio::test]
async fn the_vpc_cni_projects_ipv6_policy_is_accepted_and_one_action_more_is_not() {
    let h = Harness::new().await;
    let mut vpc_cni = aws_ipv6_document();
    let actions = vpc_cni["Statement"][0]["Action"].as_array_mut().unwrap();
    actions.extend(
        ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:ModifyNetworkInterfaceAttribute"].map(Into::into),
    );
    let mut broader = vpc_cni.clone();
    h.make_ipv6_policy(&vpc_cni).await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, IPV6]));
    assert_eq!(h.send(&delete("Nodes", "nodes", json!({}), &h.url())).await["Status"], "SUCCESS");

    let h = Harness::new().await;
    broader["Statement"][0]["Action"].as_array_mut().unwrap().push("ec2:RunInstances".into());
    h.make_ipv6_policy(&broader).await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(h.role("nodes").await.is_none(), "nothing created");
}

#[tokio::test]
async fn a_foreign_ipv6_cni_policy_that_is_not_aws_document_is_never_attached() {
    let h = Harness::new().await;
    let star = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]});
    h.make_ipv6_policy(&star).await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(r["Reason"].as_str().unwrap().contains("is not the document AWS publishes"), "{r}");
    assert!(h.role("nodes").await.is_none(), "nothing created");
    assert!(h.record("nodes").await.is_none(), "nothing written");
}

#[tokio::test]
async fn the_installations_own_ipv6_cni_policy_is_used_when_configured() {
    let mut h = Harness::new().await;
    let arn = h.make_policy("guard-AmazonEKS-CNI-IPv6", &aws_ipv6_document()).await;
    h.reconciler.ipv6_cni_policy = Some(eks_node_role_guard::domain::PolicyArn::parse(&arn, "x").unwrap());
    let r = h.create("Nodes", json!({"RoleName": "nodes", "IpFamily": "ipv6"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["CniPolicyArn"], arn.as_str());
    assert!(h.attached("nodes").await.contains("guard-AmazonEKS-CNI-IPv6"));
}

fn aws_ipv6_document() -> serde_json::Value {
    eks_node_role_guard::domain::policies::cni_ipv6_policy_document(eks_node_role_guard::domain::Partition::Aws)
}

#[tokio::test]
async fn adopts_a_named_role_fixing_its_trust_and_never_detaching_what_it_had() {
    let h = Harness::new().await;
    h.make_role("legacy-nodes", "ssm.amazonaws.com", &["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", SSM_ARN])
        .await;
    let props = json!({"RoleName": "legacy-nodes", "AdoptExistingRole": "true"});
    let r = h.create("Nodes", props.clone()).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["Adopted"], "true");
    assert_eq!(h.attached("legacy-nodes").await, names(&[WORKER, ECR, CNI, "AmazonSSMManagedInstanceCore"]));
    assert_eq!(h.trust("legacy-nodes").await["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
    let item = h.record("legacy-nodes").await.unwrap();
    assert!(item.desired.adopted);
    assert_eq!(item.original_trust.as_ref().unwrap()["Statement"][0]["Principal"]["Service"], "ssm.amazonaws.com");

    // An update that adds then drops an extra policy never detaches the pre-existing SSM policy.
    let with_ssm = json!({"RoleName": "legacy-nodes", "AdoptExistingRole": "true", "AdditionalPolicyArns": [SSM_ARN]});
    let u = h.send(&update("Nodes", "legacy-nodes", with_ssm.clone(), props.clone(), &h.url())).await;
    assert_eq!(u["Status"], "SUCCESS", "{u}");
    let u = h.send(&update("Nodes", "legacy-nodes", props.clone(), with_ssm, &h.url())).await;
    assert_eq!(u["Status"], "SUCCESS", "{u}");
    assert!(h.attached("legacy-nodes").await.contains("AmazonSSMManagedInstanceCore"));

    // Delete releases: the role, its policies and EC2's trust stay (a trust is never handed back), the label and
    // item go, and the answer says so.
    let d = h.send(&delete("Nodes", "legacy-nodes", props, &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(d["Data"]["Warnings"].as_str().unwrap().contains("not put back"), "{d}");
    assert!(h.role("legacy-nodes").await.is_some());
    assert_eq!(h.attached("legacy-nodes").await.len(), 4);
    assert_eq!(h.trust("legacy-nodes").await["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com");
    assert!(h.tags("legacy-nodes").await.keys().all(|k| !k.starts_with("eks-node-role-guard:")));
    assert!(h.record("legacy-nodes").await.is_none());
    assert!(!h.profile_exists("legacy-nodes").await, "the profile the tool made for it went");
}

#[tokio::test]
async fn adoption_searches_the_procedures_names_exact_names_first() {
    let h = Harness::new().await;
    h.make_role("team-eksNodeRole-old", "ec2.amazonaws.com", &[]).await;
    h.make_role("AmazonEKSNodeRole", "ec2.amazonaws.com", &[]).await;
    let r = h.create("Nodes", json!({"AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "AmazonEKSNodeRole");
    assert_eq!(r["Data"]["Adopted"], "true");
    assert!(h.tags("team-eksNodeRole-old").await.is_empty());
}

#[tokio::test]
async fn adoption_by_search_finds_only_declared_names_and_refuses_several() {
    let h = Harness::new().await;
    // eksctl's name contains NodeInstanceRole but is not declared: not found, a new role is made.
    h.make_role("prod-NodeInstanceRole-1A2B", "ec2.amazonaws.com", &[]).await;
    let r = h.create("Nodes", json!({"AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["Adopted"], "false");
    assert!(h.tags("prod-NodeInstanceRole-1A2B").await.is_empty());

    h.make_role("eksNodeRole", "ec2.amazonaws.com", &[]).await;
    h.make_role("NodeInstanceRole", "ec2.amazonaws.com", &[]).await;
    let r = h.create("Other", json!({"AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("eksNodeRole") && reason.contains("NodeInstanceRole"), "{reason}");
    assert!(reason.contains("set RoleName"), "{reason}");
}

#[tokio::test]
async fn refuses_a_cluster_role_and_a_fargate_pod_execution_role() {
    let h = Harness::new().await;
    h.make_role("eksNodeRole", "eks.amazonaws.com", &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]).await;
    let r = h.create("Nodes", json!({"AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(
        r["Reason"].as_str().unwrap().contains("You can't use the same role that is used to create any clusters."),
        "{r}"
    );
    assert_eq!(h.attached("eksNodeRole").await, names(&["AmazonEKSClusterPolicy"]), "untouched");
    assert!(h.tags("eksNodeRole").await.is_empty());

    h.make_role("fargate-pods", "eks-fargate-pods.amazonaws.com", &[]).await;
    let r = h.create("Pods", json!({"RoleName": "fargate-pods", "AdoptExistingRole": "true"})).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(r["Reason"].as_str().unwrap().contains("different IAM role than the Fargate profile"), "{r}");
}

#[tokio::test]
async fn reports_but_keeps_the_cni_policy_on_an_adopted_role_when_the_cni_has_its_own_role() {
    let h = Harness::new().await;
    h.make_role("old-nodes", "ec2.amazonaws.com", &["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]).await;
    let r = h
        .create("Nodes", json!({"RoleName": "old-nodes", "AdoptExistingRole": "TRUE", "AttachCniPolicy": "false"}))
        .await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(r["Data"]["Warnings"].as_str().unwrap().contains("aws-node service account"), "{r}");
    assert!(r["Data"].get("CniPolicyArn").is_none());
    assert!(h.attached("old-nodes").await.contains(CNI));
}

#[tokio::test]
async fn an_update_in_place_converges_and_detaches_only_what_the_tool_attached() {
    let h = Harness::new().await;
    let v1 = json!({"RoleName": "nodes", "AdditionalPolicyArns": [SSM_ARN], "Tags": [{"Key": "env", "Value": "dev"}]});
    assert_eq!(h.create("Nodes", v1.clone()).await["Status"], "SUCCESS");
    // Attached by hand: not ours to detach.
    h.iam
        .attach_role_policy()
        .role_name("nodes")
        .policy_arn("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")
        .send()
        .await
        .unwrap();
    h.iam
        .put_role_policy()
        .role_name("nodes")
        .policy_name("inline")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    h.make_ipv6_policy(&aws_ipv6_document()).await;
    let v2 = json!({
        "RoleName": "nodes", "IpFamily": "ipv6", "Description": "prod nodes",
        "PermissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess",
        "Tags": [{"Key": "team", "Value": "platform"}], "CreateInstanceProfile": "false", "Remediation": "dry-run"
    });
    let r = h.send(&update("Nodes", "nodes", v2.clone(), v1.clone(), &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "nodes");
    assert!(r["Data"].get("InstanceProfileName").is_none());
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, IPV6, "CloudWatchAgentServerPolicy"]));
    let role = h.role("nodes").await.unwrap();
    assert_eq!(role.description(), Some("prod nodes"));
    assert_eq!(
        role.permissions_boundary().unwrap().permissions_boundary_arn(),
        Some("arn:aws:iam::aws:policy/PowerUserAccess")
    );
    let tags = h.tags("nodes").await;
    assert!(!tags.contains_key("env") && tags["team"] == "platform", "{tags:?}");
    let item = h.record("nodes").await.unwrap();
    assert_eq!(item.desired.remediation.as_str(), "dry-run");
    assert_eq!(item.desired.ip_family.as_str(), "ipv6");
    assert_eq!(item.own_profile, None, "the profile the tool made is gone, and so is its record");
    assert!(h.profiles_of("nodes").await.is_empty());
    assert!(!h.profile_exists("nodes").await);

    // Rollback: the old properties come back as an Update and the role returns to them.
    let r = h.send(&update("Nodes", "nodes", v1.clone(), v2, &h.url())).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(
        h.attached("nodes").await,
        names(&[WORKER, ECR, CNI, "AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"])
    );
    assert!(h.role("nodes").await.unwrap().permissions_boundary().is_none());
    assert_eq!(h.profiles_of("nodes").await, vec!["nodes".to_string()]);
    assert!(h.policy_exists(IPV6_POLICY_ARN).await, "the IPv6 policy is never deleted by the function");

    // Delete removes everything, inline policies and hand-attached policies included.
    let d = h.send(&delete("Nodes", "nodes", v1, &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(h.role("nodes").await.is_none());
    assert!(!h.profile_exists("nodes").await);
}

#[tokio::test]
async fn a_replacement_that_fails_is_removed_and_the_old_role_stays() {
    let h = Harness::new().await;
    let old = json!({"RoleName": "nodes-blue"});
    let new = json!({"RoleName": "nodes-green", "AdditionalPolicyArns": ["arn:aws:iam::aws:policy/DoesNotExist"]});
    assert_eq!(h.create("Nodes", old.clone()).await["Status"], "SUCCESS");
    let r = h.send(&update("Nodes", "nodes-blue", new, old, &h.url())).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert_eq!(r["PhysicalResourceId"], "nodes-blue", "a failed Update keeps its physical id");
    assert!(h.role("nodes-green").await.is_none(), "the half-made replacement is gone");
    assert!(!h.profile_exists("nodes-green").await);
    assert_eq!(h.attached("nodes-blue").await, names(&[WORKER, ECR, CNI]));
}

#[tokio::test]
async fn a_create_cut_short_by_a_failed_attach_is_cleaned_up_by_the_rollback_delete() {
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"AdditionalPolicyArns": ["arn:aws:iam::aws:policy/DoesNotExist"]})).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(r["Reason"].as_str().unwrap().contains("AttachRolePolicy"), "{r}");
    let name = r["PhysicalResourceId"].as_str().unwrap();
    assert!(h.role(name).await.is_some(), "the role was created before the attach failed");
    let d = h.send(&delete("Nodes", name, json!({}), &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS");
    assert!(h.role(name).await.is_none());
    assert!(!h.profile_exists(name).await);
}

#[tokio::test]
async fn the_response_is_a_put_with_an_empty_content_type_and_at_most_4096_bytes() {
    let h = Harness::new().await;
    let mut props = json!({});
    for i in 0..200 {
        props[format!("UnknownProperty{i:03}")] = json!("x");
    }
    let r = h.create("Nodes", props).await;
    let got = h.listener.all().pop().unwrap();
    assert_eq!(got.method, "PUT");
    assert!(got.path.starts_with("/cfn-response?X-Amz-Signature="));
    assert_eq!(got.headers.get("content-type").map(String::as_str), Some(""));
    assert_eq!(got.headers["content-length"], got.body.len().to_string());
    assert!(got.body.len() <= 4096, "{}", got.body.len());
    assert_eq!(r["Status"], "FAILED");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.starts_with("unknown property 'UnknownProperty000'"), "{reason}");
    assert!(reason.ends_with("full message in CloudWatch log stream test-log-stream)"), "{reason}");
    assert_eq!(r["StackId"], h.stack_for("Nodes").await);
    assert_eq!(r["LogicalResourceId"], "Nodes");
}

#[tokio::test]
async fn the_response_put_is_retried_on_5xx_until_accepted() {
    let mut h = Harness::new().await;
    h.listener = ResponseListener::with_statuses(&[500, 503]).await;
    let req = request("Delete", "Nodes", json!({}), &h.url());
    let mut req = req;
    req["PhysicalResourceId"] = json!("nothing-here");
    cfn_handle(&h, &req).await;
    let all = h.listener.all();
    assert_eq!(all.len(), 3, "two refused, the third accepted");
    assert!(all.iter().all(|r| r.body == all[0].body), "the same body each time");
}

#[tokio::test]
async fn an_insecure_response_url_is_refused_and_never_contacted() {
    let mut h = Harness::new().await;
    h.cfn.allow_insecure_response_url = false;
    let req = request("Create", "Nodes", json!({}), &h.url());
    let status = cfn_handle(&h, &req).await;
    assert_eq!(status, eks_node_role_guard::cfn::response::Status::Failed);
    assert_eq!(h.listener.count(), 0);
    assert!(h.roles().await.is_empty(), "no work without a way to answer");
}

async fn cfn_handle(h: &Harness, req: &serde_json::Value) -> eks_node_role_guard::cfn::response::Status {
    let req = h.aimed(req).await;
    eks_node_role_guard::cfn::handle(&req, &h.app, &invocation(std::time::Duration::from_secs(30))).await
}

#[tokio::test]
async fn an_adopted_role_keeps_the_instance_profile_it_already_had_and_the_tool_makes_none() {
    let h = Harness::new().await;
    h.make_role("eks-managed-nodes", "ec2.amazonaws.com", &[]).await;
    h.iam.create_instance_profile().instance_profile_name("eks-1a2b3c").send().await.unwrap();
    h.iam
        .add_role_to_instance_profile()
        .instance_profile_name("eks-1a2b3c")
        .role_name("eks-managed-nodes")
        .send()
        .await
        .unwrap();
    let props = json!({"RoleName": "eks-managed-nodes", "AdoptExistingRole": "true"});
    let r = h.create("Nodes", props.clone()).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["InstanceProfileName"], "eks-1a2b3c");
    assert_eq!(h.profiles_of("eks-managed-nodes").await, vec!["eks-1a2b3c".to_string()], "no second profile");
    assert!(h.record("eks-managed-nodes").await.unwrap().desired.external_profile);
    // EKS deletes its profile with the node group: not drift, nothing recreated.
    h.iam
        .remove_role_from_instance_profile()
        .instance_profile_name("eks-1a2b3c")
        .role_name("eks-managed-nodes")
        .send()
        .await
        .unwrap();
    h.iam.delete_instance_profile().instance_profile_name("eks-1a2b3c").send().await.unwrap();
    let out =
        h.deliver(&drift_event("drift-remove-role-from-instance-profile.json", "eks-managed-nodes")).await.unwrap();
    assert_eq!(out["outcomes"][0]["outcome"], "in-sync", "{out}");
    assert!(h.profiles_of("eks-managed-nodes").await.is_empty());
    assert!(!h.profile_exists("eks-1a2b3c").await);
}

#[tokio::test]
async fn delete_never_deletes_an_instance_profile_the_tool_did_not_create() {
    let h = Harness::new().await;
    h.iam.create_instance_profile().instance_profile_name("nodes").send().await.unwrap();
    let r = h.create("Nodes", json!({"RoleName": "nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(h.profiles_of("nodes").await, vec!["nodes".to_string()], "the empty profile of that name was used");
    let d = h.send(&delete("Nodes", "nodes", json!({"RoleName": "nodes"}), &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(h.role("nodes").await.is_none());
    assert!(h.profile_exists("nodes").await, "someone else's profile stays");
}

#[tokio::test]
async fn more_policies_than_the_accounts_quota_fail_before_any_change() {
    let mut h = Harness::new().await;
    h.reconciler = reconciler(h.moto.client(), &h.moto.endpoint()).with_policy_quota(4);
    let r = h
        .create(
            "Nodes",
            json!({"RoleName": "nodes", "AdditionalPolicyArns": [SSM_ARN, "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]}),
        )
        .await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.contains("would hold 5 managed policies, above this account's quota of 4"), "{reason}");
    assert!(h.role("nodes").await.is_none() && h.record("nodes").await.is_none(), "nothing changed");
    // The real quota is read from IAM (moto: 10): the same request fits.
    let h = Harness::new().await;
    let r = h.create("Nodes", json!({"RoleName": "nodes", "AdditionalPolicyArns": [SSM_ARN]})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
}

#[tokio::test]
async fn delete_checks_first_and_names_a_policy_it_may_not_detach() {
    let h = Harness::new().await;
    assert_eq!(h.create("Nodes", json!({"RoleName": "nodes"})).await["Status"], "SUCCESS");
    let foreign = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    h.iam.attach_role_policy().role_name("nodes").policy_arn(foreign).send().await.unwrap();
    let d = h.send(&delete("Nodes", "nodes", json!({"RoleName": "nodes"}), &h.url())).await;
    assert_eq!(d["Status"], "FAILED", "{d}");
    assert!(d["Reason"].as_str().unwrap().contains("AmazonS3ReadOnlyAccess"), "{d}");
    assert_eq!(h.attached("nodes").await, names(&[WORKER, ECR, CNI, "AmazonS3ReadOnlyAccess"]), "nothing detached");
    assert_eq!(h.profiles_of("nodes").await, vec!["nodes".to_string()], "still in its profile");
    assert_eq!(h.record("nodes").await.unwrap().phase, eks_node_role_guard::state::Phase::Active, "not even marked");
    h.detach("nodes", foreign).await;
    let d = h.send(&delete("Nodes", "nodes", json!({"RoleName": "nodes"}), &h.url())).await;
    assert_eq!(d["Status"], "SUCCESS", "{d}");
    assert!(h.role("nodes").await.is_none());
}
