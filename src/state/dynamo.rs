//! The state store on DynamoDB: the only module that calls aws-sdk-dynamodb.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tracing::warn;

use super::codec::{self, Item};
use super::{key, Expect, Record, StateStore};
use crate::domain::RoleName;
use crate::error::{Error, Result};

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

pub fn build_client(shared: &aws_config::SdkConfig) -> Client {
    Client::new(shared)
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    fn key(role: &RoleName) -> Item {
        Item::from([(codec::PK.to_string(), AttributeValue::S(key(role)))])
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn condition_failed(e: &Error) -> bool {
    matches!(e, Error::Aws { code: Some(c), .. } if c == CONDITION_FAILED)
}

impl StateStore for DynamoStore {
    async fn get(&self, role: &RoleName) -> Result<Option<Record>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(role)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::aws::error("DynamoDB", "GetItem", e))?;
        out.item.as_ref().map(codec::decode).transpose()
    }

    async fn put(&self, record: &Record, expect: Expect) -> Result<Record> {
        let version = record.version + 1;
        let mut req =
            self.client.put_item().table_name(&self.table).set_item(Some(codec::encode(record, version, now())));
        req = match expect {
            Expect::NewOrOwn => req
                .condition_expression("attribute_not_exists(#pk) OR (#stack = :stack AND #logical = :logical)")
                .expression_attribute_names("#pk", codec::PK)
                .expression_attribute_names("#stack", codec::OWNER_STACK_ID)
                .expression_attribute_names("#logical", codec::OWNER_LOGICAL_ID)
                .expression_attribute_values(":stack", AttributeValue::S(record.owner.stack_id.clone()))
                .expression_attribute_values(":logical", AttributeValue::S(record.owner.logical_id.clone())),
            Expect::Version(v) => req
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", codec::VERSION)
                .expression_attribute_values(":version", AttributeValue::N(v.to_string())),
        };
        match req.send().await.map_err(|e| crate::aws::error("DynamoDB", "PutItem", e)) {
            Ok(_) => Ok(Record { version, ..record.clone() }),
            Err(e) if condition_failed(&e) => Err(match expect {
                Expect::NewOrOwn => match self.get(&record.role_name).await? {
                    Some(other) => super::owned_elsewhere(&other, &record.owner),
                    None => Error::RecordChanged(record.role_name.to_string()),
                },
                Expect::Version(_) => Error::RecordChanged(record.role_name.to_string()),
            }),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, role: &RoleName, version: u64) -> Result<()> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(role)))
            .condition_expression("attribute_not_exists(#pk) OR #version = :version")
            .expression_attribute_names("#pk", codec::PK)
            .expression_attribute_names("#version", codec::VERSION)
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .send()
            .await
            .map_err(|e| crate::aws::error("DynamoDB", "DeleteItem", e));
        match r {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(Error::RecordChanged(role.to_string())),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> Result<Vec<Record>> {
        let mut pages = self.client.scan().table_name(&self.table).consistent_read(true).into_paginator().send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::aws::error("DynamoDB", "Scan", e))?;
            for item in page.items() {
                match codec::decode(item) {
                    Ok(r) => records.push(r),
                    // One unreadable item must not stop the sweep of the others.
                    Err(e) => warn!(error = %e, "state item skipped"),
                }
            }
        }
        Ok(records)
    }
}
