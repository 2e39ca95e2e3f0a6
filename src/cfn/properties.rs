//! The resource properties of `Custom::EksNodeRole`, validated. Every problem is reported at once, each
//! naming the property and the fix.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::domain::spec::{RESERVED_TAGS, TAG_PREFIX};
use crate::domain::{is_valid_tag_key, is_valid_tag_value, parse_bool, truncate_for_message};
use crate::domain::{IpFamily, NodeClass, Partition, PolicyArn, RemediationMode, RoleName, RolePath};
use crate::error::{Error, Result};

pub use crate::domain::intent::{Properties, RoleIdentity, DEFAULT_DESCRIPTION};

/// Every property the resource accepts (plus the two CloudFormation adds itself).
pub const KNOWN: &[&str] = &[
    "RoleName",
    "Path",
    "Description",
    "IpFamily",
    "AttachCniPolicy",
    "AdditionalPolicyArns",
    "PermissionsBoundary",
    "Tags",
    "CreateInstanceProfile",
    "AdoptExistingRole",
    "Remediation",
    "NodeClass",
    "ServiceToken",
    "ServiceTimeout",
];

impl Properties {
    /// Validates `ResourceProperties`. `partition` is the stack's: policy ARNs must be in it.
    pub fn parse(props: &Map<String, Value>, partition: Partition) -> Result<Self> {
        let mut r = Reader { props, errors: Vec::new() };
        r.refuse_unknown();
        let node_class = r.scalar("NodeClass", NodeClass::parse).unwrap_or_default();
        let asked_cni = r.scalar("AttachCniPolicy", |s| parse_bool(s, "AttachCniPolicy"));
        let mut attach_cni = asked_cni.unwrap_or(true);
        if node_class == NodeClass::AutoMode {
            // Auto Mode runs pod networking itself: its node role carries no CNI policy.
            if asked_cni == Some(true) {
                r.errors.push(
                    "AttachCniPolicy cannot be true with NodeClass auto-mode: EKS Auto Mode runs pod networking itself"
                        .into(),
                );
            }
            attach_cni = false;
        }
        let p = Properties {
            role_name: r.scalar("RoleName", |s| (!s.is_empty()).then(|| RoleName::parse(s)).transpose()).flatten(),
            path: r.scalar("Path", RolePath::parse).unwrap_or_else(RolePath::root),
            description: r.scalar("Description", description),
            ip_family: r.scalar("IpFamily", IpFamily::parse).unwrap_or_default(),
            attach_cni,
            additional_policies: r.additional_policies(partition),
            boundary: r
                .scalar("PermissionsBoundary", |s| {
                    (!s.is_empty()).then(|| policy_in(s, "PermissionsBoundary", partition)).transpose()
                })
                .flatten(),
            tags: r.keep(parse_tags(props.get("Tags"))).unwrap_or_default(),
            create_instance_profile: r
                .scalar("CreateInstanceProfile", |s| parse_bool(s, "CreateInstanceProfile"))
                .unwrap_or(true),
            adopt_existing: r.scalar("AdoptExistingRole", |s| parse_bool(s, "AdoptExistingRole")).unwrap_or(false),
            remediation: r.scalar("Remediation", |s| RemediationMode::parse(s, "Remediation")).unwrap_or_default(),
            node_class,
            service_timeout: r.scalar("ServiceTimeout", |s| {
                s.parse::<u64>().ok().filter(|n| (1..=3600).contains(n)).ok_or_else(|| {
                    Error::invalid(format!(
                        "ServiceTimeout '{}' is invalid: a whole number of seconds from 1 to 3600",
                        truncate_for_message(s)
                    ))
                })
            }),
        };
        if r.errors.is_empty() {
            Ok(p)
        } else {
            Err(Error::invalid(r.errors.join("; ")))
        }
    }
}

