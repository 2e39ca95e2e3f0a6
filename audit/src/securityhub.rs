//! Sending the audit's findings to Security Hub (`--import`): `BatchImportFindings` in batches of 100, after
//! `GetFindings` has said which of the audit's earlier findings for this account no longer hold (those are sent
//! again, resolved). A refusal (AccessDenied, Security Hub not enabled) is reported, never an abort.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Partition, RecordState, Resource,
    Severity, SeverityLabel, StringFilter, StringFilterComparison,
};
use eks_node_role_audit::asff::{self, Finding, Previous, GENERATOR};
use eks_node_role_guard::error::{Error, Result};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub sent: usize,
    pub resolved: usize,
    pub failed: Vec<String>,
}

fn error<E>(
    operation: &'static str,
    e: aws_sdk_securityhub::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Error
where
    E: aws_sdk_securityhub::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    eks_node_role_guard::aws::error("SecurityHub", operation, e)
}

/// The audit's earlier findings for `account` (filtered here too: not every endpoint applies the filters).
async fn previous(client: &aws_sdk_securityhub::Client, account: &str) -> Result<Vec<Previous>> {
    let eq = |v: &str| StringFilter::builder().value(v).comparison(StringFilterComparison::Equals).build();
    let filters = AwsSecurityFindingFilters::builder()
        .generator_id(eq(GENERATOR))
        .aws_account_id(eq(account))
        .record_state(eq("ACTIVE"))
        .build();
    let mut out = Vec::new();
    let mut pages = client.get_findings().filters(filters).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for f in page.map_err(|e| error("GetFindings", e))?.findings.unwrap_or_default() {
            if f.generator_id() != Some(GENERATOR) || f.aws_account_id() != Some(account) {
                continue;
            }
            out.push(Previous {
                id: f.id().unwrap_or_default().to_string(),
                role_arn: f.resources().first().and_then(|r| r.id()).unwrap_or_default().to_string(),
                title: f.title().unwrap_or_default().to_string(),
                description: f.description().unwrap_or_default().to_string(),
                created_at: f.created_at().unwrap_or_default().to_string(),
                record_state: f.record_state().map(|s| s.as_str().to_string()).unwrap_or_else(|| "ACTIVE".into()),
            });
        }
    }
    Ok(out)
}

fn sdk(f: &Finding) -> AwsSecurityFinding {
    let resources = f
        .resources
        .iter()
        .map(|r| {
            Resource::builder()
                .r#type(r.kind)
                .id(&r.id)
                .partition(Partition::from(r.partition.as_str()))
                .region(&r.region)
                .build()
        })
        .collect::<Vec<_>>();
    AwsSecurityFinding::builder()
        .schema_version(f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(Severity::builder().label(SeverityLabel::from(f.severity.label)).build())
        .title(&f.title)
        .description(&f.description)
        .set_resources(Some(resources))
        .compliance(Compliance::builder().status(ComplianceStatus::from(f.compliance.status)).build())
        .record_state(RecordState::from(f.record_state))
        .set_product_fields(Some(f.product_fields.clone().into_iter().collect()))
        .build()
}

/// Sends `current`, and resolves the earlier findings that no longer hold (see `asff::resolved`).
pub async fn import(
    client: &aws_sdk_securityhub::Client,
    current: &[Finding],
    audited: &std::collections::BTreeSet<String>,
    whole_account: bool,
    ctx: &asff::Context,
) -> Result<Imported> {
    let earlier = previous(client, &ctx.account).await?;
    let resolved = asff::resolved(&earlier, current, audited, whole_account, ctx);
    let all: Vec<&Finding> = current.iter().chain(&resolved).collect();
    let mut done = Imported { resolved: resolved.len(), ..Imported::default() };
    for batch in all.chunks(100) {
        let findings = batch.iter().map(|f| sdk(f)).collect::<Vec<_>>();
        let out = client
            .batch_import_findings()
            .set_findings(Some(findings))
            .send()
            .await
            .map_err(|e| error("BatchImportFindings", e))?;
        done.sent += usize::try_from(out.success_count().unwrap_or_default()).unwrap_or_default();
        for failed in out.failed_findings() {
            done.failed.push(format!(
                "{}: {} {}",
                failed.id().unwrap_or("?"),
                failed.error_code().unwrap_or("?"),
                failed.error_message().unwrap_or("")
            ));
        }
    }
    Ok(done)
}
