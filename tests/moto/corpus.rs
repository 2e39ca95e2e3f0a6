//! The malformed-payload corpus (tests/corpus/, written by scripts/make_corpus.py): every payload through the
//! dispatcher. A CloudFormation request with a usable ResponseURL gets exactly one FAILED response with a
//! readable reason; everything else is logged and ignored; nothing panics; non-JSON never reaches the handler
//! and the process lives on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eks_node_role_guard::app::Invocation;
use lambda_runtime::Context;
use serde_json::Value;
use test_support::runtime_stub::RuntimeStub;
use test_support::*;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(repo().join("tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn aimed(bytes: &[u8], listener: &ResponseListener) -> Vec<u8> {
    String::from_utf8_lossy(bytes).replace("127.0.0.1:8765", &format!("127.0.0.1:{}", listener.port)).into_bytes()
}

#[test]
fn the_corpus_has_at_least_100_payloads_of_every_kind() {
    let c = corpus();
    assert!(c.len() >= 100, "{}", c.len());
    for prefix in ["cfn-", "noreply-", "event-", "other-", "raw-"] {
        assert!(c.iter().any(|(n, _)| n.starts_with(prefix)), "{prefix}");
    }
}

#[tokio::test]
async fn every_malformed_payload_gets_a_failed_response_or_a_clear_log_and_never_a_panic() {
    let h = Harness::new().await;
    let roles_before = h.roles().await;
    let iam = h.iam.clone();
    let app = &h.app;
    let listener = &h.listener;
    let mut ctx = Context::default();
    let mut checked = 0;
    for (name, bytes) in corpus() {
        if name.starts_with("raw-") {
            assert!(serde_json::from_slice::<Value>(&bytes).is_err(), "{name} is meant not to be JSON");
            continue;
        }
        let payload: Value = serde_json::from_slice(&aimed(&bytes, listener)).unwrap();
        ctx.deadline =
            (SystemTime::now() + Duration::from_secs(30)).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let before = listener.all().len();
        let out = app.dispatch(&payload, &Invocation::of(&ctx, SystemTime::now())).await;
        let sent = &listener.all()[before..];
        if name.starts_with("cfn-") {
            assert_eq!(sent.len(), 1, "{name}: exactly one response");
            let body = sent[0].json();
            assert_eq!(body["Status"], "FAILED", "{name}: {body}");
            let reason = body["Reason"].as_str().unwrap();
            assert!(!reason.is_empty() && !reason.contains("panicked"), "{name}: {reason}");
            assert!(sent[0].body.len() <= 4096, "{name}: {} bytes", sent[0].body.len());
        } else {
            assert!(sent.is_empty(), "{name}: no response expected");
        }
        assert!(out.is_ok(), "{name}: {out:?}");
        checked += 1;
    }
    assert!(checked >= 100, "{checked}");
    let roles = iam.list_roles().send().await.unwrap().roles;
    let created: Vec<_> =
        roles.iter().filter(|r| r.role_name != OWN_ROLE && !roles_before.contains(&r.role_name)).collect();
    assert!(created.is_empty(), "no payload created a role: {created:?}");
}

#[tokio::test]
async fn payloads_that_are_not_json_never_reach_the_handler_and_the_process_lives_on() {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    let stack = create_stack(&moto.endpoint(), "prod-eks", &["Nodes"]).await;
    let stub = RuntimeStub::start().await;
    let listener = ResponseListener::start().await;
    let proxy = test_support::fault_proxy::FaultProxy::start(moto.port).await;
    let function = Function::start(&stub.address(), &proxy.endpoint(), &[]);
    for (name, bytes) in corpus().into_iter().filter(|(n, _)| n.starts_with("raw-")) {
        let answer = tokio::time::timeout(Duration::from_secs(20), stub.invoke(&bytes, Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer.kind, "error", "{name}");
    }
    // moto's stack is still creating its resource: a Create is what CloudFormation would send now.
    let mut ok = request("Create", "Nodes", serde_json::json!({"RoleName": "eks-node-after-garbage"}), &listener.url());
    ok["StackId"] = serde_json::json!(stack);
    let answer = stub.invoke(ok.to_string().as_bytes(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.kind, "response", "still serving");
    assert_eq!(listener.last()["Status"], "SUCCESS");
    test_support::authorize::assert_authorized(&proxy, &function.env);
}
