//! The customer's billing page (`/account/billing`): their particulars for invoices (province,
//! NTN or CNIC, address) and their invoices and credit notes with PDF downloads.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::accounts::billing::{self, BillingProfileChange, Province};
use crate::accounts::extract::PageUser;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::payments::invoices::{self, InvoiceKind};
use crate::web::forms::{Choice, Failure, FormErrors, Notice, notice};
use crate::web::pages::{Layout, render_with};

const NOTICES: &[(&str, &str, &str)] = &[(
    "saved",
    "success",
    "Your billing details are saved. Invoices issued from now on carry them.",
)];

const FIELDS: &[(&str, &str)] = &[
    ("province", "Province"),
    ("tax_id", "NTN or CNIC"),
    ("address", "Billing address"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct BillingForm {
    province: String,
    tax_id: String,
    address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PageQuery {
    notice: Option<String>,
    page: Option<i64>,
}

/// A document in the customer's list.
struct DocumentRow {
    id: i32,
    code: String,
    title: &'static str,
    credit_note: bool,
    date: String,
    order_id: i32,
    total: String,
    tax: String,
}

#[derive(Template)]
#[template(path = "payments/billing.html")]
struct BillingPage {
    layout: Layout,
    notice: Option<Notice>,
    form: BillingForm,
    provinces: Vec<Choice>,
    errors: FormErrors,
    documents: Vec<DocumentRow>,
    page: i64,
    more: bool,
}

const PER_PAGE: i64 = 25;

async fn render(
    state: &AppState,
    visitor: &PageUser,
    status: StatusCode,
    form: Option<BillingForm>,
    errors: FormErrors,
    query: &PageQuery,
) -> AppResult<Response> {
    let page = query.page.unwrap_or(1).max(1);
    let profile = billing::find(&state.db, visitor.user.id).await?;
    let form = form.unwrap_or_else(|| BillingForm {
        province: profile
            .province
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        tax_id: profile.tax_id.clone().unwrap_or_default(),
        address: profile.address.clone().unwrap_or_default(),
    });
    let provinces = Province::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str().to_owned(),
            label: p.label().to_owned(),
            selected: form.province == p.as_str(),
        })
        .collect();
    let rows = invoices::list_for_user(
        &state.db,
        visitor.user.id,
        PER_PAGE + 1,
        crate::web::paging::offset(page, PER_PAGE),
    )
    .await?;
    let more = rows.len() as i64 > PER_PAGE;
    let documents = rows
        .into_iter()
        .take(PER_PAGE as usize)
        .map(|invoice| DocumentRow {
            id: invoice.id,
            title: invoice.title(),
            credit_note: invoice.kind == InvoiceKind::CreditNote,
            date: invoice.issue_date.format("%-d %b %Y").to_string(),
            order_id: invoice.order_id,
            total: format_pkr(invoice.total_pkr),
            tax: if invoice.tax_pkr > 0 {
                format!(
                    "{} tax ({})",
                    format_pkr(invoice.tax_pkr),
                    invoice.rate_label()
                )
            } else {
                String::new()
            },
            code: invoice.code,
        })
        .collect();
    render_with(
        status,
        &BillingPage {
            layout: Layout::for_page("Billing and invoices", &visitor.context),
            notice: notice(query.notice.as_deref(), NOTICES),
            form,
            provinces,
            errors,
            documents,
            page,
            more,
        },
    )
}

pub(super) async fn billing_page(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    render(
        &state,
        &visitor,
        StatusCode::OK,
        None,
        FormErrors::default(),
        &query,
    )
    .await
}

pub(super) async fn save_billing(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<BillingForm>,
) -> AppResult<Response> {
    let province = match form.province.trim() {
        "" => Ok(None),
        text => Province::parse(text)
            .map(Some)
            .ok_or_else(|| AppError::invalid("province", "choose one of the provinces listed")),
    };
    let outcome = match province {
        Ok(province) => {
            let change = BillingProfileChange {
                province: Some(province),
                tax_id: Some(Some(form.tax_id.clone())),
                address: Some(Some(form.address.clone())),
            };
            let mut db = state.db.acquire().await?;
            billing::change(&mut db, visitor.user.id, &change).await
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/account/billing?notice=saved").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, FIELDS)?;
            render(
                &state,
                &visitor,
                failure.status,
                Some(form),
                failure.errors,
                &PageQuery::default(),
            )
            .await
        }
    }
}

/// One of the customer's documents as PDF; anyone else's is a 404.
pub(super) async fn download(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let invoice = invoices::find_for_user(&state.db, id, visitor.user.id)
        .await?
        .ok_or(AppError::NotFound("invoice"))?;
    Ok(
        crate::payments::api::invoices::pdf_response(&state, invoice)
            .await?
            .into_response(),
    )
}
