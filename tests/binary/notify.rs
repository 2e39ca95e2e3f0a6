//! Notifications on a real receiver: moto's EventBridge default bus with a rule whose target is an SQS queue.
//! Exactly one event per decision worth one arrives; none for detection alone, in-sync roles or ignored events;
//! a sweep publishes 10 per PutEvents call.

use std::time::Duration;

use serde_json::{json, Value};
use test_support::fault_proxy::FaultProxy;
use test_support::*;

const WORKER_ARN: &str = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";

/// A queue that receives every event of the guard's source published on the default bus.
struct Receiver {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Receiver {
    async fn start(endpoint: &str) -> Receiver {
        let shared = shared_config(endpoint);
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let url = sqs.create_queue().queue_name("guard-notifications").send().await.unwrap().queue_url.unwrap();
        let arn = "arn:aws:sqs:us-east-1:123456789012:guard-notifications";
        let events = aws_sdk_eventbridge::Client::new(&shared);
        events
            .put_rule()
            .name("guard-notifications")
            .event_pattern(json!({"source": ["eks-node-role-guard"]}).to_string())
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(arn).build().unwrap();
        events.put_targets().rule("guard-notifications").targets(target).send().await.unwrap();
        Receiver { sqs, url }
    }

    /// Everything that arrived so far (waits briefly for stragglers).
    async fn drain(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let msgs = got.messages.unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// The drift trigger in this process, publishing through `notifier` instead of the harness's own.
async fn handle_with(h: &Harness, notifier: &Notifier, event: &Value) -> Result<Value, eks_node_role_guard::Error> {
    let app = GuardApp { notifier: notifier.clone(), ..h.app.clone() };
    deliver_to(&app, event, Duration::from_secs(60)).await
}

#[tokio::test]
async fn a_repair_through_the_function_puts_exactly_one_event_on_the_default_bus() {
    let h = Harness::deployed(&[]).await;
    let receiver = Receiver::start(&h.moto.endpoint()).await;
    let r = h.create("ProdNodes", json!({"RoleName": "prod-nodes"})).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert!(receiver.drain().await.is_empty(), "a Create is not drift: nothing is published");

    h.detach("prod-nodes", WORKER_ARN).await;
    let event = drift_event("drift-detach-role-policy.json", "prod-nodes");
    assert_eq!(h.outcome(&event, "prod-nodes").await, "repaired");
    let got = receiver.drain().await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let e = &got[0];
    assert_eq!(e["source"], "eks-node-role-guard");
    assert_eq!(e["detail-type"], "EKS Node Role Drift Repaired");
    let d = &e["detail"];
    assert_eq!(d["roleName"], "prod-nodes");
    assert_eq!(d["roleArn"], "arn:aws:iam::123456789012:role/prod-nodes");
    assert_eq!(d["stackId"], h.stack_for("ProdNodes").await);
    assert_eq!(d["policyName"], "AmazonEKSWorkerNodePolicy");
    assert_eq!(d["eventName"], "DetachRolePolicy");
    assert_eq!(d["eventId"], event["detail"]["eventID"]);
    assert_eq!(d["actorSource"], "event");
    assert!(d["changedAt"].as_str().unwrap().len() == 5, "{d}");
    assert!(d["summary"].as_str().unwrap().contains("detached AmazonEKSWorkerNodePolicy from prod-nodes"), "{d}");

    // The same event again finds the role in sync: no second notification.
    assert_eq!(h.outcome(&event, "prod-nodes").await, "in-sync");
    assert!(receiver.drain().await.is_empty());
}

#[tokio::test]
async fn a_forged_event_about_an_unmanaged_role_publishes_nothing() {
    let h = Harness::deployed(&[]).await;
    let receiver = Receiver::start(&h.moto.endpoint()).await;
    h.iam
        .create_role()
        .role_name("app-role")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    for file in ["drift-detach-role-policy.json", "drift-delete-role.json"] {
        assert_eq!(h.outcome(&drift_event(file, "app-role").clone(), "app-role").await, "ignored", "{file}");
    }
    assert!(receiver.drain().await.is_empty());
}

#[tokio::test]
async fn a_role_deleted_outside_its_stack_is_announced_once() {
    let h = Harness::deployed(&[]).await;
    let receiver = Receiver::start(&h.moto.endpoint()).await;
    assert_eq!(h.create("ProdNodes", json!({"RoleName": "prod-nodes"})).await["Status"], "SUCCESS");
    for p in h.attached("prod-nodes").await {
        h.detach("prod-nodes", &format!("arn:aws:iam::aws:policy/{p}")).await;
    }
    h.iam
        .remove_role_from_instance_profile()
        .role_name("prod-nodes")
        .instance_profile_name("prod-nodes")
        .send()
        .await
        .unwrap();
    h.iam.delete_role().role_name("prod-nodes").send().await.unwrap();
    assert_eq!(h.outcome(&drift_event("drift-delete-role.json", "prod-nodes"), "prod-nodes").await, "role-deleted");
    let got = receiver.drain().await;
    assert_eq!(
        got.iter().map(|e| e["detail-type"].as_str().unwrap()).collect::<Vec<_>>(),
        ["EKS Node Role Deleted Outside Its Stack"]
    );
}

#[tokio::test]
async fn a_sweep_publishes_one_event_per_repaired_role_ten_per_call() {
    let h = Harness::new().await;
    let receiver = Receiver::start(&h.moto.endpoint()).await;
    let roles: Vec<String> = (0..12).map(|i| format!("swept-{i:02}")).collect();
    for (i, role) in roles.iter().enumerate() {
        assert_eq!(h.create(&format!("Swept{i}"), json!({"RoleName": role})).await["Status"], "SUCCESS");
        h.detach(role, WORKER_ARN).await;
    }
    let proxy = FaultProxy::start(h.moto.port).await;
    let notifier = Notifier::event_bridge(&shared_config(&proxy.endpoint()), Some("default"));
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "sweep-1"});
    let out = handle_with(&h, &notifier, &sweep).await.unwrap();
    let repaired = out["outcomes"].as_array().unwrap().iter().filter(|o| o["outcome"] == "repaired").count();
    assert_eq!(repaired, 12, "{out}");
    assert_eq!(
        proxy.by_service().get("events"),
        Some(&2),
        "12 notifications in 2 PutEvents calls: {:?}",
        proxy.by_service()
    );
    let got = receiver.drain().await;
    let mut named: Vec<String> = got.iter().map(|e| e["detail"]["roleName"].as_str().unwrap().to_string()).collect();
    named.sort();
    assert_eq!(named, roles);
    assert!(got
        .iter()
        .all(|e| e["detail"]["actorSource"] == "sweep" && e["detail"]["actorName"] == "the scheduled sweep"));
}

#[tokio::test]
async fn notifications_can_be_switched_off() {
    let h = Harness::deployed(&[("NOTIFY_EVENT_BUS", "off")]).await;
    let receiver = Receiver::start(&h.moto.endpoint()).await;
    assert_eq!(h.create("ProdNodes", json!({"RoleName": "prod-nodes"})).await["Status"], "SUCCESS");
    h.detach("prod-nodes", WORKER_ARN).await;
    assert_eq!(h.outcome(&drift_event("drift-detach-role-policy.json", "prod-nodes"), "prod-nodes").await, "repaired");
    assert!(receiver.drain().await.is_empty());
}

#[tokio::test]
async fn a_bus_that_cannot_be_reached_costs_the_notification_not_the_repair() {
    let h = Harness::new().await;
    assert_eq!(h.create("ProdNodes", json!({"RoleName": "prod-nodes"})).await["Status"], "SUCCESS");
    h.detach("prod-nodes", WORKER_ARN).await;
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let notifier = Notifier::event_bridge(&shared_config(&nowhere), Some("default"));
    let event = drift_event("drift-detach-role-policy.json", "prod-nodes");
    let out = handle_with(&h, &notifier, &event)
        .await
        .expect("the repair is reported even though its notification could not be published");
    assert_eq!(out["outcomes"][0]["outcome"], "repaired", "{out}");
    assert_eq!(h.attached("prod-nodes").await.len(), 3);
}

#[tokio::test]
async fn the_eventbridge_bus_keeps_the_notifier_contract_on_moto() {
    let moto = Moto::start();
    let receiver = Receiver::start(&moto.endpoint()).await;
    let client = aws_sdk_eventbridge::Client::new(&shared_config(&moto.endpoint()));
    let bus = eks_node_role_guard::notifier::EventBridgeBus::new(client, "default");
    eks_node_role_guard::notifier::contract::check(&bus, || receiver.drain()).await;
}
