//! The operator's invoices (`/admin/invoices`: filters, the accountant's CSV, each document's
//! PDF) and billing settings (`/admin/billing`: the tax setting, the seller's particulars, the
//! logo and the tax table). Changes go through the same audited verbs as the API.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::accounts::billing::Province;
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;
use crate::orders::billing::{self, NewTaxRate, SettingsChange};
use crate::orders::tax::{TaxMode, rate_label};
use crate::payments::admin_api::invoices::InvoiceQuery;
use crate::payments::invoices::{self, InvoiceKind};
use crate::web::extract::ClientIp;
use crate::web::forms::{Choice, Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render_with};
use crate::web::paging::{PageOf, page_number};
use crate::web::upload;

const PER_PAGE: i64 = 25;

// ---------------------------------------------------------------------------------------------
// Invoices

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ListQuery {
    from: String,
    to: String,
    kind: String,
    series: String,
    customer: String,
    page: Option<String>,
}

impl ListQuery {
    /// The API's query from the form's text fields; a 400 names what is wrong.
    fn parse(&self) -> AppResult<InvoiceQuery> {
        let date = |field: &str, text: &str| -> AppResult<Option<NaiveDate>> {
            match text.trim() {
                "" => Ok(None),
                text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| AppError::bad_request(field, "use a date like 2026-12-31")),
            }
        };
        let kind =
            match self.kind.trim() {
                "" => None,
                text => Some(InvoiceKind::parse(text).ok_or_else(|| {
                    AppError::bad_request("kind", "choose invoices or credit notes")
                })?),
            };
        let customer = match self.customer.trim() {
            "" => None,
            text => Some(text.parse().map_err(|_| {
                AppError::bad_request("customer", "a customer is an account number")
            })?),
        };
        Ok(InvoiceQuery {
            from: date("from", &self.from)?,
            to: date("to", &self.to)?,
            kind,
            series: Some(self.series.clone()),
            customer,
            page: 1,
            per_page: PER_PAGE,
        })
    }

    /// This query's link to `path` (the list's pages, the CSV).
    fn href(&self, path: &str, page: Option<i64>) -> String {
        let page = page.map(|p| p.to_string());
        let mut pairs: Vec<(&str, &str)> = [
            ("from", self.from.trim()),
            ("to", self.to.trim()),
            ("kind", self.kind.trim()),
            ("series", self.series.trim()),
            ("customer", self.customer.trim()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        if let Some(page) = page.as_deref().filter(|p| *p != "1") {
            pairs.push(("page", page));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }
}

struct InvoiceRow {
    id: i32,
    code: String,
    title: &'static str,
    date: String,
    order_id: i32,
    user_id: Option<i32>,
    buyer: String,
    province: String,
    taxable: String,
    tax: String,
    total: String,
}

#[derive(Template)]
#[template(path = "admin/payments/invoices.html")]
struct InvoicesPage {
    layout: Layout,
    query: ListQuery,
    alert: Option<String>,
    rows: Vec<InvoiceRow>,
    list: PageOf,
    csv_href: String,
    previous_href: Option<String>,
    next_href: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let layout = Layout::for_page("Invoices", &admin.context);
    let filter = query.parse().and_then(|q| q.filter());
    let filter = match filter {
        Ok(filter) => filter,
        Err(err) => {
            let failure = Failure::from_error(err, &[])?;
            let alert = failure
                .errors
                .iter()
                .map(|(_, message)| message.clone())
                .collect::<Vec<_>>()
                .join(" ");
            return render_with(
                StatusCode::BAD_REQUEST,
                &InvoicesPage {
                    layout,
                    alert: Some(failure.alert.unwrap_or(alert)),
                    csv_href: String::new(),
                    query,
                    rows: Vec::new(),
                    list: PageOf::nothing(),
                    previous_href: None,
                    next_href: None,
                },
            );
        }
    };
    let total = invoices::count(&state.db, &filter).await?;
    let list = PageOf::new(total, page_number(query.page.as_deref()), PER_PAGE);
    let found = invoices::list(&state.db, &filter, PER_PAGE, list.offset(PER_PAGE)).await?;
    let next = list.next(found.len(), PER_PAGE);
    let rows = found
        .into_iter()
        .map(|invoice| {
            let sign = if invoice.kind == InvoiceKind::CreditNote {
                "-"
            } else {
                ""
            };
            InvoiceRow {
                id: invoice.id,
                title: invoice.title(),
                date: invoice.issue_date.format("%-d %b %Y").to_string(),
                order_id: invoice.order_id,
                user_id: invoice.user_id,
                buyer: invoice.buyer.name.clone(),
                province: invoice
                    .tax_province
                    .map(|p| p.label().to_owned())
                    .unwrap_or_else(|| "—".to_owned()),
                taxable: format!("{sign}{}", format_pkr(invoice.taxable_pkr)),
                tax: if invoice.tax_mode == TaxMode::Off {
                    "—".to_owned()
                } else {
                    format!(
                        "{sign}{} ({})",
                        format_pkr(invoice.tax_pkr),
                        invoice.rate_label()
                    )
                },
                total: format!("{sign}{}", format_pkr(invoice.total_pkr)),
                code: invoice.code,
            }
        })
        .collect();
    render_with(
        StatusCode::OK,
        &InvoicesPage {
            layout,
            alert: None,
            csv_href: query.href("/admin/invoices/export.csv", None),
            previous_href: list
                .previous()
                .map(|p| query.href("/admin/invoices", Some(p))),
            next_href: next.map(|p| query.href("/admin/invoices", Some(p))),
            query,
            rows,
            list,
        },
    )
}

pub(super) async fn export(
    State(state): State<AppState>,
    PageAdmin(_admin): PageAdmin,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let filter = query.parse()?.filter()?;
    let csv = invoices::csv(&state.db, &filter).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"invoices.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

pub(super) async fn pdf(
    State(state): State<AppState>,
    PageAdmin(_admin): PageAdmin,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    let invoice = invoices::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound("invoice"))?;
    Ok(
        crate::payments::api::invoices::pdf_response(&state, invoice)
            .await?
            .into_response(),
    )
}

// ---------------------------------------------------------------------------------------------
// Billing settings and the tax table

const NOTICES: &[(&str, &str, &str)] = &[
    ("saved", "success", "The billing settings are saved."),
    ("rate-added", "success", "The rate is added."),
    ("rate-removed", "success", "The rate is removed."),
    (
        "logo-saved",
        "success",
        "The logo is saved; invoices print it from now on.",
    ),
    ("logo-removed", "success", "The logo is removed."),
];

const SETTINGS_FIELDS: &[(&str, &str)] = &[
    ("tax_mode", "Sales tax"),
    ("seller_name", "Legal name"),
    ("seller_address", "Address"),
    ("seller_ntn", "NTN"),
    ("seller_strn", "STRN"),
    ("seller_province", "Province"),
    ("invoice_prefix", "Invoice prefix"),
];

const RATE_FIELDS: &[(&str, &str)] = &[
    ("province", "Province"),
    ("rate_percent", "Rate"),
    ("rate_bp", "Rate"),
    ("effective_from", "From"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SettingsForm {
    tax_mode: String,
    seller_name: String,
    seller_address: String,
    seller_ntn: String,
    seller_strn: String,
    seller_province: String,
    invoice_prefix: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RateForm {
    province: String,
    rate_percent: String,
    effective_from: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

struct RateRow {
    id: i32,
    province: &'static str,
    rate: String,
    from: String,
    in_force: bool,
    future: bool,
    added: String,
}

#[derive(Template)]
#[template(path = "admin/payments/billing.html")]
struct BillingPage {
    layout: Layout,
    notice: Option<Notice>,
    form: SettingsForm,
    modes: Vec<Choice>,
    provinces: Vec<Choice>,
    errors: FormErrors,
    rate: RateForm,
    rate_provinces: Vec<Choice>,
    rate_errors: FormErrors,
    logo_error: Option<String>,
    has_logo: bool,
    rates: Vec<RateRow>,
}

#[derive(Default)]
struct BillingView {
    status: Option<StatusCode>,
    notice: Option<Notice>,
    form: Option<SettingsForm>,
    errors: FormErrors,
    rate: Option<RateForm>,
    rate_errors: FormErrors,
    logo_error: Option<String>,
}

fn province_choices(selected: &str) -> Vec<Choice> {
    Province::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str().to_owned(),
            label: p.label().to_owned(),
            selected: selected == p.as_str(),
        })
        .collect()
}

async fn billing_page(
    state: &AppState,
    admin: &PageAdmin,
    view: BillingView,
) -> AppResult<Response> {
    let settings = billing::settings(&state.db).await?;
    let form = view.form.unwrap_or_else(|| SettingsForm {
        tax_mode: settings.tax_mode.as_str().to_owned(),
        seller_name: settings.seller_name.clone(),
        seller_address: settings.seller_address.clone(),
        seller_ntn: settings.seller_ntn.clone().unwrap_or_default(),
        seller_strn: settings.seller_strn.clone().unwrap_or_default(),
        seller_province: settings
            .seller_province
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        invoice_prefix: settings.invoice_prefix.clone(),
    });
    let modes = [
        (
            TaxMode::Off,
            "Off: not registered for sales tax (plain invoices)",
        ),
        (TaxMode::Inclusive, "Prices include sales tax"),
        (TaxMode::Exclusive, "Sales tax is added to prices"),
    ]
    .into_iter()
    .map(|(mode, label)| Choice {
        value: mode.as_str().to_owned(),
        label: label.to_owned(),
        selected: form.tax_mode == mode.as_str(),
    })
    .collect();
    let today: NaiveDate = sqlx::query_scalar("select (now() at time zone 'Asia/Karachi')::date")
        .fetch_one(&state.db)
        .await?;
    let rates = billing::rates(&state.db)
        .await?
        .into_iter()
        .map(|rate| RateRow {
            id: rate.id,
            province: rate.province.label(),
            rate: rate_label(rate.rate_bp.max(0) as u32),
            from: rate.effective_from.format("%-d %b %Y").to_string(),
            in_force: rate.in_force,
            future: rate.effective_from > today,
            added: pkt(Some(rate.created_at)),
        })
        .collect();
    let rate = view.rate.unwrap_or_default();
    render_with(
        view.status.unwrap_or(StatusCode::OK),
        &BillingPage {
            layout: Layout::for_page("Billing and tax", &admin.0.context),
            notice: view.notice,
            provinces: province_choices(&form.seller_province),
            modes,
            form,
            errors: view.errors,
            rate_provinces: province_choices(&rate.province),
            rate,
            rate_errors: view.rate_errors,
            logo_error: view.logo_error,
            has_logo: settings.has_logo,
            rates,
        },
    )
}

pub(super) async fn settings_page(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let view = BillingView {
        notice: notice(query.notice.as_deref(), NOTICES),
        ..Default::default()
    };
    billing_page(&state, &admin, view).await
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let optional = |text: &str| Some(Some(text.trim().to_owned()).filter(|t| !t.is_empty()));
    let outcome = match TaxMode::parse(form.tax_mode.trim()) {
        None => Err(AppError::invalid(
            "tax_mode",
            "choose one of the settings listed",
        )),
        Some(mode) => match form.seller_province.trim() {
            "" => Ok((mode, None)),
            text => Province::parse(text)
                .map(|p| (mode, Some(p)))
                .ok_or_else(|| AppError::invalid("seller_province", "choose a province")),
        },
    };
    let outcome = match outcome {
        Ok((mode, province)) => {
            let change = SettingsChange {
                tax_mode: Some(mode),
                seller_name: Some(form.seller_name.clone()),
                seller_address: Some(form.seller_address.clone()),
                seller_ntn: optional(&form.seller_ntn),
                seller_strn: optional(&form.seller_strn),
                seller_province: Some(province),
                invoice_prefix: Some(form.invoice_prefix.clone()),
            };
            billing::change_settings(&state, &admin.0.actor(&ip), &change).await
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/admin/billing?notice=saved").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, SETTINGS_FIELDS)?;
            let view = BillingView {
                status: Some(failure.status),
                form: Some(form),
                errors: failure.errors,
                ..Default::default()
            };
            billing_page(&state, &admin, view).await
        }
    }
}

pub(super) async fn add_rate(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(form): Form<RateForm>,
) -> AppResult<Response> {
    let province = Province::parse(form.province.trim())
        .ok_or_else(|| AppError::invalid("province", "choose a province"));
    let rate_bp = parse_percent(&form.rate_percent).ok_or_else(|| {
        AppError::invalid("rate_percent", "write the rate in percent, e.g. 16 or 16.5")
    });
    let from = NaiveDate::parse_from_str(form.effective_from.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("effective_from", "choose the day it applies from"));
    let outcome = match (province, rate_bp, from) {
        (Ok(province), Ok(rate_bp), Ok(effective_from)) => {
            let new = NewTaxRate {
                province,
                rate_bp,
                effective_from,
            };
            billing::add_rate(&state, &admin.0.actor(&ip), &new)
                .await
                .map(|_| ())
        }
        (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => Err(err),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/admin/billing?notice=rate-added").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, RATE_FIELDS)?;
            let mut errors = failure.errors;
            errors.rename("rate_bp", "rate_percent");
            let view = BillingView {
                status: Some(failure.status),
                rate: Some(form),
                rate_errors: errors,
                ..Default::default()
            };
            billing_page(&state, &admin, view).await
        }
    }
}

/// `16` → 1600, `16.5` → 1650, `13.25` → 1325 basis points.
fn parse_percent(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('%').trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 3 || fraction.len() > 2 {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?)
}

pub(super) async fn remove_rate(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    match billing::remove_rate(&state, &admin.0.actor(&ip), id).await {
        Ok(()) => Ok(Redirect::to("/admin/billing?notice=rate-removed").into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, RATE_FIELDS)?;
            let view = BillingView {
                status: Some(failure.status),
                rate_errors: failure.errors,
                ..Default::default()
            };
            billing_page(&state, &admin, view).await
        }
    }
}

/// The logo form: a multipart upload with one file field, `logo`; or `remove`.
pub(super) async fn save_logo(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let upload = read_upload(content_type, body).await;
    let outcome = match upload {
        Ok(Upload::Remove) => billing::set_logo(&state, &admin.0.actor(&ip), None)
            .await
            .map(|_| "logo-removed"),
        Ok(Upload::File {
            content_type,
            bytes,
        }) => match upload::check_image(
            Some(&content_type),
            &bytes,
            &billing::LOGO_TYPES,
            "logo",
            billing::MAX_LOGO_BYTES,
        ) {
            Ok(kind) => billing::set_logo(&state, &admin.0.actor(&ip), Some((&bytes, kind)))
                .await
                .map(|_| "logo-saved"),
            Err(AppError::UnsupportedMediaType) => {
                Err(AppError::invalid("logo", "choose a PNG or JPEG image"))
            }
            Err(AppError::PayloadTooLarge) => Err(AppError::invalid(
                "logo",
                format!(
                    "choose an image of at most {} KiB",
                    billing::MAX_LOGO_BYTES / 1024
                ),
            )),
            Err(err) => Err(err),
        },
        Err(message) => Err(AppError::invalid("logo", message)),
    };
    match outcome {
        Ok(notice) => Ok(Redirect::to(&format!("/admin/billing?notice={notice}")).into_response()),
        Err(err) => {
            let failure = Failure::from_error(err, &[("logo", "Logo")])?;
            let view = BillingView {
                status: Some(failure.status),
                logo_error: failure.errors.get("logo").map(str::to_owned),
                ..Default::default()
            };
            billing_page(&state, &admin, view).await
        }
    }
}

/// What the logo form sent.
enum Upload {
    File { content_type: String, bytes: Bytes },
    Remove,
}

/// Reads the logo form (`multipart/form-data`): the `logo` file, or the `remove` button.
async fn read_upload(content_type: &str, body: Bytes) -> Result<Upload, String> {
    let form = upload::read_form(content_type, body, 10).await?;
    if form.text("remove").is_some() {
        return Ok(Upload::Remove);
    }
    form.files("logo")
        .next()
        .map(|file| Upload::File {
            content_type: file.declared.clone().unwrap_or_default(),
            bytes: file.bytes.clone(),
        })
        .ok_or_else(|| "choose a PNG or JPEG image".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_are_read_as_people_write_them() {
        use super::parse_percent;
        assert_eq!(parse_percent("16"), Some(1600));
        assert_eq!(parse_percent("16.5"), Some(1650));
        assert_eq!(parse_percent(" 13.25 % "), Some(1325));
        assert_eq!(parse_percent("0"), Some(0));
        assert_eq!(parse_percent("16.555"), None);
        assert_eq!(parse_percent("-1"), None);
        assert_eq!(parse_percent("abc"), None);
        assert_eq!(parse_percent(""), None);
    }
}
