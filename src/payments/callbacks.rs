//! What JazzCash tells us about an attempt — its IPN, the customer's browser coming back, the
//! answer to a status inquiry — checked, recorded and acted on in one place, for the IPN route,
//! the return page and the reconciliation job alike.
//!
//! A result is believed only when its secure hash verifies, it names this merchant and an
//! attempt we issued, for that attempt's order and amount. A request is not a result (it has no
//! `pp_ResponseCode`): our own signed form posted back is refused. A browser return is never
//! enough on its own when JazzCash can be asked: a success that arrives by the browser before
//! the IPN is confirmed with JazzCash's status inquiry first. Refused posts are recorded with
//! their known fields only, cut short, and at most [`REFUSED_PER_IP`] per address; the merchant
//! password is never stored.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};
use serde_json::json;

use super::jazzcash::{Callback, Inquiry, InquiryError, JazzCash};
use super::payments::{self, Payment, Transition};
use super::settle::{self, Settled};
use super::{JAZZCASH, order_reference};
use super::{PaymentEventKind, PaymentStatus};
use crate::context::Context;
use crate::db::text_enum::TransitionError;
use crate::error::{AppError, AppResult};
use crate::web::rate_limit::{self, Limit};

/// The most a JazzCash post may weigh (a result is well under 2 KB).
pub const MAX_CALLBACK_BYTES: usize = 16 * 1024;
/// Refused posts recorded per client address; beyond, they are refused unrecorded (429).
pub const REFUSED_PER_IP: Limit = Limit::per_minutes(20, 10);
/// The longest value kept of a refused post's field.
const REFUSED_VALUE_CHARS: usize = 100;

/// The fields JazzCash's results carry: what is kept of a post we refuse.
const KNOWN_FIELDS: &[&str] = &[
    "pp_Amount",
    "pp_AuthCode",
    "pp_BankID",
    "pp_BillReference",
    "pp_Language",
    "pp_MerchantID",
    "pp_PaymentResponseCode",
    "pp_PaymentResponseMessage",
    "pp_ProductID",
    "pp_ResponseCode",
    "pp_ResponseMessage",
    "pp_RetreivalReferenceNo",
    "pp_SecureHash",
    "pp_SettlementDate",
    "pp_SettlementExpiry",
    "pp_Status",
    "pp_SubMerchantID",
    "pp_TxnCurrency",
    "pp_TxnDateTime",
    "pp_TxnExpiryDateTime",
    "pp_TxnRefNo",
    "pp_TxnType",
    "pp_Version",
    "ppmpf_1",
    "ppmpf_2",
    "ppmpf_3",
    "ppmpf_4",
    "ppmpf_5",
];

/// Where a result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// JazzCash's instant payment notification, server to server.
    Ipn,
    /// The customer's browser, sent back by JazzCash.
    Return,
}

impl Source {
    pub(super) fn kind(self) -> PaymentEventKind {
        match self {
            Self::Ipn => PaymentEventKind::Ipn,
            Self::Return => PaymentEventKind::Return,
        }
    }
}

/// Where the attempt stands after a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Paid,
    /// Not confirmed yet: a voucher to pay, or a success being confirmed with JazzCash.
    Pending,
    Failed,
}

/// What a result came to.
pub struct CallbackOutcome {
    pub order_id: i32,
    pub standing: Standing,
    pub message: String,
}

impl CallbackOutcome {
    pub fn paid(&self) -> bool {
        self.standing == Standing::Paid
    }
}

/// Reads a result's fields from a form or JSON body (JSON `null`s as empty strings).
pub fn fields_of(headers: &HeaderMap, body: &[u8]) -> AppResult<BTreeMap<String, String>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let parsed: Result<BTreeMap<String, String>, String> = if is_json {
        super::jazzcash::result_fields_from_json(body)
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())
    };
    let fields = parsed
        .map_err(|why| AppError::bad_request("body", format!("not a JazzCash result: {why}")))?;
    if let Some((name, _)) = fields
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(AppError::bad_request(
            name.replace('\0', ""),
            "not a JazzCash result: a field holds a NUL character",
        ));
    }
    Ok(fields)
}

/// A verified result's fields as recorded: every `pp…` field, the merchant password redacted
/// should one ever be there.
fn recorded(fields: &BTreeMap<String, String>) -> serde_json::Value {
    let kept: BTreeMap<&str, &str> = fields
        .iter()
        .filter(|(name, _)| name.starts_with("pp"))
        .map(|(name, value)| {
            let value = if name == "pp_Password" {
                "[redacted]"
            } else {
                value.as_str()
            };
            (name.as_str(), value)
        })
        .collect();
    json!(kept)
}

