//! Invoices and credit notes: the shop's fiscal documents (`invoices`).
//!
//! A paid order — new or renewal, by a gateway or by account credit — gets one invoice in the
//! transaction that pays it ([`issue_for_order`], called by `settle`); a refund of its money gets
//! a credit note naming the invoice ([`credit_note_for_refund`], called by `refunds`). Numbers are
//! gapless per series: [`next_number`] increments the series' counter row, whose lock the paying
//! transaction holds until it commits, and a rollback takes the number back with everything
//! else. The particulars of seller and buyer, the lines and the tax are copied onto the document
//! when it is issued; the table refuses every change afterwards (a trigger).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};
use utoipa::ToSchema;

pub mod pdf;

use crate::accounts::billing::{self, Province};
use crate::accounts::users;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::db::total::{self, Total};
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::orders::billing as shop;
use crate::orders::items;
use crate::orders::orders::{Order, OrderKind};
use crate::orders::tax::{self, TaxMode};

text_enum! {
    /// A fiscal document: an invoice for a paid order, or a credit note correcting one.
    pub enum InvoiceKind {
        Invoice = "invoice",
        CreditNote = "credit_note",
    }
}

/// The seller as printed on a document.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Seller {
    pub name: String,
    pub address: String,
    /// National Tax Number.
    pub ntn: Option<String>,
    /// Sales Tax Registration Number.
    pub strn: Option<String>,
}

/// The buyer as printed on a document.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Buyer {
    pub name: String,
    pub email: String,
    /// NTN or CNIC, when the customer gave one.
    pub tax_id: Option<String>,
    pub address: Option<String>,
    pub province: Option<Province>,
}

/// A line of a document.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLine {
    pub description: String,
    pub plan_id: Option<String>,
    pub location: Option<String>,
    /// Months of service (0 on a credit note's line).
    pub months: i32,
    pub quantity: i32,
    /// Per month and server, whole PKR (prices as the shop shows them).
    pub unit_price_pkr: i32,
    /// Unit price × months × quantity, whole PKR.
    pub amount_pkr: i64,
}

/// An invoice or a credit note, as issued (never changed afterwards). Amounts are whole PKR.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Invoice {
    pub id: i32,
    pub kind: InvoiceKind,
    /// The number as printed: `NGR-2026-000123` (credit notes `NGR-CN-2026-000001`).
    pub code: String,
    /// The series it is numbered in (`NGR-2026`), gapless.
    pub series: String,
    pub number: i32,
    pub order_id: i32,
    /// The buyer's account (null once deleted; `buyer` keeps the particulars).
    pub user_id: Option<i32>,
    /// A credit note: the invoice it corrects.
    pub corrects_id: Option<i32>,
    /// A credit note: that invoice's number.
    pub corrects_code: Option<String>,
    /// A credit note: the refund it records.
    pub refund_id: Option<i32>,
    pub issued_at: DateTime<Utc>,
    /// The day of issue in Pakistan (PKT).
    pub issue_date: NaiveDate,
    /// `off`: a plain invoice, no sales tax; `inclusive` or `exclusive`: a sales tax invoice.
    pub tax_mode: TaxMode,
    pub tax_province: Option<Province>,
    /// Basis points (1600 = 16 %).
    pub tax_rate_bp: i32,
    #[schema(value_type = Seller)]
    pub seller: Json<Seller>,
    #[schema(value_type = Buyer)]
    pub buyer: Json<Buyer>,
    #[schema(value_type = Vec<InvoiceLine>)]
    pub lines: Json<Vec<InvoiceLine>>,
    /// The lines' sum.
    pub subtotal_pkr: i32,
    pub discount_pkr: i32,
    /// The value excluding sales tax.
    pub taxable_pkr: i32,
    pub tax_pkr: i32,
    /// `taxable_pkr + tax_pkr`: what was paid (an invoice) or given back (a credit note).
    pub total_pkr: i32,
    /// How it was paid (an invoice) or given back (a credit note).
    pub payment_method: Option<String>,
    /// The payment's (or the transfer's) transaction id.
    pub payment_reference: Option<String>,
}