/// Reads properties, keeping every problem (each names its property and the fix) to report them all at once.
struct Reader<'a> {
    props: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl Reader<'_> {
    fn keep<T>(&mut self, r: Result<T>) -> Option<T> {
        r.inspect_err(|e| self.errors.push(e.to_string())).ok()
    }

    /// The property's value parsed, `None` when absent or wrong (then the problem is kept).
    fn scalar<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Result<T>) -> Option<T> {
        let r = scalar(self.props, key).and_then(|v| v.map(|s| parse(&s)).transpose());
        self.keep(r).flatten()
    }

    fn refuse_unknown(&mut self) {
        for key in self.props.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
            let hint = suggest(key).map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
            self.errors.push(format!(
                "unknown property '{}'{hint}: accepted properties are {}",
                truncate_for_message(key),
                KNOWN[..12].join(", ")
            ));
        }
    }

    fn additional_policies(&mut self, partition: Partition) -> BTreeSet<PolicyArn> {
        let items = self.keep(list(self.props, "AdditionalPolicyArns")).unwrap_or_default();
        // No fixed cap: how many managed policies a role may hold is the account's quota, which AWS raises over
        // time; the reconciler reads it (GetAccountSummary) before any change.
        items.iter().filter_map(|s| self.keep(policy_in(s, "AdditionalPolicyArns", partition))).collect()
    }
}

fn description(d: &str) -> Result<String> {
    let ok = d.chars().count() <= 1000
        && d.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'));
    if !ok {
        return Err(Error::invalid(format!(
            "Description '{}' is invalid: at most 1000 characters of printable Latin-1 text",
            truncate_for_message(d)
        )));
    }
    Ok(d.to_string())
}

/// The identity of the role in OldResourceProperties, read leniently: their other values may not pass today's
/// validation (they were accepted, or refused, by an earlier request).
impl RoleIdentity {
    /// `None` when RoleName or Path cannot be read: then the role is updated in place, never replaced.
    pub fn read(props: &Map<String, Value>) -> Option<Self> {
        let role_name = match scalar(props, "RoleName").ok()? {
            Some(s) if !s.is_empty() => Some(RoleName::parse(&s).ok()?),
            _ => None,
        };
        let path = match scalar(props, "Path").ok()? {
            Some(s) => RolePath::parse(&s).ok()?,
            None => RolePath::root(),
        };
        Some(RoleIdentity { role_name, path })
    }
}

/// A string property; numbers and booleans are taken as their text (CloudFormation sends strings anyway).
fn scalar(props: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Error::invalid(format!("{key} must be a string, not a list or object"))),
    }
}

/// A list property; a comma-separated string is accepted too.
fn list(props: &Map<String, Value>, key: &str) -> Result<Vec<String>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(|s| s.trim().to_string()).ok_or_else(|| {
                    Error::invalid(format!("{key} must be a list of policy ARN strings; found {}", kind_of(v)))
                })
            })
            .filter(|r| r.as_ref().map(|s| !s.is_empty()).unwrap_or(true))
            .collect(),
        Some(v) => Err(Error::invalid(format!("{key} must be a list of policy ARNs, not {}", kind_of(v)))),
    }
}

fn policy_in(s: &str, property: &str, partition: Partition) -> Result<PolicyArn> {
    let arn = PolicyArn::parse(s, property)?;
    if arn.partition() != partition {
        return Err(Error::invalid(format!(
            "{property} '{}' is in partition {} but the stack is in {partition}: use arn:{partition}:iam::…",
            truncate_for_message(s),
            arn.partition()
        )));
    }
    Ok(arn)
}

