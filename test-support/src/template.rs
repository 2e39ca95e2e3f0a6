//! `template.yaml` rendered as a deployment renders it: the parameters (their defaults, overridden), the
//! conditions, and the intrinsic functions the template uses (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::If`,
//! `Fn::Join`, `Fn::Split`, `Fn::Select`, `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`,
//! `AWS::NoValue`), in one account, region and stack name. What comes out is plain JSON: the function's execution
//! role policies, the state table's resource policy, the function's environment.
//!
//! A resource's `Ref` and `Fn::GetAtt` give the name or ARN CloudFormation would give for the few the template
//! refers to (a managed policy's ARN from its name, a role's, a queue's, a rule's, a function's), enough for
//! policies; the SAM transform is not run (the function's role and policies are plain IAM resources).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::iam_policy::Policy;

pub const STACK_NAME: &str = "eks-node-role-guard";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The template with its parameters and conditions decided.
pub struct Rendered {
    template: Value,
    params: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
}

/// The template's parameters under which it gives the function `env` (the keys that decide its reach): a
/// function configured that way is deployed with these.
pub fn params_for(env: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    let prefix = env.get("ROLE_NAME_PREFIX").cloned().unwrap_or_default();
    if prefix.is_empty() {
        p.push(("AccountWideScope", "true".to_string()));
    }
    p.push(("RoleNamePrefix", prefix));
    p.push(("RolePathPrefix", env.get("ROLE_PATH_PREFIX").cloned().unwrap_or_else(|| "/".into())));
    for (key, param) in [
        ("ADOPTABLE_ROLE_NAMES", "AdoptableRoleNames"),
        ("ALLOWED_ADDITIONAL_POLICY_ARNS", "AllowedAdditionalPolicyArns"),
        ("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", "AllowedPermissionsBoundaryArns"),
        ("RESERVED_TAG_PREFIXES", "ReservedTagPrefixes"),
    ] {
        if let Some(v) = env.get(key) {
            p.push((param, v.clone()));
        }
    }
    p.push(("CreateIpv6CniPolicy", env.contains_key("IPV6_CNI_POLICY_ARN").to_string()));
    p.push(("DriftNotifications", (env.get("NOTIFY_EVENT_BUS").map(String::as_str) != Some("off")).to_string()));
    p
}

/// A marker for `AWS::NoValue`: removed from the list or object that holds it.
const NO_VALUE: &str = "\u{0}NoValue";

impl Rendered {
    /// `template.yaml` as deployed for a function with `env` (`params_for`).
    pub fn for_env(env: &BTreeMap<String, String>) -> Rendered {
        let params = params_for(env);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Rendered::template(&params)
    }

    /// `template.yaml` of the repository with `params` over the defaults.
    pub fn template(params: &[(&str, &str)]) -> Rendered {
        let text = std::fs::read_to_string(crate::repo().join("template.yaml")).expect("template.yaml");
        Rendered::from_text(&text, params)
    }

    /// A template's text with `params` over its defaults.
    pub fn from_text(text: &str, params: &[(&str, &str)]) -> Rendered {
        let yaml: serde_yaml::Value = serde_yaml::from_str(text).expect("the template is YAML");
        let template = to_json(&yaml);
        let mut values = BTreeMap::new();
        for (name, p) in template["Parameters"].as_object().cloned().unwrap_or_default() {
            let given = params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
            let raw = given.or_else(|| p.get("Default").map(scalar)).unwrap_or_default();
            let value = if p["Type"] == "CommaDelimitedList" {
                json!(raw.split(',').map(str::trim).collect::<Vec<_>>())
            } else {
                json!(raw)
            };
            values.insert(name, value);
        }
        for (k, _) in params {
            assert!(values.contains_key(*k), "the template has no parameter {k}");
        }
        let mut r = Rendered { template, params: values, conditions: BTreeMap::new() };
        let conditions = r.template["Conditions"].as_object().cloned().unwrap_or_default();
        // Conditions may refer to others: decide until none is left.
        let mut left: Vec<(String, Value)> = conditions.into_iter().collect();
        while !left.is_empty() {
            let before = left.len();
            left.retain(|(name, c)| match r.try_condition(c) {
                Some(v) => {
                    r.conditions.insert(name.clone(), v);
                    false
                }
                None => true,
            });
            assert!(left.len() < before, "conditions that refer to each other: {left:?}");
        }
        r
    }

    /// A resource's properties, rendered (`None` when its condition is false or it does not exist).
    pub fn properties(&self, logical: &str) -> Option<Value> {
        let resource = self.template["Resources"].get(logical)?;
        if let Some(c) = resource.get("Condition").and_then(Value::as_str) {
            if !self.conditions[c] {
                return None;
            }
        }
        Some(self.resolve(&resource["Properties"]))
    }