impl Invoice {
    /// The document's title: "Sales tax invoice" when tax is charged, else "Invoice"; "Credit
    /// note".
    pub fn title(&self) -> &'static str {
        match (self.kind, self.tax_mode) {
            (InvoiceKind::CreditNote, _) => "Credit note",
            (InvoiceKind::Invoice, TaxMode::Off) => "Invoice",
            (InvoiceKind::Invoice, _) => "Sales tax invoice",
        }
    }

    /// `16%`, or "" with tax off.
    pub fn rate_label(&self) -> String {
        if self.tax_mode == TaxMode::Off {
            String::new()
        } else {
            tax::rate_label(self.tax_rate_bp.max(0) as u32)
        }
    }
}

/// The columns of [`Invoice`], for `concat!` into statements that read `from invoices`
/// unaliased (the corrected invoice's number is looked up by its primary key).
macro_rules! invoice_columns {
    () => {
        "id, kind, code, series, number, order_id, user_id, corrects_id, \
         (select c.code from invoices c where c.id = invoices.corrects_id) as corrects_code, \
         refund_id, issued_at, issue_date, tax_mode, tax_province, tax_rate_bp, seller, buyer, \
         lines, subtotal_pkr, discount_pkr, taxable_pkr, tax_pkr, total_pkr, payment_method, \
         payment_reference"
    };
}

/// The next number of the series that starts with `stem` (`NGR-` or `NGR-CN-`) and goes on
/// with today's year in PKT, with today's date: one statement, in the caller's transaction,
/// which holds the counter's row lock until it ends — numbers are handed out in commit order,
/// and a rolled-back transaction gives its number back. A new year starts a new series at 1.
pub async fn next_number(
    tx: &mut sqlx::PgConnection,
    stem: &str,
) -> sqlx::Result<(String, i32, NaiveDate)> {
    timed(
        "invoice_counters.next",
        sqlx::query_as(
            "with today as (select (now() at time zone 'Asia/Karachi')::date as day)
             insert into invoice_counters (series, last_number)
             select $1 || to_char(day, 'YYYY'), 1 from today
             on conflict (series) do update set last_number = invoice_counters.last_number + 1
             returning series, last_number, (select day from today)",
        )
        .bind(stem)
        .fetch_one(&mut *tx),
    )
    .await
}

/// A new document's fields, before its number.
struct Draft<'a> {
    kind: InvoiceKind,
    order: &'a Order,
    user_id: Option<i32>,
    corrects_id: Option<i32>,
    refund_id: Option<i32>,
    tax_mode: TaxMode,
    tax_province: Option<Province>,
    tax_rate_bp: i32,
    seller: Seller,
    buyer: Buyer,
    lines: Vec<InvoiceLine>,
    subtotal_pkr: i32,
    discount_pkr: i32,
    tax_pkr: i32,
    total_pkr: i32,
    payment_method: Option<String>,
    payment_reference: Option<String>,
}

/// Numbers and writes a document: series `PREFIX-YYYY` (credit notes `PREFIX-CN-YYYY`), the
/// year and the issue date in PKT.
async fn insert(tx: &mut sqlx::PgConnection, prefix: &str, draft: Draft<'_>) -> AppResult<Invoice> {
    let stem = match draft.kind {
        InvoiceKind::Invoice => format!("{prefix}-"),
        InvoiceKind::CreditNote => format!("{prefix}-CN-"),
    };
    let (series, number, today) = next_number(&mut *tx, &stem).await?;
    let code = format!("{series}-{number:06}");
    let invoice: Invoice = timed(
        "invoices.insert",
        sqlx::query_as(concat!(
            "insert into invoices (kind, series, number, code, order_id, user_id, corrects_id,
                 refund_id, issue_date, tax_mode, tax_province, tax_rate_bp, seller, buyer, lines,
                 subtotal_pkr, discount_pkr, taxable_pkr, tax_pkr, total_pkr, payment_method,
                 payment_reference)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20, $21, $22)
             returning ",
            invoice_columns!()
        ))
        .bind(draft.kind)
        .bind(&series)
        .bind(number)
        .bind(&code)
        .bind(draft.order.id)
        .bind(draft.user_id)
        .bind(draft.corrects_id)
        .bind(draft.refund_id)
        .bind(today)
        .bind(draft.tax_mode)
        .bind(draft.tax_province)
        .bind(draft.tax_rate_bp)
        .bind(Json(&draft.seller))
        .bind(Json(&draft.buyer))
        .bind(Json(&draft.lines))
        .bind(draft.subtotal_pkr)
        .bind(draft.discount_pkr)
        .bind(draft.total_pkr - draft.tax_pkr)
        .bind(draft.tax_pkr)
        .bind(draft.total_pkr)
        .bind(draft.payment_method.as_deref())
        .bind(draft.payment_reference.as_deref())
        .fetch_one(&mut *tx),
    )
    .await?;
    Ok(invoice)
}

