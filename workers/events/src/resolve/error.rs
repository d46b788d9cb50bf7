//! Why a writer's datum, or every datum of a writer's schema, cannot be read with the
//! reader's schema: the [`Mismatch`], and the [`ResolveError`] that says where in the
//! reader's schema it happened and gives the dead-letter error kind.

use apache_avro::schema::Schema;

use super::json::type_name;

/// Why a writer's datum (or every datum of a writer's schema) cannot be read with the
/// reader's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The writer picked a union branch that no branch of the reader's union (or the
    /// reader's schema, when it is not a union) matches: typically a payload type added
    /// by a newer writer.
    #[error("the writer's union branch {branch} has no match in the reader's {reader}")]
    UnknownUnionBranch {
        /// The writer's branch: the full name of a named type, else the type's name.
        branch: String,
        /// The reader's schema at that place.
        reader: String,
    },
    /// An enum symbol the reader's enum lacks, and the reader's enum has no default.
    #[error("symbol {symbol} is not in the reader's enum {name}, which has no default")]
    UnknownEnumSymbol {
        /// The reader's enum.
        name: String,
        /// The writer's symbol.
        symbol: String,
    },
    /// A field of the reader's record that the writer's record lacks, without default.
    #[error("the reader's field {record}.{field} is not in the writer's record and has no default")]
    MissingField {
        /// The reader's record.
        record: String,
        /// The field.
        field: String,
    },
    /// The two schemas do not match (different types, names or fixed sizes).
    #[error("the writer's {writer} does not match the reader's {reader}")]
    SchemaMismatch {
        /// The writer's schema at that place.
        writer: String,
        /// The reader's schema at that place.
        reader: String,
    },
    /// A reader field's default that is not a value of the field's type.
    #[error("the default of {record}.{field} is not a {expected}")]
    InvalidDefault {
        /// The reader's record.
        record: String,
        /// The field.
        field: String,
        /// The type the default should be.
        expected: String,
    },
    /// The decoded value does not have the writer schema's shape (cannot happen for a
    /// value decoded with that schema).
    #[error("the value does not fit the writer's schema: {0}")]
    Datum(String),
}

/// A [`Mismatch`] and where it happened (the reader's field path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// Field path from the top-level record, e.g. `payload` or `lines[].sku`; empty at
    /// the top.
    pub path: String,
    /// What does not match.
    pub mismatch: Mismatch,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.mismatch)
        } else {
            write!(f, "{} (at {})", self.mismatch, self.path)
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.mismatch)
    }
}

impl ResolveError {
    pub(super) fn new(mismatch: Mismatch) -> ResolveError {
        ResolveError {
            path: String::new(),
            mismatch,
        }
    }

    /// Prefixes the path with `segment` (a field name, or `[]` for array items and
    /// map values).
    pub(super) fn within(mut self, segment: &str) -> ResolveError {
        self.path = match (self.path.is_empty(), segment.starts_with('[')) {
            (true, _) => segment.to_owned(),
            (false, true) if self.path.starts_with('[') => format!("{segment}{}", self.path),
            (false, true) => format!("{segment}.{}", self.path),
            (false, false) if self.path.starts_with('[') => format!("{segment}{}", self.path),
            (false, false) => format!("{segment}.{}", self.path),
        };
        self
    }

    /// A short stable name of the mismatch, used as the dead-letter error kind.
    pub fn kind(&self) -> &'static str {
        match self.mismatch {
            Mismatch::UnknownUnionBranch { .. } => "unknown-union-branch",
            Mismatch::UnknownEnumSymbol { .. } => "unknown-enum-symbol",
            Mismatch::MissingField { .. } => "missing-field",
            Mismatch::SchemaMismatch { .. } => "incompatible-schema",
            Mismatch::InvalidDefault { .. } => "invalid-default",
            Mismatch::Datum(_) => "malformed",
        }
    }

    /// Whether the datum, not the schemas, is at fault.
    pub fn is_datum(&self) -> bool {
        matches!(self.mismatch, Mismatch::Datum(_))
    }
}

pub(super) type Result<T> = std::result::Result<T, ResolveError>;

/// The writer picked `branch`, which nothing in the reader's `reader` matches.
pub(super) fn unknown_branch(branch: &Schema, reader: &Schema) -> ResolveError {
    ResolveError::new(Mismatch::UnknownUnionBranch {
        branch: type_name(branch),
        reader: type_name(reader),
    })
}

/// The value does not have the writer schema's shape.
pub(super) fn datum(reason: &str) -> ResolveError {
    ResolveError::new(Mismatch::Datum(reason.to_owned()))
}
