//! The DynamoDB incident store: a table keyed by `incidentKey` holding two kinds of items.
//!
//! * `head#<key>`: the incident open (or last open) for a key — `opened`, `window`,
//!   `lastActive`, `opener`, `crashLoop`, and a `version` that makes opening an incident a
//!   compare-and-set.
//! * `window#<key>#<opened>#<index>`: one window — `windowStart`, `windowEnd`, one attribute
//!   `m#<member id>` per counted match (its summary as JSON; written on condition that it does
//!   not exist, so a match counts once however many times it is delivered), `stops`,
//!   `overflow`, `crashLoop`, and while its digest is due `dueShard` = `due` and `dueAt` =
//!   `windowEnd`, which the `due-index` (hash `dueShard`, range `dueAt`) lists.
//!
//! Every item expires by TTL (`expiresAt`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{
    GroupSettings, Head, IncidentError, IncidentStore, Member, Placement, Recorded, Window,
    WindowRef, place,
};
use crate::sdk_error::{describe, is_retryable};

/// Key attribute of the incident table.
pub const INCIDENT_KEY: &str = "incidentKey";

/// The index of windows whose digest is due (hash `dueShard`, range `dueAt`).
pub const DUE_INDEX: &str = "due-index";

const DUE: &str = "due";
const MEMBER_PREFIX: &str = "m#";
/// Compare-and-set attempts when invocations race to open or count into one incident.
const ATTEMPTS: usize = 20;

/// Incidents in a DynamoDB table whose key is `incidentKey` (S); see the module documentation.
#[derive(Debug, Clone)]
pub struct DynamoDbIncidentStore {
    client: Client,
    table: String,
}

impl DynamoDbIncidentStore {
    /// A store in `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn head(&self, key: &str) -> Result<Option<(Head, i64)>, IncidentError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, text(&head_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| failure("read head", key, &error))?;
        Ok(output.item.and_then(|item| {
            let head = Head {
                opened: number(&item, "opened")?,
                window: number(&item, "window")?,
                last_active: number(&item, "lastActive")?,
                opener: string(&item, "opener")?.to_owned(),
                crash_loop: matches!(item.get("crashLoop"), Some(AttributeValue::Bool(true))),
            };
            Some((head, number(&item, "version")?))
        }))
    }

    /// Opens an incident unless the head changed since it was read at `version`: `false`
    /// when another invocation changed it first.
    async fn open(
        &self,
        key: &str,
        head: &Head,
        version: Option<i64>,
        expires_at: i64,
    ) -> Result<bool, IncidentError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(INCIDENT_KEY, text(&head_key(key)))
            .item("opened", int(head.opened))
            .item("window", int(head.window))
            .item("lastActive", int(0))
            .item("opener", text(&head.opener))
            .item("crashLoop", AttributeValue::Bool(false))
            .item("version", int(version.unwrap_or(0) + 1))
            .item("expiresAt", int(expires_at));
        request = match version {
            None => request.condition_expression("attribute_not_exists(#key)"),
            Some(version) => request
                .condition_expression("#version = :version")
                .expression_attribute_values(":version", int(version))
                .expression_attribute_names("#version", "version"),
        };
        if version.is_none() {
            request = request.expression_attribute_names("#key", INCIDENT_KEY);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(failure("open", key, &error)),
        }
    }

    /// Counts `member` into `window` once: `Some(stops)` with the window's stop count when it
    /// was counted now, `None` when it already was.
    async fn count(
        &self,
        window: &WindowRef,
        head: &Head,
        member: &Member,
        expires_at: i64,
    ) -> Result<Option<u64>, IncidentError> {
        let start = head.opened + i64::from(window.index - 1) * head.window;
        let end = start + head.window;
        let summary = serde_json::to_string(member).unwrap_or_default();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, text(&window_key(window)))
            .update_expression(
                "SET #member = :member, #start = :start, #end = :end, #shard = :due, \
                 #dueAt = :end, #expires = :expires ADD #stops :one",
            )
            .condition_expression("attribute_not_exists(#member)")
            .set_expression_attribute_names(Some(names(&[
                ("#start", "windowStart"),
                ("#end", "windowEnd"),
                ("#shard", "dueShard"),
                ("#dueAt", "dueAt"),
                ("#expires", "expiresAt"),
                ("#stops", "stops"),
            ])))
            .expression_attribute_names("#member", format!("{MEMBER_PREFIX}{}", member.id))
            .expression_attribute_values(":member", text(&summary))
            .expression_attribute_values(":start", int(start))
            .expression_attribute_values(":end", int(end))
            .expression_attribute_values(":due", text(DUE))
            .expression_attribute_values(":expires", int(expires_at))
            .expression_attribute_values(":one", int(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(
                output.attributes.as_ref().and_then(|item| number(item, "stops")).unwrap_or(1),
            )),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            // The window item is full (400 KB): count the match without listing it.
            Err(error) if error.code() == Some("ValidationException") => {
                self.update(
                    window,
                    "ADD #overflow :one, #stops :one SET #shard = :due, #dueAt = :end",
                    &[(":one", int(1)), (":due", text(DUE)), (":end", int(end))],
                )
                .await?;
                Ok(Some(u64::MAX / 2))
            }
            Err(error) => Err(failure("count", &window.id(), &error)),
        }
    }

    /// An unconditional update of a window item (attribute names as `#name` placeholders).
    async fn update(
        &self,
        window: &WindowRef,
        expression: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<(), IncidentError> {
        let used =
            WINDOW_ATTRIBUTES.iter().filter(|(placeholder, _)| expression.contains(placeholder));
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, text(&window_key(window)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names(&used.copied().collect::<Vec<_>>())));
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        request.send().await.map_err(|error| failure("update", &window.id(), &error))?;
        Ok(())
    }

    /// Moves the head on after a count: the window counted something, and maybe the incident
    /// is a crash loop now. A head that changed meanwhile (a newer incident) is left alone.
    async fn advance(&self, key: &str, head: &Head, index: u32, crash_loop: bool) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, text(&head_key(key)))
            .update_expression("SET #last = :index, #crash = :crash")
            .condition_expression("#opened = :opened AND (#last < :index OR #crash <> :crash)")
            .set_expression_attribute_names(Some(names(&[
                ("#last", "lastActive"),
                ("#crash", "crashLoop"),
                ("#opened", "opened"),
            ])))
            .expression_attribute_values(":index", int(i64::from(index.max(head.last_active))))
            .expression_attribute_values(
                ":crash",
                AttributeValue::Bool(crash_loop || head.crash_loop),
            )
            .expression_attribute_values(":opened", int(head.opened))
            .send()
            .await;
        if let Err(error) = result
            && !matches!(
                error.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            )
        {
            // The count stands; the next count moves the head on.
            tracing::warn!(incident = %key, error = %describe(&error), "incident head not advanced");
        }
    }
}

