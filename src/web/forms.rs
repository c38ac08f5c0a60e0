//! The form helpers every page module uses, not only the account pages: the problems of a
//! submitted form beside their fields ([`FormErrors`]), a flow's refusal sorted onto the form
//! ([`Failure`]), the fixed `?notice=` messages, times in Pakistan time and rendering with a
//! status. Part of the web kit: every domain's pages import it; it imports no domain.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, Utc};

use crate::error::{AppError, AppResult};

/// The problems of a submitted form, by field, as sentences shown beside each field.
#[derive(Debug, Default)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    /// The problem of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Shows the problem of field `from` on field `to` (an API field a form spells otherwise).
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(problem) = self.0.remove(from) {
            self.0.entry(to.to_owned()).or_insert(problem);
        }
    }

    /// Every problem, by field.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Records a problem in the words of the flows ("must be at least 8 characters"), turned
    /// into a sentence that names the field ("Password must be at least 8 characters.").
    pub(crate) fn add(&mut self, field: &str, label: &str, problem: &str) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| sentence(label, problem));
    }
}

/// "is required" about "Full name" → "Full name is required."; a message that already names
/// its subject is only capitalised.
pub(crate) fn sentence(label: &str, problem: &str) -> String {
    let problem = problem.trim().trim_end_matches('.');
    // The API's word for a blank number field.
    let problem = if problem == "must not be null" {
        "is required"
    } else {
        problem
    };
    let text = if problem.starts_with("is ") || problem.starts_with("must ") {
        format!("{label} {problem}")
    } else {
        let mut chars = problem.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => label.to_owned(),
        }
    };
    format!("{text}.")
}

/// Why a form failed, ready to render: the status, the problems beside their fields, and a
/// problem of the whole form.
pub struct Failure {
    pub status: StatusCode,
    pub errors: FormErrors,
    pub alert: Option<String>,
}

impl Failure {
    fn new(status: StatusCode) -> Self {
        Self {
            status,
            errors: FormErrors::default(),
            alert: None,
        }
    }

    /// Sorts a flow's refusal onto the form whose fields are `labels` (name, label). Problems
    /// of other fields (a link's token) become the form's alert; anything that is not about
    /// the input (a database failure) stays an error, for the error page.
    pub(crate) fn from_error(err: AppError, labels: &[(&str, &str)]) -> AppResult<Self> {
        let status = err.status();
        let field_problems: Vec<(String, String)> = match err {
            AppError::Validation(errors) => errors.into_iter().collect(),
            AppError::Conflict {
                detail,
                field: Some(field),
            }
            | AppError::BadRequest {
                detail,
                field: Some(field),
            } => vec![(field, detail)],
            AppError::TooManyRequests { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60).max(1);
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                let mut failure = Self::new(status);
                failure.alert = Some(format!(
                    "Too many attempts. Please wait {minutes} {unit} and try again."
                ));
                return Ok(failure);
            }
            AppError::Unauthorized => {
                let mut failure = Self::new(status);
                failure.alert = Some(WRONG_CREDENTIALS.to_owned());
                return Ok(failure);
            }
            AppError::Forbidden(message) | AppError::TwoFactor(message) => {
                let mut failure = Self::new(status);
                failure.alert = Some(sentence("", &message));
                return Ok(failure);
            }
            other => return Err(other),
        };
        let mut failure = Self::new(status);
        for (field, problem) in field_problems {
            match labels.iter().find(|(name, _)| *name == field) {
                Some((name, label)) => failure.errors.add(name, label, &problem),
                None => failure.alert = Some(sentence(&field, &problem)),
            }
        }
        Ok(failure)
    }
}

/// The one answer to a wrong e-mail or a wrong password.
const WRONG_CREDENTIALS: &str = "E-mail or password is wrong.";

/// A fixed message picked by a `?notice=` code: pages never echo text from the query string.
pub struct Notice {
    /// `success`, `info` or `error` (the `.alert-*` class).
    pub kind: &'static str,
    pub text: &'static str,
}

/// The notice of `code` in `table` (code, kind, text); unknown codes show nothing.
pub fn notice(code: Option<&str>, table: &[(&str, &'static str, &'static str)]) -> Option<Notice> {
    let code = code?;
    table
        .iter()
        .find(|(known, _, _)| *known == code)
        .map(|(_, kind, text)| Notice { kind, text })
}

/// Pakistan Standard Time: UTC+5 all year, no daylight saving (what every page shows and
/// reads times in).
pub fn pkt_offset() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// A moment as the shop shows it: `26 Nov 2026, 08:15 PKT`; "—" when there is none.
pub fn pkt(moment: Option<DateTime<Utc>>) -> String {
    match moment {
        Some(moment) => moment
            .with_timezone(&pkt_offset())
            .format("%-d %b %Y, %H:%M PKT")
            .to_string(),
        None => "—".to_owned(),
    }
}

/// Today in Pakistan.
pub fn pkt_today() -> chrono::NaiveDate {
    Utc::now().with_timezone(&pkt_offset()).date_naive()
}

/// The moment a PKT day begins (19:00 UTC the day before).
pub fn pkt_midnight(day: chrono::NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - chrono::Duration::hours(5)
}

/// A day given as `2026-12-01` (blank: `None`), or 400 naming `field`.
pub fn parse_day(field: &str, text: Option<&str>) -> AppResult<Option<chrono::NaiveDate>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::bad_request(field, "must be a day like 2026-12-01")),
    }
}

/// One option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Rupees as an operator may type them: `2500`, `2,500`, `Rs 2,500`.
pub fn parse_rupees(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_prefix("Rs.")
        .or_else(|| text.strip_prefix("Rs"))
        .or_else(|| text.strip_prefix("rs"))
        .unwrap_or(text);
    let digits: String = text
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    digits.parse().ok()
}

/// What an uploaded image (a receipt, the invoice logo) is, by its first bytes (the declared
/// type must agree).
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_become_sentences_naming_the_field() {
        assert_eq!(
            sentence("Password", "must be at least 8 characters"),
            "Password must be at least 8 characters."
        );
        assert_eq!(
            sentence("Full name", "is required"),
            "Full name is required."
        );
        assert_eq!(
            sentence("E-mail", "an account with this e-mail already exists"),
            "An account with this e-mail already exists."
        );
    }

    #[test]
    fn times_are_shown_in_pakistan_time() {
        let moment = DateTime::parse_from_rfc3339("2026-11-26T03:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(pkt(Some(moment)), "26 Nov 2026, 08:15 PKT");
        let early = DateTime::parse_from_rfc3339("2026-03-01T20:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(pkt(Some(early)), "2 Mar 2026, 01:05 PKT");
        assert_eq!(pkt(None), "—");
    }
    #[test]
    fn rupees_may_be_typed_with_commas() {
        assert_eq!(parse_rupees("2500"), Some(2500));
        assert_eq!(parse_rupees("2,500"), Some(2500));
        assert_eq!(parse_rupees("Rs 12,500"), Some(12500));
        assert_eq!(parse_rupees("-5"), Some(-5));
        assert_eq!(parse_rupees("abc"), None);
        assert_eq!(parse_rupees("25.5"), None);
    }
}