/// How an order's `payment_method` reads on its invoice: `Bank transfer`, `JazzCash checkout`,
/// … with the account credit that paid part of it.
pub fn payment_label(order: &Order) -> String {
    let named = crate::orders::orders::payment_method_label(
        order.payment_method.as_deref().unwrap_or_default(),
    );
    if order.credit_applied_pkr > 0 && order.payment_method.as_deref() != Some(super::CREDIT) {
        format!(
            "{named} + account credit {}",
            format_pkr(order.credit_applied_pkr)
        )
    } else {
        named
    }
}

/// The buyer's particulars today (account and billing profile).
async fn buyer(tx: &mut sqlx::PgConnection, order: &Order) -> sqlx::Result<Buyer> {
    let user = match order.user_id {
        Some(id) => users::find(&mut *tx, id).await?,
        None => None,
    };
    let profile = match &user {
        Some(user) => billing::find(&mut *tx, user.id).await?,
        None => Default::default(),
    };
    Ok(Buyer {
        name: user
            .as_ref()
            .map_or_else(|| "(account deleted)".to_owned(), |u| u.name.clone()),
        email: user.map(|u| u.email).unwrap_or_default(),
        tax_id: profile.tax_id,
        address: profile.address,
        province: order.tax_province.or(profile.province),
    })
}

/// Issues the invoice of an order that has just been paid, in the paying transaction (after
/// its `payment_method` is recorded). One per order: the database refuses a second.
pub async fn issue_for_order(tx: &mut sqlx::PgConnection, order: &Order) -> AppResult<Invoice> {
    let settings = shop::settings(&mut *tx).await?;
    let buyer = buyer(&mut *tx, order).await?;
    let renewal = order.kind == OrderKind::Renewal;
    let lines = items::list_details_for_order(&mut *tx, order.id)
        .await?
        .into_iter()
        .map(|item| {
            let plan = item
                .plan_name
                .clone()
                .or_else(|| item.plan_id.clone())
                .unwrap_or_else(|| "Server".to_owned());
            let location = item.location_name.clone();
            let what = match &location {
                Some(location) => format!("{plan}, {location}"),
                None => plan,
            };
            InvoiceLine {
                description: if renewal {
                    format!("Renewal: {what}")
                } else {
                    what
                },
                amount_pkr: item.line_total_pkr(),
                plan_id: item.plan_id,
                location,
                months: item.validity_months,
                quantity: item.quantity,
                unit_price_pkr: item.price_at_order_pkr,
            }
        })
        .collect();
    let draft = Draft {
        kind: InvoiceKind::Invoice,
        order,
        user_id: order.user_id,
        corrects_id: None,
        refund_id: None,
        tax_mode: order.tax_mode,
        tax_province: order.tax_province,
        tax_rate_bp: order.tax_rate_bp,
        seller: Seller {
            name: settings.seller_name,
            address: settings.seller_address,
            ntn: settings.seller_ntn,
            strn: settings.seller_strn,
        },
        buyer,
        lines,
        subtotal_pkr: order.total_amount_pkr,
        discount_pkr: order.discount_amount_pkr(),
        tax_pkr: order.tax_amount_pkr,
        total_pkr: order.final_amount_pkr,
        payment_method: Some(payment_label(order)),
        payment_reference: order.payment_reference.clone(),
    };
    let invoice = insert(&mut *tx, &settings.invoice_prefix, draft).await?;
    tracing::info!(
        order.id = order.id,
        invoice.id = invoice.id,
        "invoice {} issued for order {}",
        invoice.code,
        order.id
    );
    Ok(invoice)
}

/// The invoice of an order, if it has one.
pub async fn find_for_order(
    db: impl PgExecutor<'_>,
    order_id: i32,
) -> sqlx::Result<Option<Invoice>> {
    timed(
        "invoices.find_for_order",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where order_id = $1 and kind = 'invoice'"
        ))
        .bind(order_id)
        .fetch_optional(db),
    )
    .await
}