/// The placeholders of window attributes in update expressions.
const WINDOW_ATTRIBUTES: [(&str, &str); 7] = [
    ("#overflow", "overflow"),
    ("#stops", "stops"),
    ("#shard", "dueShard"),
    ("#dueAt", "dueAt"),
    ("#end", "windowEnd"),
    ("#crash", "crashLoop"),
    ("#digested", "digested"),
];

/// Expression attribute names from `(placeholder, name)` pairs.
fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(placeholder, name)| ((*placeholder).to_owned(), (*name).to_owned()))
        .collect()
}

fn head_key(key: &str) -> String {
    format!("head#{key}")
}

fn window_key(window: &WindowRef) -> String {
    format!("window#{}", window.id())
}

/// The window a `window#key#opened#index` item key names.
fn window_of(item_key: &str) -> Option<WindowRef> {
    let rest = item_key.strip_prefix("window#")?;
    let (rest, index) = rest.rsplit_once('#')?;
    let (key, opened) = rest.rsplit_once('#')?;
    Some(WindowRef {
        key: key.to_owned(),
        opened: opened.parse().ok()?,
        index: index.parse().ok()?,
    })
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn int(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(number)) => number.parse().ok(),
        _ => None,
    }
}

fn string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

fn failure<E>(
    operation: &'static str,
    key: &str,
    error: &SdkError<E, HttpResponse>,
) -> IncidentError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    IncidentError {
        operation,
        key: key.to_owned(),
        message: describe(error),
        retryable: is_retryable(error),
    }
}

