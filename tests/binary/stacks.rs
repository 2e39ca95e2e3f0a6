//! CloudFormation itself as the client: each example a user would deploy (`examples/*.yaml`, reduced to the
//! custom resources moto can hold) is created as a moto stack, which waits for the function's answer; the request
//! it waits for is delivered to the released binary through the Runtime API emulator with moto's own ResponseURL,
//! and the stack completes with the node role's outputs.

use eks_node_role_guard::stacks::SdkStacks;
use serde_json::{json, Map, Value};
use test_support::*;

/// A template's YAML as CloudFormation's JSON (short-form intrinsics to long form).
fn to_json(v: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => json!(s),
        Y::Sequence(s) => Value::Array(s.iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(m.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), to_json(v))).collect()),
        Y::Tagged(t) => {
            let inner = to_json(&t.value);
            match t.tag.to_string().trim_start_matches('!') {
                "Ref" => json!({"Ref": inner}),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (a, b) = s.split_once('.').unwrap();
                        json!({"Fn::GetAtt": [a, b]})
                    }
                    other => json!({"Fn::GetAtt": other}),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

/// The example reduced to what moto can hold: its custom resources (ServiceToken = the moto function), the
/// parameters and conditions they use (every parameter given a default), and the outputs that refer to them.
fn reduced(path: &str) -> Value {
    let yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(repo().join(path)).unwrap()).unwrap();
    let t = to_json(&yaml);
    let mut resources = Map::new();
    for (name, r) in t["Resources"].as_object().unwrap() {
        if r["Type"].as_str().unwrap().starts_with("Custom::") {
            let mut r = r.clone();
            r["Properties"]["ServiceToken"] = json!(FUNCTION_ARN);
            resources.insert(name.clone(), r);
        }
    }
    let mut parameters = t["Parameters"].as_object().cloned().unwrap_or_default();
    for p in parameters.values_mut() {
        if p.get("Default").is_none() {
            p["Default"] = json!("example");
            p["Type"] = json!("String");
        }
    }
    let outputs: Map<String, Value> = t["Outputs"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, o)| {
            let text = o["Value"].to_string();
            resources.keys().any(|r| text.contains(&format!("\"{r}\"")))
        })
        .collect();
    let mut out = json!({"Parameters": parameters, "Resources": resources, "Outputs": outputs});
    if let Some(c) = t.get("Conditions") {
        out["Conditions"] = c.clone();
    }
    out
}

/// The properties CloudFormation would send: intrinsics resolved against the parameters' defaults, every scalar
/// a string.
fn resolve(v: &Value, params: &Map<String, Value>, conditions: &Map<String, Value>) -> Option<Value> {
    let param = |name: &str| -> Value {
        match name {
            "AWS::Partition" => json!("aws"),
            "AWS::Region" => json!("us-east-1"),
            "AWS::AccountId" => json!(ACCOUNT),
            "AWS::StackName" => json!("example"),
            n => params[n]["Default"].clone(),
        }
    };
    Some(match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, x) = m.iter().next().unwrap();
            match k.as_str() {
                "Ref" if x == "AWS::NoValue" => return None,
                "Ref" => param(x.as_str().unwrap()),
                "Fn::Sub" => {
                    let mut s = x.as_str().unwrap().to_string();
                    while let Some(i) = s.find("${") {
                        let j = s[i..].find('}').unwrap() + i;
                        let value = param(&s[i + 2..j]);
                        s.replace_range(i..=j, value.as_str().unwrap());
                    }
                    json!(s)
                }
                "Fn::If" => {
                    let a = x.as_array().unwrap();
                    let chosen =
                        if truth(&conditions[a[0].as_str().unwrap()], params, conditions) { &a[1] } else { &a[2] };
                    return resolve(chosen, params, conditions);
                }
                _ => Value::Object(
                    m.iter().filter_map(|(k, v)| resolve(v, params, conditions).map(|v| (k.clone(), v))).collect(),
                ),
            }
        }
        Value::Object(m) => Value::Object(
            m.iter().filter_map(|(k, v)| resolve(v, params, conditions).map(|v| (k.clone(), v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().filter_map(|v| resolve(v, params, conditions)).collect()),
        Value::Bool(b) => json!(b.to_string()),
        Value::Number(n) => json!(n.to_string()),
        other => other.clone(),
    })
}

fn truth(c: &Value, params: &Map<String, Value>, conditions: &Map<String, Value>) -> bool {
    let (k, x) = c.as_object().unwrap().iter().next().unwrap();
    match k.as_str() {
        "Fn::Not" => !truth(&x[0], params, conditions),
        "Fn::Equals" => resolve(&x[0], params, conditions) == resolve(&x[1], params, conditions),
        other => panic!("condition {other} not supported by this test"),
    }
}

