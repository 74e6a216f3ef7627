//! Case-insensitive comparison as event-ruler does it: each character of the operand may
//! appear in the value as its lower-case or its upper-case form (full Unicode mappings, so
//! `ß` also matches `SS`). The value is not case-folded; only the operand offers
//! alternatives, which is why `"STRASSE"` does not match a value `"straße"`.

/// A compiled `equals-ignore-case` operand (also used by `prefix`/`suffix` and
/// `anything-but` with `equals-ignore-case`).
#[derive(Debug)]
pub(crate) enum IgnoreCase {
    /// An ASCII operand: byte-wise ASCII case-insensitive comparison is exactly the rule.
    Ascii(Box<str>),
    /// Otherwise, the accepted forms of each operand character.
    Unicode(Box<[Forms]>),
}

/// The lower- and upper-case forms of one operand character.
#[derive(Debug)]
pub(crate) struct Forms {
    lower: Box<str>,
    upper: Box<str>,
}

impl Forms {
    fn each(&self) -> impl Iterator<Item = &[u8]> {
        let upper = (self.upper != self.lower).then_some(self.upper.as_bytes());
        std::iter::once(self.lower.as_bytes()).chain(upper)
    }
}

impl IgnoreCase {
    pub(crate) fn new(operand: &str) -> Self {
        if operand.is_ascii() {
            return Self::Ascii(operand.into());
        }
        let forms = operand
            .chars()
            .map(|c| Forms {
                lower: c.to_lowercase().collect::<String>().into_boxed_str(),
                upper: c.to_uppercase().collect::<String>().into_boxed_str(),
            })
            .collect();
        Self::Unicode(forms)
    }

    /// The whole value matches.
    pub(crate) fn equals(&self, value: &str) -> bool {
        match self {
            Self::Ascii(operand) => value.as_bytes().eq_ignore_ascii_case(operand.as_bytes()),
            Self::Unicode(forms) => reach_forward(forms, value.as_bytes()).contains(&value.len()),
        }
    }

    /// The value starts with the operand.
    pub(crate) fn is_prefix_of(&self, value: &str) -> bool {
        match self {
            Self::Ascii(operand) => value
                .as_bytes()
                .get(..operand.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(operand.as_bytes())),
            Self::Unicode(forms) => !reach_forward(forms, value.as_bytes()).is_empty(),
        }
    }

    /// The value ends with the operand.
    pub(crate) fn is_suffix_of(&self, value: &str) -> bool {
        match self {
            Self::Ascii(operand) => value
                .len()
                .checked_sub(operand.len())
                .and_then(|start| value.as_bytes().get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(operand.as_bytes())),
            Self::Unicode(forms) => !reach_backward(forms, value.as_bytes()).is_empty(),
        }
    }
}

/// The byte offsets of `value` that the operand can reach when consumed from the start.
/// Forms differ in length, so every reachable offset is carried along (a handful at most).
fn reach_forward(forms: &[Forms], value: &[u8]) -> Vec<usize> {
    let mut reachable = vec![0];
    let mut next = Vec::new();
    for form in forms {
        next.clear();
        for &offset in &reachable {
            let rest = value.get(offset..).unwrap_or_default();
            next.extend(form.each().filter(|f| rest.starts_with(f)).map(|f| offset + f.len()));
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut reachable, &mut next);
        if reachable.is_empty() {
            break;
        }
    }
    reachable
}

/// As [`reach_forward`], consuming the operand backwards from the end of `value`.
fn reach_backward(forms: &[Forms], value: &[u8]) -> Vec<usize> {
    let mut reachable = vec![value.len()];
    let mut next = Vec::new();
    for form in forms.iter().rev() {
        next.clear();
        for &offset in &reachable {
            let head = value.get(..offset).unwrap_or_default();
            next.extend(form.each().filter(|f| head.ends_with(f)).map(|f| offset - f.len()));
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut reachable, &mut next);
        if reachable.is_empty() {
            break;
        }
    }
    reachable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_unicode_operands() {
        assert!(IgnoreCase::new("EventB").is_prefix_of("eventbridge"));
        assert!(IgnoreCase::new(".PNG").is_suffix_of("a.png"));
        assert!(!IgnoreCase::new("k").equals("\u{212a}"));
        assert!(IgnoreCase::new("École").equals("ÉCOLE"));
        assert!(IgnoreCase::new("straße").equals("STRASSE"));
        assert!(!IgnoreCase::new("STRASSE").equals("straße"));
        assert!(IgnoreCase::new("ß").is_suffix_of("GROSS"));
        assert!(IgnoreCase::new("Ωmega").is_prefix_of("ωMEGA-1"));
        assert!(!IgnoreCase::new("é").equals("e"));
    }
}
