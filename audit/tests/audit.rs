//! `eks-node-role-audit` against moto's EKS and IAM: an account is built with each bad state the audit must
//! find, the released binary is run against it, and its JSON, table, snippets and exit codes are checked.
//! (moto has no add-ons, Pod Identity or Auto Mode `computeConfig`: those are tested with the SDK's mocks in
//! `src/bin/audit/eks.rs` and in the judge's unit tests.)

use std::process::{Command, Output};

use serde_json::{json, Value};
use test_support::fault_proxy::{Fault, FaultProxy};
use test_support::*;

const WORKER: &str = "AmazonEKSWorkerNodePolicy";
const PULL: &str = "AmazonEC2ContainerRegistryPullOnly";
const READ: &str = "AmazonEC2ContainerRegistryReadOnly";
const CNI: &str = "AmazonEKS_CNI_Policy";

fn trust(services: &[&str]) -> String {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":services},"Action":"sts:AssumeRole"}]})
        .to_string()
}

async fn role(h: &Harness, name: &str, services: &[&str], policies: &[&str]) -> String {
    let arn = h
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust(services))
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    for p in policies {
        h.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(format!("arn:aws:iam::aws:policy/{p}"))
            .send()
            .await
            .unwrap();
    }
    arn
}

fn eks(h: &Harness) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&shared_config(&h.moto.endpoint()))
}

async fn cluster(h: &Harness, name: &str, role_arn: &str, ipv6: bool) {
    let mut req = eks(h)
        .create_cluster()
        .name(name)
        .role_arn(role_arn)
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build());
    if ipv6 {
        req = req.kubernetes_network_config(
            aws_sdk_eks::types::KubernetesNetworkConfigRequest::builder()
                .ip_family(aws_sdk_eks::types::IpFamily::Ipv6)
                .build(),
        );
    }
    req.send().await.unwrap();
}

async fn node_group(h: &Harness, cluster: &str, name: &str, role_arn: &str) {
    eks(h)
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .node_role(role_arn)
        .subnets("subnet-1")
        .send()
        .await
        .unwrap();
}

/// Runs the binary against moto (or `endpoint`), with the state table unless told otherwise.
fn run(endpoint: &str, args: &[&str], state_table: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eks-node-role-audit"));
    cmd.args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("IAM_MAX_ATTEMPTS", "1")
        .env("ADOPTABLE_ROLE_NAMES", ADOPTABLE);
    if state_table {
        cmd.env("STATE_TABLE_NAME", TABLE);
    } else {
        cmd.env_remove("STATE_TABLE_NAME");
    }
    cmd.output().expect("run eks-node-role-audit")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn role_in<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleName"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report:#}"))
}

