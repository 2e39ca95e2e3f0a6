//! template.yaml, forwarder.yaml and examples/ read as data: the function's permissions stay least privilege
//! and the event rule stays in step with the code, so an edit cannot widen or break them silently.

use eks_node_role_guard::eventbridge::handled_event_names;
use serde_yaml::Value;
use test_support::repo;

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
    effect: String,
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

/// Every Allow statement of the function's role; a statement under `!If [Condition, statement, AWS::NoValue]`
/// counts.
fn guard_statements() -> Vec<Statement> {
    all_guard_statements().into_iter().filter(|s| s.effect == "Allow").collect()
}

/// Every statement of the function's role, Allow and Deny.
fn all_guard_statements() -> Vec<Statement> {
    let t = load("template.yaml");
    let role = &t["Resources"]["GuardRole"]["Properties"];
    let mut out = Vec::new();
    for policy in role["Policies"].as_sequence().unwrap() {
        for s in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            let s = match s {
                Value::Tagged(t) if t.tag == "!If" => &t.value.as_sequence().unwrap()[1],
                s => s,
            };
            out.push(Statement {
                effect: text(&s["Effect"]),
                sid: text(&s["Sid"]),
                actions: list(&s["Action"]),
                resources: list(&s["Resource"]),
                condition: s["Condition"].clone(),
            });
        }
    }
    out
}

fn with_action(action: &str) -> Vec<Statement> {
    guard_statements().into_iter().filter(|s| s.actions.iter().any(|a| a == action)).collect()
}

const SCOPE: &str = ":role${RolePathPrefix}${RoleNamePrefix}*";
/// Whether the resources name the adoptable roles as the template spells them: `role/NAME` and `role/*/NAME`
/// for each name of AdoptableRoleNames.
fn names_adoptable(joined: &str) -> bool {
    joined.contains("arn:*:iam::*:role/,${AdoptableRoleNames}")
        && joined.contains("arn:*:iam::*:role/*/,${AdoptableRoleNames}")
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
fn role_writes_stay_on_the_roles_in_scope_and_the_declared_adoptable_names() {
    for s in guard_statements() {
        let writes = s.actions.iter().any(|a| {
            let read = a.starts_with("iam:Get") || a.starts_with("iam:List");
            a.starts_with("iam:") && !read
        });
        if !writes {
            continue;
        }
        let joined = s.resources.join(" ");
        if s.actions.iter().all(|a| a.contains("InstanceProfile")) {
            assert!(joined.contains(":instance-profile${RolePathPrefix}${RoleNamePrefix}*"), "{}: {joined}", s.sid);
            continue;
        }
        assert!(joined.contains(SCOPE), "{}: {joined}", s.sid);
        let adoptable = names_adoptable(&joined);
        // Creating and deleting roles never reaches beyond the scope: adopted roles are released, not deleted.
        let create_or_delete = s.actions.iter().any(|a| ["iam:CreateRole", "iam:DeleteRole"].contains(&a.as_str()));
        assert_eq!(adoptable, !create_or_delete, "{}: {joined}", s.sid);
    }
}

#[test]
fn no_statement_trusts_a_tag_on_the_role() {
    let t = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    assert!(!t.contains("aws:ResourceTag"), "tags decide nothing: no statement may be conditioned on them");
    let create = with_action("iam:CreateRole");
    assert_eq!(create.len(), 1);
    for branch in if_branches(&create[0].condition) {
        assert_eq!(text(&branch["StringEquals"]["aws:RequestTag/eks-node-role-guard:managed"]), "true");
    }
}

/// Both values of `!If [Condition, a, b]`, or the value itself.
fn if_branches(v: &Value) -> Vec<Value> {
    match v {
        Value::Tagged(t) if t.tag == "!If" => t.value.as_sequence().unwrap()[1..].to_vec(),
        v => vec![v.clone()],
    }
}

#[test]
fn tag_role_writes_the_label_keys_or_user_keys_never_other_label_keys() {
    let tag = with_action("iam:TagRole");
    assert_eq!(tag.len(), 2, "one statement for the label, one for user tags");
    let label = list(&tag[0].condition["ForAllValues:StringEquals"]["aws:TagKeys"]);
    assert_eq!(
        label,
        [
            "eks-node-role-guard:managed",
            "eks-node-role-guard:stack-id",
            "eks-node-role-guard:logical-id",
            "eks-node-role-guard:region"
        ]
    );
    let user = list(&tag[1].condition["ForAllValues:StringNotLike"]["aws:TagKeys"]);
    assert_eq!(user, ["eks-node-role-guard:*", "aws:*"]);
}

#[test]
fn policies_can_be_attached_only_from_the_allow_list() {
    let st: Vec<Statement> = guard_statements()
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a.ends_with("RolePolicy") && a.contains("tach")))
        .collect();
    assert_eq!(st.len(), 2);
    // With the installation's own IPv6 CNI policy, the account's may be detached from roles that carry it only.
    let detach = st.iter().find(|s| s.actions == ["iam:DetachRolePolicy"]).expect("the detach-only statement");
    let account = text(&detach.condition["ArnEquals"]["iam:PolicyARN"]);
    assert_eq!(account, "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/AmazonEKS_CNI_IPv6_Policy");
    let s = st.iter().find(|s| s.actions.len() == 2).unwrap();
    assert_eq!(s.actions, ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]);
    let allowed = text(&s.condition["ArnEquals"]["iam:PolicyARN"]);
    for p in [
        "policy/AmazonEKSWorkerNodePolicy",
        "policy/AmazonEKSWorkerNodeMinimalPolicy",
        "policy/AmazonEC2ContainerRegistryPullOnly",
        "policy/AmazonEKS_CNI_Policy",
        "${Ipv6CniPolicy}",
        ":policy/AmazonEKS_CNI_IPv6_Policy",
        "${AllowedAdditionalPolicyArns}",
    ] {
        assert!(allowed.contains(p), "{p} missing from {allowed}");
    }
    assert_eq!(allowed.matches("arn:").count(), 5, "nothing else: {allowed}");
}

