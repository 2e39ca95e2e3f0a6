//! template.yaml, forwarder.yaml and examples/ read as data: the function's permissions stay least privilege
//! and the event rule stays in step with the code, so an edit cannot widen or break them silently.

mod common;

use common::repo;
use eks_node_role_guard::events::HANDLED_EVENTS;
use serde_yaml::Value;

fn load(path: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap()
}

/// Strings as written, with intrinsic functions flattened: `!Sub "a${B}"` → `a${B}`, `!Ref X` → `${X}`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) if t.tag == "!Ref" => format!("${{{}}}", text(&t.value)),
        Value::Tagged(t) => text(&t.value),
        Value::Sequence(s) => s.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().unwrap();
            if k.as_str().is_some_and(|k| k.starts_with("Fn::") || k == "Ref") {
                text(v)
            } else {
                format!("{m:?}")
            }
        }
        other => serde_yaml::to_string(other).unwrap().trim().to_string(),
    }
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().map(text).collect(),
        Value::Null => vec![],
        other => vec![text(other)],
    }
}

struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

fn guard_statements() -> Vec<Statement> {
    let t = load("template.yaml");
    let role = &t["Resources"]["GuardRole"]["Properties"];
    let mut out = Vec::new();
    for policy in role["Policies"].as_sequence().unwrap() {
        for s in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            out.push(Statement {
                sid: text(&s["Sid"]),
                actions: list(&s["Action"]),
                resources: list(&s["Resource"]),
                condition: s["Condition"].clone(),
            });
        }
    }
    out
}

#[test]
fn no_wildcard_actions_and_only_reads_on_all_resources() {
    for s in guard_statements() {
        for a in &s.actions {
            assert!(!a.contains('*'), "{}: wildcard action {a}", s.sid);
        }
        if s.resources.iter().any(|r| r == "*") {
            for a in &s.actions {
                assert!(a.starts_with("iam:Get") || a.starts_with("iam:List"), "{}: {a} on every resource", s.sid);
            }
        }
    }
}

#[test]
fn role_and_instance_profile_writes_stay_under_the_path_prefix() {
    for s in guard_statements() {
        let writes_roles = s.actions.iter().any(|a| {
            let read = a.starts_with("iam:Get") || a.starts_with("iam:List");
            !read && (a.contains("Role") || a.contains("InstanceProfile"))
        });
        if writes_roles {
            for r in &s.resources {
                assert!(
                    r.ends_with(":role${RolePathPrefix}*") || r.ends_with(":instance-profile${RolePathPrefix}*"),
                    "{}: {r} is not confined to RolePathPrefix",
                    s.sid
                );
            }
        }
    }
}

#[test]
fn role_changes_are_conditioned_on_the_management_tag() {
    let tagged_actions = [
        "iam:DeleteRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:UntagRole",
    ];
    for s in guard_statements() {
        if s.actions.iter().any(|a| tagged_actions.contains(&a.as_str())) {
            let tag = &s.condition["StringEquals"]["aws:ResourceTag/eks-node-role-guard:managed"];
            assert_eq!(list(tag), ["true", "deleting"], "{}", s.sid);
        }
        if s.actions.iter().any(|a| a == "iam:CreateRole") {
            assert_eq!(text(&s.condition["StringEquals"]["aws:RequestTag/eks-node-role-guard:managed"]), "true");
        }
    }
}

#[test]
fn policies_can_be_attached_only_from_the_allow_list() {
    let st: Vec<Statement> = guard_statements()
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a.ends_with("RolePolicy") && a.contains("tach")))
        .collect();
    assert_eq!(st.len(), 1);
    let s = &st[0];
    assert_eq!(s.actions, ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]);
    let allowed = text(&s.condition["ArnEquals"]["iam:PolicyARN"]);
    for p in [
        "policy/AmazonEKSWorkerNodePolicy",
        "policy/AmazonEC2ContainerRegistryPullOnly",
        "policy/AmazonEKS_CNI_Policy",
        ":policy/AmazonEKS_CNI_IPv6_Policy",
        "${AllowedAdditionalPolicyArns}",
    ] {
        assert!(allowed.contains(p), "{p} missing from {allowed}");
    }
    assert_eq!(allowed.matches("arn:").count(), 4, "nothing else: {allowed}");
}

