//! The watchdog: when IAM hangs, CloudFormation still gets FAILED ("timed out") before the Lambda deadline.

use std::time::{Duration, Instant};

use eks_node_role_guard::app::App;
use eks_node_role_guard::cfn::confirm::IdentitySource;
use eks_node_role_guard::cfn::response::{ResponseSender, SendPolicy, Status};
use eks_node_role_guard::cfn::{self, CfnSettings};
use eks_node_role_guard::iam::{IamSettings, SdkIam};
use eks_node_role_guard::metrics::Metrics;
use eks_node_role_guard::notify::Notifier;
use eks_node_role_guard::reconcile::repair::DriftSettings;
use eks_node_role_guard::reconcile::Reconciler;
use eks_node_role_guard::stacks::MemoryStacks;
use eks_node_role_guard::state::MemoryStore;
use serde_json::json;
use test_support::*;

async fn run_against_hanging_iam(kind: &str, time_left: Duration) -> (Status, Vec<Received>, Instant) {
    let hang = HangingServer::start().await;
    let listener = ResponseListener::start().await;
    let settings = IamSettings { attempt_timeout: Duration::from_secs(60), ..IamSettings::default() };
    let rec =
        Reconciler::new(SdkIam::new(client_for(&hang.endpoint(), &settings, None)), MemoryStore::new(), rules(), None);
    let sender = ResponseSender::new(SendPolicy::default());
    let cfn_settings =
        CfnSettings { margin: Duration::from_millis(1500), allow_insecure_response_url: true, function_timeout: None };
    let stacks = MemoryStacks::default();
    stacks.set(STACK_ID, "UPDATE_IN_PROGRESS", &[("Nodes", "Custom::EksNodeRole")]);
    let app = App {
        reconciler: rec,
        stacks,
        identity: IdentitySource::fixed(identity()),
        sender,
        cfn: cfn_settings,
        drift: DriftSettings::default(),
        metrics: Metrics::default(),
        notifier: Notifier::Off,
    };
    let mut req = request(kind, "Nodes", json!({"RoleName": "nodes"}), &listener.url());
    req["PhysicalResourceId"] = json!("nodes");
    req["OldResourceProperties"] = json!({"RoleName": "nodes"});
    let started = Instant::now();
    let status = cfn::handle(&req, &app, &invocation(time_left)).await;
    (status, listener.all(), started)
}

#[tokio::test]
async fn sends_failed_timed_out_before_the_deadline_when_iam_hangs() {
    for kind in ["Create", "Update", "Delete"] {
        let deadline = Duration::from_secs(4);
        let (status, got, started) = run_against_hanging_iam(kind, deadline).await;
        assert_eq!(status, Status::Failed, "{kind}");
        assert_eq!(got.len(), 1, "{kind}: exactly one response");
        let took = got[0].at - started;
        assert!(took < deadline, "{kind}: answered after {took:?}");
        assert!(took >= Duration::from_millis(2000), "{kind}: the work had its budget ({took:?})");
        let body = got[0].json();
        assert_eq!(body["Status"], "FAILED");
        assert!(body["Reason"].as_str().unwrap().starts_with("timed out"), "{body}");
        assert_eq!(body["PhysicalResourceId"], "nodes", "{kind}");
    }
}

#[tokio::test]
async fn a_deadline_already_past_still_gets_an_immediate_answer() {
    let (status, got, started) = run_against_hanging_iam("Create", Duration::ZERO).await;
    assert_eq!(status, Status::Failed);
    // No time for work, and one attempt at the PUT all the same.
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(got.len(), 1);
    assert!(got[0].json()["Reason"].as_str().unwrap().starts_with("timed out"));
}

#[tokio::test]
async fn a_replacement_cut_short_by_the_deadline_is_removed_after_the_answer() {
    use test_support::fault_proxy::{Fault, FaultProxy};
    let h = Harness::new().await;
    let old = json!({"RoleName": "nodes-blue"});
    assert_eq!(h.create("Nodes", old.clone()).await["Status"], "SUCCESS");
    let proxy = FaultProxy::start(h.moto.port).await;
    let settings = IamSettings { attempt_timeout: Duration::from_secs(60), ..IamSettings::default() };
    let rec = reconciler(client_for(&proxy.endpoint(), &settings, None), &h.moto.endpoint());
    // The three reads of the new name, the instance profile check, CreateRole and GetRole pass; the attachments
    // hang until the watchdog answers.
    let mut script = vec![None; 6];
    script.push(Some(Fault::Hang));
    proxy.script(script);
    let cfn_settings =
        CfnSettings { margin: Duration::from_millis(1500), allow_insecure_response_url: true, function_timeout: None };
    let req = h.aimed(&update("Nodes", "nodes-blue", json!({"RoleName": "nodes-green"}), old, &h.url())).await;
    cfn::handle(&req, &h.app_with(rec, cfn_settings), &invocation(Duration::from_secs(4))).await;

    let body = h.listener.last();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["PhysicalResourceId"], "nodes-blue");
    assert!(h.role("nodes-green").await.is_none(), "the half-made replacement was removed");
    assert!(h.role("nodes-blue").await.is_some());
}