fn kinds(r: &Value) -> Vec<String> {
    r["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

/// One account with a cluster of each family and every bad state moto can hold.
async fn account() -> Harness {
    let h = Harness::new().await;
    let cluster_role = role(&h, "prod-cluster", &["eks.amazonaws.com"], &["AmazonEKSClusterPolicy"]).await;
    cluster(&h, "prod", &cluster_role, false).await;
    cluster(&h, "v6", &cluster_role, true).await;
    let good = role(&h, "good-nodes", &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    node_group(&h, "prod", "ng-good", &good).await;
    let no_cni = role(&h, "no-cni-nodes", &["ec2.amazonaws.com"], &[WORKER, PULL]).await;
    node_group(&h, "prod", "ng-no-cni", &no_cni).await;
    node_group(&h, "prod", "ng-cluster-role", &cluster_role).await;
    let pods =
        role(&h, "prod-pods", &["eks-fargate-pods.amazonaws.com"], &["AmazonEKSFargatePodExecutionRolePolicy"]).await;
    eks(&h)
        .create_fargate_profile()
        .cluster_name("prod")
        .fargate_profile_name("fp")
        .pod_execution_role_arn(&pods)
        .selectors(aws_sdk_eks::types::FargateProfileSelector::builder().namespace("default").build())
        .send()
        .await
        .unwrap();
    node_group(&h, "prod", "ng-pods", &pods).await;
    let lambda = role(&h, "lambda-trust", &["lambda.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    node_group(&h, "prod", "ng-lambda", &lambda).await;
    let read_only = role(&h, "read-only-nodes", &["ec2.amazonaws.com"], &[WORKER, READ, CNI]).await;
    node_group(&h, "prod", "ng-read-only", &read_only).await;
    let v6 = role(&h, "v6-nodes", &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    node_group(&h, "v6", "ng", &v6).await;
    role(&h, "eksNodeRole", &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    // A role the guard made, used by a node group.
    assert_eq!(h.create("Guarded", json!({"RoleName": "guarded-nodes"})).await["Status"], "SUCCESS");
    node_group(&h, "prod", "ng-guarded", "arn:aws:iam::123456789012:role/guarded-nodes").await;
    h
}

#[tokio::test]
async fn finds_every_node_role_and_each_bad_state_with_its_kind() {
    let h = account().await;
    let out = run(&h.moto.endpoint(), &["--output", "json"], true);
    assert_eq!(out.status.code(), Some(1), "findings exit 1: {}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let good = role_in(&report, "good-nodes");
    assert_eq!((good["verdict"].as_str(), kinds(good)), (Some("compliant"), vec![]), "{good:#}");
    assert_eq!(good["usedBy"], json!(["prod/ng-good"]));
    assert_eq!(good["managed"], "no");
    // The VPC CNI shows no role of its own to the EKS API; an IRSA annotation the API cannot see may give it one.
    let no_cni = role_in(&report, "no-cni-nodes");
    assert_eq!((no_cni["verdict"].as_str(), kinds(no_cni)), (Some("compliant"), vec![]), "{no_cni:#}");
    assert_eq!(no_cni["notes"][0]["kind"], "cni-role-unknown");
    assert!(no_cni["notes"][0]["message"].as_str().unwrap().contains(CNI));
    assert!(kinds(role_in(&report, "prod-cluster")).contains(&"cluster-role-used-as-node-role".to_string()));
    assert!(kinds(role_in(&report, "prod-pods")).contains(&"fargate-role-used-as-node-role".to_string()));
    assert_eq!(kinds(role_in(&report, "lambda-trust")), ["trust-not-ec2"]);
    let read_only = role_in(&report, "read-only-nodes");
    assert_eq!(read_only["verdict"], "compliant");
    assert_eq!(read_only["notes"][0]["kind"], "registry-policy-broader-than-needed");
    let v6 = role_in(&report, "v6-nodes");
    assert_eq!(kinds(v6), Vec::<String>::new(), "{v6:#}");
    assert!(v6["notes"][0]["message"].as_str().unwrap().starts_with("AmazonEKS_CNI_IPv6_Policy"), "{v6:#}");
    let unused = role_in(&report, "eksNodeRole");
    assert_eq!((unused["verdict"].as_str(), kinds(unused)), (Some("unused"), vec![]));
    assert_eq!(unused["notes"][0]["kind"], "not-used-by-a-node-group");
    let guarded = role_in(&report, "guarded-nodes");
    assert_eq!(
        (guarded["managed"].as_str(), guarded["verdict"].as_str()),
        (Some("yes"), Some("compliant")),
        "{guarded:#}"
    );
    // moto offers neither add-ons nor Pod Identity: said, and taken as "no CNI role".
    let prod = report["clusters"].as_array().unwrap().iter().find(|c| c["name"] == "prod").unwrap();
    assert!(prod["notes"].to_string().contains("does not offer DescribeAddon"), "{prod}");
    // Nor access entries: said, and none judged.
    assert!(prod["notes"].to_string().contains("ListAccessEntries"), "{prod}");
    assert_eq!(report["clusters"].as_array().unwrap().iter().find(|c| c["name"] == "v6").unwrap()["ipFamily"], "ipv6");
}

#[tokio::test]
async fn a_compliant_cluster_exits_0_and_reads_as_a_table() {
    let h = account().await;
    let out = run(&h.moto.endpoint(), &["--cluster", "prod"], false);
    assert_eq!(out.status.code(), Some(1));
    let h2 = Harness::new().await;
    let cluster_role = role(&h2, "c", &["eks.amazonaws.com"], &[]).await;
    cluster(&h2, "clean", &cluster_role, false).await;
    let good = role(&h2, "good-nodes", &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    node_group(&h2, "clean", "ng", &good).await;
    let out = run(&h2.moto.endpoint(), &["--cluster", "clean"], false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ROLE") && lines[0].contains("VERDICT") && lines[0].contains("FINDINGS"), "{text}");
    assert!(
        lines[1].starts_with("good-nodes") && lines[1].contains("unknown") && lines[1].contains("compliant"),
        "{text}"
    );
    assert!(text.contains("whether the guard manages a role is unknown"), "{text}");
    assert!(text.contains("1 node role(s) in 1 cluster(s): 1 compliant, 0 non-compliant, 0 unused."), "{text}");
    // Clusters are regional: another region has none of them.
    let out = run(&h2.moto.endpoint(), &["--region", "eu-west-1", "--output", "json"], false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["clusters"], json!([]));
}

#[tokio::test]
async fn the_adopt_snippet_adopts_a_node_role_and_says_why_another_would_be_refused() {
    let h = account().await;
    let eks_node_role = role_in(&json_of(&run(&h.moto.endpoint(), &["--output", "json"], true)), "eksNodeRole").clone();
    assert_eq!(eks_node_role["managed"], "no");
    node_group(&h, "prod", "ng-legacy", "arn:aws:iam::123456789012:role/eksNodeRole").await;
    let out = run(&h.moto.endpoint(), &["--adopt-snippet", "--cluster", "prod"], true);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let snippet = text
        .split("\n\n")
        .find(|s| s.contains("# eksNodeRole — used by prod/ng-legacy"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!snippet.contains("would refuse"), "{snippet}");
    assert!(snippet.contains("ServiceToken: !ImportValue eks-node-role-guard-ServiceToken"), "{snippet}");
    assert!(!text.contains("GuardedNodesNodeRole"), "a managed role gets no snippet: {text}");
    let named =
        run(&h.moto.endpoint(), &["--adopt-snippet", "--cluster", "prod", "--guard-stack", "platform-guard"], true);
    let named = String::from_utf8_lossy(&named.stdout).to_string();
    assert!(named.contains("ServiceToken: !ImportValue platform-guard-ServiceToken"), "{named}");
    // With JSON output the snippets go inside the one JSON document, for jq.
    let doc = json_of(&run(&h.moto.endpoint(), &["--output", "json", "--adopt-snippet", "--cluster", "prod"], true));
    let in_json = doc["adoptSnippets"].as_array().unwrap();
    let eks = in_json.iter().find(|s| s["roleName"] == "eksNodeRole").unwrap();
    assert!(eks["snippet"].as_str().unwrap().contains("AdoptExistingRole: true"), "{eks}");
    assert!(doc["roles"].is_array());
    let refused = text.split("\n\n").find(|s| s.contains("# prod-cluster")).unwrap();
    assert!(refused.contains("the guard would refuse it today") && refused.contains("cluster role"), "{refused}");

    // The snippet is a resource the guard accepts as written.
    let yaml = snippet.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    let (logical, resource) = doc.as_mapping().unwrap().iter().next().unwrap();
    assert_eq!(resource["Type"], "Custom::EksNodeRole");
    let mut props = serde_json::Map::new();
    for (k, v) in resource["Properties"].as_mapping().unwrap() {
        let k = k.as_str().unwrap();
        if !["ServiceToken", "ServiceTimeout"].contains(&k) {
            let v = match v {
                serde_yaml::Value::Bool(b) => json!(b.to_string()),
                other => json!(other.as_str().unwrap()),
            };
            props.insert(k.to_string(), v);
        }
    }
    let r = h.create(logical.as_str().unwrap(), Value::Object(props)).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["Adopted"], "true", "{r}");
}

// The proxy serves from this test's runtime while the binary runs: a second worker thread keeps it answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_exits_2_naming_the_permission() {
    let h = Harness::new().await;
    let proxy = FaultProxy::start(h.moto.port).await;
    proxy.always(Some(Fault::Deny));
    let out = run(&proxy.endpoint(), &[], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("The audit needs eks:ListClusters"), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_exits_2_and_bad_arguments_exit_2_with_the_usage() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = run(&nowhere, &[], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("could not check") && err.contains("reachable"), "{err}");
    let out = run(&nowhere, &["--output", "yaml"], false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("USAGE"));
}

/// All findings Security Hub holds, by id: (RecordState, Compliance.Status).
async fn hub(endpoint: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let client = aws_sdk_securityhub::Client::new(&shared_config(endpoint));
    let out = client.get_findings().max_results(100).send().await.unwrap();
    out.findings()
        .iter()
        .map(|f| {
            let state = f.record_state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let status = f.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_string()).unwrap_or_default();
            (f.id().unwrap_or_default().to_string(), (state, status))
        })
        .collect()
}

/// `--output asff` writes the findings in the AWS Security Finding Format; `--import` sends them to Security Hub
/// on moto: a second import of the same findings leaves the count unchanged, and a finding fixed since is sent
/// again resolved.
#[tokio::test]
async fn findings_go_to_security_hub_once_and_are_resolved_when_fixed() {
    let h = account().await;
    let endpoint = h.moto.endpoint();
    let out = run(&endpoint, &["--output", "asff"], true);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let asff = json_of(&out);
    let asff = asff.as_array().unwrap();
    let ids: Vec<&str> = asff.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"eks-node-role-audit/123456789012/lambda-trust/trust-not-ec2"), "{ids:?}");
    assert!(asff.iter().all(|f| f["SchemaVersion"] == "2018-10-08" && f["AwsAccountId"] == "123456789012"));
    assert!(hub(&endpoint).await.is_empty(), "--output asff alone sends nothing");

    let out = run(&endpoint, &["--import", "--quiet"], true);
    assert_eq!(out.status.code(), Some(1), "the exit code is the report's: {}", String::from_utf8_lossy(&out.stderr));
    let first = hub(&endpoint).await;
    assert_eq!(first.len(), ids.len(), "{first:?}");
    assert!(first.values().all(|(state, status)| state == "ACTIVE" && status == "FAILED"), "{first:?}");
    let out = run(&endpoint, &["--import", "--output", "json"], true);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0 of them resolved"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hub(&endpoint).await.len(), first.len(), "a second import updates, never duplicates");

    // The Lambda-trusting role is fixed: its finding is sent again resolved.
    let ec2 = trust(&["ec2.amazonaws.com"]);
    h.iam.update_assume_role_policy().role_name("lambda-trust").policy_document(ec2).send().await.unwrap();
    run(&endpoint, &["--import", "--quiet"], true);
    let after = hub(&endpoint).await;
    assert_eq!(after.len(), first.len());
    let fixed = &after["eks-node-role-audit/123456789012/lambda-trust/trust-not-ec2"];
    assert_eq!((fixed.0.as_str(), fixed.1.as_str()), ("ARCHIVED", "PASSED"));
    let still = &after["eks-node-role-audit/123456789012/prod-pods/fargate-role-used-as-node-role"];
    assert_eq!(still.0, "ACTIVE");
}

/// The procedure's search as it says it — a role whose name contains eksNodeRole, AmazonEKSNodeRole or
/// NodeInstanceRole, as eksctl's are named — and an IPv6 node role whose inline policy grants the IPv6 CNI's
/// action (the AWS CDK's) accepted with a note; with `iam:GetRolePolicy` refused, a note naming it, not an abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_goes_by_contains_and_inline_grants_are_read_or_said_unread() {
    let h = account().await;
    let eksctl = "eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1A2B3C4D";
    role(&h, eksctl, &["ec2.amazonaws.com"], &[WORKER, PULL, CNI]).await;
    let grant = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:AssignIpv6Addresses","Resource":"*"}]});
    let put = h.iam.put_role_policy().role_name("v6-nodes").policy_name("NodeIpv6");
    put.policy_document(grant.to_string()).send().await.unwrap();
    let report = json_of(&run(&h.moto.endpoint(), &["--output", "json"], true));
    let found = role_in(&report, eksctl);
    assert_eq!(found["verdict"], "unused", "found, though no node group uses it: {found:#}");
    let v6 = role_in(&report, "v6-nodes");
    assert_eq!((v6["verdict"].as_str(), kinds(v6)), (Some("compliant"), vec![]), "{v6:#}");
    assert!(v6["notes"].to_string().contains("cni-ipv6-inline"), "{v6:#}");

    let proxy = FaultProxy::start(h.moto.port).await;
    proxy.fail_operation("iam:GetRolePolicy", vec![Fault::Deny; 20]);
    let out = run(&proxy.endpoint(), &["--output", "json"], true);
    assert_eq!(out.status.code(), Some(1), "the report's exit code: {}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert!(report["notes"].to_string().contains("iam:GetRolePolicy denied"), "{}", report["notes"]);
    assert!(role_in(&report, "v6-nodes")["notes"].to_string().contains("cni-role-unknown"));
}

/// An organisation on moto: the management account and `members` accounts made with `CreateAccount`; their ids,
/// management first.
async fn organization(endpoint: &str, members: usize) -> Vec<String> {
    let org = aws_sdk_organizations::Client::new(&shared_config(endpoint));
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    for i in 0..members {
        org.create_account()
            .email(format!("member-{i}@example.com"))
            .account_name(format!("member-{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut ids: Vec<String> = org
        .list_accounts()
        .send()
        .await
        .unwrap()
        .accounts()
        .iter()
        .filter_map(|a| a.id().map(str::to_string))
        .collect();
    ids.sort_by_key(|id| id != ACCOUNT);
    ids
}

/// A config acting in `account` (moto ties the credentials AssumeRole returns to the role's account).
async fn in_account(endpoint: &str, account: &str) -> aws_config::SdkConfig {
    let base = shared_config(endpoint);
    let out = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"))
        .role_session_name("setup")
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "setup",
    );
    base.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// In `account`: a cluster whose node group uses a role without the worker policy (a finding).
async fn account_with_a_finding(endpoint: &str, account: &str) {
    let config = in_account(endpoint, account).await;
    let iam = aws_sdk_iam::Client::new(&config);
    let arn = iam
        .create_role()
        .role_name("nodes")
        .assume_role_policy_document(trust(&["ec2.amazonaws.com"]))
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    for p in [PULL, CNI] {
        iam.attach_role_policy()
            .role_name("nodes")
            .policy_arn(format!("arn:aws:iam::aws:policy/{p}"))
            .send()
            .await
            .unwrap();
    }
    let cluster_role = iam
        .create_role()
        .role_name("cluster")
        .assume_role_policy_document(trust(&["eks.amazonaws.com"]))
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let eks = aws_sdk_eks::Client::new(&config);
    let vpc = aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build();
    eks.create_cluster().name("prod").role_arn(cluster_role).resources_vpc_config(vpc).send().await.unwrap();
    eks.create_nodegroup()
        .cluster_name("prod")
        .nodegroup_name("ng")
        .node_role(arn)
        .subnets("subnet-1")
        .send()
        .await
        .unwrap();
}

/// Three accounts of an organisation on moto's Organizations and STS, each entered with the named role: one
/// report with a section per account (id, name, its roles); an account the audit cannot enter is a note, not an
/// abort; `--import` sends each account's findings with that account's credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_is_audited_account_by_account_in_one_report() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let ids = organization(&endpoint, 2).await;
    assert_eq!(ids.len(), 3, "{ids:?}");
    for id in &ids {
        account_with_a_finding(&endpoint, id).await;
    }
    let args = ["--organization", "--assume-role", "OrganizationAccountAccessRole", "--output", "json", "--quiet"];
    let out = run(&endpoint, &args, false);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let accounts = report["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{report:#}");
    for a in accounts {
        assert!(ids.contains(&a["accountId"].as_str().unwrap().to_string()), "{a:#}");
        assert_eq!(a["audited"], true, "{a:#}");
        let nodes = role_in(a, "nodes");
        assert_eq!(kinds(nodes), ["missing-policy"], "{nodes:#}");
        assert!(nodes["roleArn"].as_str().unwrap().contains(a["accountId"].as_str().unwrap()), "{nodes:#}");
    }
    assert!(accounts.iter().any(|a| a["accountName"] == "member-1"), "{report:#}");
    // A state table named that an account does not have (the guard not installed there): said, and audited.
    let report = json_of(&run(&endpoint, &args, true));
    for a in report["accounts"].as_array().unwrap() {
        assert_eq!(a["audited"], true, "{a:#}");
        assert!(a["notes"].to_string().contains("the state table was not found"), "{a:#}");
    }

    // One account cannot be entered: a note with the reason, the others audited, progress on stderr.
    let proxy = FaultProxy::start(moto.port).await;
    proxy.fail_when("sts:AssumeRole", &ids[2], Fault::Deny);
    let out = run(&proxy.endpoint(), &args[..5], false);
    assert_eq!(out.status.code(), Some(1), "findings elsewhere still decide: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[accounts 3/3]") && err.contains("finding(s) so far"), "{err}");
    let report = json_of(&out);
    let shut = report["accounts"].as_array().unwrap().iter().find(|a| a["accountId"] == ids[2].as_str()).unwrap();
    assert_eq!(shut["audited"], false, "{shut:#}");
    assert!(shut["notes"][0].as_str().unwrap().contains("sts:AssumeRole denied"), "{shut:#}");
    assert!(report["notes"][0].as_str().unwrap().contains(&ids[2]), "{report:#}");
    assert_eq!(report["accounts"].as_array().unwrap().iter().filter(|a| a["audited"] == true).count(), 2);

    // --import: each account's findings in its own Security Hub, as its own.
    let out = run(
        &endpoint,
        &["--organization", "--assume-role", "OrganizationAccountAccessRole", "--import", "--quiet"],
        false,
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    for id in &ids {
        let hub = aws_sdk_securityhub::Client::new(&in_account(&endpoint, id).await);
        let found = hub.get_findings().send().await.unwrap();
        let accounts: Vec<&str> = found.findings().iter().filter_map(|f| f.aws_account_id()).collect();
        assert_eq!(accounts, [id.as_str()], "account {id}: {accounts:?}");
    }
}
