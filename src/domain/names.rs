//! Validated values. CloudFormation sends strings; they become these types at the edge so the core never
//! re-checks a string.

use std::fmt;

use crate::error::{Error, Result};

/// An AWS partition, taken from the StackId (or the role ARN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsIso,
    AwsIsoB,
}

impl Partition {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "aws" => Partition::Aws,
            "aws-cn" => Partition::AwsCn,
            "aws-us-gov" => Partition::AwsUsGov,
            "aws-iso" => Partition::AwsIso,
            "aws-iso-b" => Partition::AwsIsoB,
            _ => return None,
        })
    }

    /// The partition an ARN names (`arn:<partition>:…`), if it names a known one.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.split(':');
        (parts.next()? == "arn").then_some(())?;
        Partition::parse(parts.next()?)
    }

    /// The partition a region belongs to.
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else if region.starts_with("us-isob-") {
            Partition::AwsIsoB
        } else if region.starts_with("us-iso-") {
            Partition::AwsIso
        } else {
            Partition::Aws
        }
    }

    /// The one region where the partition's IAM CloudTrail events reach EventBridge.
    pub fn iam_events_region(self) -> &'static str {
        match self {
            Partition::AwsCn => "cn-north-1",
            Partition::AwsUsGov => "us-gov-west-1",
            _ => "us-east-1",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsIso => "aws-iso",
            Partition::AwsIsoB => "aws-iso-b",
        }
    }

    /// The EC2 service principal nodes assume the role through. AWS's own node-role template uses
    /// `ec2.amazonaws.com.cn` in the China partition.
    pub fn ec2_principal(self) -> &'static str {
        match self {
            Partition::AwsCn => "ec2.amazonaws.com.cn",
            _ => "ec2.amazonaws.com",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The stack and resource a role belongs to: `StackId` + `LogicalResourceId`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub stack_id: String,
    pub logical_id: String,
}

/// What a StackId ARN tells: `arn:{partition}:cloudformation:{region}:{account}:stack/{name}/{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub partition: Partition,
    pub region: String,
    pub account: AccountId,
    pub name: String,
}

impl StackRef {
    pub fn parse(stack_id: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "StackId '{}' is not a CloudFormation stack ARN (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>)",
                truncate_for_message(stack_id)
            ))
        };
        let parts: Vec<&str> = stack_id.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "cloudformation" {
            return Err(bad());
        }
        let partition = Partition::parse(parts[1]).ok_or_else(bad)?;
        let account = AccountId::parse(parts[4]).ok_or_else(bad)?;
        let mut res = parts[5].split('/');
        if res.next() != Some("stack") {
            return Err(bad());
        }
        let name = res.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
        if parts[3].is_empty() {
            return Err(bad());
        }
        Ok(StackRef { partition, region: parts[3].to_string(), account, name: name.to_string() })
    }
}

