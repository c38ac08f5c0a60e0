//! The body fields the operator API shares and their rules: an absent field told from an
//! explicit `null` ([`Field`]), required and optional text, plain values and slugs. Each rule
//! reports into one [`FieldErrors`], so a body's every fault is found at once.

use serde::{Deserialize, Deserializer};

use crate::accounts::validation::FieldErrors;
use crate::catalog::is_valid_slug;

pub(super) const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A field of a request body: absent (`None`), `null` (`Some(None)`) or a value.
pub type Field<T> = Option<Option<T>>;

/// Tells an absent field from an explicit `null`.
pub(super) fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Field<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Field rules: each takes the input and what the field is when absent (the current value on
// PATCH, the default on POST; `None` for a required field on POST).
// ---------------------------------------------------------------------------------------------

/// A required line of text: trimmed, non-blank, at most `max` characters, no control characters.
pub(super) fn text(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
    max: usize,
) -> Option<String> {
    match input {
        None => match fallback {
            Some(current) => Some(current.to_owned()),
            None => {
                errors.add(field, "is required");
                None
            }
        },
        Some(None) => {
            errors.add(field, "is required");
            None
        }
        Some(Some(value)) => {
            let value = value.trim();
            if value.is_empty() {
                errors.add(field, "is required");
                None
            } else {
                check_length(errors, field, value, max).then(|| value.to_owned())
            }
        }
    }
}

/// An optional text: `null` or blank clears it.
pub(super) fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
    max: usize,
) -> Option<Option<String>> {
    match input {
        None => Some(fallback.map(str::to_owned)),
        Some(None) => Some(None),
        Some(Some(value)) => {
            let value = value.trim();
            if value.is_empty() {
                Some(None)
            } else {
                check_length(errors, field, value, max).then(|| Some(value.to_owned()))
            }
        }
    }
}

fn check_length(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> bool {
    if value.chars().count() > max {
        errors.add(field, &format!("must be at most {max} characters"));
        false
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(field, "must not contain control characters");
        false
    } else {
        true
    }
}

/// A required value that is not text (a number, a flag).
pub(super) fn value<T>(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<T>,
    fallback: Option<T>,
) -> Option<T> {
    match input {
        None => {
            if fallback.is_none() {
                errors.add(field, "is required");
            }
            fallback
        }
        Some(None) => {
            errors.add(field, "must not be null");
            None
        }
        Some(Some(value)) => Some(value),
    }
}

/// Words the pages use as paths (`/admin/catalog/plans/new`), so no id may be one of them.
const RESERVED_SLUGS: &[&str] = &["new", "edit", "delete"];

/// A slug: `[a-z0-9-]`, 3 to 50 characters.
pub(super) fn slug(
    errors: &mut FieldErrors,
    field: &str,
    input: Field<String>,
    fallback: Option<&str>,
) -> Option<String> {
    let value = text(errors, field, input, fallback, 50)?;
    if RESERVED_SLUGS.contains(&value.as_str()) {
        errors.add(field, "is a reserved word; choose another");
        None
    } else if is_valid_slug(&value) {
        Some(value)
    } else {
        errors.add(field, "must be 3 to 50 characters of a-z, 0-9 and -");
        None
    }
}
