//! The organisation's accounts (`organizations:ListAccounts`, active ones) and the way into each: the named role,
//! assumed with STS (with an external id when given), its temporary credentials in a config of their own.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use eks_node_role_guard::domain::Partition;
use eks_node_role_guard::error::{Error, Result};

/// An account to audit: its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
}

/// The organisation's active accounts (suspended and closed ones left out).
pub async fn list(shared: &aws_config::SdkConfig) -> Result<Vec<Account>> {
    let client = aws_sdk_organizations::Client::new(shared);
    let mut out = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| eks_node_role_guard::aws::error("Organizations", "ListAccounts", e))?;
        for a in page.accounts.unwrap_or_default() {
            let active = a.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (true, Some(id)) = (active, a.id()) {
                out.push(Account { id: id.to_string(), name: a.name().unwrap_or_default().to_string() });
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The config of `shared` with the credentials of `role` in `account` (AssumeRole).
pub async fn enter(
    shared: &aws_config::SdkConfig,
    partition: Partition,
    account: &str,
    role: &str,
    external_id: Option<&str>,
) -> Result<aws_config::SdkConfig> {
    let arn = format!("arn:{partition}:iam::{account}:role/{role}");
    let out = aws_sdk_sts::Client::new(shared)
        .assume_role()
        .role_arn(&arn)
        .role_session_name("eks-node-role-audit")
        .set_external_id(external_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| eks_node_role_guard::aws::error("STS", "AssumeRole", e))?;
    let c = out.credentials.ok_or_else(|| Error::invalid(format!("AssumeRole {arn} returned no credentials")))?;
    let expiry = std::time::SystemTime::try_from(c.expiration).ok();
    let credentials =
        Credentials::new(c.access_key_id, c.secret_access_key, Some(c.session_token), expiry, "eks-node-role-audit");
    Ok(shared.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build())
}