/// What is kept of a refused post: its known fields only, each cut short; never a password.
fn refused_payload(fields: &BTreeMap<String, String>) -> serde_json::Value {
    let mut kept: BTreeMap<&str, String> = fields
        .iter()
        .filter(|(name, _)| KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str(),
                value.chars().take(REFUSED_VALUE_CHARS).collect(),
            )
        })
        .collect();
    let unknown = fields.len() - kept.len();
    if fields.contains_key("pp_Password") {
        kept.insert("pp_Password", "[redacted]".to_owned());
    }
    let mut payload = json!(kept);
    if unknown > 0 {
        payload["(other fields dropped)"] = json!(unknown);
    }
    payload
}

/// A refused post from a gateway: what is kept of it and the field its problem names.
pub(super) struct Refusal<'a> {
    pub gateway: &'static str,
    pub source: Source,
    /// What is kept of the post (known fields only, cut short; never a password).
    pub payload: serde_json::Value,
    pub payment_id: Option<i32>,
    /// The field the 400 names.
    pub field: &'a str,
    pub why: String,
}

/// Refuses a post: recorded unless this address has had too many refused lately, then 400 (or
/// 429, unrecorded).
pub(super) async fn refuse(
    state: &Context,
    ip: &str,
    refusal: Refusal<'_>,
) -> AppResult<CallbackOutcome> {
    let Refusal {
        gateway,
        source,
        payload,
        payment_id,
        field,
        why,
    } = refusal;
    let kind = source.kind();
    metrics::counter!("payments_total", "gateway" => gateway, "outcome" => "refused").increment(1);
    rate_limit::hit(
        &state.db,
        &format!("{gateway}-refused:ip:{ip}"),
        REFUSED_PER_IP,
    )
    .await?;
    payments::insert_event(
        &state.db,
        payment_id,
        PaymentEventKind::Refused,
        Some(&payload),
        Some(&format!("{kind}: {why}")),
    )
    .await?;
    tracing::warn!(payment.id = ?payment_id, "refused a {gateway} {kind}: {why}");
    Err(AppError::bad_request(
        field,
        format!("callback refused: {why}"),
    ))
}

/// Refuses a JazzCash post (see [`refuse`]), keeping its known fields.
async fn refuse_jazzcash(
    state: &Context,
    ip: &str,
    source: Source,
    fields: &BTreeMap<String, String>,
    payment_id: Option<i32>,
    why: String,
) -> AppResult<CallbackOutcome> {
    let refusal = Refusal {
        gateway: JAZZCASH,
        source,
        payload: refused_payload(fields),
        payment_id,
        field: "pp_SecureHash",
        why,
    };
    refuse(state, ip, refusal).await
}