#[test]
fn pass_role_is_scoped_by_role_arn_without_a_tag_condition() {
    let pass = with_action("iam:PassRole");
    assert_eq!(pass.len(), 1, "iam:PassRole appears once (AddRoleToInstanceProfile needs it)");
    let s = &pass[0];
    assert_eq!(s.actions, ["iam:PassRole"]);
    assert!(s.resources.join(" ").contains(SCOPE));
    assert!(s.condition.is_null(), "IAM cannot limit PassRole by the role's tags: scoped by ARN instead");
}

#[test]
fn with_a_name_prefix_nothing_below_a_path_named_like_it_is_in_scope() {
    let denies: Vec<Statement> = all_guard_statements().into_iter().filter(|s| s.effect == "Deny").collect();
    let d = denies.iter().find(|s| s.sid == "NothingBelowAPathNamedLikeThePrefix").unwrap();
    assert_eq!(
        d.resources,
        [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role${RolePathPrefix}${RoleNamePrefix}*/*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile${RolePathPrefix}${RoleNamePrefix}*/*"
        ]
    );
    // Every write the function may make on a role or a profile is denied there.
    for s in guard_statements() {
        for a in s.actions.iter().filter(|a| !a.starts_with("iam:Get") && !a.starts_with("iam:List")) {
            if a.starts_with("iam:") {
                assert!(d.actions.contains(a), "{a} ({}) is not denied below the prefix", s.sid);
            }
        }
    }
    let t = load("template.yaml");
    let conditional = serde_yaml::to_string(&t["Conditions"]["WithRoleNamePrefix"]).unwrap();
    assert!(conditional.contains("RoleNamePrefix"), "{conditional}");
}

