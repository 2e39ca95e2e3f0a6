//! The audit's findings in the AWS Security Finding Format (ASFF), as Security Hub's `BatchImportFindings` takes
//! them: one finding per account, role and kind, under a stable id, so that a second import updates the first
//! instead of adding to it, and a finding that no longer holds is sent again resolved (`Compliance.Status`
//! `PASSED`, `RecordState` `ARCHIVED`). Pure: `main.rs` sends them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::collect::AuditReport;

/// The `GeneratorId` of every finding the audit makes.
pub const GENERATOR: &str = "eks-node-role-audit";

/// Where and when the findings are made.
#[derive(Debug, Clone)]
pub struct Context {
    pub account: String,
    pub region: String,
    pub partition: String,
    /// RFC 3339, e.g. `2026-12-03T10:00:00Z`.
    pub now: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    pub schema_version: &'static str,
    pub id: String,
    pub product_arn: String,
    pub generator_id: &'static str,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: &'static str,
    pub product_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Severity {
    pub label: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: &'static str,
}

const TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices/Amazon EKS node IAM role";
/// ASFF caps `Description` at 1,024 characters and `Title` at 256.
const DESCRIPTION_MAX: usize = 1024;
const TITLE_MAX: usize = 256;

/// The stable id of the finding of `kind` on `role` in `account`.
pub fn id(account: &str, role: &str, kind: &str) -> String {
    format!("{GENERATOR}/{account}/{role}/{kind}")
}

/// How much a finding kind matters: what lets others assume a node's permissions, or hides what a policy
/// grants, is high; what keeps nodes from working is medium; the rest low.
pub fn severity(kind: &str) -> &'static str {
    match kind {
        "trust-broader-than-ec2"
        | "cluster-role-used-as-node-role"
        | "fargate-role-used-as-node-role"
        | "cni-ipv6-policy-not-aws-document" => "HIGH",
        "missing-policy"
        | "trust-not-ec2"
        | "role-not-found"
        | "managed-role-deleted"
        | "access-entry-missing"
        | "access-entry-wrong-type"
        | "access-entry-stale"
        | "cni-policy-on-node-role" => "MEDIUM",
        _ => "LOW",
    }
}

fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The findings of `report`: one per role and kind (two findings of one kind on one role are one finding with
/// both messages).
pub fn findings(report: &AuditReport, ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for role in &report.roles {
        let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in &role.findings {
            by_kind.entry(f.kind).or_default().push(&f.message);
        }
        for (kind, messages) in by_kind {
            let title = bounded(&format!("EKS node role {}: {kind}", role.role_name), TITLE_MAX);
            let used =
                if role.used_by.is_empty() { String::new() } else { format!(" (used by {})", role.used_by.join(", ")) };
            let description = bounded(&format!("{}{used}", messages.join(" ")), DESCRIPTION_MAX);
            out.push(finding(
                ctx,
                &role.role_name,
                &role.role_arn,
                kind,
                title,
                description,
                "FAILED",
                "ACTIVE",
                &ctx.now,
            ));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn finding(
    ctx: &Context,
    role: &str,
    role_arn: &str,
    kind: &str,
    title: String,
    description: String,
    status: &'static str,
    record_state: &'static str,
    created_at: &str,
) -> Finding {
    Finding {
        schema_version: "2018-10-08",
        id: id(&ctx.account, role, kind),
        product_arn: format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            ctx.partition, ctx.region, ctx.account, ctx.account
        ),
        generator_id: GENERATOR,
        aws_account_id: ctx.account.clone(),
        types: vec![TYPE.to_string()],
        created_at: created_at.to_string(),
        updated_at: ctx.now.clone(),
        severity: Severity { label: if status == "PASSED" { "INFORMATIONAL" } else { severity(kind) } },
        title,
        description,
        resources: vec![Resource {
            kind: "AwsIamRole",
            id: role_arn.to_string(),
            partition: ctx.partition.clone(),
            region: ctx.region.clone(),
        }],
        compliance: Compliance { status },
        record_state,
        product_fields: BTreeMap::from([
            (format!("{GENERATOR}/kind"), kind.to_string()),
            (format!("{GENERATOR}/role"), role.to_string()),
        ]),
    }
}

/// A finding Security Hub already holds from an earlier import (as `GetFindings` returns it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub id: String,
    pub role_arn: String,
    pub title: String,
    pub description: String,
    pub created_at: String,
    pub record_state: String,
}

/// The earlier findings that no longer hold, sent again resolved: an active finding of this account whose role
/// this audit judged (`audited`) and no longer finds of that kind, or — when the audit covered the whole
/// account (`whole_account`) — whose role it no longer reports at all.
pub fn resolved(
    previous: &[Previous],
    current: &[Finding],
    audited: &BTreeSet<String>,
    whole_account: bool,
    ctx: &Context,
) -> Vec<Finding> {
    let now: BTreeSet<&str> = current.iter().map(|f| f.id.as_str()).collect();
    let prefix = format!("{GENERATOR}/{}/", ctx.account);
    previous
        .iter()
        .filter(|p| p.record_state == "ACTIVE" && !now.contains(p.id.as_str()))
        .filter_map(|p| {
            let (role, kind) = p.id.strip_prefix(&prefix)?.rsplit_once('/')?;
            (whole_account || audited.contains(role)).then(|| {
                let description = bounded(&format!("No longer found: {}", p.description), DESCRIPTION_MAX);
                finding(ctx, role, &p.role_arn, kind, p.title.clone(), description, "PASSED", "ARCHIVED", &p.created_at)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Finding as RoleFinding, RoleReport, Verdict};

    fn ctx() -> Context {
        Context {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            partition: "aws".into(),
            now: "2026-12-03T10:00:00Z".into(),
        }
    }

    fn role(name: &str, findings: &[(&'static str, &str)]) -> RoleReport {
        RoleReport {
            role_name: name.into(),
            role_arn: format!("arn:aws:iam::123456789012:role/{name}"),
            verdict: if findings.is_empty() { Verdict::Compliant } else { Verdict::NonCompliant },
            managed: "no",
            used_by: vec!["prod/ng".into()],
            findings: findings.iter().map(|(k, m)| RoleFinding { kind: k, message: m.to_string() }).collect(),
            notes: vec![],
            node_class: Default::default(),
            ip_families: Default::default(),
            cni_separate: false,
        }
    }

    fn report(roles: Vec<RoleReport>) -> AuditReport {
        AuditReport { roles, subjects: vec![], clusters: vec![], notes: vec![] }
    }

    #[test]
    fn one_finding_per_role_and_kind_under_a_stable_id() {
        let r = report(vec![
            role(
                "nodes",
                &[
                    ("missing-policy", "A is not attached"),
                    ("missing-policy", "B is not attached"),
                    ("trust-broader-than-ec2", "x"),
                ],
            ),
            role("good", &[]),
        ]);
        let f = findings(&r, &ctx());
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].id, "eks-node-role-audit/123456789012/nodes/missing-policy");
        assert_eq!(f[0].description, "A is not attached B is not attached (used by prod/ng)");
        assert_eq!((f[0].severity.label, f[1].severity.label), ("MEDIUM", "HIGH"));
        assert_eq!(f[0].product_arn, "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default");
        assert_eq!((f[0].compliance.status, f[0].record_state), ("FAILED", "ACTIVE"));
        assert_eq!(f[0].resources[0].id, "arn:aws:iam::123456789012:role/nodes");
        // The same report again: the same ids (an import updates, never duplicates).
        assert_eq!(
            findings(&r, &ctx()).iter().map(|f| &f.id).collect::<Vec<_>>(),
            f.iter().map(|f| &f.id).collect::<Vec<_>>()
        );
        let json = serde_json::to_value(&f[0]).unwrap();
        for key in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "Types",
            "CreatedAt",
            "UpdatedAt",
            "Severity",
            "Title",
            "Description",
            "Resources",
        ] {
            assert!(json.get(key).is_some(), "ASFF requires {key}: {json}");
        }
        assert_eq!(json["Resources"][0]["Type"], "AwsIamRole");
    }

    #[test]
    fn descriptions_and_titles_stay_within_asffs_limits() {
        let long = "x".repeat(5000);
        let name = "n".repeat(64);
        let f = findings(&report(vec![role(&name, &[("missing-policy", &long)])]), &ctx());
        assert_eq!(f[0].description.chars().count(), 1024);
        assert!(f[0].title.chars().count() <= 256);
    }

    #[test]
    fn what_no_longer_holds_is_resolved_and_what_was_not_audited_is_left_alone() {
        let prev = |role: &str, kind: &str| Previous {
            id: id("123456789012", role, kind),
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            title: format!("EKS node role {role}: {kind}"),
            description: "A is not attached".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
            record_state: "ACTIVE".into(),
        };
        let previous = [
            prev("nodes", "missing-policy"),
            prev("nodes", "trust-broader-than-ec2"),
            prev("elsewhere", "missing-policy"),
            Previous { record_state: "ARCHIVED".into(), ..prev("old", "missing-policy") },
            Previous { id: "another-tool/1".into(), ..prev("x", "y") },
        ];
        let now = findings(&report(vec![role("nodes", &[("trust-broader-than-ec2", "x")])]), &ctx());
        let audited = BTreeSet::from(["nodes".to_string()]);
        let r = resolved(&previous, &now, &audited, false, &ctx());
        assert_eq!(
            r.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            [id("123456789012", "nodes", "missing-policy")]
        );
        assert_eq!(
            (r[0].compliance.status, r[0].record_state, r[0].severity.label),
            ("PASSED", "ARCHIVED", "INFORMATIONAL")
        );
        assert_eq!(r[0].created_at, "2026-12-01T00:00:00Z", "created when first found");
        // A whole-account audit resolves the findings of roles it no longer reports, too.
        let r = resolved(&previous, &now, &audited, true, &ctx());
        assert_eq!(r.len(), 2, "{r:#?}");
    }
}
