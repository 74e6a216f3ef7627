//! Chat: every alert and digest as an Amazon Q Developer in chat applications (formerly AWS
//! Chatbot) **custom notification**, which it posts to Slack or Microsoft Teams channels
//! subscribed to the chat topic — no webhook secrets.
//!
//! The service drops, without an error, an SNS message that does not match its schema:
//! `version` "1.0", `source` "custom", `content.description` (required), `content.textType`
//! "client-markdown" (rendered by the chat client: so only what Slack's mrkdwn and Teams'
//! markdown render alike is used — inline code and bare URLs, see [`code`]), `title`,
//! `nextSteps`, `keywords`, and `metadata` with `threadId` (one thread per incident), `summary`, `eventType`, `relatedResources` and `additionalContext`
//! (strings only). [`notification`] keeps every field within the documented limits
//! ([`MAX_TITLE_CHARS`]...); [`check_notification`] checks a document against the schema, for
//! tests and for the sink, which refuses to publish one that does not match.

use serde_json::{Map, Value, json};

/// The longest `content.title`.
pub const MAX_TITLE_CHARS: usize = 250;
/// The longest `content.description`.
pub const MAX_DESCRIPTION_CHARS: usize = 8000;
/// The longest `content.nextSteps` entry.
pub const MAX_NEXT_STEP_CHARS: usize = 350;
/// The longest `content.keywords` entry.
pub const MAX_KEYWORD_CHARS: usize = 75;
/// The most next steps, keywords and related resources sent (no documented limit: kept small
/// so a message stays readable).
pub const MAX_LIST_ITEMS: usize = 10;
/// The longest `metadata.threadId` and `metadata.summary` (kept short: no documented limit).
pub const MAX_METADATA_CHARS: usize = 250;

/// `value` as inline code, the one markup Slack and Microsoft Teams both render alike: any
/// backtick, angle bracket or line break in it is replaced first, so a value (a stop reason, a
/// container name) can neither end the code span nor be read as a link or a mention
/// (`<!channel>`).
pub fn code(value: &str) -> String {
    let safe: String = value
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '<' => '‹',
            '>' => '›',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let safe = safe.trim();
    if safe.is_empty() { "`-`".to_owned() } else { format!("`{safe}`") }
}

/// What a renderer says in chat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatContent {
    /// The title (the subject).
    pub title: String,
    /// Lines of text in the markdown Slack and Teams share: values as inline code ([`code`]),
    /// links as bare URLs (both clients link them), no emphasis.
    pub lines: Vec<String>,
    /// What to do first.
    pub next_steps: Vec<String>,
    /// Short tags (cluster, service, stop code).
    pub keywords: Vec<String>,
    /// ARNs the message is about.
    pub related: Vec<String>,
    /// `metadata.eventType`.
    pub event_type: &'static str,
}

/// The custom notification for `content`, in the thread `thread`, with `context` as
/// `metadata.additionalContext`.
pub fn notification(content: &ChatContent, thread: &str, context: &[(&str, &str)]) -> Value {
    let cut = |text: &str, limit: usize| -> String {
        if text.chars().count() <= limit {
            return text.to_owned();
        }
        let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
        format!("{kept}…")
    };
    let list = |items: &[String], limit: usize| -> Vec<String> {
        items
            .iter()
            .filter(|item| !item.trim().is_empty())
            .take(MAX_LIST_ITEMS)
            .map(|item| cut(item, limit))
            .collect()
    };
    let description = content.lines.join("\n");
    let additional: Map<String, Value> = context
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::from(cut(value, MAX_METADATA_CHARS))))
        .collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": cut(&content.title, MAX_TITLE_CHARS),
            "description": cut(if description.trim().is_empty() { &content.title } else { &description }, MAX_DESCRIPTION_CHARS),
            "nextSteps": list(&content.next_steps, MAX_NEXT_STEP_CHARS),
            "keywords": list(&content.keywords, MAX_KEYWORD_CHARS),
        },
        "metadata": {
            "threadId": thread_id(thread),
            "summary": cut(&content.title, MAX_METADATA_CHARS),
            "eventType": content.event_type,
            "relatedResources": list(&content.related, 2048),
            "additionalContext": additional,
        },
    })
}

/// A `threadId` of at most [`MAX_METADATA_CHARS`]: the thread as it is, or, when longer, its
/// start and a CRC-32 of the whole — so two incidents of one long key (which differ at its end,
/// `#<opened>`) stay two threads.
fn thread_id(thread: &str) -> String {
    if thread.chars().count() <= MAX_METADATA_CHARS {
        return thread.to_owned();
    }
    let mut crc = flate2::Crc::new();
    crc.update(thread.as_bytes());
    let start: String = thread.chars().take(MAX_METADATA_CHARS - 9).collect();
    format!("{start}#{:08x}", crc.sum())
}

