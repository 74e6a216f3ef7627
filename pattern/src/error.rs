//! The error a pattern fails to compile with: what is wrong, and at which field.

/// The kind of mistake a [`PatternError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern text is not JSON.
    Json,
    /// The shape is wrong: the pattern is not an object, a field is neither an object nor an
    /// array, an object or array is empty, a `$or` is malformed, a field is reserved inside
    /// `$or`, or a field is constrained twice in the same combination.
    Structure,
    /// A match expression names an operator EventBridge does not have (`{"sufix": "x"}`).
    UnknownOperator,
    /// An operator's operand is wrong: wrong type, out of range, too precise, a malformed
    /// `numeric` expression, a bad CIDR, an invalid wildcard, an empty or mixed list.
    Operand,
    /// One of this engine's limits is exceeded: nesting depth, number of values or number of
    /// `$or` combinations (see the [crate documentation](crate)).
    Limit,
}

/// Why a pattern is invalid. It names the field (as a dotted path such as
/// `detail.containers.exitCode`; empty for the pattern as a whole) and says what is wrong.
///
/// Displays as `detail.stoppedReason: unknown operator "sufix"`, or `<pattern>: ...` when the
/// problem is with the pattern as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path_label(.path))]
pub struct PatternError {
    kind: PatternErrorKind,
    path: String,
    message: String,
}

fn path_label(path: &str) -> &str {
    if path.is_empty() { "<pattern>" } else { path }
}

impl PatternError {
    pub(crate) fn new(kind: PatternErrorKind, path: &[&str], message: impl Into<String>) -> Self {
        Self { kind, path: path.join("."), message: message.into() }
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> PatternErrorKind {
        self.kind
    }

    /// The dotted path of the offending field (`detail.containers.exitCode`); `$or` appears
    /// in it only when the `$or` itself is at fault (`detail.$or`). Empty when the pattern as
    /// a whole is at fault.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, for a person to read.
    pub fn message(&self) -> &str {
        &self.message
    }
}
