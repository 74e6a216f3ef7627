//! Accounts and Regions: one stack may hear the ECS events of every account and Region of an
//! organization, so what it keeps and tells stays apart by both. This module owns the optional
//! account id → name map (`ACCOUNT_NAMES`, the CLI's `--account-names`: `111122223333=prod-eu,
//! 444455556666=staging`) and how a message says where something happened: briefly in a
//! subject (`[prod-eu eu-west-1]`), in full in a text (`prod-eu (111122223333)`).
//!
//! Keys never hold names (a name may change; an id does not): state is keyed by ARNs, which
//! hold the account and Region, and incident keys by the account id and Region
//! ([`crate::incident::incident_key`]).

use std::collections::BTreeMap;

use crate::event::{EcsDetail, EcsEvent};

/// The most characters of an account name (AWS account names are at most 50).
pub const MAX_NAME_CHARS: usize = 64;
/// The most characters of an account name a subject carries: a longer one is cut with `…`
/// (the text names it in full), so the cluster and service always fit.
pub const MAX_SUBJECT_NAME_CHARS: usize = 24;

/// Why an account name map cannot be used: the entry at fault (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNamesError {
    /// An entry is not `ACCOUNT_ID=NAME`.
    #[error("entry {index} {entry:?}: expected ACCOUNT_ID=NAME, such as 111122223333=prod-eu")]
    Shape {
        /// 1-based position.
        index: usize,
        /// The entry as given.
        entry: String,
    },
    /// The account id is not 12 digits.
    #[error("entry {index} {entry:?}: account id {account:?} must be 12 digits")]
    Account {
        /// 1-based position.
        index: usize,
        /// The entry as given.
        entry: String,
        /// The id found.
        account: String,
    },
    /// The name is empty, too long or holds a control character.
    #[error(
        "entry {index} {entry:?}: the name must be 1 to {MAX_NAME_CHARS} characters, no control \
         characters"
    )]
    Name {
        /// 1-based position.
        index: usize,
        /// The entry as given.
        entry: String,
    },
    /// An account is named twice.
    #[error("entry {index} {entry:?}: account {account} is already named by entry {first}")]
    DuplicateAccount {
        /// 1-based position.
        index: usize,
        /// The entry as given.
        entry: String,
        /// The account.
        account: String,
        /// The entry that named it first.
        first: usize,
    },
    /// Two accounts share a name: a reader (or `--account NAME`) could not tell them apart.
    #[error("entry {index} {entry:?}: the name {name:?} is already the name of entry {first}")]
    DuplicateName {
        /// 1-based position.
        index: usize,
        /// The entry as given.
        entry: String,
        /// The name.
        name: String,
        /// The entry that used it first.
        first: usize,
    },
}

/// Names of accounts, by 12-digit id. Empty: every account is named by its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames {
    names: BTreeMap<String, String>,
}

impl AccountNames {
    /// No names.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads `ID=NAME` entries separated by commas (blanks around each part are ignored, and
    /// so are empty entries): each id 12 digits, named once; each name 1 to
    /// [`MAX_NAME_CHARS`] characters, without control characters, used once. A blank text is
    /// no names.
    pub fn parse(text: &str) -> Result<Self, AccountNamesError> {
        // Each entry read so far: its position, id and name.
        let mut seen: Vec<(usize, &str, &str)> = Vec::new();
        for (index, entry) in text.split(',').enumerate().map(|(i, entry)| (i + 1, entry)) {
            if entry.trim().is_empty() {
                continue;
            }
            let owned = || entry.trim().to_owned();
            let Some((account, name)) = entry.split_once('=') else {
                return Err(AccountNamesError::Shape { index, entry: owned() });
            };
            let (account, name) = (account.trim(), name.trim());
            if !is_account(account) {
                let account = account.to_owned();
                return Err(AccountNamesError::Account { index, entry: owned(), account });
            }
            let count = name.chars().count();
            if count == 0
                || count > MAX_NAME_CHARS
                || name.chars().any(|c| c.is_control() || c == '=')
            {
                return Err(AccountNamesError::Name { index, entry: owned() });
            }
            if let Some(&(first, ..)) = seen.iter().find(|(_, id, _)| *id == account) {
                let account = account.to_owned();
                return Err(AccountNamesError::DuplicateAccount {
                    index,
                    entry: owned(),
                    account,
                    first,
                });
            }
            if let Some(&(first, ..)) =
                seen.iter().find(|(_, _, other)| other.eq_ignore_ascii_case(name))
            {
                let name = name.to_owned();
                return Err(AccountNamesError::DuplicateName {
                    index,
                    entry: owned(),
                    name,
                    first,
                });
            }
            seen.push((index, account, name));
        }
        let names =
            seen.into_iter().map(|(_, account, name)| (account.to_owned(), name.to_owned()));
        let names = names.collect();
        Ok(Self { names })
    }