fn parse_tags(v: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let items = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Error::invalid(format!(
                "Tags must be a list of {{Key, Value}} objects, not {}",
                kind_of(other)
            )))
        }
    };
    let mut tags = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let key = item.get("Key").and_then(Value::as_str);
        let value = match item.get("Value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        let (Some(key), Some(value)) = (key, value) else {
            return Err(Error::invalid(format!("Tags[{i}] must be an object with string Key and Value")));
        };
        if !is_valid_tag_key(key)
            || key.to_ascii_lowercase().starts_with("aws:")
            || key.to_ascii_lowercase().starts_with(TAG_PREFIX)
        {
            return Err(Error::invalid(format!(
                "Tags[{i}].Key '{}' is invalid: 1–128 letters, digits, spaces and _.:/=+-@, not starting with aws: or {TAG_PREFIX}",
                truncate_for_message(key)
            )));
        }
        if !is_valid_tag_value(&value) {
            return Err(Error::invalid(format!(
                "Tags[{i}].Value for '{}' is invalid: at most 256 letters, digits, spaces and _.:/=+-@",
                truncate_for_message(key)
            )));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(Error::invalid(format!("Tags has the key '{}' twice (keys are case-insensitive)", key)));
        }
        tags.insert(key.to_string(), value);
    }
    if tags.len() > 50 - RESERVED_TAGS {
        return Err(Error::invalid(format!(
            "Tags has {} tags: at most {} (IAM allows 50 per role; {RESERVED_TAGS} are kept for the label)",
            tags.len(),
            50 - RESERVED_TAGS
        )));
    }
    Ok(tags)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The known property closest to a misspelt one (case-insensitive edit distance ≤ 3).
