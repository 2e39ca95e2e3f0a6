//! What every AWS client here shares: the lean HTTPS client and how an SDK error reads in the crate's terms.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Code, message and whether a later attempt could succeed (throttling, 5xx, IAM's 409s for a concurrent
/// change, timeouts, lost connections).
pub fn describe<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> (Option<String>, String, bool)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string).unwrap_or_else(|| root_cause(err));
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || matches!(
                    code.as_deref(),
                    Some(
                        "Throttling"
                            | "ThrottlingException"
                            | "ServiceFailure"
                            | "RequestLimitExceeded"
                            | "ProvisionedThroughputExceededException"
                            | "InternalServerError"
                            | "ServiceUnavailable"
                            | "ConcurrentModification"
                            | "EntityTemporarilyUnmodifiable"
                    )
                )
        }
        _ => false,
    };
    (code, message, retryable)
}

/// "dispatch failure: Connection refused (os error 111)" rather than the whole chain of wrappers.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    if std::ptr::addr_eq(last, err) {
        DisplayErrorContext(err).to_string()
    } else {
        format!("{err}: {last}")
    }
}

/// An error of a non-IAM service in the crate's terms.
pub fn error<E>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> crate::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, message, retryable) = describe(&err);
    crate::Error::Aws { service, operation, code, message, retryable }
}
