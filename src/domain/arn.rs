//! ARNs the tool reads: a stack's (StackId, and the owner it names) and a managed policy's.

use std::fmt;

use super::{truncate_for_message, AccountId, Partition};
use crate::error::{Error, Result};

/// The stack and resource a role belongs to: `StackId` + `LogicalResourceId`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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

string_serde!(PolicyArn, PolicyArn::parse_any);

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
}
