//! A CloudFormation custom-resource request, read leniently first (so even a malformed one can be answered)
//! and then strictly.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::{Map, Value};

use crate::domain::truncate_for_message;
use crate::domain::{Owner, StackRef};
use crate::error::{Error, Result};

/// What every response needs, taken from whatever the payload holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub response_url: Option<String>,
    pub stack_id: String,
    pub request_id: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub request_type: String,
}

impl Envelope {
    pub fn from_raw(raw: &Value) -> Self {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
        Envelope {
            response_url: s("ResponseURL"),
            stack_id: s("StackId").unwrap_or_default(),
            request_id: s("RequestId").unwrap_or_default(),
            logical_id: s("LogicalResourceId").unwrap_or_default(),
            physical_id: s("PhysicalResourceId").filter(|p| !p.is_empty()),
            request_type: s("RequestType").unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Create,
    Update { physical_id: String, old_properties: Map<String, Value> },
    Delete { physical_id: String },
}

/// A well-formed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub kind: Kind,
    pub stack: StackRef,
    pub owner: Owner,
    pub request_id: String,
    /// The function ARN the stack invoked (checked against this function's region).
    pub service_token: String,
    pub properties: Map<String, Value>,
}

type Raw = CloudFormationCustomResourceRequest<Map<String, Value>, Map<String, Value>>;

impl Request {
    pub fn parse(raw: &Value) -> Result<Self> {
        match raw.get("RequestType").and_then(Value::as_str) {
            Some("Create" | "Update" | "Delete") => {}
            Some(other) => {
                return Err(Error::invalid(format!(
                    "RequestType '{}' is not one of Create, Update, Delete",
                    truncate_for_message(other)
                )))
            }
            None => return Err(Error::invalid("RequestType is missing or not a string")),
        }
        let service_token = raw.get("ServiceToken").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut raw = raw.clone();
        if let Some(obj) = raw.as_object_mut() {
            // Properties are optional in practice (a resource with only ServiceToken still sends an object).
            obj.entry("ResourceProperties").or_insert_with(|| Value::Object(Map::new()));
            if obj.get("RequestType").and_then(Value::as_str) == Some("Update") {
                obj.entry("OldResourceProperties").or_insert_with(|| Value::Object(Map::new()));
            }
        }
        let parsed: Raw = serde_json::from_value(raw).map_err(|e| {
            Error::invalid(format!("the request is not a valid CloudFormation custom resource request: {e}"))
        })?;
        let (kind, stack_id, request_id, logical_id, properties) = match parsed {
            Raw::Create(r) => (Kind::Create, r.stack_id, r.request_id, r.logical_resource_id, r.resource_properties),
            Raw::Update(r) => (
                Kind::Update { physical_id: r.physical_resource_id, old_properties: r.old_resource_properties },
                r.stack_id,
                r.request_id,
                r.logical_resource_id,
                r.resource_properties,
            ),
            Raw::Delete(r) => (
                Kind::Delete { physical_id: r.physical_resource_id },
                r.stack_id,
                r.request_id,
                r.logical_resource_id,
                r.resource_properties,
            ),
            _ => return Err(Error::invalid("RequestType is not one of Create, Update, Delete")),
        };
        if logical_id.is_empty() || request_id.is_empty() {
            return Err(Error::invalid("LogicalResourceId and RequestId must not be empty"));
        }
        let stack = StackRef::parse(&stack_id)?;
        Ok(Request { kind, stack, owner: Owner { stack_id, logical_id }, request_id, service_token, properties })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(kind: &str) -> Value {
        json!({
            "RequestType": kind, "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:guard",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid",
            "RequestId": "r-1", "ResourceType": "Custom::EksNodeRole", "LogicalResourceId": "NodeRole",
            "PhysicalResourceId": "prod-NodeRole-ABC", "ResourceProperties": {"IpFamily": "ipv6"},
            "OldResourceProperties": {}
        })
    }

    #[test]
    fn reads_create_update_and_delete() {
        let c = Request::parse(&base("Create")).unwrap();
        assert_eq!(c.kind, Kind::Create);
        assert_eq!(c.owner.logical_id, "NodeRole");
        assert_eq!(c.stack.name, "prod");
        assert_eq!(c.properties["IpFamily"], "ipv6");
        let u = Request::parse(&base("Update")).unwrap();
        assert!(matches!(u.kind, Kind::Update { ref physical_id, .. } if physical_id == "prod-NodeRole-ABC"));
        let d = Request::parse(&base("Delete")).unwrap();
        assert!(matches!(d.kind, Kind::Delete { ref physical_id } if physical_id == "prod-NodeRole-ABC"));
    }

    #[test]
    fn malformed_requests_get_a_readable_error() {
        let mut v = base("Replace");
        assert_eq!(
            Request::parse(&v).unwrap_err().to_string(),
            "RequestType 'Replace' is not one of Create, Update, Delete"
        );
        v["RequestType"] = json!(3);
        assert!(Request::parse(&v).unwrap_err().to_string().contains("RequestType is missing"));
        let mut v = base("Create");
        v.as_object_mut().unwrap().remove("StackId");
        assert!(Request::parse(&v)
            .unwrap_err()
            .to_string()
            .contains("not a valid CloudFormation custom resource request"));
        let mut v = base("Create");
        v["StackId"] = json!("prod");
        assert!(Request::parse(&v).unwrap_err().to_string().starts_with("StackId 'prod'"));
        let mut v = base("Create");
        v["ResourceProperties"] = json!([1]);
        assert!(Request::parse(&v).is_err());
        let mut v = base("Create");
        v.as_object_mut().unwrap().remove("ResourceProperties");
        assert!(Request::parse(&v).unwrap().properties.is_empty());
    }

    #[test]
    fn the_envelope_is_read_from_anything() {
        let e = Envelope::from_raw(&base("Create"));
        assert_eq!(e.request_id, "r-1");
        assert!(e.response_url.unwrap().starts_with("https://"));
        assert_eq!(Envelope::from_raw(&json!([1, 2])), Envelope::default());
    }
}
