//! A JSON document read for a few paths only.
//!
//! Alert rules read a handful of an event's fields (`source`, `detail-type`,
//! `detail.lastStatus`, `detail.containers.exitCode`...). A [`Projection`] of those paths reads
//! the event's text once, builds values for the fields on them, and only skips over the rest:
//! objects keep the keys on a path, arrays keep every element (each read for the same
//! paths), scalars stay as they are, and the value at the end of a path is kept whole. Read
//! this way, the event matches a pattern exactly as the whole event would, for any pattern
//! whose paths were given (what the pattern engine's `paths()` guarantees).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The paths to read, as a tree of field names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// The fields read at this level, each kept whole or read for the paths below it.
    fields: Vec<(Box<str>, Node)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// The value at the end of a path: kept whole.
    Whole,
    /// Read for the paths below.
    Fields(Projection),
}

impl Projection {
    /// The projection reading `paths`, each a sequence of field names from the root (a path
    /// that is a prefix of another keeps the other's value whole).
    pub fn of_paths<P, S>(paths: impl IntoIterator<Item = P>) -> Self
    where
        P: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut root = Self::default();
        for path in paths {
            let names: Vec<S> = path.into_iter().collect();
            if !names.is_empty() {
                root.add(&names);
            }
        }
        root
    }

    fn add<S: AsRef<str>>(&mut self, names: &[S]) {
        let Some((first, rest)) = names.split_first() else { return };
        let index = match self.fields.iter().position(|(name, _)| **name == *first.as_ref()) {
            Some(index) => index,
            None => {
                let node =
                    if rest.is_empty() { Node::Whole } else { Node::Fields(Self::default()) };
                self.fields.push((first.as_ref().into(), node));
                self.fields.len() - 1
            }
        };
        let node = &mut self.fields[index].1;
        match node {
            Node::Whole => {}
            Node::Fields(_) if rest.is_empty() => *node = Node::Whole,
            Node::Fields(below) => below.add(rest),
        }
    }

    /// Reads `json` for these paths. The error is the JSON parser's, for text that is not JSON.
    pub fn project(&self, json: &str) -> Result<Value, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let value = self.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }

    fn node(&self, name: &str) -> Option<&Node> {
        self.fields.iter().find(|(field, _)| **field == *name).map(|(_, node)| node)
    }
}

impl<'de> DeserializeSeed<'de> for &Projection {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &Projection {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(Key(name)) = access.next_key()? {
            match self.node(&name) {
                None => {
                    access.next_value::<IgnoredAny>()?;
                }
                Some(Node::Whole) => {
                    object.insert(name.into_owned(), access.next_value()?);
                }
                Some(Node::Fields(below)) => {
                    object.insert(name.into_owned(), access.next_value_seed(below)?);
                }
            }
        }
        Ok(Value::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = access.next_element_seed(self)? {
            elements.push(element);
        }
        Ok(Value::Array(elements))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const EVENT: &str = r#"{"source":"aws.ecs","detail-type":"ECS Task State Change",
        "detail":{"lastStatus":"STOPPED","group":"service:web","version":7,
        "containers":[{"name":"app","exitCode":137,"reason":null},{"name":"log","exitCode":0}],
        "overrides":{"containerOverrides":[{"name":"app","environment":[{"name":"K","value":"v"}]}]},
        "tags":[1,[2,{"a":3}]]},"resources":["arn:1"],"a\"b":{"c":1}}"#;

    fn project(paths: &[&[&str]]) -> Value {
        Projection::of_paths(paths.iter().map(|path| path.iter())).project(EVENT).expect("JSON")
    }

    #[test]
    fn given_leaf_paths_then_only_they_are_kept_and_arrays_keep_every_element() {
        assert_eq!(
            project(&[
                &["source"],
                &["detail", "lastStatus"],
                &["detail", "containers", "exitCode"]
            ]),
            json!({"source": "aws.ecs", "detail": {"lastStatus": "STOPPED",
                "containers": [{"exitCode": 137}, {"exitCode": 0}]}})
        );
    }

    #[test]
    fn given_a_path_ending_at_an_object_then_it_is_kept_whole_even_when_a_longer_path_names_it() {
        let whole = json!({"detail": {"overrides": {"containerOverrides": [{"name": "app",
            "environment": [{"name": "K", "value": "v"}]}]}}});
        assert_eq!(project(&[&["detail", "overrides"]]), whole);
        assert_eq!(project(&[&["detail", "overrides", "x"], &["detail", "overrides"]]), whole);
        assert_eq!(project(&[&["detail", "overrides"], &["detail", "overrides", "x"]]), whole);
    }

    #[test]
    fn given_paths_through_scalars_nested_arrays_nulls_and_escaped_keys_then_they_stay_as_sent() {
        assert_eq!(
            project(&[&["detail", "tags", "a"], &["source", "x"], &["a\"b", "c"], &["nope"]]),
            json!({"source": "aws.ecs", "detail": {"tags": [1, [2, {"a": 3}]]}, "a\"b": {"c": 1}})
        );
        assert_eq!(
            project(&[&["detail", "containers", "reason"]]),
            json!({"detail": {"containers": [{"reason": null}, {}]}})
        );
    }

    #[test]
    fn given_no_paths_or_text_that_is_not_json_then_nothing_or_the_parsers_error() {
        assert_eq!(project(&[]), json!({}));
        let error = Projection::of_paths([["a"]]).project(r#"{"a":1,"b":[}"#).expect_err("bad");
        assert_eq!(
            (error.line(), error.column()),
            (1, 13),
            "at the `}}` that cannot start a value"
        );
        assert!(Projection::of_paths([["a"]]).project(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn given_a_repeated_key_then_the_last_one_counts_as_in_serde_json() {
        let projection = Projection::of_paths([["a"]]);
        assert_eq!(projection.project(r#"{"a":1,"a":2}"#).expect("JSON"), json!({"a": 2}));
    }
}