async fn deploy_example(h: &Harness, file: &str, stack_name: &str) -> (String, Value) {
    let template = reduced(file);
    let cfn = aws_sdk_cloudformation::Client::new(&shared_config(&h.moto.endpoint()));
    let stack_id = cfn
        .create_stack()
        .stack_name(stack_name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{file}: {e:?}"))
        .stack_id
        .unwrap();
    let params = template["Parameters"].as_object().unwrap();
    let empty = Map::new();
    let conditions = template.get("Conditions").and_then(Value::as_object).unwrap_or(&empty);
    for (logical, r) in template["Resources"].as_object().unwrap() {
        let props = resolve(&r["Properties"], params, conditions).unwrap();
        let req = json!({"RequestType": "Create", "ServiceToken": FUNCTION_ARN,
            "ResponseURL": moto_response_url(&h.moto.endpoint(), &stack_id), "StackId": stack_id,
            "RequestId": format!("{stack_name}-{logical}"), "ResourceType": r["Type"], "LogicalResourceId": logical,
            "ResourceProperties": props});
        let (emulator, _) = h.binary.as_ref().unwrap();
        let out = invoke(emulator.port, req.to_string().as_bytes()).await;
        assert_eq!(out["status"], "SUCCESS", "{file} {logical}: {out}\n{}", h.logs());
    }
    let stack = cfn.describe_stacks().stack_name(&stack_id).send().await.unwrap().stacks.unwrap().remove(0);
    let outputs: Map<String, Value> = stack
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap().to_string(), json!(o.output_value().unwrap_or_default())))
        .collect();
    (stack.stack_status().unwrap().as_str().to_string(), Value::Object(outputs))
}

#[tokio::test]
async fn every_example_reaches_create_complete_with_the_node_roles_outputs() {
    let h = Harness::deployed(&[]).await;
    let (status, out) = deploy_example(&h, "examples/node-group.yaml", "node-group").await;
    assert_eq!(status, "CREATE_COMPLETE", "{out}");
    let arn = out["NodeRoleArn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:iam::123456789012:role/node-group-NodeRole-"), "{out}");
    let name = arn.rsplit('/').next().unwrap();
    assert_eq!(out["NodeInstanceProfileArn"], format!("arn:aws:iam::123456789012:instance-profile/{name}"));
    assert!(h.attached(name).await.contains("AmazonSSMManagedInstanceCore"));

    let (status, out) = deploy_example(&h, "examples/adopt-existing.yaml", "adopt").await;
    assert_eq!(status, "CREATE_COMPLETE", "{out}");
    assert_eq!(out["Adopted"], "false", "no declared node role to adopt: a new one was made");

    let (status, out) = deploy_example(&h, "examples/ipv6-separate-cni-role.yaml", "ipv6").await;
    assert_eq!(status, "CREATE_COMPLETE", "{out}");
    let name = out["NodeRoleArn"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(h.attached(&name).await, names(&["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"]));
}

#[tokio::test]
async fn a_stack_whose_property_is_wrong_gets_failed_with_the_functions_reason() {
    // moto 5.2.5 ignores a FAILED answer (the stack stays in progress, no reason kept), so the reason is read at a
    // local listener given as ResponseURL for the same request.
    let h = Harness::deployed(&[]).await;
    let stack_id = create_stack(&h.moto.endpoint(), "broken", &["NodeRole"]).await;
    let req = json!({"RequestType": "Create", "ServiceToken": FUNCTION_ARN, "ResponseURL": h.url(), "StackId": stack_id,
        "RequestId": "broken-1", "ResourceType": "Custom::EksNodeRole", "LogicalResourceId": "NodeRole",
        "ResourceProperties": {"IpFamily": "dualstack"}});
    let r = h.send_as_is(&req).await;
    assert_eq!(r["Status"], "FAILED");
    assert!(r["Reason"].as_str().unwrap().contains("IpFamily 'dualstack' is invalid"), "{r}");
    assert!(h.roles().await.is_empty());
}

#[tokio::test]
async fn moto_cloudformation_keeps_the_stacks_contract() {
    let moto = Moto::start();
    prepare(&moto.endpoint()).await;
    let stack = create_stack(&moto.endpoint(), "contract", &["NodeRole"]).await;
    let stacks = SdkStacks::new(aws_sdk_cloudformation::Client::new(&shared_config(&moto.endpoint())));
    let absent = "arn:aws:cloudformation:us-east-1:123456789012:stack/gone/00000000-0000-0000-0000-000000000000";
    eks_node_role_guard::stacks::contract::check(&stacks, &stack, "NodeRole", absent).await;
}