#[test]
fn boundaries_only_from_the_allow_list_and_only_when_one_is_given() {
    let t = load("template.yaml");
    let b = with_action("iam:PutRolePermissionsBoundary");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].actions, ["iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"]);
    assert_eq!(text(&b[0].condition["ArnEquals"]["iam:PermissionsBoundary"]), "${AllowedPermissionsBoundaryArns}");
    // CreateRole: a boundary from the allow-list or none; with an empty list, none at all.
    let create = with_action("iam:CreateRole");
    let Value::Tagged(t_if) = &create[0].condition else { panic!("CreateRole's condition depends on WithBoundaries") };
    assert_eq!(t_if.value[0], "WithBoundaries");
    let (with, without) = (&t_if.value[1], &t_if.value[2]);
    assert_eq!(text(&with["ArnEqualsIfExists"]["iam:PermissionsBoundary"]), "${AllowedPermissionsBoundaryArns}");
    assert_eq!(text(&without["Null"]["iam:PermissionsBoundary"]), "true");
    let env = &t["Resources"]["GuardFunction"]["Properties"]["Environment"]["Variables"];
    assert!(text(&env["ALLOWED_PERMISSIONS_BOUNDARY_ARNS"]).contains("AllowedPermissionsBoundaryArns"));
    let statements = t["Resources"]["GuardRole"]["Properties"]["Policies"][2]["PolicyDocument"]["Statement"].clone();
    let conditional = statements.as_sequence().unwrap().iter().any(|s| match s {
        Value::Tagged(tg) => tg.tag == "!If" && tg.value[0] == "WithBoundaries",
        _ => false,
    });
    assert!(conditional, "no boundary action at all when AllowedPermissionsBoundaryArns is empty");
}

