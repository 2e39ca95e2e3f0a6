//! Where a role lives: the AWS partition and the 12-digit account.

use std::fmt;

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

string_serde!(Partition, Partition::parse);
string_serde!(AccountId, AccountId::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_principal_depends_on_the_partition() {
        assert_eq!(Partition::Aws.ec2_principal(), "ec2.amazonaws.com");
        assert_eq!(Partition::AwsCn.ec2_principal(), "ec2.amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.ec2_principal(), "ec2.amazonaws.com");
    }
}