    /// Whether condition `name` holds.
    pub fn condition(&self, name: &str) -> bool {
        self.conditions[name]
    }

    /// The function's execution role's policies (identity policies) and, when the stack creates the state
    /// table, its resource policy.
    pub fn guard_policies(&self) -> Vec<Policy> {
        let role = self.properties("GuardRole").expect("GuardRole");
        let mut out: Vec<Policy> = role["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Policy::identity(p["PolicyName"].as_str().unwrap(), p["PolicyDocument"].clone()))
            .collect();
        if let Some(table) = self.properties("StateTable") {
            out.push(Policy::resource("StateTable", table["ResourcePolicy"]["PolicyDocument"].clone()));
        }
        out
    }

    /// The state table's resource policy alone (for principals other than the function).
    pub fn table_policy(&self) -> Option<Policy> {
        self.properties("StateTable")
            .map(|t| Policy::resource("StateTable", t["ResourcePolicy"]["PolicyDocument"].clone()))
    }

    /// The ARN of the function's execution role.
    pub fn guard_role_arn(&self) -> String {
        let name = self.properties("GuardRole").unwrap()["RoleName"].as_str().unwrap().to_string();
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    /// The function's environment as the template sets it.
    pub fn function_environment(&self) -> BTreeMap<String, String> {
        let f = self.properties("GuardFunction").expect("GuardFunction");
        f["Environment"]["Variables"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), scalar(v))).collect()
    }

    fn try_condition(&self, c: &Value) -> Option<bool> {
        let Value::Object(m) = c else { return Some(scalar(c) == "true") };
        let (f, args) = m.iter().next()?;
        let args = args.as_array().cloned().unwrap_or_else(|| vec![args.clone()]);
        Some(match f.as_str() {
            "Fn::Equals" => {
                scalar(&self.resolve_in_condition(&args[0])?) == scalar(&self.resolve_in_condition(&args[1])?)
            }
            "Fn::Not" => !self.try_condition(&args[0])?,
            "Fn::And" => args.iter().map(|a| self.try_condition(a)).collect::<Option<Vec<_>>>()?.into_iter().all(|b| b),
            "Fn::Or" => args.iter().map(|a| self.try_condition(a)).collect::<Option<Vec<_>>>()?.into_iter().any(|b| b),
            "Condition" => *self.conditions.get(scalar(&args[0]).as_str())?,
            other => panic!("condition function {other} is not rendered"),
        })
    }

    fn resolve_in_condition(&self, v: &Value) -> Option<Value> {
        Some(self.resolve(v))
    }

