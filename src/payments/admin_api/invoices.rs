//! The operator's invoices and credit notes: `/api/v1/admin/invoices*`, with the accountant's
//! CSV.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::payments::api::invoices::{InvoicePage, PdfBytes, pdf_response};
use crate::payments::invoices::{self, Invoice, InvoiceFilter, InvoiceKind};
use crate::web::upload::FileBytes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_list_invoices))
        .routes(routes!(admin_invoices_csv))
        .routes(routes!(admin_find_invoice))
        .routes(routes!(admin_invoice_pdf))
}

/// A CSV file's text.
#[derive(ToSchema)]
#[schema(value_type = String)]
#[allow(dead_code)] // describes the CSV body for the API document
pub struct CsvText(String);

/// The operator's filters of the documents.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Issued on or after this day (PKT, `YYYY-MM-DD`).
    pub from: Option<NaiveDate>,
    /// Issued on or before this day (PKT, `YYYY-MM-DD`); not before `from`.
    pub to: Option<NaiveDate>,
    /// `invoice` or `credit_note`.
    pub kind: Option<InvoiceKind>,
    /// A series, e.g. `NGR-2026` or `NGR-CN-2026`.
    pub series: Option<String>,
    /// A customer's account id.
    pub customer: Option<i32>,
    /// The page to show, from 1.
    #[serde(default = "crate::web::paging::first_page")]
    #[param(default = 1, minimum = 1)]
    pub page: i64,
    /// Items per page, 1 to 100.
    #[serde(default = "crate::web::paging::admin_per_page")]
    #[param(default = 25, minimum = 1, maximum = 100)]
    pub per_page: i64,
}

impl InvoiceQuery {
    /// The filter; a 400 names the parameter at fault.
    pub fn filter(&self) -> AppResult<InvoiceFilter> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(AppError::bad_request("to", "must not be before from"));
        }
        let series = self
            .series
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(series) = series
            && (series.len() > 30
                || !series
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(AppError::bad_request(
                "series",
                "a series is letters, digits and dashes, e.g. NGR-2026",
            ));
        }
        Ok(InvoiceFilter {
            from: self.from,
            to: self.to,
            kind: self.kind,
            series: series.map(str::to_ascii_uppercase),
            user_id: self.customer,
        })
    }
}

fn parse_query(query: Result<Query<InvoiceQuery>, QueryRejection>) -> AppResult<InvoiceQuery> {
    let Query(query) = query.map_err(|err| AppError::bad_request("query", err.body_text()))?;
    crate::web::paging::check(query.page, query.per_page)?;
    Ok(query)
}

/// Every invoice and credit note, by issue date, filtered.
#[utoipa::path(get, path = "/api/v1/admin/invoices", tag = "admin",
    security(("bearer" = [])),
    params(InvoiceQuery),
    responses(
        (status = OK, description = "A page of documents, oldest first", body = InvoicePage),
        (status = BAD_REQUEST, description = "A parameter is malformed (named in the problem)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn admin_list_invoices(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<InvoiceQuery>, QueryRejection>,
) -> AppResult<Json<InvoicePage>> {
    let query = parse_query(query)?;
    let filter = query.filter()?;
    let total = invoices::count(&state.db, &filter).await?;
    let offset = crate::web::paging::offset(query.page, query.per_page);
    Ok(Json(InvoicePage {
        items: invoices::list(&state.db, &filter, query.per_page, offset).await?,
        total: total.count,
        total_exact: total.exact,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// The accountant's CSV of the documents the filters match (paging ignored): one line per
/// document, credit notes negative, with its province, taxable value, tax and total.
#[utoipa::path(get, path = "/api/v1/admin/invoices/export.csv", tag = "admin",
    security(("bearer" = [])),
    params(InvoiceQuery),
    responses(
        (status = OK, description = "The CSV (UTF-8, a header line first)",
            content((CsvText = "text/csv")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"invoices.csv\"`"))),
        (status = BAD_REQUEST, description = "A parameter is malformed (named in the problem)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn admin_invoices_csv(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    query: Result<Query<InvoiceQuery>, QueryRejection>,
) -> AppResult<impl IntoResponse> {
    let query = parse_query(query)?;
    let filter = query.filter()?;
    let csv = invoices::csv(&state.db, &filter).await?;
    let name = match (filter.from, filter.to) {
        (Some(from), Some(to)) => format!("invoices-{from}-to-{to}.csv"),
        (Some(from), None) => format!("invoices-from-{from}.csv"),
        (None, Some(to)) => format!("invoices-to-{to}.csv"),
        (None, None) => "invoices.csv".to_owned(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        csv,
    ))
}

/// Any invoice or credit note.
#[utoipa::path(get, path = "/api/v1/admin/invoices/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The document's id")),
    responses(
        (status = OK, description = "The document as issued", body = Invoice),
        (status = NOT_FOUND, description = "No such document", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_find_invoice(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<Json<Invoice>> {
    invoices::find(&state.db, id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("invoice"))
}

/// Any invoice or credit note as an A4 PDF.
#[utoipa::path(get, path = "/api/v1/admin/invoices/{id}/pdf", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The document's id")),
    responses(
        (status = OK, description = "The PDF", content((PdfBytes = "application/pdf"), (FileBytes = "application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"NGR-2026-000123.pdf\"`"))),
        (status = NOT_FOUND, description = "No such document", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn admin_invoice_pdf(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let invoice = invoices::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("invoice"))?;
    pdf_response(&state, invoice).await
}