/// Checks, records and acts on a JazzCash result (IPN or browser return) from `ip`, idempotently
/// on the attempt's transaction reference. A forged, foreign or mismatched post is refused
/// (400) and changes nothing.
pub async fn jazzcash_result(
    state: &Context,
    merchant: Option<&JazzCash>,
    fields: BTreeMap<String, String>,
    source: Source,
    ip: &str,
) -> AppResult<CallbackOutcome> {
    let Some(merchant) = merchant else {
        return Err(AppError::NotFound("JazzCash gateway"));
    };
    // A result always says how it went; a request (our own signed form, posted back) never does.
    if fields
        .get("pp_ResponseCode")
        .is_none_or(|code| code.trim().is_empty())
    {
        let why = "a payment request, not a result: it has no pp_ResponseCode".to_owned();
        return refuse_jazzcash(state, ip, source, &fields, None, why).await;
    }
    let callback = match merchant.verify(&fields) {
        Ok(callback) => callback,
        Err(why) => return refuse_jazzcash(state, ip, source, &fields, None, why).await,
    };
    let Some(attempt) = payments::find_by_txn(&state.db, JAZZCASH, &callback.txn_ref).await? else {
        let why = format!("unknown transaction reference {:?}", callback.txn_ref);
        return refuse_jazzcash(state, ip, source, &fields, None, why).await;
    };
    if let Err(why) = matches_attempt(&attempt, callback.amount_paisa, &callback.bill_reference) {
        return refuse_jazzcash(state, ip, source, &fields, Some(attempt.id), why).await;
    }
    // The browser alone never settles when JazzCash can be asked.
    let confirmation = if source == Source::Return
        && callback.succeeded()
        && matches!(
            attempt.status,
            PaymentStatus::Pending | PaymentStatus::Failed
        )
        && merchant.inquiry_url.is_some()
    {
        Some(merchant.inquire(&inquiry_client(), &callback.txn_ref).await)
    } else {
        None
    };

    let payload = recorded(&fields);
    let mut tx = state.db.begin().await?;
    let payment = payments::find_by_txn_for_update(&mut *tx, JAZZCASH, &callback.txn_ref)
        .await?
        .ok_or(AppError::NotFound("payment"))?;
    payments::insert_event(
        &mut *tx,
        Some(payment.id),
        source.kind(),
        Some(&payload),
        Some(&callback.response_code),
    )
    .await?;
    let change = Transition {
        response_payload: Some(payload.clone()),
        gateway_reference: Some(callback.retrieval_reference.as_str()).filter(|r| !r.is_empty()),
        failure_reason: None,
        reviewed_by: None,
    };
    let standing = match confirmation {
        None if callback.succeeded() => settle_paid(&mut tx, state, &payment, &change).await?,
        None => fail_unless_pending(&mut tx, &payment, &callback, change).await?,
        Some(answer) => {
            record_inquiry(&mut tx, &payment, &answer).await?;
            match answer {
                Ok(inquiry) if inquiry.paid() => {
                    match matches_attempt(
                        &payment,
                        inquiry.amount_paisa.unwrap_or(callback.amount_paisa),
                        &callback.bill_reference,
                    ) {
                        Ok(()) => settle_paid(&mut tx, state, &payment, &change).await?,
                        Err(why) => {
                            payments::set_flag(
                                &mut *tx,
                                payment.id,
                                &format!("JazzCash's inquiry disagrees: {why}"),
                            )
                            .await?;
                            Standing::Pending
                        }
                    }
                }
                // Not confirmed (yet): the IPN or the reconciliation job settles it.
                _ => Standing::Pending,
            }
        }
    };
    tx.commit().await?;
    let message = match standing {
        Standing::Paid => "Payment received".to_owned(),
        Standing::Pending if callback.succeeded() => {
            "We are confirming your payment with JazzCash; we e-mail you as soon as it is \
             confirmed"
                .to_owned()
        }
        Standing::Pending => {
            "Payment pending: pay the voucher and we confirm it automatically".to_owned()
        }
        Standing::Failed => format!("Payment not completed: {}", callback.response_message),
    };
    Ok(CallbackOutcome {
        order_id: payment.order_id,
        standing,
        message,
    })
}

/// Whether an amount (in paisa) and bill reference are the attempt's.
fn matches_attempt(
    attempt: &Payment,
    amount_paisa: i64,
    bill_reference: &str,
) -> Result<(), String> {
    if amount_paisa != i64::from(attempt.amount_pkr) * 100 {
        return Err(format!(
            "amount {amount_paisa} paisa does not match the attempt"
        ));
    }
    if bill_reference != order_reference(attempt.order_id) {
        return Err("the bill reference names another order".to_owned());
    }
    Ok(())
}

/// Confirms a paid attempt and settles its order (once: a repeat finds it succeeded).
pub(super) async fn settle_paid(
    tx: &mut sqlx::PgConnection,
    state: &Context,
    payment: &Payment,
    change: &Transition<'_>,
) -> AppResult<Standing> {
    let settled = settle::confirm(
        &mut *tx,
        payment,
        &[PaymentStatus::Pending, PaymentStatus::Failed],
        change,
        &state.settings.public_url,
    )
    .await?;
    Ok(
        if matches!(settled, Settled::Paid | Settled::AlreadyConfirmed)
            || payment.status == PaymentStatus::Succeeded
        {
            Standing::Paid
        } else {
            Standing::Pending
        },
    )
}

/// A result that is not a success: the attempt fails, unless it is a voucher still to be paid.
async fn fail_unless_pending(
    tx: &mut sqlx::PgConnection,
    payment: &Payment,
    callback: &Callback,
    change: Transition<'_>,
) -> AppResult<Standing> {
    if callback.still_pending() {
        return Ok(Standing::Pending);
    }
    let reason = format!("{} {}", callback.response_code, callback.response_message);
    fail_attempt(&mut *tx, payment, &reason, change).await?;
    Ok(if payment.status == PaymentStatus::Succeeded {
        Standing::Paid
    } else {
        Standing::Failed
    })
}

/// A pending attempt fails, with why (a guarded update: a repeat changes nothing).
pub(super) async fn fail_attempt(
    tx: &mut sqlx::PgConnection,
    payment: &Payment,
    reason: &str,
    change: Transition<'_>,
) -> Result<(), TransitionError> {
    let failed = super::transition(
        &mut *tx,
        payment.id,
        &[PaymentStatus::Pending],
        PaymentStatus::Failed,
        &Transition {
            failure_reason: Some(reason.trim()),
            ..change
        },
    )
    .await?;
    if failed {
        let gateway = payment.gateway.clone();
        metrics::counter!("payments_total", "gateway" => gateway, "outcome" => "failed")
            .increment(1);
    }
    Ok(())
}