    /// `v` with every intrinsic function evaluated.
    pub fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(a.iter().map(|x| self.resolve(x)).filter(|x| x != NO_VALUE).collect()),
            Value::Object(m) if m.len() == 1 && is_intrinsic(m.keys().next().unwrap()) => {
                let (f, arg) = m.iter().next().unwrap();
                self.intrinsic(f, arg)
            }
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    let x = self.resolve(x);
                    if x != NO_VALUE {
                        out.insert(k.clone(), x);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn intrinsic(&self, f: &str, arg: &Value) -> Value {
        let list = |v: &Value| match self.resolve(v) {
            Value::Array(a) => a,
            other => panic!("{f} needs a list: {other}"),
        };
        match f {
            "Ref" => self.reference(arg.as_str().unwrap()),
            "Fn::Sub" => match arg {
                Value::String(s) => json!(self.substitute(s, &BTreeMap::new())),
                Value::Array(a) => {
                    let vars: BTreeMap<String, String> =
                        a[1].as_object().unwrap().iter().map(|(k, v)| (k.clone(), scalar(&self.resolve(v)))).collect();
                    json!(self.substitute(a[0].as_str().unwrap(), &vars))
                }
                other => panic!("Fn::Sub of {other}"),
            },
            "Fn::GetAtt" => {
                let (res, att) = match arg {
                    Value::String(s) => s.split_once('.').map(|(a, b)| (a.to_string(), b.to_string())).unwrap(),
                    Value::Array(a) => (scalar(&a[0]), scalar(&a[1])),
                    other => panic!("Fn::GetAtt of {other}"),
                };
                json!(self.attribute(&res, &att))
            }
            "Fn::If" => {
                let a = arg.as_array().unwrap();
                let branch = if self.conditions[a[0].as_str().unwrap()] { &a[1] } else { &a[2] };
                self.resolve(branch)
            }
            "Fn::Join" => {
                let a = arg.as_array().unwrap();
                let parts: Vec<String> = list(&a[1]).iter().map(scalar).collect();
                json!(parts.join(&scalar(&a[0])))
            }
            "Fn::Split" => {
                let a = arg.as_array().unwrap();
                let text = scalar(&self.resolve(&a[1]));
                json!(text.split(scalar(&a[0]).as_str()).collect::<Vec<_>>())
            }
            "Fn::Select" => {
                let a = arg.as_array().unwrap();
                let i: usize = scalar(&self.resolve(&a[0])).parse().unwrap();
                list(&a[1])[i].clone()
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" | "Condition" => {
                json!(self.try_condition(&json!({ f: arg })).unwrap().to_string())
            }
            other => panic!("intrinsic function {other} is not rendered"),
        }
    }

    fn reference(&self, name: &str) -> Value {
        match name {
            "AWS::NoValue" => json!(NO_VALUE),
            "AWS::Partition" => json!("aws"),
            "AWS::AccountId" => json!(ACCOUNT),
            "AWS::Region" => json!(REGION),
            "AWS::StackName" => json!(STACK_NAME),
            "AWS::StackId" => json!(format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/guid")),
            "AWS::URLSuffix" => json!("amazonaws.com"),
            _ => match self.params.get(name) {
                Some(v) => v.clone(),
                None => json!(self.resource_ref(name)),
            },
        }
    }

    /// A resource's `Ref`: its name, or for a managed policy its ARN.
    fn resource_ref(&self, logical: &str) -> String {
        let r = &self.template["Resources"][logical];
        assert!(!r.is_null(), "Ref to {logical}, which is neither a parameter nor a resource");
        let props = &r["Properties"];
        let named = |key: &str| props.get(key).map(|n| scalar(&self.resolve(n)));
        match r["Type"].as_str().unwrap() {
            "AWS::IAM::ManagedPolicy" => {
                let name = named("ManagedPolicyName").unwrap_or_else(|| format!("{STACK_NAME}-{logical}"));
                format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
            }
            "AWS::SQS::Queue" => format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{STACK_NAME}-{logical}"),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-{logical}"),
            _ => named("RoleName")
                .or_else(|| named("TableName"))
                .or_else(|| named("FunctionName"))
                .or_else(|| named("LogGroupName"))
                .unwrap_or_else(|| format!("{STACK_NAME}-{logical}")),
        }
    }

    fn attribute(&self, logical: &str, att: &str) -> String {
        let r = &self.template["Resources"][logical];
        assert!(!r.is_null(), "GetAtt of {logical}, which is not a resource");
        let name = self.resource_ref(logical);
        let kind = r["Type"].as_str().unwrap();
        match (kind, att) {
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK_NAME}-{logical}"),
            ("AWS::SQS::Queue", "QueueName") => format!("{STACK_NAME}-{logical}"),
            ("AWS::Events::Rule", "Arn") => format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"),
            ("AWS::Serverless::Function", "Arn") | ("AWS::Lambda::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
            }
            ("AWS::Logs::LogGroup", "Arn") => format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"),
            ("AWS::DynamoDB::Table", "Arn") => format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical}"),
            (kind, att) => format!("arn:aws:{kind}:{REGION}:{ACCOUNT}:{logical}.{att}"),
        }
    }

    fn substitute(&self, s: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find('}').expect("an unclosed ${ in Fn::Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((res, att)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                out.push_str(&self.attribute(res, att));
            } else {
                out.push_str(&scalar(&self.reference(name)));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn is_intrinsic(k: &str) -> bool {
    k == "Ref" || k == "Condition" || k.starts_with("Fn::")
}

/// A scalar as CloudFormation passes it on (a list joined with commas, as a CommaDelimitedList's `Ref` in a
/// string context).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// YAML with CloudFormation's short forms (`!Sub`, `!Ref`, …) as the JSON long forms.
fn to_json(v: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => json!(s),
        Y::Sequence(s) => Value::Array(s.iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().map(str::to_string).unwrap_or_else(|| scalar(&to_json(k))), to_json(v)))
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(&t.value);
            let name = match tag {
                "Ref" => "Ref".to_string(),
                "Condition" => "Condition".to_string(),
                "GetAtt" => {
                    let parts = match &inner {
                        Value::String(s) => {
                            let (a, b) = s.split_once('.').unwrap();
                            json!([a, b])
                        }
                        other => other.clone(),
                    };
                    return json!({ "Fn::GetAtt": parts });
                }
                other => format!("Fn::{other}"),
            };
            json!({ name: inner })
        }
    }
}
