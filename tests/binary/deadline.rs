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
