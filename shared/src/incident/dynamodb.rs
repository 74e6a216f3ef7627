//! The DynamoDB incident store: a table keyed by `incidentKey` (hash) and `entry` (range)
//! holding three kinds of items.
//!
//! * head (`head#<key>`, `head`): the incident open (or last open) for a key — `opened`,
//!   `window`, `lastActive`, `opener`, `crashLoop`, and a `version` that makes opening an
//!   incident a compare-and-set. Its expiry moves on with every window that counts.
//! * window (`window#<key>#<opened>#<index>`, `window`): `windowStart`, `windowEnd`, `late`,
//!   and while its digest is due `dueShard` = `due` and `dueAt` = `windowEnd`, which the
//!   `due-index` (hash `dueShard`, range `dueAt`) lists; `digested` once told. Each count
//!   writes it again with the same values (a small item: one write unit), on condition that
//!   it is not digested.
//! * member (`window#<key>#<opened>#<index>`, `m#<member id>`): one per counted match, its
//!   summary as JSON, written on condition that it does not exist — so a match counts once
//!   however many times it is delivered. A count is these two small writes of constant size
//!   (two write units), whatever the window holds. A digest reads a window's members with one
//!   strongly consistent `Query`.
//!
//! Every item expires by TTL (`expiresAt`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    Clock, GroupSettings, Head, IncidentError, IncidentStore, Member, Placement, Recorded, Window,
    WindowRef, after_told, place,
};
use crate::dynamodb_item::{condition_failed, flag, n, number, s, string};
use crate::sdk_error::{describe, is_retryable};

/// Hash key attribute of the incident table.
pub const INCIDENT_KEY: &str = "incidentKey";
/// Range key attribute of the incident table.
pub const INCIDENT_ENTRY: &str = "entry";

/// The index of windows whose digest is due (hash `dueShard`, range `dueAt`).
pub const DUE_INDEX: &str = "due-index";

const DUE: &str = "due";
const HEAD_ENTRY: &str = "head";
const WINDOW_ENTRY: &str = "window";
const MEMBER_PREFIX: &str = "m#";
/// Compare-and-set attempts when invocations race to open or count into one incident.
const ATTEMPTS: usize = 20;

/// Incidents in a DynamoDB table whose key is (`incidentKey`, `entry`); see the module
/// documentation.
#[derive(Debug, Clone)]
pub struct DynamoDbIncidentStore {
    client: Client,
    table: String,
}

/// One match being counted: the member, the recording's clock, the rule's window length and
/// the entries' expiry.
#[derive(Clone, Copy)]
struct Counting<'a> {
    member: &'a Member,
    clock: Clock,
    length: i64,
    expires_at: i64,
}

/// Whether a window item could be written: `false` when its digest was already sent.
enum Marked {
    Open,
    Digested,
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
            .key(INCIDENT_KEY, s(&head_key(key)))
            .key(INCIDENT_ENTRY, s(HEAD_ENTRY))
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
                crash_loop: flag(&item, "crashLoop"),
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
            .item(INCIDENT_KEY, s(&head_key(key)))
            .item(INCIDENT_ENTRY, s(HEAD_ENTRY))
            .item("opened", n(head.opened))
            .item("window", n(head.window))
            .item("lastActive", n(0))
            .item("opener", s(&head.opener))
            .item("crashLoop", AttributeValue::Bool(false))
            .item("version", n(version.unwrap_or(0) + 1))
            .item("expiresAt", n(expires_at));
        request = match version {
            None => request
                .condition_expression("attribute_not_exists(#key)")
                .expression_attribute_names("#key", INCIDENT_KEY),
            Some(version) => request
                .condition_expression("#version = :version")
                .expression_attribute_values(":version", n(version))
                .expression_attribute_names("#version", "version"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(failure("open", key, &error)),
        }
    }