#[test]
fn pass_role_only_for_managed_roles_in_scope() {
    let pass: Vec<Statement> =
        guard_statements().into_iter().filter(|s| s.actions.iter().any(|a| a == "iam:PassRole")).collect();
    assert_eq!(pass.len(), 1, "iam:PassRole appears once (AddRoleToInstanceProfile needs it)");
    let s = &pass[0];
    assert_eq!(s.actions, ["iam:PassRole"]);
    assert_eq!(s.resources.len(), 1);
    assert!(s.resources[0].ends_with(":role${RolePathPrefix}*"));
    assert_eq!(text(&s.condition["StringEquals"]["aws:ResourceTag/eks-node-role-guard:managed"]), "true");
}

#[test]
fn policy_writes_only_on_the_ipv6_cni_policy() {
    for s in guard_statements() {
        if s.actions.iter().any(|a| {
            ["iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"]
                .contains(&a.as_str())
        }) {
            assert_eq!(s.resources.len(), 1, "{}", s.sid);
            assert!(s.resources[0].ends_with(":policy/AmazonEKS_CNI_IPv6_Policy"), "{}", s.resources[0]);
        }
    }
}

#[test]
fn the_function_is_arm64_al2023_built_by_cargo_lambda_with_json_logs() {
    let t = load("template.yaml");
    let f = &t["Resources"]["GuardFunction"];
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(f["Properties"]["Runtime"], "provided.al2023");
    assert_eq!(list(&f["Properties"]["Architectures"]), ["arm64"]);
    assert_eq!(f["Properties"]["LoggingConfig"]["LogFormat"], "JSON");
    let timeout = f["Properties"]["Timeout"].as_u64().unwrap();
    let margin: u64 = text(&f["Properties"]["Environment"]["Variables"]["WATCHDOG_MARGIN_MS"]).parse().unwrap();
    assert!(margin < timeout * 1000 / 4, "the watchdog margin fits the timeout");
}

fn rule_event_names(t: &Value, rule: &str) -> Vec<String> {
    let pattern = &t["Resources"][rule]["Properties"]["EventPattern"];
    assert_eq!(list(&pattern["source"]), ["aws.iam"]);
    assert_eq!(pattern["detail"]["errorCode"][0]["exists"], Value::Bool(false), "failed calls are filtered out");
    list(&pattern["detail"]["eventName"])
}

#[test]
fn the_event_rule_and_the_forwarder_match_exactly_the_events_the_code_handles() {
    let t = load("template.yaml");
    assert_eq!(rule_event_names(&t, "DriftRule"), HANDLED_EVENTS);
    assert_eq!(rule_event_names(&load("forwarder.yaml"), "ForwardRule"), HANDLED_EVENTS);
    let target = &t["Resources"]["DriftRule"]["Properties"]["Targets"][0];
    assert!(target["RetryPolicy"]["MaximumRetryAttempts"].as_u64().unwrap() > 0);
    assert!(!text(&target["DeadLetterConfig"]["Arn"]).is_empty());
}

#[test]
fn every_custom_resource_has_a_short_service_timeout() {
    let mut seen = 0;
    let mut files = vec!["template.yaml".to_string()];
    for e in std::fs::read_dir(repo().join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            files.push(format!("examples/{}", p.file_name().unwrap().to_string_lossy()));
        }
    }
    for f in files {
        let t = load(&f);
        for (_, r) in t["Resources"].as_mapping().unwrap() {
            if r["Type"].as_str().is_some_and(|ty| ty.starts_with("Custom::")) {
                let timeout: u64 = text(&r["Properties"]["ServiceTimeout"]).parse().unwrap_or(3600);
                assert!(timeout <= 900, "{f}: ServiceTimeout {timeout}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 4, "{seen} custom resources checked");
}
