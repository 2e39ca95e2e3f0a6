//! End to end: the built binary under the cargo-lambda Runtime API emulator, IAM on moto, and a real
//! ResponseURL listener, replaying the sample requests in events/.

use serde_json::json;
use test_support::cfn_model::CfnModel;
use test_support::fault_proxy::FaultProxy;
use test_support::*;

/// The account, the stack the sample requests come from, and the binary under the emulator. The function reaches
/// AWS through a proxy that answers for the stack as CloudFormation would (`cfn_model`): moto shows neither a
/// resource's own status nor its physical id.
struct E2e {
    _moto: Moto,
    proxy: FaultProxy,
    model: CfnModel,
    stack: String,
    emulator: Emulator,
    listener: ResponseListener,
    function: Function,
    iam: aws_sdk_iam::Client,
}

impl E2e {
    /// A sample from events/, aimed at this stack and listener.
    fn event(&self, name: &str) -> serde_json::Value {
        let mut e = event_file(name, &self.listener);
        if e.get("StackId").is_some() {
            e["StackId"] = json!(self.stack);
        }
        e
    }

    async fn invoke(&self, payload: &serde_json::Value) -> serde_json::Value {
        invoke(self.emulator.port, payload.to_string().as_bytes()).await
    }

    async fn attached(&self, role: &str) -> Vec<String> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
        let mut names: Vec<String> =
            out.attached_policies().iter().filter_map(|p| p.policy_name().map(str::to_string)).collect();
        names.sort();
        names
    }
}

#[tokio::test]
async fn the_binary_creates_updates_and_deletes_the_node_role_through_the_runtime_api() {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    let (proxy, model) = (FaultProxy::start(moto.port).await, CfnModel::default());
    proxy.answer_from(&model);
    let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo-eks/8a1c9e20-0e1c-11ef-9d2b-0a1b2c3d4e5f";
    model.creating(stack, "NodeRole");
    let emulator = Emulator::start();
    let function = Function::start(&emulator.runtime_api(), &proxy.endpoint(), &[]);
    let listener = ResponseListener::start().await;
    let mut e =
        E2e { iam: moto.client(), _moto: moto, proxy, model, stack: stack.into(), emulator, listener, function };
    creates_and_updates(&e).await;
    answers_bad_input_and_lives_on(&mut e).await;
    repairs_drift(&e).await;
    deletes_and_refuses_a_forged_request(&e).await;
    // Exactly one response per request, none of them carrying or logging the pre-signed URL.
    assert_eq!(e.listener.count(), 6);
    logs_are_json_without_secrets(&e.function.logs());
    // Every call it made is one IAM would allow under the template's policies, rendered for its settings.
    assert!(e.proxy.recorded().len() > 40, "{} calls recorded", e.proxy.recorded().len());
    test_support::authorize::assert_authorized(&e.proxy, &e.function.env);
}

async fn creates_and_updates(e: &E2e) {
    let create = e.event("cfn-create-ipv4.json");
    let out = e.invoke(&create).await;
    assert_eq!(out["status"], "SUCCESS", "{out}\n{}", e.function.logs());
    let r = e.listener.last();
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "demo-eks-node-role");
    assert_eq!(r["RequestId"], create["RequestId"]);
    e.model.created(&e.stack, "NodeRole", "demo-eks-node-role");
    assert_eq!(
        e.attached("demo-eks-node-role").await,
        [
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonSSMManagedInstanceCore"
        ]
    );
    let document =
        eks_node_role_guard::domain::policies::cni_ipv6_policy_document(eks_node_role_guard::domain::Partition::Aws);
    let policy = e.iam.create_policy().policy_name("AmazonEKS_CNI_IPv6_Policy").policy_document(document.to_string());
    policy.send().await.unwrap();
    e.model.updating(&e.stack, "NodeRole");
    let out = e.invoke(&e.event("cfn-update-ipv6.json")).await;
    assert_eq!(out["status"], "SUCCESS", "{out}");
    e.model.updated(&e.stack, "NodeRole", "demo-eks-node-role");
    assert_eq!(e.listener.last()["Data"]["CniPolicyArn"], IPV6_POLICY_ARN, "{}", e.listener.last());
    assert!(e.attached("demo-eks-node-role").await.contains(&"AmazonEKS_CNI_IPv6_Policy".to_string()));
}

/// Bad input never crashes the process: a broken request still gets its FAILED response.
async fn answers_bad_input_and_lives_on(e: &mut E2e) {
    let out = e.invoke(&e.event("cfn-create-invalid.json")).await;
    assert_eq!(out["status"], "FAILED");
    let reason = e.listener.last()["Reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("RoleName 'eks node role' is invalid") && reason.contains("did you mean AttachCniPolicy?"),
        "{reason}"
    );
    let out = e.invoke(&json!({"RequestType": "Create", "ResponseURL": e.listener.url()})).await;
    assert_eq!(out["status"], "FAILED");
    let reason = e.listener.last()["Reason"].as_str().unwrap().to_string();
    assert!(reason.contains("not a valid CloudFormation custom resource request"), "{reason}");
    for other in
        [json!([1, 2, 3]), json!("text"), json!(null), json!({"detail-type": "Scheduled Event", "source": "aws.ec2"})]
    {
        let out = e.invoke(&other).await;
        assert!(out.get("handled").is_some(), "{out}");
    }
    assert!(e.function.is_running());
}

/// Drift repair through the same binary: a console user detaches a required policy.
async fn repairs_drift(e: &E2e) {
    let detach = e.iam.detach_role_policy().role_name("demo-eks-node-role");
    detach.policy_arn("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy").send().await.unwrap();
    let out = e.invoke(&e.event("drift-detach-role-policy.json")).await;
    assert_eq!(out["outcomes"][0]["outcome"], "repaired", "{out}");
    assert!(e.attached("demo-eks-node-role").await.contains(&"AmazonEKSWorkerNodePolicy".to_string()));
    let out = e.invoke(&e.event("scheduled-sweep.json")).await;
    assert_eq!(out["outcomes"][0]["outcome"], "in-sync", "{out}");
}

/// The stack's Delete removes the role (never the IPv6 policy); a request no stack sent (the stack is no longer in
/// progress) is refused, and nothing changes.
async fn deletes_and_refuses_a_forged_request(e: &E2e) {
    e.model.deleting(&e.stack);
    let out = e.invoke(&e.event("cfn-delete.json")).await;
    assert_eq!(out["status"], "SUCCESS", "{out}");
    assert!(e.iam.get_role().role_name("demo-eks-node-role").send().await.is_err(), "role deleted");
    assert!(e.iam.get_policy().policy_arn(IPV6_POLICY_ARN).send().await.is_ok(), "the IPv6 policy is never deleted");

    let mut forged = e.event("cfn-create-ipv4.json");
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/0b9c3e80-0e1c-11ef-9d2b-0a1b2c3d4e5f";
    e.model.creating(other, "NodeRole");
    e.model.created(other, "NodeRole", "x");
    forged["StackId"] = json!(other);
    let out = e.invoke(&forged).await;
    assert_eq!(out["status"], "FAILED", "{out}");
    let reason = e.listener.last()["Reason"].as_str().unwrap().to_string();
    assert!(reason.contains("not confirmed by CloudFormation"), "{reason}");
    assert!(e.iam.get_role().role_name("demo-eks-node-role").send().await.is_err(), "nothing created");
}

fn logs_are_json_without_secrets(logs: &str) {
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