    /// Writes the window item (due from its end) unless its digest was already sent.
    async fn mark_window(
        &self,
        window: &WindowRef,
        (start, end): (i64, i64),
        expires_at: i64,
    ) -> Result<Marked, IncidentError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&window_key(window)))
            .key(INCIDENT_ENTRY, s(WINDOW_ENTRY))
            .update_expression(
                "SET #start = :start, #end = :end, #late = :late, #shard = :due, \
                 #dueAt = :end, #expires = :expires",
            )
            .condition_expression("attribute_not_exists(#digested)")
            .set_expression_attribute_names(Some(names(&[
                ("#start", "windowStart"),
                ("#end", "windowEnd"),
                ("#late", "late"),
                ("#shard", "dueShard"),
                ("#dueAt", "dueAt"),
                ("#expires", "expiresAt"),
                ("#digested", "digested"),
            ])))
            .expression_attribute_values(":start", n(start))
            .expression_attribute_values(":end", n(end))
            .expression_attribute_values(":late", AttributeValue::Bool(window.is_late()))
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":expires", n(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Marked::Open),
            Err(error) if condition_failed(&error) => Ok(Marked::Digested),
            Err(error) => Err(failure("mark window", &window.id(), &error)),
        }
    }

    /// Counts `member` into `window` once: `false` when it already was.
    async fn put_member(
        &self,
        window: &WindowRef,
        member: &Member,
        expires_at: i64,
    ) -> Result<bool, IncidentError> {
        let summary = serde_json::to_string(member).unwrap_or_default();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(INCIDENT_KEY, s(&window_key(window)))
            .item(INCIDENT_ENTRY, s(&format!("{MEMBER_PREFIX}{}", member.id)))
            .item("member", s(&summary))
            .item("expiresAt", n(expires_at))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", INCIDENT_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(failure("count", &window.id(), &error)),
        }
    }

    /// Counts `member` into `window`, or, if that window was told already (which the timing of
    /// [`place`] rules out, short of clocks wrong by more than [`super::FENCE_MARGIN`]), into
    /// the late bucket of `clock` (and after that one, the next): two small writes, the window
    /// item's and the member's, whatever the window holds.
    async fn count(
        &self,
        mut window: WindowRef,
        mut span: (i64, i64),
        counting: &Counting<'_>,
    ) -> Result<Recorded, IncidentError> {
        let Counting { member, clock, length, expires_at } = *counting;
        for _ in 0..ATTEMPTS {
            match self.mark_window(&window, span, expires_at).await? {
                Marked::Open => {
                    return Ok(if self.put_member(&window, member, expires_at).await? {
                        Recorded::Counted { window }
                    } else {
                        Recorded::AlreadyCounted { window }
                    });
                }
                Marked::Digested => (window, span) = after_told(window, clock, length),
            }
        }
        Err(IncidentError {
            operation: "count",
            key: window.id(),
            message: format!("no late bucket open after {ATTEMPTS} attempts"),
            retryable: true,
        })
    }

    /// Moves the head on after a window's first count, and its expiry with it. A head that
    /// changed meanwhile (a newer incident, or another count) is left alone.
    async fn advance(&self, key: &str, head: &Head, index: u32, expires_at: i64) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&head_key(key)))
            .key(INCIDENT_ENTRY, s(HEAD_ENTRY))
            // The version moves too: an invocation that read the head before this count, and
            // decided to open a new incident from it, then fails its compare-and-set.
            .update_expression("SET #last = :index, #expires = :expires ADD #version :one")
            .condition_expression("#opened = :opened AND #last < :index")
            .set_expression_attribute_names(Some(names(&[
                ("#last", "lastActive"),
                ("#opened", "opened"),
                ("#expires", "expiresAt"),
                ("#version", "version"),
            ])))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":index", n(i64::from(index)))
            .expression_attribute_values(":opened", n(head.opened))
            .expression_attribute_values(":expires", n(expires_at))
            .send()
            .await;
        if let Err(error) = result
            && !condition_failed(&error)
        {
            // The count stands; the next count into the window moves the head on.
            tracing::warn!(incident = %key, error = %describe(&error), "incident head not advanced");
        }
    }

    /// Whether `window` counted the member `id` (a consistent read).
    async fn has_member(&self, window: &WindowRef, id: &str) -> Result<bool, IncidentError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&window_key(window)))
            .key(INCIDENT_ENTRY, s(&format!("{MEMBER_PREFIX}{id}")))
            .projection_expression("#key")
            .expression_attribute_names("#key", INCIDENT_KEY)
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| failure("read member", &window.id(), &error))?;
        Ok(output.item.is_some())
    }

    /// Every member of a window, strongly consistent (a window is read once it takes no more
    /// counts).
    async fn members(&self, window: &WindowRef) -> Result<Vec<Member>, IncidentError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#key = :key AND begins_with(#entry, :member)")
            .expression_attribute_names("#key", INCIDENT_KEY)
            .expression_attribute_names("#entry", INCIDENT_ENTRY)
            .expression_attribute_values(":key", s(&window_key(window)))
            .expression_attribute_values(":member", s(MEMBER_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut members = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| failure("read members", &window.id(), &error))?;
            members.extend(
                page.items()
                    .iter()
                    .filter_map(|item| string(item, "member"))
                    .filter_map(|summary| serde_json::from_str::<Member>(summary).ok()),
            );
        }
        members.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        Ok(members)
    }
}

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
        member: &Member,
        opener: &str,
        clock: Clock,
        expires_at: i64,
    ) -> Result<Recorded, IncidentError> {
        let length = settings.window_secs();
        let counting = Counting { member, clock, length, expires_at };
        for _ in 0..ATTEMPTS {
            let read = self.head(key).await?;
            if let Some((head, _)) = read.as_ref().filter(|(head, _)| head.opener == opener) {
                return Ok(Recorded::Opened { key: key.to_owned(), opened: head.opened });
            }
            match place(read.as_ref().map(|(head, _)| head), member.at, clock, length) {
                Placement::Open => {
                    let head = Head::opening(member.at, length, opener);
                    if self.open(key, &head, read.map(|(_, version)| version), expires_at).await? {
                        return Ok(Recorded::Opened { key: key.to_owned(), opened: head.opened });
                    }
                }
                Placement::Late { bucket, own } => {
                    // A retry of a match already counted into its own window counts no more.
                    if let (Some(index), Some((head, _))) = (own, &read) {
                        let window = WindowRef { key: key.to_owned(), opened: head.opened, index };
                        if self.has_member(&window, &member.id).await? {
                            return Ok(Recorded::AlreadyCounted { window });
                        }
                    }
                    let window = WindowRef { key: key.to_owned(), opened: bucket, index: 0 };
                    let span = (bucket, bucket + length);
                    return self.count(window, span, &counting).await;
                }
                Placement::Window(index) => {
                    let Some((head, _)) = read else { continue };
                    let window = WindowRef { key: key.to_owned(), opened: head.opened, index };
                    let span = window.span(head.window);
                    let recorded = self.count(window, span, &counting).await?;
                    if head.last_active < index {
                        self.advance(key, &head, index, expires_at).await;
                    }
                    return Ok(recorded);
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

    async fn due(&self, until: Option<i64>, limit: usize) -> Result<Vec<WindowRef>, IncidentError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .expression_attribute_names("#shard", "dueShard")
            .expression_attribute_values(":due", s(DUE))
            .limit(i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000));
        query = match until {
            Some(until) => query
                .key_condition_expression("#shard = :due AND dueAt <= :until")
                .expression_attribute_values(":until", n(until)),
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
            if due.len() >= limit {
                due.truncate(limit);
                break;
            }
        }
        Ok(due)
    }

    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&window_key(window)))
            .key(INCIDENT_ENTRY, s(WINDOW_ENTRY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| failure("read window", &window.id(), &error))?;
        let Some(item) = output.item else { return Ok(None) };
        let crash_loop_before = !window.is_late()
            && self
                .head(&window.key)
                .await?
                .is_some_and(|(head, _)| head.opened == window.opened && head.crash_loop);
        Ok(Some(Window {
            window: window.clone(),
            start: number(&item, "windowStart").unwrap_or_default(),
            end: number(&item, "windowEnd").unwrap_or_default(),
            members: self.members(window).await?,
            crash_loop_before,
        }))
    }

    async fn digested(&self, window: &WindowRef, crash_loop: bool) -> Result<(), IncidentError> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&window_key(window)))
            .key(INCIDENT_ENTRY, s(WINDOW_ENTRY))
            .update_expression("SET #digested = :yes REMOVE #shard, #dueAt")
            // A window gone (TTL) stays gone: no item without an expiry is made of it.
            .condition_expression("attribute_exists(#key)")
            .set_expression_attribute_names(Some(names(&[
                ("#digested", "digested"),
                ("#shard", "dueShard"),
                ("#dueAt", "dueAt"),
                ("#key", INCIDENT_KEY),
            ])))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match marked {
            Err(error) if !condition_failed(&error) => {
                return Err(failure("mark digested", &window.id(), &error));
            }
            _ => {}
        }
        if !crash_loop || window.is_late() {
            return Ok(());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(INCIDENT_KEY, s(&head_key(&window.key)))
            .key(INCIDENT_ENTRY, s(HEAD_ENTRY))
            .update_expression("SET #crash = :yes")
            .condition_expression("#opened = :opened")
            .expression_attribute_names("#crash", "crashLoop")
            .expression_attribute_names("#opened", "opened")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":opened", n(window.opened))
            .send()
            .await;
        match result {
            Err(error) if !condition_failed(&error) => {
                Err(failure("mark crash loop", &window.key, &error))
            }
            _ => Ok(()),
        }
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
