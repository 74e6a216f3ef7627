//! How the functions report a failed invocation: one definition of the `Debug` form the Lambda
//! runtime logs, of the conversion into its `Diagnostic`, and of what a batch's answer reads of
//! a failed event ([`EventFailure`](crate::event::payload::EventFailure)), for every function's
//! error type.

/// Implements, for a function's error type that has `Display` and an
/// `error_type(&self) -> &'static str` method (`Retryable.*` or `NonRetryable.*`):
///
/// * `Debug` as `<error type>: <message>` — the runtime logs a returned error once, in that
///   form, so handlers do not log it again;
/// * `From<error> for lambda_runtime::Diagnostic`, with that error type and message (what
///   Lambda reports, and what the DLQ messages carry).
///
/// `handler_error!(HandlerError, EventFailure)` also implements
/// [`EventFailure`](crate::event::payload::EventFailure) for a function that answers batches
/// event by event ([`answer_batch`](crate::event::payload::answer_batch)), from the type's own
/// `is_retryable(&self) -> bool` and `error_type` methods.
///
/// The calling crate must depend on `lambda_runtime`.
#[macro_export]
macro_rules! handler_error {
    ($error:ty, EventFailure) => {
        $crate::handler_error!($error);

        impl $crate::event::payload::EventFailure for $error {
            fn is_retryable(&self) -> bool {
                <$error>::is_retryable(self)
            }

            fn error_type(&self) -> &'static str {
                <$error>::error_type(self)
            }
        }
    };
    ($error:ty) => {
        impl ::std::fmt::Debug for $error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}: {self}", self.error_type())
            }
        }

        impl ::std::convert::From<$error> for ::lambda_runtime::Diagnostic {
            fn from(error: $error) -> Self {
                ::lambda_runtime::Diagnostic {
                    error_type: error.error_type().into(),
                    error_message: error.to_string(),
                }
            }
        }
    };
}
