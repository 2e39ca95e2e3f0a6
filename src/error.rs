//! One error type for the crate: every variant is something a person can act on.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource property (or request field) is wrong; the message names it and the fix.
    #[error("{0}")]
    Invalid(String),

    /// The request cannot be carried out in the account as it is (role exists, cluster role, ...).
    #[error("{0}")]
    Conflict(String),

    /// An IAM call failed. `retryable` is true when a later attempt could succeed.
    #[error("IAM {operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Iam { operation: &'static str, code: Option<String>, message: String, retryable: bool },

    /// A call to another AWS service (the state store, CloudFormation, STS) failed.
    #[error("{service} {operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws { service: &'static str, operation: &'static str, code: Option<String>, message: String, retryable: bool },

    /// The state item changed between its read and a conditional write (another invocation wrote it).
    #[error("the state of role {0} changed while this request ran; retry")]
    RecordChanged(String),

    /// CloudFormation did not confirm the request: nothing was changed.
    #[error("the request was not confirmed by CloudFormation: {0}")]
    NotConfirmed(String),

    /// CloudFormation could not confirm an Update or Delete while the stack rolls back (a status the rules do not
    /// know, another physical id, or no answer): the request is answered SUCCESS with nothing changed, so the
    /// rollback finishes rather than strands.
    #[error("left alone so that the stack's rollback can finish: {0}")]
    StandAside(String),

    /// The work did not finish before the Lambda deadline.
    #[error("timed out: the operation did not finish {0} before the Lambda deadline")]
    TimedOut(String),

    /// A repair met throttling or a service error: the runtime is asked to deliver the event again.
    #[error("a repair did not finish and is retried: {0}")]
    RepairIncomplete(String),

    /// The CloudFormation response could not be delivered.
    #[error("could not deliver the response to CloudFormation: {0}")]
    Response(String),
}

impl Error {
    pub fn invalid(msg: impl fmt::Display) -> Self {
        Error::Invalid(msg.to_string())
    }

    pub fn conflict(msg: impl fmt::Display) -> Self {
        Error::Conflict(msg.to_string())
    }

    /// Whether a later retry of the whole operation could help (throttling, 5xx, timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Iam { retryable: true, .. }
                | Error::Aws { retryable: true, .. }
                | Error::TimedOut(_)
                | Error::RecordChanged(_)
                | Error::RepairIncomplete(_)
        )
    }

    /// The IAM error code, when this is an IAM error.
    pub fn iam_code(&self) -> Option<&str> {
        match self {
            Error::Iam { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether this is the IAM error `code`.
    pub fn is_iam(&self, code: IamCode) -> bool {
        self.iam_code() == Some(code.as_str())
    }
}

/// The IAM error codes the tool decides on (compared here, never as strings elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamCode {
    /// The role, profile or policy does not exist (or is not visible yet: IAM is eventually consistent).
    NoSuchEntity,
    EntityAlreadyExists,
    /// The role still has attachments or profiles, or a profile still holds a role.
    DeleteConflict,
    /// A quota, e.g. managed policies per role, or one role per instance profile.
    LimitExceeded,
    /// HTTP 409: another request was changing the same entity ("submitted simultaneously", "the previous
    /// tagging operation is still ongoing"). Retried: it passes once the other write has.
    ConcurrentModification,
    /// HTTP 409: the entity cannot be changed just now (e.g. while it is being created). Retried.
    EntityTemporarilyUnmodifiable,
}

impl IamCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IamCode::NoSuchEntity => "NoSuchEntity",
            IamCode::EntityAlreadyExists => "EntityAlreadyExists",
            IamCode::DeleteConflict => "DeleteConflict",
            IamCode::LimitExceeded => "LimitExceeded",
            IamCode::ConcurrentModification => "ConcurrentModification",
            IamCode::EntityTemporarilyUnmodifiable => "EntityTemporarilyUnmodifiable",
        }
    }
}

/// What the Lambda runtime reports for an invocation error: `Retryable` (throttling, 5xx, timeouts: an async
/// invocation is delivered again) or `NonRetryable`, with the message a person acts on.
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(e: Error) -> Self {
        let error_type = if e.is_retryable() { "Retryable" } else { "NonRetryable" };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_hears_whether_a_retry_can_help() {
        let d = lambda_runtime::Diagnostic::from(Error::RepairIncomplete("IAM AttachRolePolicy: Throttling".into()));
        assert_eq!(d.error_type, "Retryable");
        assert!(d.error_message.contains("retried: IAM AttachRolePolicy: Throttling"));
        let d = lambda_runtime::Diagnostic::from(Error::invalid("RoleName 'x y' is invalid"));
        assert_eq!((d.error_type.as_str(), d.error_message.as_str()), ("NonRetryable", "RoleName 'x y' is invalid"));
    }

    #[test]
    fn iam_codes_are_compared_in_one_place() {
        let e = Error::Iam {
            operation: "GetRole",
            code: Some("NoSuchEntity".into()),
            message: "m".into(),
            retryable: false,
        };
        assert!(e.is_iam(IamCode::NoSuchEntity) && !e.is_iam(IamCode::DeleteConflict));
        assert!(!Error::invalid("x").is_iam(IamCode::NoSuchEntity));
    }
}