/// The refund a credit note records.
pub struct RefundFacts<'a> {
    pub refund_id: i32,
    pub amount_pkr: i32,
    pub reason: &'a str,
    /// The transfer's reference (external refunds).
    pub reference: Option<&'a str>,
    /// How the money went back, in words (`Account credit`, `Transfer`).
    pub method: &'a str,
}

/// Issues the credit note of a refund, in the refund's transaction: the part of the refund the
/// order's invoice covers (an order without an invoice — money that bought nothing — has none),
/// its sales tax at the invoice's rate (the refund is money paid, tax included; the last credit
/// note takes exactly the tax left, so an invoice refunded in full is credited in full).
pub async fn credit_note_for_refund(
    tx: &mut sqlx::PgConnection,
    order: &Order,
    refund: &RefundFacts<'_>,
) -> AppResult<Option<Invoice>> {
    // The invoice's row lock orders concurrent refunds of the same order's payments.
    let invoice: Option<Invoice> = timed(
        "invoices.find_for_order_for_update",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where order_id = $1 and kind = 'invoice' for update"
        ))
        .bind(order.id)
        .fetch_optional(&mut *tx),
    )
    .await?;
    let Some(invoice) = invoice else {
        return Ok(None);
    };
    let (credited, tax_credited): (i64, i64) = timed(
        "invoices.credited",
        sqlx::query_as(
            "select coalesce(sum(total_pkr), 0)::bigint, coalesce(sum(tax_pkr), 0)::bigint
             from invoices where corrects_id = $1",
        )
        .bind(invoice.id)
        .fetch_one(&mut *tx),
    )
    .await?;
    let left = i64::from(invoice.total_pkr) - credited;
    let amount = i64::from(refund.amount_pkr).min(left);
    if amount <= 0 {
        return Ok(None);
    }
    let tax_left = i64::from(invoice.tax_pkr) - tax_credited;
    let tax = if invoice.tax_mode == TaxMode::Off {
        0
    } else if amount == left {
        tax_left
    } else {
        tax::split(
            amount,
            invoice.tax_rate_bp.max(0) as u32,
            TaxMode::Inclusive,
        )
        .tax_pkr
        .min(tax_left)
    };
    let (amount, tax) = (amount as i32, tax as i32);
    let subtotal = if invoice.tax_mode == TaxMode::Exclusive {
        amount - tax
    } else {
        amount
    };
    let settings = shop::settings(&mut *tx).await?;
    let draft = Draft {
        kind: InvoiceKind::CreditNote,
        order,
        user_id: invoice.user_id,
        corrects_id: Some(invoice.id),
        refund_id: Some(refund.refund_id),
        tax_mode: invoice.tax_mode,
        tax_province: invoice.tax_province,
        tax_rate_bp: invoice.tax_rate_bp,
        seller: invoice.seller.0.clone(),
        buyer: invoice.buyer.0.clone(),
        lines: vec![InvoiceLine {
            description: format!("Refund against invoice {}: {}", invoice.code, refund.reason),
            plan_id: None,
            location: None,
            months: 0,
            quantity: 1,
            unit_price_pkr: subtotal,
            amount_pkr: i64::from(subtotal),
        }],
        subtotal_pkr: subtotal,
        discount_pkr: 0,
        tax_pkr: tax,
        total_pkr: amount,
        payment_method: Some(refund.method.to_owned()),
        payment_reference: refund.reference.map(str::to_owned),
    };
    let note = insert(&mut *tx, &settings.invoice_prefix, draft).await?;
    tracing::info!(
        invoice.id = invoice.id,
        credit_note.id = note.id,
        "credit note {} issued against {}",
        note.code,
        invoice.code
    );
    Ok(Some(note))
}

/// A document by id.
pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Invoice>> {
    timed(
        "invoices.find",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// A customer's document by id (none of theirs: `None`).
pub async fn find_for_user(
    db: impl PgExecutor<'_>,
    id: i32,
    user_id: i32,
) -> sqlx::Result<Option<Invoice>> {
    timed(
        "invoices.find_for_user",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(db),
    )
    .await
}

/// The documents of an order (its invoice, then its credit notes).
pub async fn list_for_order(db: impl PgExecutor<'_>, order_id: i32) -> sqlx::Result<Vec<Invoice>> {
    timed(
        "invoices.list_for_order",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where order_id = $1 order by id"
        ))
        .bind(order_id)
        .fetch_all(db),
    )
    .await
}