#[async_trait]
impl IncidentStore for DynamoDbIncidentStore {
    async fn record(
        &self,
        key: &str,
        settings: GroupSettings,
        at: i64,
        member: &Member,
        opener: &str,
        expires_at: i64,
    ) -> Result<Recorded, IncidentError> {
        for _ in 0..ATTEMPTS {
            let read = self.head(key).await?;
            if read.as_ref().is_some_and(|(head, _)| head.opener == opener) {
                return Ok(Recorded::Opened { key: key.to_owned() });
            }
            match place(read.as_ref().map(|(head, _)| head), at) {
                Placement::Open => {
                    let head = Head {
                        opened: at,
                        window: settings.window_secs(),
                        last_active: 0,
                        opener: opener.to_owned(),
                        crash_loop: false,
                    };
                    if self.open(key, &head, read.map(|(_, version)| version), expires_at).await? {
                        return Ok(Recorded::Opened { key: key.to_owned() });
                    }
                }
                Placement::Window(index) => {
                    let Some((head, _)) = read else { continue };
                    let window = WindowRef { key: key.to_owned(), opened: head.opened, index };
                    let Some(stops) = self.count(&window, &head, member, expires_at).await? else {
                        return Ok(Recorded::AlreadyCounted { window });
                    };
                    // The opening alert is a stop of the first window too.
                    let stops = stops.saturating_add(u64::from(index == 1));
                    let crash_loop =
                        head.crash_loop || stops >= u64::from(settings.crash_loop_after);
                    if crash_loop {
                        let yes = [(":yes", AttributeValue::Bool(true))];
                        self.update(&window, "SET #crash = :yes", &yes).await?;
                    }
                    self.advance(key, &head, index, crash_loop).await;
                    return Ok(Recorded::Counted { window, crash_loop });
                }
            }
            // Another invocation opened an incident for this key meanwhile: place again.
            tokio::time::sleep(std::time::Duration::from_millis(10 + jitter_millis())).await;
        }
        Err(IncidentError {
            operation: "record",
            key: key.to_owned(),
            message: format!("still contended after {ATTEMPTS} attempts"),
            retryable: true,
        })
    }

    async fn due(&self, now: Option<i64>) -> Result<Vec<WindowRef>, IncidentError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .expression_attribute_names("#shard", "dueShard")
            .expression_attribute_values(":due", text(DUE));
        query = match now {
            Some(now) => query
                .key_condition_expression("#shard = :due AND dueAt <= :now")
                .expression_attribute_values(":now", int(now)),
            None => query.key_condition_expression("#shard = :due"),
        };
        let mut pages = query.into_paginator().send();
        let mut due = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| failure("list due windows", DUE, &error))?;
            due.extend(
                page.items()
                    .iter()
                    .filter_map(|item| string(item, INCIDENT_KEY))
                    .filter_map(window_of),
            );
        }
        Ok(due)
    }

    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, text(&window_key(window)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| failure("read window", &window.id(), &error))?;
        let Some(item) = output.item else { return Ok(None) };
        let mut members: Vec<Member> = item
            .iter()
            .filter(|(name, _)| name.starts_with(MEMBER_PREFIX))
            .filter_map(|(_, value)| value.as_s().ok())
            .filter_map(|summary| serde_json::from_str(summary).ok())
            .collect();
        members.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        Ok(Some(Window {
            window: window.clone(),
            start: number(&item, "windowStart").unwrap_or_default(),
            end: number(&item, "windowEnd").unwrap_or_default(),
            members,
            overflow: number(&item, "overflow").unwrap_or_default(),
            crash_loop: matches!(item.get("crashLoop"), Some(AttributeValue::Bool(true))),
        }))
    }

    async fn digested(&self, window: &WindowRef) -> Result<(), IncidentError> {
        let yes = [(":yes", AttributeValue::Bool(true))];
        self.update(window, "SET #digested = :yes REMOVE #shard, #dueAt", &yes).await
    }
}

/// Up to 20 ms of jitter, so racing invocations do not retry in step.
fn jitter_millis() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::from(now.map_or(0, |elapsed| elapsed.subsec_nanos()) % 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_window_item_key_then_its_window_is_read_back() {
        let window = WindowRef { key: "rule|prod|service:web#x".into(), opened: 1_700, index: 3 };
        assert_eq!(window_of(&window_key(&window)), Some(window));
        assert_eq!(window_of("head#rule|prod|service:web"), None);
    }
}
