//! Paging: `?page=&per_page=` of the API's lists, checked the same everywhere, and a page's
//! `?page=` on the HTML lists.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::total::Total;
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

/// Where a page of an operator's HTML list stands among the pages its total makes.
#[derive(Clone, Copy, Debug)]
pub struct PageOf {
    /// How many rows match (exact, or an estimate on a large table: `db::total`).
    pub total: Total,
    /// The page shown, from 1.
    pub page: i64,
    /// How many pages the total makes (an estimate when the total is).
    pub pages: i64,
}

impl PageOf {
    /// Page `asked` of `total` rows, `per_page` a page. With an exact total a page past the end
    /// shows the last one; with an estimate the page asked is shown (empty if past the end).
    pub fn new(total: Total, asked: i64, per_page: i64) -> Self {
        let pages = ((total.count + per_page - 1) / per_page).max(1);
        let page = if total.exact { asked.min(pages) } else { asked };
        Self { total, page, pages }
    }

    /// The one page of a list that was not read (its filters were refused).
    pub fn nothing() -> Self {
        Self {
            total: Total {
                count: 0,
                exact: true,
            },
            page: 1,
            pages: 1,
        }
    }

    /// The rows before this page.
    pub fn offset(&self, per_page: i64) -> i64 {
        offset(self.page, per_page)
    }

    /// The page before this one, if any.
    pub fn previous(&self) -> Option<i64> {
        (self.page > 1).then(|| self.page - 1)
    }

    /// The page after this one, if any: by the total when it is exact, else whenever this
    /// page came back full.
    pub fn next(&self, shown: usize, per_page: i64) -> Option<i64> {
        let more = if self.total.exact {
            self.page < self.pages
        } else {
            shown as i64 >= per_page
        };
        more.then(|| self.page + 1)
    }

    /// The number of pages as the page prints it (`about 40,000` for an estimate).
    pub fn pages_text(&self) -> String {
        Total {
            count: self.pages,
            exact: self.total.exact,
        }
        .describe()
    }
}

/// A `?page=` value; nonsense falls back to the first page rather than failing.
pub fn page_number(text: Option<&str>) -> i64 {
    text.and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(count: i64, exact: bool) -> Total {
        Total { count, exact }
    }

    #[test]
    fn an_exact_total_bounds_the_pages() {
        let list = PageOf::new(total(51, true), 9, 25);
        assert_eq!(
            (list.page, list.pages),
            (3, 3),
            "past the end: the last page"
        );
        assert_eq!(list.offset(25), 50);
        assert_eq!(list.previous(), Some(2));
        assert_eq!(list.next(1, 25), None);
        assert_eq!(PageOf::new(total(51, true), 1, 25).next(25, 25), Some(2));
        assert_eq!(list.pages_text(), "3");
        assert_eq!(PageOf::nothing().pages, 1);
    }

    #[test]
    fn an_estimated_total_pages_on_while_pages_come_back_full() {
        let list = PageOf::new(total(1_000_000, false), 50_000, 25);
        assert_eq!(list.page, 50_000, "the page asked, even past the estimate");
        assert_eq!(list.pages_text(), "about 40,000");
        assert_eq!(list.next(25, 25), Some(50_001));
        assert_eq!(list.next(24, 25), None);
    }
}
