//! The customer's invoices and credit notes over JSON and PDF: `/api/v1/invoices*`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::payments::invoices::{self, Invoice};
use crate::web::paging::Paging;
use crate::web::upload::FileBytes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invoices))
        .routes(routes!(find_invoice))
        .routes(routes!(invoice_pdf))
}

/// A PDF document's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes PDF bodies for the API document
pub struct PdfBytes(Vec<u8>);

/// A page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    pub items: Vec<Invoice>,
    /// How many match, over all pages (for the operator: exact up to 10,000, then estimated,
    /// `total_exact` false).
    pub total: i64,
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
}

/// The caller's invoices and credit notes, newest first.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "invoices",
    security(("bearer" = [])),
    params(Paging),
    responses((status = OK, description = "A page of the caller's documents", body = InvoicePage)),
)]
async fn list_invoices(
    State(state): State<AppState>,
    caller: ApiUser,
    query: Result<Query<Paging>, QueryRejection>,
) -> AppResult<Json<InvoicePage>> {
    let paging = Paging::parse(query)?;
    Ok(Json(InvoicePage {
        total: invoices::count_for_user(&state.db, caller.user.id).await?,
        total_exact: true,
        items: invoices::list_for_user(&state.db, caller.user.id, paging.per_page, paging.offset())
            .await?,
        page: paging.page,
        per_page: paging.per_page,
    }))
}

/// One of the caller's documents; anyone else's is a 404.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "invoices",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The document's id")),
    responses(
        (status = OK, description = "The invoice or credit note as issued", body = Invoice),
        (status = NOT_FOUND, description = "No such document of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn find_invoice(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<Json<Invoice>> {
    invoices::find_for_user(&state.db, id, caller.user.id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("invoice"))
}

/// One of the caller's documents as an A4 PDF.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/pdf", tag = "invoices",
    security(("bearer" = [])),
    params(("id" = i32, Path, description = "The document's id")),
    responses(
        (status = OK, description = "The PDF", content((PdfBytes = "application/pdf"), (FileBytes = "application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"NGR-2026-000123.pdf\"`"))),
        (status = NOT_FOUND, description = "No such document of the caller's", body = Problem,
            content_type = "application/problem+json"),
    ),
)]
async fn invoice_pdf(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let invoice = invoices::find_for_user(&state.db, id, caller.user.id)
        .await?
        .ok_or(AppError::NotFound("invoice"))?;
    pdf_response(&state, invoice).await
}

/// The document as a PDF download.
pub async fn pdf_response(
    state: &AppState,
    invoice: Invoice,
) -> AppResult<impl IntoResponse + use<>> {
    let logo = crate::orders::billing::logo(&state.db).await?;
    let name = invoices::pdf::file_name(&invoice);
    let bytes = tokio::task::spawn_blocking(move || invoices::pdf::render(&invoice, logo.as_ref()))
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("rendering the PDF panicked: {err}")))?
        .map_err(AppError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    ))
}