/// A customer's documents, newest first.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: i32,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Invoice>> {
    timed(
        "invoices.list_for_user",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " from invoices where user_id = $1 order by id desc limit $2 offset $3"
        ))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many documents a customer has.
pub async fn count_for_user(db: impl PgExecutor<'_>, user_id: i32) -> sqlx::Result<i64> {
    timed(
        "invoices.count_for_user",
        sqlx::query_scalar("select count(*) from invoices where user_id = $1")
            .bind(user_id)
            .fetch_one(db),
    )
    .await
}

/// The operator's filters; each absent one matches everything.
#[derive(Clone, Debug, Default)]
pub struct InvoiceFilter {
    /// Issued on or after this day (PKT).
    pub from: Option<NaiveDate>,
    /// Issued on or before this day (PKT).
    pub to: Option<NaiveDate>,
    pub kind: Option<InvoiceKind>,
    /// A series, e.g. `NGR-2026`.
    pub series: Option<String>,
    /// A customer's account.
    pub user_id: Option<i32>,
}

macro_rules! invoice_filter {
    () => {
        "from invoices
         where ($1::date is null or issue_date >= $1) and ($2::date is null or issue_date <= $2)
           and ($3::text is null or kind = $3) and ($4::text is null or series = $4)
           and ($5::int is null or user_id = $5)"
    };
}

/// Documents matching `filter`, by issue date then number, oldest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &InvoiceFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Invoice>> {
    timed(
        "invoices.list",
        sqlx::query_as(concat!(
            "select ",
            invoice_columns!(),
            " ",
            invoice_filter!(),
            " order by issue_date, id limit $6 offset $7"
        ))
        .persistent(false)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.kind)
        .bind(filter.series.as_deref())
        .bind(filter.user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db),
    )
    .await
}

/// How many documents `list` pages through: exact up to 10,000, else estimated.
pub async fn count(db: &PgPool, filter: &InvoiceFilter) -> sqlx::Result<Total> {
    let sql = crate::total_sql!("invoices.count", invoice_filter!());
    total::count(db, sql, |query| {
        query
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.kind)
            .bind(filter.series.clone())
            .bind(filter.user_id)
    })
    .await
}

/// The accountant's CSV of the documents matching `filter`: one line per document, credit
/// notes negative, with the taxable value and the tax under the buyer's province.
pub async fn csv(db: &PgPool, filter: &InvoiceFilter) -> AppResult<String> {
    let mut out = String::from(
        "number,type,issue_date,order_id,buyer,buyer_email,buyer_tax_id,province,tax_mode,\
         tax_rate_percent,taxable_value_pkr,tax_pkr,total_pkr,payment_method,payment_reference,\
         corrects\n",
    );
    let mut offset = 0;
    loop {
        let page = list(db, filter, 1000, offset).await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for invoice in &page {
            let sign = if invoice.kind == InvoiceKind::CreditNote {
                -1
            } else {
                1
            };
            let fields = [
                invoice.code.clone(),
                invoice.kind.to_string(),
                invoice.issue_date.to_string(),
                invoice.order_id.to_string(),
                invoice.buyer.name.clone(),
                invoice.buyer.email.clone(),
                invoice.buyer.tax_id.clone().unwrap_or_default(),
                invoice
                    .tax_province
                    .map(|p| p.label().to_owned())
                    .unwrap_or_default(),
                invoice.tax_mode.to_string(),
                invoice.rate_label().trim_end_matches('%').to_owned(),
                (sign * invoice.taxable_pkr).to_string(),
                (sign * invoice.tax_pkr).to_string(),
                (sign * invoice.total_pkr).to_string(),
                invoice.payment_method.clone().unwrap_or_default(),
                invoice.payment_reference.clone().unwrap_or_default(),
                invoice.corrects_code.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    Ok(out)
}

/// A CSV field, quoted when it holds a separator, a quote or a line break, and defused when a
/// spreadsheet would read it as a formula.
pub(crate) fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<i64>().is_err()
    {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Ali Khan"), "Ali Khan");
        assert_eq!(csv_field("Khan, Ali"), "\"Khan, Ali\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-585"), "-585");
        assert_eq!(csv_field("@cmd"), "'@cmd");
        assert!(crate::db::text_enum::spellings_match_serde(
            InvoiceKind::ALL
        ));
    }
}