    /// Whether no account is named.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of `account`, when it has one.
    pub fn name(&self, account: &str) -> Option<&str> {
        self.names.get(account).map(String::as_str)
    }

    /// The account `given` stands for: a 12-digit id as it is, else the id of the account of
    /// that name (names match without regard to ASCII case).
    pub fn resolve(&self, given: &str) -> Option<String> {
        let given = given.trim();
        if is_account(given) {
            return Some(given.to_owned());
        }
        self.names
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(given))
            .map(|(account, _)| account.clone())
    }

    /// Where `account` (an id, possibly empty: not known) and `region` are, named by this map.
    pub fn place<'a>(&'a self, account: &'a str, region: &'a str) -> Place<'a> {
        Place { account, name: self.name(account), region }
    }

    /// The entries, id and name, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().map(|(account, name)| (account.as_str(), name.as_str()))
    }
}

/// Where something happened: an account (its id, and its name when the map has one) and a
/// Region. Either may be empty when not known (a record kept before accounts were part of
/// incident keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// The 12-digit account id, or empty.
    pub account: &'a str,
    /// Its name, when mapped.
    pub name: Option<&'a str>,
    /// The Region, or empty.
    pub region: &'a str,
}

impl Place<'_> {
    /// The account as a subject names it: its name (cut to [`MAX_SUBJECT_NAME_CHARS`]), else
    /// its id.
    pub fn short_account(&self) -> String {
        match self.name {
            Some(name) if name.chars().count() > MAX_SUBJECT_NAME_CHARS => {
                let kept: String = name.chars().take(MAX_SUBJECT_NAME_CHARS - 1).collect();
                format!("{}…", kept.trim_end())
            }
            Some(name) => name.to_owned(),
            None => self.account.to_owned(),
        }
    }

    /// The start of a subject: `[prod-eu eu-west-1] ` (the account's name, else its id, then
    /// the Region), or nothing when neither is known.
    pub fn tag(&self) -> String {
        let parts: Vec<String> = [self.short_account(), self.region.to_owned()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect();
        if parts.is_empty() { String::new() } else { format!("[{}] ", parts.join(" ")) }
    }

    /// The account as a text names it: `prod-eu (111122223333)`, or the id alone when it has
    /// no name; `None` when not known.
    pub fn account_words(&self) -> Option<String> {
        match (self.name, self.account) {
            (_, "") => None,
            (Some(name), account) => Some(format!("{name} ({account})")),
            (None, account) => Some(account.to_owned()),
        }
    }

    /// The Region, when known.
    pub fn region(&self) -> Option<&str> {
        Some(self.region).filter(|region| !region.is_empty())
    }
}

/// Whether `text` is a 12-digit account id.
pub fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// The account of an ARN (`arn:<partition>:<service>:<region>:<account>:…`), when it has a
/// 12-digit one.
pub fn account_of(arn: &str) -> Option<&str> {
    arn_field(arn, 4).filter(|account| is_account(account))
}

/// The Region of an ARN, when it names one.
pub fn region_of(arn: &str) -> Option<&str> {
    arn_field(arn, 3).filter(|region| !region.is_empty())
}

fn arn_field(arn: &str, index: usize) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    (fields.next()? == "arn").then_some(())?;
    fields.nth(index - 1)
}

/// Whether two ARNs are in one account and Region. (A deployment's tasks are found by its id
/// alone, which is random and so unique in practice; they are still kept to its service's
/// account and Region.)
pub fn same_place(one: &str, other: &str) -> bool {
    account_of(one) == account_of(other) && region_of(one) == region_of(other)
}

