//! `wildcard` patterns: `*` matches any run of characters (including none); `\*` is a
//! literal asterisk and `\\` a literal backslash. Any other escape, a trailing backslash and
//! two consecutive `*` are invalid, as in EventBridge.

/// A compiled wildcard: the literal runs between the unescaped `*`s, so a pattern with `n`
/// stars has `n + 1` segments (possibly empty).
#[derive(Debug)]
pub(crate) struct Wildcard {
    segments: Box<[Box<str>]>,
}

impl Wildcard {
    /// Parses and validates a wildcard operand. Positions in errors are 1-based characters.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((index, c)) = chars.next() {
            match c {
                '*' => {
                    if matches!(chars.peek(), Some((_, '*'))) {
                        return Err(format!(
                            "invalid wildcard {text:?}: consecutive '*' at position {}",
                            index + 1
                        ));
                    }
                    segments.push(std::mem::take(&mut current).into_boxed_str());
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => current.push(escaped),
                    _ => {
                        return Err(format!(
                            "invalid wildcard {text:?}: invalid escape at position {} \
                             (only \\* and \\\\ may be escaped)",
                            index + 1
                        ));
                    }
                },
                other => current.push(other),
            }
        }
        segments.push(current.into_boxed_str());
        Ok(Self { segments: segments.into_boxed_slice() })
    }

    /// Whether `value` matches the whole wildcard. The first and last segments anchor the
    /// ends; the middle ones are found leftmost-first, which is exact for `*`-only globs and
    /// linear in the length of `value`.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return false,
        };
        let Some((last, middle)) = rest.split_last() else {
            return value == &**first;
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(&**first)
            || !value.ends_with(&**last)
        {
            return false;
        }
        let Some(mut inner) = value.get(first.len()..value.len() - last.len()) else {
            return false;
        };
        for segment in middle {
            match inner.find(&**segment) {
                Some(at) => inner = &inner[at + segment.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard(text: &str) -> Wildcard {
        Wildcard::parse(text).expect("valid wildcard")
    }

    #[test]
    fn stars_match_any_run() {
        assert!(wildcard("*").matches(""));
        assert!(wildcard("a*b*c").matches("abc"));
        assert!(wildcard("a*b*c").matches("a-b-b-c"));
        assert!(!wildcard("a*b*c").matches("acb"));
        assert!(!wildcard("ab*ba").matches("aba"));
        assert!(wildcard("ab*ba").matches("abba"));
        assert!(wildcard(r"a\*b").matches("a*b"));
        assert!(!wildcard(r"a\*b").matches("axb"));
        assert!(wildcard(r"a\\*").matches(r"a\xyz"));
        assert!(wildcard(r"\**").matches("*x"));
    }

    #[test]
    fn invalid_wildcards_are_refused() {
        for bad in ["a**b", "**", r"a\b", "a\\", r"\"] {
            assert!(Wildcard::parse(bad).is_err(), "{bad}");
        }
    }
}
