//! Property-based fuzzing of the dispatcher's pure layers and every parser over arbitrary JSON and over
//! mutations of the real sample payloads: nothing may panic, and the response body stays within 4096 bytes.
//!
//! `FUZZ_CASES` (default 3000) sets the cases per run; `FUZZ_SECONDS` keeps generating new seeds until that
//! much time has passed (the README records a 10-minute run).

use std::time::{Duration, Instant};

use eks_node_role_guard::app::classify;
use eks_node_role_guard::cfn::properties::Properties;
use eks_node_role_guard::cfn::request::{Envelope, Request};
use eks_node_role_guard::cfn::response::{Response, ResponseUrl, Status};
use eks_node_role_guard::domain::Partition;
use eks_node_role_guard::eventbridge::{cloudtrail::CloudTrailDetail, route};
use eks_node_role_guard::reconcile::repair::DriftSettings;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "ResourceProperties",
    "OldResourceProperties",
    "RoleName",
    "Path",
    "IpFamily",
    "AttachCniPolicy",
    "Tags",
    "Key",
    "Value",
    "AdditionalPolicyArns",
    "PermissionsBoundary",
    "AdoptExistingRole",
    "Remediation",
    "detail-type",
    "source",
    "detail",
    "eventName",
    "eventSource",
    "userIdentity",
    "sessionContext",
    "sessionIssuer",
    "type",
    "arn",
    "requestParameters",
    "roleName",
    "policyArn",
    "instanceProfileName",
    "errorCode",
    "readOnly",
    "eventID",
];

const STRINGS: &[&str] = &[
    "Create",
    "Update",
    "Delete",
    "ipv4",
    "ipv6",
    "true",
    "False",
    "enforce",
    "dry-run",
    "off",
    "/",
    "/eks/",
    "AWS API Call via CloudTrail",
    "Scheduled Event",
    "aws.iam",
    "aws.events",
    "iam.amazonaws.com",
    "DetachRolePolicy",
    "DeleteRole",
    "DeletePolicy",
    "AssumedRole",
    "IAMUser",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy",
    "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
    "https://x.s3.amazonaws.com/a",
    "http://127.0.0.1:1/x",
    "",
    "é",
    "🚀",
    "\u{0}",
    "a b",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[a-zA-Z0-9+=,.@_/-]{0,70}".prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![prop::sample::select(KEYS).prop_map(String::from), ".{0,12}"], inner),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn samples() -> Vec<Value> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

fn mutate(v: &mut Value, path: &[prop::sample::Index], replacement: &Value, remove: bool) {
    let Some((idx, rest)) = path.split_first() else {
        *v = replacement.clone();
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(idx.index(m.len())).unwrap().clone();
            if rest.is_empty() && remove {
                m.remove(&key);
            } else {
                mutate(m.get_mut(&key).unwrap(), rest, replacement, remove);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = idx.index(a.len());
            mutate(&mut a[i], rest, replacement, remove);
        }
        other => *other = replacement.clone(),
    }
}

/// A sample payload with one value somewhere replaced, or one key removed.
fn mutated(samples: Vec<Value>) -> impl Strategy<Value = Value> {
    (prop::sample::select(samples), prop::collection::vec(any::<prop::sample::Index>(), 1..4), json(), any::<bool>())
        .prop_map(|(mut v, path, replacement, remove)| {
            mutate(&mut v, &path, &replacement, remove);
            v
        })
}

/// Everything the dispatcher does before it touches IAM or the network.
fn exercise(payload: &Value) {
    let _ = classify(payload);
    let envelope = Envelope::from_raw(payload);
    if let Some(url) = &envelope.response_url {
        let _ = ResponseUrl::parse(url, true);
        let _ = ResponseUrl::parse(url, false);
    }
    let reason = match Request::parse(payload) {
        Ok(req) => {
            let r = Properties::parse(&req.properties, req.stack.partition);
            if let eks_node_role_guard::cfn::request::Kind::Update { old_properties, .. } = &req.kind {
                let _ = Properties::parse(old_properties, Partition::Aws);
            }
            r.err().map(|e| e.to_string())
        }
        Err(e) => Some(e.to_string()),
    };
    let response = Response {
        status: Status::Failed,
        reason,
        physical_resource_id: envelope.physical_id.unwrap_or_else(|| "p".into()),
        stack_id: envelope.stack_id,
        request_id: envelope.request_id,
        logical_resource_id: envelope.logical_id,
        no_echo: false,
        data: Default::default(),
    };
    let body = response.to_body("stream");
    assert!(
        body.len() <= 4096
            || response.stack_id.len() + response.request_id.len() + response.logical_resource_id.len() > 3000
    );
    let detail = CloudTrailDetail::parse(payload.get("detail").unwrap_or(payload));
    let _ = detail.actor();
    let text = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or("");
    let _ = route(text("detail-type"), text("source"), &detail, &DriftSettings::default());
}

fn run(strategy: impl Strategy<Value = Value>, label: &str) {
    let cases: u32 = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let seconds: u64 = std::env::var("FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let started = Instant::now();
    let mut total = 0u64;
    let mut seed = 0u64;
    loop {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&(label.len() as u64).to_le_bytes());
        let config = Config { cases, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
        runner
            .run(&strategy, |v| {
                exercise(&v);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{label}, seed {seed}: {e}"));
        total += u64::from(cases);
        seed += 1;
        if started.elapsed() >= Duration::from_secs(seconds) {
            break;
        }
    }
    println!("{label}: {total} cases, {} seeds, {:?}, no panic", seed, started.elapsed());
}

#[test]
fn arbitrary_json_never_panics_the_parsers() {
    run(json(), "arbitrary JSON");
}

#[test]
fn mutated_real_payloads_never_panic_the_parsers() {
    run(mutated(samples()), "mutated samples");
}