/// The account and Region an event is about: those of the resource its key is (the task, the
/// container instance, the service), else the envelope's. EventBridge keeps the source
/// account and Region when it forwards an event to another account's bus, so both agree; the
/// resource wins should they not.
pub fn origin(event: &EcsEvent) -> (String, String) {
    let arn = match &event.detail {
        EcsDetail::Task(task) => Some(task.task_arn.as_str()),
        EcsDetail::ContainerInstance(instance) => Some(instance.container_instance_arn.as_str()),
        _ => event.resources().first().map(String::as_str),
    };
    let account = arn.and_then(account_of).unwrap_or(&event.account);
    let region = arn.and_then(region_of).unwrap_or(&event.region);
    (account.to_owned(), region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_map_then_ids_have_names_and_names_resolve_to_ids() {
        let names =
            AccountNames::parse(" 111122223333 = prod-eu ,444455556666=staging,").expect("valid");
        assert_eq!(names.name("111122223333"), Some("prod-eu"));
        assert_eq!(names.name("999999999999"), None);
        assert_eq!(names.resolve("staging").as_deref(), Some("444455556666"));
        assert_eq!(names.resolve("PROD-EU").as_deref(), Some("111122223333"));
        assert_eq!(names.resolve("999999999999").as_deref(), Some("999999999999"));
        assert_eq!(names.resolve("nope"), None);
        assert!(AccountNames::parse("  ").expect("blank").is_empty());
    }

    #[test]
    fn given_bad_entries_then_the_error_names_the_entry_and_what_is_wrong() {
        for (text, expected) in [
            ("111122223333", "entry 1 \"111122223333\": expected ACCOUNT_ID=NAME"),
            ("111122223333=a,1111=b", "entry 2 \"1111=b\": account id \"1111\" must be 12 digits"),
            ("111122223333=", "entry 1 \"111122223333=\": the name must be 1 to 64"),
            ("111122223333=a=b", "entry 1 \"111122223333=a=b\": the name must be"),
            (
                "111122223333=a,,111122223333=b",
                "entry 3 \"111122223333=b\": account 111122223333 is already named by entry 1",
            ),
            (
                "111122223333=prod,444455556666=Prod",
                "entry 2 \"444455556666=Prod\": the name \"Prod\" is already the name of entry 1",
            ),
        ] {
            let error = AccountNames::parse(text).expect_err(text).to_string();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
        let long = format!("111122223333={}", "n".repeat(MAX_NAME_CHARS + 1));
        assert!(matches!(AccountNames::parse(&long), Err(AccountNamesError::Name { .. })));
    }

    #[test]
    fn given_places_then_subjects_name_them_briefly_and_texts_in_full() {
        let names = AccountNames::parse(&format!(
            "111122223333=prod-eu,444455556666={}",
            "a-very-long-account-name-for-the-payments-team"
        ))
        .expect("valid");
        let prod = names.place("111122223333", "eu-west-1");
        assert_eq!(prod.tag(), "[prod-eu eu-west-1] ");
        assert_eq!(prod.account_words().as_deref(), Some("prod-eu (111122223333)"));
        let long = names.place("444455556666", "us-east-1");
        assert_eq!(long.tag(), "[a-very-long-account-nam… us-east-1] ");
        let unnamed = names.place("777788889999", "us-east-1");
        assert_eq!(unnamed.tag(), "[777788889999 us-east-1] ");
        assert_eq!(unnamed.account_words().as_deref(), Some("777788889999"));
        let unknown = names.place("", "");
        assert_eq!((unknown.tag(), unknown.account_words()), (String::new(), None));
    }

    #[test]
    fn given_arns_then_their_account_and_region_are_read() {
        let arn = "arn:aws-cn:ecs:cn-north-1:111122223333:task/prod/abc";
        assert_eq!(account_of(arn), Some("111122223333"));
        assert_eq!(region_of(arn), Some("cn-north-1"));
        assert_eq!(account_of("arn:aws:ecs:us-east-1:1:task/x"), None);
        assert_eq!(account_of("not an arn"), None);
        assert_eq!(region_of("arn:aws:iam::111122223333:role/x"), None);
    }
}