#[test]
fn the_function_writes_no_policy_at_all() {
    for s in guard_statements() {
        for a in &s.actions {
            assert!(
                ![
                    "iam:CreatePolicy",
                    "iam:CreatePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:PutRolePolicy",
                    "iam:TagPolicy",
                ]
                .contains(&a.as_str()),
                "{}: {a}",
                s.sid
            );
        }
    }
    let t = load("template.yaml");
    let p = &t["Resources"]["Ipv6CniPolicy"];
    assert_eq!(p["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(p["Condition"], "WithIpv6CniPolicy");
    let doc = &p["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(list(&doc[0]["Action"]).len(), 5);
    assert_eq!(text(&doc[0]["Resource"]), "*");
    assert_eq!(text(&doc[1]["Resource"][0]), "arn:${AWS::Partition}:ec2:*:*:network-interface/*");
}

#[test]
fn the_state_table_is_retained_recoverable_and_written_only_by_the_function() {
    let t = load("template.yaml");
    let table = &t["Resources"]["StateTable"];
    assert_eq!(table["DeletionPolicy"], "RetainExceptOnCreate", "a failed first install leaves the name free");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(table["Condition"], "CreateStateTable");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    // Deletion protection would refuse a failed first install's rollback; the table's own policy denies
    // DeleteTable instead (below).
    assert_eq!(p["DeletionProtectionEnabled"], Value::Bool(false));
    assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], Value::Bool(true));
    assert_eq!(p["KeySchema"].as_sequence().unwrap().len(), 1, "one partition key, no sort key");
    assert_eq!(p["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(p["AttributeDefinitions"][0]["AttributeType"], "S");
    let st = p["ResourcePolicy"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    assert_eq!(st.len(), 2, "item writes and the control plane, nothing else");
    // Whoever could change the policy, or drop and re-create the table, could forge items: only the deployers
    // (or, none named, CloudFormation on a caller's behalf) may.
    assert_eq!(st[1]["Effect"], "Deny");
    assert_eq!(st[1]["Principal"], "*");
    let mut sealed = list(&st[1]["Action"]);
    sealed.sort();
    assert_eq!(
        sealed,
        [
            "dynamodb:CreateTableReplica",
            "dynamodb:DeleteResourcePolicy",
            "dynamodb:DeleteTable",
            "dynamodb:DeleteTableReplica",
            "dynamodb:PutResourcePolicy",
            "dynamodb:RestoreTableToPointInTime",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:UpdateTable",
            "dynamodb:UpdateTimeToLive"
        ]
    );
    let cond = serde_yaml::to_string(&st[1]["Condition"]).unwrap();
    assert!(cond.contains("WithDeployers") && cond.contains("DeployerPrincipalArns"), "{cond}");
    assert!(cond.contains("aws:CalledVia") && cond.contains("cloudformation.amazonaws.com"), "{cond}");
    let example = &t["Resources"]["ExampleNodeRole"];
    assert_eq!(example["DependsOn"], "StateTableReady", "the example role waits for the table");
    let shim = serde_yaml::to_string(&t["Resources"]["StateTableReady"]).unwrap();
    assert!(shim.contains("StateTable") && shim.contains("CreateStateTable"), "{shim}");
    assert_eq!(st[0]["Effect"], "Deny");
    assert_eq!(st[0]["Principal"], "*", "the function is named by a Condition, not a Principal");
    let mut denied = list(&st[0]["Action"]);
    denied.sort();
    assert_eq!(
        denied,
        [
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:PartiQLDelete",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]
    );
    let role_arn = text(&st[0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]);
    assert_eq!(role_arn, "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-guard");
    // Both ARNs come from fixed names: the role is that name, the table too, and neither refers to the other.
    let role = &t["Resources"]["GuardRole"]["Properties"];
    assert_eq!(text(&role["RoleName"]), "${AWS::StackName}-guard");
    assert_eq!(text(&p["TableName"]), "${AWS::StackName}-state");
    let role_text = serde_yaml::to_string(&t["Resources"]["GuardRole"]).unwrap();
    assert!(
        !role_text.contains("!Ref StateTable") && !role_text.contains("StateTable.Arn"),
        "the role does not depend on the table resource"
    );
    let env = &t["Resources"]["GuardFunction"]["Properties"]["Environment"]["Variables"];
    assert!(text(&env["STATE_TABLE_NAME"]).contains("ExistingStateTableName"));
}

#[test]
fn the_dead_letter_queue_takes_messages_from_its_senders_and_gives_them_to_the_operator() {
    let t = load("template.yaml");
    let st = t["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"].clone();
    let by_sid = |sid: &str| st.as_sequence().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap();
    let send = by_sid("OnlyTheRulesAndTheFunctionSend");
    assert_eq!(send["Effect"], "Deny");
    assert_eq!(list(&send["Condition"]["ArnNotEquals"]["aws:SourceArn"]).len(), 2);
    assert!(text(&send["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]).ends_with("role/${AWS::StackName}-guard"));
    let read = by_sid("OnlyTheOperatorReads");
    assert_eq!(read["Effect"], "Deny");
    assert!(list(&read["Action"]).contains(&"sqs:ReceiveMessage".to_string()));
    assert!(text(&read["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]).contains("OperatorRoleArn"));
}

#[test]
fn the_function_learns_its_declarations_from_the_template() {
    let t = load("template.yaml");
    let env = &t["Resources"]["GuardFunction"]["Properties"]["Environment"]["Variables"];
    assert!(text(&env["ADOPTABLE_ROLE_NAMES"]).ends_with("${AdoptableRoleNames}"));
    assert!(text(&env["ALLOWED_ADDITIONAL_POLICY_ARNS"]).ends_with("${AllowedAdditionalPolicyArns}"));
    assert!(text(&env["IPV6_CNI_POLICY_ARN"]).contains("${Ipv6CniPolicy}"));
    assert_eq!(text(&env["GUARD_EXECUTION_ROLE_NAME"]), "${AWS::StackName}-guard");
    // The scope, so that a path out of IAM's reach is refused before any change.
    assert_eq!(text(&env["ROLE_PATH_PREFIX"]), "${RolePathPrefix}");
    assert_eq!(text(&env["ROLE_NAME_PREFIX"]), "${RoleNamePrefix}");
    assert_eq!(t["Parameters"]["AdoptableRoleNames"]["Default"], eks_node_role_guard::domain::reach::DEFAULT_ADOPTABLE);
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
    let told: u64 = text(&f["Properties"]["Environment"]["Variables"]["FUNCTION_TIMEOUT_SECONDS"]).parse().unwrap();
    assert_eq!(told, timeout, "the function is told its own Timeout (Lambda does not tell it)");
}

fn rule_event_names(t: &Value, rule: &str) -> Vec<String> {
    let pattern = &t["Resources"][rule]["Properties"]["EventPattern"];
    assert_eq!(list(&pattern["source"]), ["aws.iam"]);
    assert_eq!(list(&pattern["account"]), ["${AWS::AccountId}"], "{rule}: events of the own account only");
    assert_eq!(pattern["detail"]["errorCode"][0]["exists"], Value::Bool(false), "failed calls are filtered out");
    list(&pattern["detail"]["eventName"])
}

#[test]
fn the_event_rule_and_the_forwarder_match_exactly_the_events_the_code_handles() {
    let t = load("template.yaml");
    assert_eq!(rule_event_names(&t, "DriftRule"), handled_event_names());
    assert_eq!(rule_event_names(&load("forwarder.yaml"), "ForwardRule"), handled_event_names());
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
                // A shorter one is refused on Create: CloudFormation could give up while the function works.
                assert!(timeout >= 120, "{f}: ServiceTimeout {timeout} is shorter than the function's Timeout");
                seen += 1;
            }
        }
    }
    assert!(seen >= 4, "{seen} custom resources checked");
}

#[test]
fn parliament_finds_no_privilege_escalation_in_the_functions_policies() {
    let out = std::process::Command::new(test_support::venv_bin("python"))
        .arg(repo().join("scripts/lint_policies.py"))
        .arg(repo().join("template.yaml"))
        .output()
        .expect("run parliament");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("node-roles: ") && text.contains("0 blocking finding(s)"), "{text}");
}

#[test]
fn notifications_are_published_only_as_the_guards_source_on_the_default_bus_and_mailed_from_their_fields() {
    use eks_node_role_guard::notify;
    let put = with_action("events:PutEvents");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].resources, ["arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"]);
    assert_eq!(
        put[0].condition["StringEquals"]["events:source"],
        notify::SOURCE,
        "it cannot publish as aws.* or anyone else"
    );

    let t = load("template.yaml");
    let rule = &t["Resources"]["DriftNotificationRule"]["Properties"];
    assert_eq!(list(&rule["EventPattern"]["source"]), [notify::SOURCE]);
    let target = &rule["Targets"][0];
    assert_eq!(text(&target["Arn"]), "${AlarmTopic}");
    // Every field the mail uses is one the function fills in.
    let sample = notify::notification(
        &eks_node_role_guard::reconcile::repair::RepairReport::new(
            "r",
            eks_node_role_guard::reconcile::repair::Outcome::Repaired,
        ),
        &notify::Cause::default(),
        std::time::Duration::ZERO,
        eks_node_role_guard::domain::Partition::Aws,
        std::time::SystemTime::now(),
    )
    .unwrap();
    for (_, path) in target["InputTransformer"]["InputPathsMap"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        if let Some(field) = path.strip_prefix("$.detail.") {
            assert!(sample.detail.get(field).is_some(), "{field} is not in a notification");
        } else {
            assert_eq!(path, "$.detail-type");
        }
    }
    let env = &t["Resources"]["GuardFunction"]["Properties"]["Environment"]["Variables"];
    assert!(env.get("NOTIFY_EVENT_BUS").is_some());
    // The topic's key lets CloudWatch and EventBridge publish (the AWS managed SNS key would not).
    let key = &t["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"][1];
    assert_eq!(list(&key["Principal"]["Service"]), ["cloudwatch.amazonaws.com", "events.amazonaws.com"]);
    assert_eq!(text(&t["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"]), "${AlarmTopicKey}");
    // Only the notification rule may publish as EventBridge (not any rule of the account).
    let topic = &t["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][2];
    let Value::Tagged(only_rule) = topic else { panic!("the rule's statement exists only with the rule: {topic:?}") };
    let statement = &only_rule.value.as_sequence().unwrap()[1];
    assert_eq!(text(&statement["Principal"]["Service"]), "events.amazonaws.com");
    assert_eq!(text(&statement["Condition"]["ArnEquals"]["aws:SourceArn"]), "DriftNotificationRule.Arn");
}

#[test]
fn the_template_can_be_published_to_the_serverless_application_repository() {
    let t = load("template.yaml");
    let app = &t["Metadata"]["AWS::ServerlessRepo::Application"];
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = cargo.lines().find_map(|l| l.strip_prefix("version = \"")).unwrap().trim_end_matches('"');
    assert_eq!(text(&app["SemanticVersion"]), version, "SemanticVersion follows Cargo.toml");
    assert_eq!(text(&app["SpdxLicenseId"]), "Apache-2.0");
    assert!(cargo.contains("license = \"Apache-2.0\""));
    for file in ["LicenseUrl", "ReadmeUrl"] {
        assert!(repo().join(text(&app[file])).is_file(), "{file} names a file of the repository");
    }
    assert!(std::fs::read_to_string(repo().join("LICENSE")).unwrap().contains("Apache License"));
    // The repository's own limits.
    assert!(text(&app["Description"]).len() <= 256);
    let labels = list(&app["Labels"]);
    assert!(!labels.is_empty() && labels.len() <= 10);
    assert!(labels
        .iter()
        .all(|l| l.len() <= 127 && l.chars().all(|c| c.is_ascii_alphanumeric() || "+-_:/@".contains(c))));
    let author = text(&app["Author"]);
    assert!(author.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !author.contains("--"));
    for url in ["HomePageUrl", "SourceCodeUrl"] {
        assert!(text(&app[url]).starts_with("https://"), "{url}");
    }
}

/// A fresh install reaches node roles only: a name prefix by default, the account-wide scope an explicit opt-in
/// that the template's own rule enforces, and no wildcard character a parameter could smuggle into the policy.
#[test]
fn a_fresh_install_reaches_node_roles_only() {
    let t = load("template.yaml");
    let p = &t["Parameters"];
    assert_eq!(p["RoleNamePrefix"]["Default"], "eks-node-");
    assert_eq!(p["AccountWideScope"]["Default"], "false");
    let rule = serde_yaml::to_string(&t["Rules"]["AccountWideScopeIsAnOptIn"]).unwrap();
    assert!(rule.contains("RoleNamePrefix") && rule.contains("AccountWideScope"), "{rule}");
    let name = regex_lite(text(&p["RoleNamePrefix"]["AllowedPattern"]).as_str());
    let path = regex_lite(text(&p["RolePathPrefix"]["AllowedPattern"]).as_str());
    for wild in ["*", "?"] {
        assert!(!name.contains(wild), "RoleNamePrefix may not hold {wild}");
        assert!(!path.contains(wild), "RolePathPrefix may not hold {wild}");
    }
}

/// The characters a pattern's classes admit, spelt out (`\w`, ranges `\xNN-\xNN` and single characters).
fn regex_lite(pattern: &str) -> String {
    let mut out = String::new();
    let class = pattern.split('[').skip(1).map(|c| c.split(']').next().unwrap()).collect::<Vec<_>>().join("");
    let class = class.replace("\\w", "");
    let mut chars = class.chars().peekable();
    let hex = |it: &mut std::iter::Peekable<std::str::Chars>| {
        let h: String = it.take(3).collect(); // xNN
        u8::from_str_radix(&h[1..], 16).unwrap() as char
    };
    out.push_str("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let c = if c == '\\' { hex(&mut chars) } else { c };
        if c == '-' && prev.is_some() && chars.peek().is_some() {
            let end = match chars.next().unwrap() {
                '\\' => hex(&mut chars),
                e => e,
            };
            for x in prev.unwrap()..=end {
                out.push(x);
            }
            prev = None;
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// The SCPs are JSON files (`docs/scps/`) that parliament lints. SCP 2 reaches every resource of the guard's
/// stack by a name the stack fixes (or, for the KMS key, by the stack's tag), with the actions that would blind or
/// subvert the guard: a resource type the template gains and SCP 2 does not cover fails here.
#[test]
fn the_scps_cover_every_way_to_blind_or_subvert_the_guard_and_pass_parliament() {
    let scp = |f: &str| -> Value {
        let text = std::fs::read_to_string(repo().join("docs/scps").join(f)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).map(|v| serde_yaml::to_value(v).unwrap()).unwrap()
    };
    let protect = scp("2-protect-the-guard.json");
    let statements = protect["Statement"].as_sequence().unwrap();
    let resources: Vec<String> = list(&statements[0]["Resource"]);
    let actions: Vec<String> = statements.iter().flat_map(|s| list(&s["Action"])).collect();
    let covered = |needle: &str| resources.iter().any(|r| r.contains(needle));
    let t = load("template.yaml");
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        let kind = r["Type"].as_str().unwrap();
        let (needle, must): (&str, &[&str]) = match kind {
            "AWS::Serverless::Function" => (
                ":function:GUARD_STACK-eks-node-role-guard",
                &["lambda:UpdateFunctionCode", "lambda:PutFunctionEventInvokeConfig", "lambda:DeleteFunction"],
            ),
            "AWS::Lambda::Permission" => (":function:GUARD_STACK-eks-node-role-guard", &["lambda:AddPermission"]),
            "AWS::IAM::Role" => {
                (":role/GUARD_STACK-guard", &["iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole"])
            }
            "AWS::IAM::ManagedPolicy" => (
                ":policy/GUARD_STACK-AmazonEKS_CNI_IPv6_Policy",
                &["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"],
            ),
            "AWS::DynamoDB::Table" => (
                ":table/GUARD_STACK-state",
                &["dynamodb:DeleteResourcePolicy", "dynamodb:DeleteTable", "dynamodb:UpdateTable"],
            ),
            "AWS::Events::Rule" => (":rule/GUARD_STACK-*", &["events:DisableRule", "events:RemoveTargets"]),
            "AWS::CloudWatch::Alarm" => {
                (":alarm:GUARD_STACK-*", &["cloudwatch:DeleteAlarms", "cloudwatch:DisableAlarmActions"])
            }
            "AWS::SNS::Topic" | "AWS::SNS::TopicPolicy" | "AWS::SNS::Subscription" => {
                ("arn:aws:sns:*:*:GUARD_STACK-*", &["sns:SetTopicAttributes", "sns:Unsubscribe", "sns:DeleteTopic"])
            }
            "AWS::SQS::Queue" | "AWS::SQS::QueuePolicy" => {
                ("arn:aws:sqs:*:*:GUARD_STACK-*", &["sqs:SetQueueAttributes", "sqs:DeleteQueue"])
            }
            "AWS::Logs::LogGroup" => (
                "log-group:/aws/lambda/GUARD_STACK-eks-node-role-guard",
                &["logs:DeleteLogGroup", "logs:PutRetentionPolicy"],
            ),
            "AWS::KMS::Key" => {
                let kms = statements.iter().find(|s| list(&s["Action"]).iter().any(|a| a.starts_with("kms:"))).unwrap();
                let tag = &kms["Condition"]["StringEquals"]["aws:ResourceTag/aws:cloudformation:stack-name"];
                assert_eq!(text(tag), "GUARD_STACK", "the key is reached by its stack's tag");
                ("", &["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"])
            }
            // The example node role is the guard's to enforce, and its stack is protected above.
            "AWS::CloudFormation::WaitConditionHandle" | "Custom::EksNodeRole" => ("", &[]),
            other => panic!("{} is a {other}: say in SCP 2 how it is protected", name.as_str().unwrap()),
        };
        assert!(needle.is_empty() || covered(needle), "{}: {needle} not in SCP 2", name.as_str().unwrap());
        for a in must {
            assert!(actions.iter().any(|x| x == a), "{}: {a} not denied by SCP 2", name.as_str().unwrap());
        }
    }
    assert!(covered(":stack/GUARD_STACK/*") && actions.iter().any(|a| a == "cloudformation:UpdateStack"), "its stack");
    let root = statements.iter().find(|s| text(&s["Condition"]["StringLike"]["aws:PrincipalArn"]).ends_with(":root"));
    assert!(root.is_some_and(|s| list(&s["Action"]).contains(&"dynamodb:DeleteResourcePolicy".to_string())));
    let files: Vec<String> = ["1-label-keys.json", "2-protect-the-guard.json", "3-only-cloudformation-invokes.json"]
        .iter()
        .map(|f| repo().join("docs/scps").join(f).to_string_lossy().into_owned())
        .collect();
    let out = std::process::Command::new(test_support::venv_bin("python"))
        .arg(repo().join("scripts/lint_policies.py"))
        .args(&files)
        .output()
        .expect("run parliament");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.matches("0 blocking finding(s)").count() == 3, "{said}");
}

/// Mails on the alarm topic come from the account's alarms and the notification rule only: the topic denies
/// `sns:Publish` to every principal that is not one of those services, and the topic's key serves them only for
/// this account.
#[test]
fn only_alarms_and_the_notification_rule_can_mail() {
    let t = load("template.yaml");
    let topic = &t["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!((topic["Effect"].as_str(), topic["Principal"].as_str()), (Some("Deny"), Some("*")));
    assert_eq!(text(&topic["Action"]), "sns:Publish");
    let services = list(&topic["Condition"]["StringNotEquals"]["aws:PrincipalServiceName"]);
    assert_eq!(services, ["cloudwatch.amazonaws.com", "events.amazonaws.com"]);
    let key = &t["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"][1];
    assert_eq!(text(&key["Condition"]["StringEquals"]["aws:SourceAccount"]), "${AWS::AccountId}");
}
