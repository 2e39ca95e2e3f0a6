//! End to end: the built binary under the cargo-lambda Runtime API emulator, IAM on moto, and a real
//! ResponseURL listener, replaying the sample requests in events/.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn the_binary_creates_updates_and_deletes_the_node_role_through_the_runtime_api() {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    // The stack the sample requests come from, waiting for the function's answers.
    let stack = create_stack(&moto.endpoint(), "demo-eks", &["NodeRole", "AdoptedNodeRole", "BrokenNodeRole"]).await;
    let emulator = Emulator::start();
    let listener = ResponseListener::start().await;
    let event_file = |name: &str, listener: &ResponseListener| {
        let mut e = event_file(name, listener);
        if e.get("StackId").is_some() {
            e["StackId"] = json!(stack);
        }
        e
    };
    let mut function = Function::start(&emulator.runtime_api(), &moto.endpoint(), &[]);
    let iam = moto.client();
    let attached = |role: &'static str| {
        let iam = iam.clone();
        async move {
            let out = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
            out.attached_policies().iter().filter_map(|p| p.policy_name().map(str::to_string)).collect::<Vec<_>>()
        }
    };

    let create = event_file("cfn-create-ipv4.json", &listener);
    let out = invoke(emulator.port, create.to_string().as_bytes()).await;
    assert_eq!(out["status"], "SUCCESS", "{out}\n{}", function.logs());
    let r = listener.last();
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "demo-eks-node-role");
    assert_eq!(r["RequestId"], create["RequestId"]);
    let mut names = attached("demo-eks-node-role").await;
    names.sort();
    assert_eq!(
        names,
        [
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonSSMManagedInstanceCore"
        ]
    );

    iam.create_policy()
        .policy_name("AmazonEKS_CNI_IPv6_Policy")
        .policy_document(
            eks_node_role_guard::domain::policies::cni_ipv6_policy_document(
                eks_node_role_guard::domain::Partition::Aws,
            )
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let out = invoke(emulator.port, event_file("cfn-update-ipv6.json", &listener).to_string().as_bytes()).await;
    assert_eq!(out["status"], "SUCCESS", "{out}");
    let r = listener.last();
    assert_eq!(r["Data"]["CniPolicyArn"], IPV6_POLICY_ARN, "{r}");
    assert!(attached("demo-eks-node-role").await.contains(&"AmazonEKS_CNI_IPv6_Policy".to_string()));

    // Bad input never crashes the process: a broken request still gets its FAILED response.
    let out = invoke(emulator.port, event_file("cfn-create-invalid.json", &listener).to_string().as_bytes()).await;
    assert_eq!(out["status"], "FAILED");
    let reason = listener.last()["Reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("RoleName 'eks node role' is invalid") && reason.contains("did you mean AttachCniPolicy?"),
        "{reason}"
    );
    let truncated = json!({"RequestType": "Create", "ResponseURL": listener.url()});
    let out = invoke(emulator.port, truncated.to_string().as_bytes()).await;
    assert_eq!(out["status"], "FAILED");
    assert!(listener.last()["Reason"].as_str().unwrap().contains("not a valid CloudFormation custom resource request"));
    for other in
        [json!([1, 2, 3]), json!("text"), json!(null), json!({"detail-type": "Scheduled Event", "source": "aws.ec2"})]
    {
        let out = invoke(emulator.port, other.to_string().as_bytes()).await;
        assert!(out.get("handled").is_some(), "{out}");
    }
    assert!(function.is_running());

    // Drift repair through the same binary: a console user detaches a required policy.
    iam.detach_role_policy()
        .role_name("demo-eks-node-role")
        .policy_arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
        .send()
        .await
        .unwrap();
    let out =
        invoke(emulator.port, event_file("drift-detach-role-policy.json", &listener).to_string().as_bytes()).await;
    assert_eq!(out["outcomes"][0]["outcome"], "repaired", "{out}");
    assert!(attached("demo-eks-node-role").await.contains(&"AmazonEKSWorkerNodePolicy".to_string()));
    let out = invoke(emulator.port, event_file("scheduled-sweep.json", &listener).to_string().as_bytes()).await;
    assert_eq!(out["outcomes"][0]["outcome"], "in-sync", "{out}");

    let out = invoke(emulator.port, event_file("cfn-delete.json", &listener).to_string().as_bytes()).await;
    assert_eq!(out["status"], "SUCCESS", "{out}");
    assert!(iam.get_role().role_name("demo-eks-node-role").send().await.is_err(), "role deleted");
    assert!(iam.get_policy().policy_arn(IPV6_POLICY_ARN).send().await.is_ok(), "the IPv6 policy is never deleted");

    // A request no stack sent (the stack is no longer in progress) is refused, and nothing changes.
    let mut forged = event_file("cfn-create-ipv4.json", &listener);
    forged["StackId"] = json!(create_stack(&moto.endpoint(), "other", &["NodeRole"]).await);
    let cfn = aws_sdk_cloudformation::Client::new(&shared_config(&moto.endpoint()));
    let done = json!({"Status": "SUCCESS", "PhysicalResourceId": "x", "StackId": forged["StackId"], "RequestId": "r",
        "LogicalResourceId": "NodeRole", "Data": {}});
    put_response(&moto_response_url(&moto.endpoint(), forged["StackId"].as_str().unwrap()), &done).await;
    let status = cfn.describe_stacks().stack_name(forged["StackId"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(status.stacks()[0].stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    let out = invoke(emulator.port, forged.to_string().as_bytes()).await;
    assert_eq!(out["status"], "FAILED", "{out}");
    assert!(
        listener.last()["Reason"].as_str().unwrap().contains("not confirmed by CloudFormation"),
        "{}",
        listener.last()
    );
    assert!(iam.get_role().role_name("demo-eks-node-role").send().await.is_err(), "nothing created");

    // Exactly one response per request, none of them carrying or logging the pre-signed URL.
    assert_eq!(listener.count(), 6);
    let logs = function.logs();
    assert!(logs.contains("responded to CloudFormation"), "{logs}");
    assert!(
        !logs.contains("X-Amz-Signature") && !logs.contains("secret-signature") && !logs.contains("cfn-response"),
        "{logs}"
    );
    assert!(logs.contains(r#""message":"decision""#) && logs.contains(r#""outcome":"repaired""#), "{logs}");
    assert!(logs.contains(r#""CloudWatchMetrics""#) && logs.contains(r#""DriftRepaired":1"#), "EMF metrics on stdout");
    for line in logs.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
    }
}
