//! CloudTrail's "AWS API Call via CloudTrail" detail, read leniently: every field optional, booleans that may
//! be strings, `sessionIssuer` that may be `{}`, `errorCode` kept. A field of an unexpected type reads as absent
//! instead of failing the whole event.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    Ok(serde_json::from_value(v).ok())
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudTrailDetail {
    #[serde(rename = "eventID", deserialize_with = "lenient")]
    pub event_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_source: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_time: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_identity: Option<UserIdentity>,
    #[serde(deserialize_with = "lenient")]
    pub request_parameters: Option<Value>,
    #[serde(deserialize_with = "lenient")]
    pub error_code: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub error_message: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct UserIdentity {
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub arn: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub principal_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub invoked_by: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub session_context: Option<SessionContext>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionContext {
    #[serde(deserialize_with = "lenient")]
    pub session_issuer: Option<SessionIssuer>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionIssuer {
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub arn: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_name: Option<String>,
}

impl CloudTrailDetail {
    /// Never fails: anything that is not an object reads as an empty detail.
    pub fn parse(detail: &Value) -> Self {
        serde_json::from_value(detail.clone()).unwrap_or_default()
    }

    /// A request parameter as a string.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.request_parameters.as_ref()?.get(key)?.as_str()
    }

    /// Who made the call: the identity ARN, else the issuer's, else the invoking service.
    pub fn actor(&self) -> String {
        let id = self.user_identity.as_ref();
        id.and_then(|u| u.arn.clone())
            .or_else(|| id.and_then(|u| u.session_context.as_ref()?.session_issuer.as_ref()?.arn.clone()))
            .or_else(|| id.and_then(|u| u.invoked_by.clone()))
            .unwrap_or_else(|| "unknown".into())
    }

    /// Whether the call was made by this tool's own execution role (`role_name`) or, failing that, by a
    /// session named after this function (Lambda names the session after the function).
    pub fn made_by(&self, role_name: Option<&str>, function_name: Option<&str>) -> bool {
        let Some(id) = &self.user_identity else {
            return false;
        };
        if id.kind.as_deref() != Some("AssumedRole") {
            return false;
        }
        let arn = id.arn.as_deref().unwrap_or("");
        let issuer = id.session_context.as_ref().and_then(|c| c.session_issuer.as_ref());
        if let Some(role) = role_name.filter(|r| !r.is_empty()) {
            let by_issuer = issuer.and_then(|i| i.user_name.as_deref()) == Some(role)
                || issuer.and_then(|i| i.arn.as_deref()).is_some_and(|a| a.ends_with(&format!("/{role}")));
            return by_issuer || arn.contains(&format!(":assumed-role/{role}/"));
        }
        function_name.filter(|f| !f.is_empty()).is_some_and(|f| arn.ends_with(&format!("/{f}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_console_event_with_an_empty_session_issuer_and_string_booleans() {
        let d = CloudTrailDetail::parse(&json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
                             "sessionContext": {"sessionIssuer": {}, "attributes": {"mfaAuthenticated": "true"}}},
            "eventSource": "iam.amazonaws.com", "eventName": "DetachRolePolicy",
            "requestParameters": {"roleName": "nodes", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
            "responseElements": null, "readOnly": "False", "eventID": "e-1"
        }));
        assert_eq!(d.event_name.as_deref(), Some("DetachRolePolicy"));
        assert_eq!(d.param("roleName"), Some("nodes"));
        assert_eq!(d.read_only, Some(false));
        assert_eq!(d.event_id.as_deref(), Some("e-1"));
        assert_eq!(d.actor(), "arn:aws:iam::123456789012:user/alice");
        assert_eq!(d.user_identity.unwrap().session_context.unwrap().session_issuer, Some(SessionIssuer::default()));
    }

    #[test]
    fn keeps_the_error_code_of_a_failed_call() {
        let d = CloudTrailDetail::parse(
            &json!({"eventName": "DetachRolePolicy", "errorCode": "AccessDenied", "errorMessage": "no"}),
        );
        assert_eq!(d.error_code.as_deref(), Some("AccessDenied"));
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_absent() {
        let d = CloudTrailDetail::parse(
            &json!({"eventName": 7, "userIdentity": "x", "requestParameters": null, "readOnly": 3}),
        );
        assert_eq!(d, CloudTrailDetail::default());
        assert_eq!(CloudTrailDetail::parse(&json!(null)), CloudTrailDetail::default());
        assert_eq!(CloudTrailDetail::parse(&json!("text")), CloudTrailDetail::default());
        assert_eq!(d.actor(), "unknown");
        assert_eq!(d.param("roleName"), None);
    }

    #[test]
    fn recognises_the_tools_own_execution_role() {
        let ours = CloudTrailDetail::parse(&json!({"userIdentity": {
            "type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/guard-GuardRole-X/guard-fn",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/guard-GuardRole-X", "userName": "guard-GuardRole-X"}}
        }}));
        assert!(ours.made_by(Some("guard-GuardRole-X"), Some("guard-fn")));
        assert!(ours.made_by(None, Some("guard-fn")));
        assert!(!ours.made_by(Some("other-role"), Some("guard-fn")));
        assert!(!ours.made_by(None, Some("other-fn")));
        let user = CloudTrailDetail::parse(
            &json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/guard-fn"}}),
        );
        assert!(!user.made_by(None, Some("guard-fn")));
        assert!(!CloudTrailDetail::default().made_by(Some("r"), Some("f")));
    }

    #[test]
    fn the_actor_falls_back_to_the_issuer_or_the_service() {
        let svc = CloudTrailDetail::parse(
            &json!({"userIdentity": {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}}),
        );
        assert_eq!(svc.actor(), "cloudformation.amazonaws.com");
    }
}
