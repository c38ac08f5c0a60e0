//! What every catalog form shares: the problems of a submitted form beside their fields
//! ([`FormErrors`]), a refusal of the form's own checks or of the admin API sorted onto the
//! form ([`Refusal`]), and the readers of the submitted fields.

use axum::http::StatusCode;

use crate::error::{AppError, AppResult};
use crate::web::forms::{FormErrors, sentence};

/// Why a form was refused: its status, the problems by field, and a problem of the whole form.
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) errors: FormErrors,
    pub(super) alert: Option<String>,
}

impl Refusal {
    /// A refusal by the form's own checks (422).
    pub(super) fn local(errors: FormErrors) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            alert: None,
        }
    }

    /// Sorts the admin API's refusal onto the form whose fields are `labels`, after the
    /// form's own findings in `errors`; anything not about the input stays an error.
    pub(super) fn from_api(
        err: AppError,
        labels: &[(&str, &str)],
        mut errors: FormErrors,
    ) -> AppResult<Self> {
        let status = err.status();
        let problems: Vec<(String, String)> = match err {
            AppError::Validation(problems) => problems.into_iter().collect(),
            AppError::Conflict {
                detail,
                field: Some(field),
            } => vec![(field, detail)],
            other => return Err(other),
        };
        let mut alert = None;
        for (field, problem) in problems {
            match labels.iter().find(|(name, _)| *name == field) {
                Some((name, label)) => errors.add(name, label, &problem),
                None => alert = Some(sentence(&field, &problem)),
            }
        }
        Ok(Self {
            status,
            errors,
            alert,
        })
    }

    /// A delete the API refused (409: orders or plans refer to the row), with its reason.
    pub(super) fn from_delete(err: AppError) -> AppResult<Self> {
        match err {
            AppError::Conflict { detail, .. } => Ok(Self {
                status: StatusCode::CONFLICT,
                errors: FormErrors::default(),
                alert: Some(format!("Not deleted: {}.", detail.trim_end_matches('.'))),
            }),
            other => Err(other),
        }
    }
}

/// The value of a form field (the last one sent); empty when absent.
pub(super) fn value_of(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

pub(super) fn is_checked(pairs: &[(String, String)], name: &str) -> bool {
    pairs.iter().any(|(key, _)| key == name)
}

/// A text field for the API: blank means "no value" (an optional field is cleared, a required
/// one is reported missing).
pub(super) fn text(value: &str) -> Option<Option<String>> {
    if value.trim().is_empty() {
        Some(None)
    } else {
        Some(Some(value.to_owned()))
    }
}

/// A display order: blank is 0.
pub(super) fn display_order(
    value: &str,
    label: &str,
    errors: &mut FormErrors,
) -> Option<Option<i32>> {
    let value = value.trim();
    if value.is_empty() {
        return Some(Some(0));
    }
    match value.parse::<i32>() {
        Ok(order) => Some(Some(order)),
        Err(_) => {
            errors.add(
                "display_order",
                label,
                "must be a whole number like 1, 2 or 10",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_become_sentences_naming_the_field() {
        assert_eq!(sentence("Name", "is required"), "Name is required.");
        assert_eq!(
            sentence("Monthly price", "must not be null"),
            "Monthly price is required."
        );
        assert_eq!(
            sentence("Features", "feature 2 is blank"),
            "Feature 2 is blank."
        );
    }
}
