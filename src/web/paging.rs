//! Paging: `?page=&per_page=` of the API's lists, checked the same everywhere, and a page's
//! `?page=` on the HTML lists.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{AppError, AppResult};

/// `?page=&per_page=` of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The page to show, from 1.
    #[serde(default = "first_page")]
    #[param(default = 1, minimum = 1)]
    pub page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "default_per_page")]
    #[param(default = 20, minimum = 1, maximum = 100)]
    pub per_page: i64,
}

/// The page a list shows when none is asked for (`#[serde(default = …)]` of every list query).
pub fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    20
}

/// The page size of the operator's lists when none is asked for.
pub fn admin_per_page() -> i64 {
    25
}

impl Paging {
    /// Parses and bounds paging: page ≥ 1, 1 ≤ per_page ≤ 100; a 400 names the parameter.
    pub fn parse(query: Result<Query<Paging>, QueryRejection>) -> AppResult<Self> {
        let Query(paging) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
        check(paging.page, paging.per_page)?;
        Ok(paging)
    }

    /// The rows to skip; a page far past the end (up to `i64::MAX`) is an empty page, never an
    /// overflow.
    pub fn offset(&self) -> i64 {
        offset(self.page, self.per_page)
    }
}

/// Checks a list's paging: page ≥ 1, 1 ≤ per_page ≤ 100; a 400 names the parameter.
pub fn check(page: i64, per_page: i64) -> AppResult<()> {
    if page < 1 {
        return Err(AppError::bad_request("page", "must be 1 or more"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(AppError::bad_request(
            "per_page",
            "must be between 1 and 100",
        ));
    }
    Ok(())
}

/// The rows before page `page`; a page far past the end is an empty page, never an overflow.
pub fn offset(page: i64, per_page: i64) -> i64 {
    (page - 1).saturating_mul(per_page)
}

/// A `?page=` value; nonsense falls back to the first page rather than failing.
pub fn page_number(text: Option<&str>) -> i64 {
    text.and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}