/// An IAM role name: 1–64 of letters, digits and `+=,.@_-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(is_role_name_byte);
        if ok {
            Ok(RoleName(s.to_string()))
        } else {
            Err(Error::invalid(format!(
                "RoleName '{}' is invalid: use letters, digits and +=,.@_-, at most 64 characters",
                truncate_for_message(s)
            )))
        }
    }

    /// `<stack name>-<LogicalResourceId>-<suffix>`, at most 64 characters. The suffix is a hash of `seed`,
    /// so the same seed (StackId + LogicalResourceId for a Create) always yields the same name.
    pub fn generate(stack_name: &str, logical_id: &str, seed: &str) -> Self {
        let suffix = short_hash(seed, 12);
        let clean = |s: &str| s.bytes().filter(|b| is_role_name_byte(*b)).map(char::from).collect::<String>();
        let (mut stack, mut logical) = (clean(stack_name), clean(logical_id));
        // 64 = stack + '-' + logical + '-' + 12; keep the logical id readable, shorten the stack name first.
        let budget = 64 - 2 - suffix.len();
        logical.truncate(logical.len().min(budget.saturating_sub(stack.len()).max(budget / 2)));
        stack.truncate(budget - logical.len());
        let name = match (stack.is_empty(), logical.is_empty()) {
            (false, false) => format!("{stack}-{logical}-{suffix}"),
            (true, false) => format!("{logical}-{suffix}"),
            (false, true) => format!("{stack}-{suffix}"),
            (true, true) => format!("NodeRole-{suffix}"),
        };
        RoleName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_role_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IAM path: `/` or `/segment/.../`, printable ASCII, at most 512 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RolePath(String);

impl RolePath {
    pub fn root() -> Self {
        RolePath("/".into())
    }

    pub fn parse(s: &str) -> Result<Self> {
        let ok = s.len() <= 512
            && s.starts_with('/')
            && s.ends_with('/')
            && !s.contains("//")
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(RolePath(s.to_string()))
        } else {
            Err(Error::invalid(format!(
                "Path '{}' is invalid: it must begin and end with '/', e.g. /eks/nodes/, printable ASCII without spaces, at most 512 characters",
                truncate_for_message(s)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IAM managed policy ARN: `arn:{partition}:iam::{aws|account}:policy/{path/}name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyArn(String);

impl PolicyArn {
    pub fn parse(s: &str, property: &str) -> Result<Self> {
        Self::parse_any(s).ok_or_else(|| {
            Error::invalid(format!(
                "{property} '{}' is not an IAM policy ARN: expected arn:<partition>:iam::<account id or aws>:policy/<name>",
                truncate_for_message(s)
            ))
        })
    }

    fn parse_any(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        Partition::parse(partition)?;
        let rest = rest.strip_prefix("iam::")?;
        let (account, resource) = rest.split_once(':')?;
        if account != "aws" && AccountId::parse(account).is_none() {
            return None;
        }
        let name = resource.strip_prefix("policy/")?;
        let valid = !name.is_empty()
            && !name.ends_with('/')
            && s.len() <= 2048
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
        valid.then(|| PolicyArn(s.to_string()))
    }

    /// An AWS managed policy in the given partition.
    pub fn aws_managed(partition: Partition, name: &str) -> Self {
        PolicyArn(format!("arn:{partition}:iam::aws:policy/{name}"))
    }

    /// A customer managed policy at the root path.
    pub fn customer(partition: Partition, account: &AccountId, name: &str) -> Self {
        PolicyArn(format!("arn:{partition}:iam::{}:policy/{name}", account.as_str()))
    }

    pub fn partition(&self) -> Partition {
        // Parsing checked the partition.
        Partition::of_arn(&self.0).unwrap_or(Partition::Aws)
    }

    /// An AWS managed policy (`arn:<partition>:iam::aws:policy/…`), not a customer's.
    pub fn is_aws_managed(&self) -> bool {
        self.0.split(':').nth(4) == Some("aws")
    }

    /// The policy's name (last path segment), e.g. `AmazonEKSWorkerNodePolicy`.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The IP family of the cluster the nodes join; decides which CNI policy the role needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" => Ok(IpFamily::Ipv4),
            "ipv6" => Ok(IpFamily::Ipv6),
            _ => Err(Error::invalid(format!(
                "IpFamily '{}' is invalid: use ipv4 or ipv6 (the family the cluster was created with)",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }
}

/// Which node-role procedure a role follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeClass {
    /// "Amazon EKS node IAM role": AmazonEKSWorkerNodePolicy, the registry policy, the CNI policy by IP family.
    #[default]
    Standard,
    /// "Amazon EKS Auto Mode node IAM role": AmazonEKSWorkerNodeMinimalPolicy and the registry policy, no CNI
    /// policy (Auto Mode runs networking itself).
    AutoMode,
}

impl NodeClass {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Ok(NodeClass::Standard),
            "auto-mode" | "automode" => Ok(NodeClass::AutoMode),
            _ => Err(Error::invalid(format!(
                "NodeClass '{}' is invalid: use standard or auto-mode (EKS Auto Mode)",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NodeClass::Standard => "standard",
            NodeClass::AutoMode => "auto-mode",
        }
    }
}

/// How drift repair treats a role. Ordered from most to least active; the stricter (greater) wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RemediationMode {
    #[default]
    Enforce,
    DryRun,
    Off,
}

impl RemediationMode {
    pub fn parse(s: &str, property: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "enforce" => Ok(RemediationMode::Enforce),
            "dry-run" | "dryrun" => Ok(RemediationMode::DryRun),
            "off" => Ok(RemediationMode::Off),
            _ => Err(Error::invalid(format!(
                "{property} '{}' is invalid: use enforce, dry-run or off",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RemediationMode::Enforce => "enforce",
            RemediationMode::DryRun => "dry-run",
            RemediationMode::Off => "off",
        }
    }
}

/// Booleans arrive as strings; any case of true/false is accepted.
pub fn parse_bool(s: &str, property: &str) -> Result<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => {
            Err(Error::invalid(format!("{property} '{}' is not a boolean: use true or false", truncate_for_message(s))))
        }
    }
}

/// IAM tag keys: 1–128 characters of letters, digits, spaces and `_.:/=+-@`.
pub fn is_valid_tag_key(k: &str) -> bool {
    let n = k.chars().count();
    (1..=128).contains(&n) && k.chars().all(is_tag_char)
}

/// IAM tag values: 0–256 characters of the same set.
pub fn is_valid_tag_value(v: &str) -> bool {
    v.chars().count() <= 256 && v.chars().all(is_tag_char)
}

/// IAM allows letters, numbers, `\p{Z}` separators (no tab or newline) and `_.:/=+-@` in tags.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Keeps user-supplied strings in messages short and printable.
pub fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// First `len` characters of the base-32 (A–Z, 2–7) SHA-256 of `seed`.
fn short_hash(seed: &str, len: usize) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(seed.as_bytes());
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = String::with_capacity(len);
    for byte in digest {
        bits = (bits << 8) | u64::from(byte);
        nbits += 8;
        while nbits >= 5 && out.len() < len {
            nbits -= 5;
            out.push(char::from(ALPHABET[((bits >> nbits) & 31) as usize]));
        }
    }
    out
}

/// The state item stores these as plain strings; reading one back validates it again (the item is the
/// authority, but a value that is not valid is reported, never guessed).
macro_rules! string_serde {
    ($ty:ty, $parse:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($parse)(text.as_str()).ok_or_else(|| {
                    serde::de::Error::custom(format!("invalid {}: {}", stringify!($ty), truncate_for_message(&text)))
                })
            }
        }
    };
}

string_serde!(Partition, Partition::parse);
string_serde!(AccountId, AccountId::parse);
string_serde!(RoleName, |s: &str| RoleName::parse(s).ok());
string_serde!(RolePath, |s: &str| RolePath::parse(s).ok());
string_serde!(PolicyArn, PolicyArn::parse_any);
string_serde!(IpFamily, |s: &str| IpFamily::parse(s).ok());
string_serde!(NodeClass, |s: &str| NodeClass::parse(s).ok());
string_serde!(RemediationMode, |s: &str| RemediationMode::parse(s, "remediation").ok());

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/prod-eks/5b6e4a40-0e1c-11ef-9d2b-0a1b2c3d4e5f";

    #[test]
    fn parses_a_stack_id_into_partition_region_account_and_name() {
        let s = StackRef::parse(STACK).unwrap();
        assert_eq!(s.partition, Partition::Aws);
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.account.as_str(), "123456789012");
        assert_eq!(s.name, "prod-eks");
        let cn = StackRef::parse("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/x/y").unwrap();
        assert_eq!(cn.partition, Partition::AwsCn);
    }

    #[test]
    fn rejects_stack_ids_that_are_not_stack_arns() {
        for bad in [
            "",
            "prod-eks",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudformation:us-east-1:12345:stack/x/y",
            "arn:nope:cloudformation:us-east-1:123456789012:stack/x/y",
            "arn:aws:cloudformation::123456789012:stack/x/y",
            "arn:aws:cloudformation:us-east-1:123456789012:stackset/x/y",
            "arn:aws:cloudformation:us-east-1:123456789012:stack//y",
        ] {
            let e = StackRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains("StackId"), "{bad}: {e}");
        }
    }

    #[test]
    fn role_names_follow_iam_rules() {
        assert!(RoleName::parse("AmazonEKSNodeRole").is_ok());
        assert!(RoleName::parse("a+=,.@_-1").is_ok());
        assert!(RoleName::parse(&"a".repeat(64)).is_ok());
        let e = RoleName::parse("x y").unwrap_err().to_string();
        assert_eq!(e, "RoleName 'x y' is invalid: use letters, digits and +=,.@_-, at most 64 characters");
        assert!(RoleName::parse("").is_err());
        assert!(RoleName::parse(&"a".repeat(65)).is_err());
        assert!(RoleName::parse("rôle").is_err());
    }

    #[test]
    fn generated_names_are_stable_distinct_and_at_most_64_characters() {
        let a = RoleName::generate("prod-eks", "NodeRole", "seed-1");
        assert_eq!(a, RoleName::generate("prod-eks", "NodeRole", "seed-1"));
        assert_ne!(a, RoleName::generate("prod-eks", "NodeRole", "seed-2"));
        assert!(a.as_str().starts_with("prod-eks-NodeRole-"), "{a}");
        assert_eq!(a.as_str().len(), "prod-eks-NodeRole-".len() + 12);
        let long = RoleName::generate(&"s".repeat(128), &"L".repeat(255), "x");
        assert_eq!(long.as_str().len(), 64, "{long}");
        assert!(long.as_str().contains("-LLLL"), "keeps part of the logical id: {long}");
        assert!(RoleName::parse(long.as_str()).is_ok());
        let short_stack = RoleName::generate("s", &"L".repeat(100), "x");
        assert_eq!(short_stack.as_str().len(), 64);
        assert!(short_stack.as_str().starts_with("s-LLL"));
        assert!(RoleName::parse(RoleName::generate("", "", "x").as_str()).is_ok());
    }

    #[test]
    fn paths_must_be_slash_delimited_printable_ascii() {
        assert!(RolePath::parse("/").is_ok());
        assert!(RolePath::parse("/eks/nodes/").is_ok());
        for bad in ["", "eks/", "/eks", "/a b/", "//", "/é/"] {
            let e = RolePath::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("Path '"), "{e}");
        }
        assert!(RolePath::parse(&format!("/{}/", "a".repeat(511))).is_err());
    }

    #[test]
    fn policy_arns_are_checked_and_partition_aware() {
        let p = PolicyArn::parse("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "X").unwrap();
        assert_eq!(p.name(), "AmazonSSMManagedInstanceCore");
        assert_eq!(p.partition(), Partition::Aws);
        let c = PolicyArn::parse("arn:aws-cn:iam::123456789012:policy/team/Extra", "X").unwrap();
        assert_eq!(c.partition(), Partition::AwsCn);
        assert_eq!(c.name(), "Extra");
        for bad in [
            "AmazonSSMManagedInstanceCore",
            "arn:aws:iam::aws:role/x",
            "arn:aws:iam::12:policy/x",
            "arn:aws:s3:::policy/x",
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::aws:policy/a b",
        ] {
            let e = PolicyArn::parse(bad, "PermissionsBoundary").unwrap_err().to_string();
            assert!(e.starts_with("PermissionsBoundary '"), "{e}");
        }
        assert_eq!(
            PolicyArn::aws_managed(Partition::AwsUsGov, "AmazonEKSWorkerNodePolicy").as_str(),
            "arn:aws-us-gov:iam::aws:policy/AmazonEKSWorkerNodePolicy"
        );
    }

    #[test]
    fn ip_family_modes_and_booleans_accept_any_case() {
        assert_eq!(IpFamily::parse("IPv6").unwrap(), IpFamily::Ipv6);
        assert_eq!(IpFamily::parse("ipv4").unwrap(), IpFamily::Ipv4);
        assert!(IpFamily::parse("dual").unwrap_err().to_string().contains("use ipv4 or ipv6"));
        assert_eq!(RemediationMode::parse("DRY-RUN", "Remediation").unwrap(), RemediationMode::DryRun);
        assert!(RemediationMode::parse("fix", "Remediation").is_err());
        assert!(RemediationMode::Off > RemediationMode::DryRun && RemediationMode::DryRun > RemediationMode::Enforce);
        assert!(parse_bool("TRUE", "X").unwrap());
        assert!(!parse_bool("False", "X").unwrap());
        assert_eq!(
            parse_bool("yes", "AdoptExistingRole").unwrap_err().to_string(),
            "AdoptExistingRole 'yes' is not a boolean: use true or false"
        );
    }

    #[test]
    fn ec2_principal_depends_on_the_partition() {
        assert_eq!(Partition::Aws.ec2_principal(), "ec2.amazonaws.com");
        assert_eq!(Partition::AwsCn.ec2_principal(), "ec2.amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.ec2_principal(), "ec2.amazonaws.com");
    }

    #[test]
    fn tag_keys_and_values_follow_iam_rules() {
        assert!(is_valid_tag_key("team"));
        assert!(is_valid_tag_key("kubernetes.io/cluster/prod"));
        assert!(!is_valid_tag_key(""));
        assert!(!is_valid_tag_key(&"k".repeat(129)));
        assert!(!is_valid_tag_key("a*b"));
        assert!(is_valid_tag_value(""));
        assert!(is_valid_tag_value("owned"));
        assert!(!is_valid_tag_value(&"v".repeat(257)));
    }
}
