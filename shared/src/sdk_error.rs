//! Classifies AWS SDK errors: what a later retry may fix, and a message that says what failed.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes that mean "too much, too fast" or "the service had a problem".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "KMSThrottlingException",
    "KMSThrottling",
];

/// Whether a later retry of the request may succeed: timeouts, connection failures, broken
/// responses, throttling and server errors are; validation and not-found errors are not.
pub(crate) fn is_retryable<E>(error: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service.err().code().is_some_and(|code| RETRYABLE_CODES.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// The error with its whole chain of causes, on one line.
pub(crate) fn describe<E>(error: &E) -> String
where
    E: std::error::Error,
{
    DisplayErrorContext(error).to_string()
}
