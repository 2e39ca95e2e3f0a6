//! The built binary under a Runtime API that hands out a real, short deadline, with an IAM that hangs: the
//! FAILED response must reach the ResponseURL before the deadline, and the process must live on.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::runtime_stub::RuntimeStub;
use test_support::*;

#[tokio::test]
async fn the_binary_answers_failed_before_a_real_deadline_when_iam_hangs() {
    let stub = RuntimeStub::start().await;
    let hang = HangingServer::start().await;
    let listener = ResponseListener::start().await;
    let _function = Function::start(
        &stub.address(),
        &hang.endpoint(),
        &[("WATCHDOG_MARGIN_MS", "1500"), ("IAM_ATTEMPT_TIMEOUT_MS", "60000")],
    );

    let deadline = Duration::from_secs(4);
    let req = request("Create", "Nodes", json!({"RoleName": "nodes"}), &listener.url());
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(20), stub.invoke(req.to_string().as_bytes(), deadline))
        .await
        .expect("the function answered the runtime")
        .unwrap();
    let got = listener.all();
    assert_eq!(got.len(), 1, "exactly one response");
    assert!(got[0].at - started < deadline, "FAILED arrived after the deadline: {:?}", got[0].at - started);
    assert!(answer.at - started < deadline, "the invocation ended after the deadline");
    let body = got[0].json();
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().starts_with("timed out"), "{body}");
    assert_eq!(answer.kind, "response", "a handled request is a success for the runtime (no async retry)");

    // Bad input does not take the process down: a truncated payload, then a request that fails validation.
    let truncated = br#"{"RequestType": "Create", "ResponseURL": "#;
    let answer = stub.invoke(truncated, deadline).await.unwrap();
    assert_eq!(answer.kind, "error", "the runtime reports what it could not parse");
    let bad = request("Create", "Nodes", json!({"RoleName": "not valid!"}), &listener.url());
    let answer = stub.invoke(bad.to_string().as_bytes(), deadline).await.unwrap();
    assert_eq!(answer.kind, "response");
    assert_eq!(listener.last()["Status"], "FAILED");
    assert!(listener.last()["Reason"].as_str().unwrap().contains("RoleName 'not valid!' is invalid"));
}

#[tokio::test]
async fn outside_us_east_1_the_binary_warns_that_iam_events_need_forwarding() {
    let moto = Moto::start();
    for (forwarded, warned) in [("false", true), ("true", false)] {
        let stub = RuntimeStub::start().await;
        let f = Function::start(
            &stub.address(),
            &moto.endpoint(),
            &[("AWS_REGION", "eu-west-1"), ("EVENTS_FORWARDED", forwarded)],
        );
        let started = Instant::now();
        while stub.first_poll.lock().unwrap().is_none() && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let logs = f.logs();
        assert_eq!(
            logs.contains("IAM events are delivered only in us-east-1"),
            warned,
            "EVENTS_FORWARDED={forwarded}: {logs}"
        );
    }
}

/// Lambda may hand one asynchronous request to two function processes at once: two processes of the released
/// binary, each under its own runtime, receive the same Create at the same moment. Both answer SUCCESS with the
/// same role, which is whole.
#[tokio::test]
async fn two_processes_handed_the_same_create_at_once_both_succeed() {
    let h = Harness::new().await;
    let allowed = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
    let env = [("ALLOWED_ADDITIONAL_POLICY_ARNS", allowed), ("ALLOW_INSECURE_RESPONSE_URL", "true")];
    let (one, two) = (RuntimeStub::start().await, RuntimeStub::start().await);
    let _f1 = Function::start(&one.address(), &h.aws.endpoint(), &env);
    let _f2 = Function::start(&two.address(), &h.aws.endpoint(), &env);
    let props =
        json!({"RoleName": "nodes", "AdditionalPolicyArns": [allowed], "Tags": [{"Key": "team", "Value": "a"}]});
    let req = h.aimed(&request("Create", "Nodes", props, &h.url())).await;
    let bytes = req.to_string();
    let deadline = Duration::from_secs(60);
    let (a, b) = tokio::join!(one.invoke(bytes.as_bytes(), deadline), two.invoke(bytes.as_bytes(), deadline));
    assert_eq!((a.unwrap().kind, b.unwrap().kind), ("response".to_string(), "response".to_string()));
    let answers: Vec<serde_json::Value> = h.listener.accepted().iter().map(|r| r.json()).collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    for answer in &answers {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(answer["PhysicalResourceId"], "nodes");
    }
    let attached = h.attached("nodes").await;
    assert!(attached.contains("AmazonSSMManagedInstanceCore") && attached.contains("AmazonEKSWorkerNodePolicy"));
    assert_eq!(h.tags("nodes").await.get("team").map(String::as_str), Some("a"));
    assert_eq!(h.record("nodes").await.unwrap().role_id, h.role("nodes").await.map(|r| r.role_id));
    // Both processes' calls, IAM's 409s and retries included, stay within the template's policies.
    test_support::authorize::assert_authorized(&h.aws, &_f1.env);
}