/// Records what an inquiry answered (or why it gave nothing to go by).
async fn record_inquiry(
    tx: &mut sqlx::PgConnection,
    payment: &Payment,
    answer: &Result<Inquiry, InquiryError>,
) -> sqlx::Result<()> {
    match answer {
        Ok(inquiry) => {
            let note = format!(
                "{} / {} {}",
                inquiry.response_code, inquiry.payment_response_code, inquiry.message
            );
            payments::insert_event(
                &mut *tx,
                Some(payment.id),
                PaymentEventKind::Inquiry,
                Some(&recorded(&inquiry.fields)),
                Some(note.trim()),
            )
            .await
        }
        Err(err) => {
            payments::insert_event(
                &mut *tx,
                Some(payment.id),
                PaymentEventKind::Inquiry,
                None,
                Some(&err.to_string()),
            )
            .await
        }
    }
}

/// An HTTP client for inquiries: one per early return or reconciliation round (both rare). Not
/// one shared for good: its pooled connections belong to the runtime that opened them.
pub(super) fn inquiry_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

/// What a reconciliation round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub asked: usize,
    pub paid: usize,
    pub failed: usize,
    /// JazzCash could not be asked or its answer was refused: asked again next round.
    pub unanswered: usize,
}

/// How long after its own expiry an unpaid attempt is still asked about before it is failed.
pub(super) const EXPIRY_GRACE: chrono::Duration = chrono::Duration::minutes(30);
/// Attempts younger than this are left to the customer and the IPN.
pub(super) const FIRST_ASK_AFTER: chrono::Duration = chrono::Duration::minutes(2);
/// Attempts older than this are no longer asked about.
pub(super) const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(7);
/// Attempts asked about per round.
pub(super) const ROUND: i64 = 100;

/// The periodic reconciliation (`reconcile_payments`): asks JazzCash about every attempt still
/// pending (the customer closed the tab, the IPN never came, a voucher being paid); settles the
/// paid ones through the same path as a callback, fails those past their expiry that JazzCash
/// says are unpaid, and leaves the rest for the next round.
pub async fn reconcile(
    db: &sqlx::PgPool,
    merchant: &JazzCash,
    public_url: &str,
) -> anyhow::Result<Reconciled> {
    let now = chrono::Utc::now();
    let attempts = payments::list_pending_attempts(
        db,
        JAZZCASH,
        now - GIVE_UP_AFTER,
        now - FIRST_ASK_AFTER,
        ROUND,
    )
    .await?;
    let client = inquiry_client();
    let mut done = Reconciled::default();
    for attempt in attempts {
        let Some(txn_ref) = attempt.gateway_txn_id.clone() else {
            continue;
        };
        done.asked += 1;
        let answer = merchant.inquire(&client, &txn_ref).await;
        let mut tx = db.begin().await?;
        let Some(payment) = payments::find_for_update(&mut *tx, attempt.id).await? else {
            continue;
        };
        if payment.status != PaymentStatus::Pending {
            continue; // settled meanwhile by a callback
        }
        record_inquiry(&mut tx, &payment, &answer).await?;
        let expired = payment.expires_at.is_some_and(|at| now > at + EXPIRY_GRACE);
        match &answer {
            Ok(inquiry) if inquiry.paid() => {
                let amount = inquiry
                    .amount_paisa
                    .unwrap_or(i64::from(payment.amount_pkr) * 100);
                if let Err(why) =
                    matches_attempt(&payment, amount, &order_reference(payment.order_id))
                {
                    payments::set_flag(
                        &mut *tx,
                        payment.id,
                        &format!("JazzCash's inquiry disagrees: {why}"),
                    )
                    .await?;
                    done.unanswered += 1;
                } else {
                    let payload = recorded(&inquiry.fields);
                    let change = Transition {
                        response_payload: Some(payload),
                        gateway_reference: inquiry.retrieval_reference.as_deref(),
                        failure_reason: None,
                        reviewed_by: None,
                    };
                    settle::confirm(
                        &mut tx,
                        &payment,
                        &[PaymentStatus::Pending],
                        &change,
                        public_url,
                    )
                    .await?;
                    done.paid += 1;
                }
            }
            Ok(inquiry) if expired => {
                let reason = format!(
                    "expired unpaid (JazzCash: {} {})",
                    inquiry.payment_response_code, inquiry.message
                );
                fail_attempt(&mut tx, &payment, &reason, Transition::default()).await?;
                done.failed += 1;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(
                    payment.id = payment.id,
                    "reconciling payment {}: {err}",
                    payment.id
                );
                done.unanswered += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(done)
}