/// Checks that `document` is a custom notification Amazon Q Developer accepts: the schema's
/// fields, of their types, within their limits. The error names the first field at fault.
pub fn check_notification(document: &Value) -> Result<(), String> {
    let field = |path: &str| -> Option<&Value> {
        path.split('.').try_fold(document, |value, name| value.get(name))
    };
    let string = |path: &str, limit: usize, required: bool| -> Result<(), String> {
        match field(path) {
            None if !required => Ok(()),
            Some(Value::String(text)) if !(required && text.trim().is_empty()) => {
                if text.chars().count() > limit {
                    Err(format!("{path} is {} characters, over {limit}", text.chars().count()))
                } else {
                    Ok(())
                }
            }
            other => Err(format!(
                "{path} must be a{} string, found {other:?}",
                if required { " non-empty" } else { "" }
            )),
        }
    };
    let strings = |path: &str, limit: usize| -> Result<(), String> {
        match field(path) {
            None => Ok(()),
            Some(Value::Array(items)) => items.iter().enumerate().try_for_each(|(index, item)| match item {
                Value::String(text) if text.chars().count() <= limit => Ok(()),
                other => Err(format!("{path}[{index}] must be a string of at most {limit} characters, found {other}")),
            }),
            Some(other) => Err(format!("{path} must be an array of strings, found {other}")),
        }
    };
    if field("version") != Some(&json!("1.0")) {
        return Err(format!("version must be \"1.0\", found {:?}", field("version")));
    }
    if field("source") != Some(&json!("custom")) {
        return Err(format!("source must be \"custom\", found {:?}", field("source")));
    }
    if let Some(text_type) = field("content.textType")
        && text_type != "client-markdown"
    {
        return Err(format!("content.textType must be \"client-markdown\", found {text_type}"));
    }
    string("content.description", MAX_DESCRIPTION_CHARS, true)?;
    string("content.title", MAX_TITLE_CHARS, false)?;
    strings("content.nextSteps", MAX_NEXT_STEP_CHARS)?;
    strings("content.keywords", MAX_KEYWORD_CHARS)?;
    string("metadata.threadId", MAX_METADATA_CHARS, false)?;
    string("metadata.summary", MAX_METADATA_CHARS, false)?;
    string("metadata.eventType", MAX_METADATA_CHARS, false)?;
    strings("metadata.relatedResources", 2048)?;
    match field("metadata.additionalContext") {
        None => Ok(()),
        Some(Value::Object(entries)) => entries.iter().try_for_each(|(name, value)| match value {
            Value::String(_) => Ok(()),
            other => {
                Err(format!("metadata.additionalContext.{name} must be a string, found {other}"))
            }
        }),
        Some(other) => Err(format!("metadata.additionalContext must be an object, found {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_two_incidents_of_a_very_long_key_then_their_threads_stay_apart() {
        let key = "r".repeat(300);
        let (one, two) =
            (thread_id(&format!("{key}#1714644000")), thread_id(&format!("{key}#1714730400")));
        assert_ne!(one, two);
        assert_eq!(one.chars().count(), MAX_METADATA_CHARS);
        assert_eq!(thread_id("short#1"), "short#1");
    }

    #[test]
    fn given_values_with_markup_then_code_keeps_them_inert() {
        assert_eq!(code("app"), "`app`");
        assert_eq!(code("a `b` <!channel> <https://x|y>\nz"), "`a 'b' ‹!channel› ‹https://x|y› z`");
        assert_eq!(code("  "), "`-`");
    }

    #[test]
    fn given_long_and_many_fields_then_the_notification_stays_within_the_limits() {
        let content = ChatContent {
            title: "t".repeat(400),
            lines: vec!["d".repeat(9_000)],
            next_steps: (0..30).map(|i| format!("{i}{}", "s".repeat(400))).collect(),
            keywords: vec!["k".repeat(100), String::new()],
            related: vec!["arn".into()],
            event_type: "ECSTaskStopped",
        };
        let document = notification(&content, &"x".repeat(300), &[("count", "3")]);
        check_notification(&document).expect("within the schema");
        assert_eq!(document["content"]["nextSteps"].as_array().map(Vec::len), Some(MAX_LIST_ITEMS));
        assert_eq!(document["content"]["keywords"].as_array().map(Vec::len), Some(1));
        assert_eq!(document["metadata"]["additionalContext"]["count"], "3");
    }

    #[test]
    fn given_documents_off_the_schema_then_the_check_names_the_field() {
        let good = notification(
            &ChatContent { title: "t".into(), lines: vec!["d".into()], ..ChatContent::default() },
            "thread",
            &[],
        );
        check_notification(&good).expect("valid");
        for (path, value, expected) in [
            ("version", json!("2.0"), "version must be"),
            ("source", json!("aws.ecs"), "source must be"),
            ("content", json!({"title": "no description"}), "content.description must be"),
            (
                "metadata",
                json!({"additionalContext": {"count": 3}}),
                "additionalContext.count must be a string",
            ),
        ] {
            let mut bad = good.clone();
            bad[path] = value;
            let error = check_notification(&bad).expect_err(path);
            assert!(error.contains(expected), "{path}: {error}");
        }
    }
}