fn suggest(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    KNOWN
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Properties> {
        Properties::parse(v.as_object().unwrap(), Partition::Aws)
    }

    fn err(v: Value) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn defaults_follow_the_procedure() {
        let p =
            parse(json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x", "ServiceTimeout": "300"}))
                .unwrap();
        assert_eq!(p.role_name, None);
        assert_eq!(p.path, RolePath::root());
        assert_eq!(p.description, None);
        assert_eq!(p.ip_family, IpFamily::Ipv4);
        assert!(p.attach_cni && p.create_instance_profile && !p.adopt_existing);
        assert_eq!(p.remediation, RemediationMode::Enforce);
        assert!(p.additional_policies.is_empty() && p.tags.is_empty() && p.boundary.is_none());
    }

    #[test]
    fn every_property_is_read() {
        let p = parse(json!({
            "RoleName": "AmazonEKSNodeRole", "Path": "/eks/", "Description": "nodes", "IpFamily": "IPv6",
            "AttachCniPolicy": "FALSE", "AdditionalPolicyArns": ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/Boundary",
            "Tags": [{"Key": "team", "Value": "platform"}], "CreateInstanceProfile": "false",
            "AdoptExistingRole": "True", "Remediation": "dry-run"
        }))
        .unwrap();
        assert_eq!(p.role_name.unwrap().as_str(), "AmazonEKSNodeRole");
        assert_eq!(p.path.as_str(), "/eks/");
        assert_eq!(p.description.as_deref(), Some("nodes"));
        assert_eq!(p.ip_family, IpFamily::Ipv6);
        assert!(!p.attach_cni && !p.create_instance_profile && p.adopt_existing);
        assert_eq!(p.additional_policies.len(), 1);
        assert_eq!(p.boundary.unwrap().name(), "Boundary");
        assert_eq!(p.tags.get("team").map(String::as_str), Some("platform"));
        assert_eq!(p.remediation, RemediationMode::DryRun);
    }

    #[test]
    fn json_booleans_and_comma_separated_lists_are_accepted() {
        let p = parse(json!({"AttachCniPolicy": false, "AdditionalPolicyArns": "arn:aws:iam::aws:policy/A, arn:aws:iam::aws:policy/B"})).unwrap();
        assert!(!p.attach_cni);
        assert_eq!(p.additional_policies.len(), 2);
        assert_eq!(parse(json!({"RoleName": ""})).unwrap().role_name, None);
    }

    #[test]
    fn unknown_properties_are_refused_with_a_suggestion() {
        let e = err(json!({"IPFamily": "ipv6"}));
        assert!(e.starts_with("unknown property 'IPFamily' (did you mean IpFamily?)"), "{e}");
        let e = err(json!({"Colour": "red"}));
        assert!(e.contains("unknown property 'Colour': accepted properties are RoleName, Path"), "{e}");
        assert!(!e.contains("ServiceToken"));
    }

    #[test]
    fn each_invalid_value_names_the_property_and_the_fix() {
        let cases = [
            (
                json!({"RoleName": "x y"}),
                "RoleName 'x y' is invalid: use letters, digits and +=,.@_-, at most 64 characters",
            ),
            (json!({"Path": "eks"}), "Path 'eks' is invalid: it must begin and end with '/'"),
            (json!({"Description": "é\u{1F600}"}), "Description '"),
            (json!({"IpFamily": "dual"}), "IpFamily 'dual' is invalid: use ipv4 or ipv6"),
            (json!({"AttachCniPolicy": "yes"}), "AttachCniPolicy 'yes' is not a boolean: use true or false"),
            (json!({"CreateInstanceProfile": "1"}), "CreateInstanceProfile '1' is not a boolean"),
            (json!({"AdoptExistingRole": "maybe"}), "AdoptExistingRole 'maybe' is not a boolean"),
            (json!({"Remediation": "fix"}), "Remediation 'fix' is invalid: use enforce, dry-run or off"),
            (json!({"PermissionsBoundary": "Boundary"}), "PermissionsBoundary 'Boundary' is not an IAM policy ARN"),
            (
                json!({"PermissionsBoundary": "arn:aws-cn:iam::aws:policy/B"}),
                "is in partition aws-cn but the stack is in aws",
            ),
            (json!({"AdditionalPolicyArns": ["nope"]}), "AdditionalPolicyArns 'nope' is not an IAM policy ARN"),
            (json!({"AdditionalPolicyArns": [1]}), "AdditionalPolicyArns must be a list of policy ARN strings"),
            (
                json!({"AdditionalPolicyArns": {"a": 1}}),
                "AdditionalPolicyArns must be a list of policy ARNs, not an object",
            ),
            (json!({"Tags": {"Key": "a"}}), "Tags must be a list of {Key, Value} objects, not an object"),
            (json!({"Tags": [{"Key": "a"}]}), "Tags[0] must be an object with string Key and Value"),
            (json!({"Tags": [{"Key": "aws:x", "Value": "v"}]}), "Tags[0].Key 'aws:x' is invalid"),
            (
                json!({"Tags": [{"Key": "eks-node-role-guard:managed", "Value": "v"}]}),
                "Tags[0].Key 'eks-node-role-guard:managed' is invalid",
            ),
            (
                json!({"Tags": [{"Key": "EKS-Node-Role-Guard:managed", "Value": "v"}]}),
                "Tags[0].Key 'EKS-Node-Role-Guard:managed' is invalid",
            ),
            (json!({"Tags": [{"Key": "a", "Value": "line\nbreak"}]}), "Tags[0].Value for 'a' is invalid"),
            (json!({"Tags": [{"Key": "a", "Value": "x*"}]}), "Tags[0].Value for 'a' is invalid"),
            (json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]}), "Tags has the key 'A' twice"),
            (json!({"RoleName": ["a"]}), "RoleName must be a string, not a list or object"),
        ];
        for (input, expected) in cases {
            let e = err(input.clone());
            assert!(e.contains(expected), "{input}: {e}");
        }
        // No fixed cap on the list: the account's quota decides, before any change (the reconciler's check).
        let many: Vec<String> = (0..30).map(|i| format!("arn:aws:iam::aws:policy/P{i}")).collect();
        let p = Properties::parse(json!({"AdditionalPolicyArns": many}).as_object().unwrap(), Partition::Aws).unwrap();
        assert_eq!(p.additional_policies.len(), 30);
        let tags: Vec<Value> = (0..47).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
        assert!(err(json!({"Tags": tags})).contains("Tags has 47 tags: at most 46"));
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let e = err(json!({"RoleName": "a b", "IpFamily": "x", "Typo": 1}));
        assert_eq!(e.matches("; ").count(), 2, "{e}");
    }
}
