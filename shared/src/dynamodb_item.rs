//! What the DynamoDB adapters (the state, service and incident stores, the alert ledger) share
//! to write and read items: attribute values of strings and numbers, attributes read back, and
//! a failed condition told apart from other failures. Crate-private: each adapter keeps its own
//! item layout, its own error type and its own error texts.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;

/// An item, as the SDK reads and writes it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute value.
pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute value.
pub(crate) fn n(value: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

/// A string attribute of `item`; `None` when it is absent or not a string.
pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// A number attribute of `item`, parsed; `None` when it is absent, not a number or out of
/// `T`'s range.
pub(crate) fn number<T: FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

/// Whether a boolean attribute of `item` is there and true.
pub(crate) fn flag(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

/// The error of a request that takes a condition (`PutItem`, `UpdateItem`, `DeleteItem`).
pub(crate) trait ConditionalError {
    /// The failed condition, when that is all the request failed on.
    fn failed_condition(&self) -> Option<&ConditionalCheckFailedException>;
}

macro_rules! conditional_errors {
    ($($error:ty),+) => {$(
        impl ConditionalError for $error {
            fn failed_condition(&self) -> Option<&ConditionalCheckFailedException> {
                match self {
                    Self::ConditionalCheckFailedException(failed) => Some(failed),
                    _ => None,
                }
            }
        }
    )+};
}

conditional_errors!(PutItemError, UpdateItemError, DeleteItemError);

/// The failed condition of a request that failed only its condition, else `None`.
pub(crate) fn failed_condition<E: ConditionalError>(
    error: &SdkError<E, HttpResponse>,
) -> Option<&ConditionalCheckFailedException> {
    error.as_service_error().and_then(E::failed_condition)
}

/// Whether a request failed only its condition.
pub(crate) fn condition_failed<E: ConditionalError>(error: &SdkError<E, HttpResponse>) -> bool {
    failed_condition(error).is_some()
}

/// The stored item a failed condition returned (`ReturnValuesOnConditionCheckFailure`).
pub(crate) fn returned_item<E: ConditionalError>(
    error: &SdkError<E, HttpResponse>,
) -> Option<&Item> {
    failed_condition(error).and_then(ConditionalCheckFailedException::item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_attributes_of_other_types_then_the_getters_find_nothing() {
        let item = Item::from([
            ("text".to_owned(), s("x")),
            ("count".to_owned(), n(-3_i64)),
            ("version".to_owned(), n(u64::MAX)),
            ("yes".to_owned(), AttributeValue::Bool(true)),
        ]);
        assert_eq!(string(&item, "text"), Some("x"));
        assert_eq!(string(&item, "count"), None);
        assert_eq!(number::<i64>(&item, "count"), Some(-3));
        assert_eq!(number::<u64>(&item, "count"), None);
        assert_eq!(number::<u64>(&item, "version"), Some(u64::MAX));
        assert_eq!(number::<i64>(&item, "text"), None);
        assert!(flag(&item, "yes"));
        assert!(!flag(&item, "text") && !flag(&item, "absent"));
    }
}
