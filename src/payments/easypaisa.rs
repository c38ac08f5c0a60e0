//! Easypaisa's hosted checkout (Easypay): the signed form the customer's browser posts to
//! Easypay's `Index.jsf`, the two browser returns to our `postBackURL`, and the transaction
//! inquiry that alone says whether an attempt was paid.
//!
//! The request is signed: `merchantHashedReq` is Base64 of AES-128-ECB (PKCS#7) under the
//! merchant's 16-character hash key of the form's `key=value` pairs sorted by key and joined with
//! `&`. Easypay's answers to the browser are not signed, so nothing a browser brings back is
//! believed: every outcome is confirmed with the inquiry API (`inquire-transaction`, the
//! merchant's API credentials), by the return page and by the periodic reconciliation.

use std::collections::BTreeMap;

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use base64::Engine;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Easypay's hosted checkout, staging and production.
pub const SANDBOX_CHECKOUT_URL: &str = "https://easypaystg.easypaisa.com.pk/easypay/Index.jsf";
pub const PRODUCTION_CHECKOUT_URL: &str = "https://easypay.easypaisa.com.pk/easypay/Index.jsf";
/// The transaction inquiry, staging and production.
pub const SANDBOX_INQUIRY_URL: &str =
    "https://easypaystg.easypaisa.com.pk/easypay-service/rest/v4/inquire-transaction";
pub const PRODUCTION_INQUIRY_URL: &str =
    "https://easypay.easypaisa.com.pk/easypay-service/rest/v4/inquire-transaction";

/// The merchant's Easypay account, from `NEXTGENRDP_EASYPAISA_*`.
#[derive(Clone, Debug)]
pub struct Easypaisa {
    pub store_id: String,
    /// The 16-character hash key from the merchant portal (the AES-128 key).
    pub hash_key: SecretString,
    /// The API credentials of the inquiry.
    pub username: String,
    pub password: SecretString,
    /// The merchant's Easypaisa account number (the inquiry names it).
    pub account_num: String,
    /// `Index.jsf`: where the browser posts the signed form.
    pub checkout_url: String,
    /// `inquire-transaction`.
    pub inquiry_url: String,
}

/// `merchantHashedReq` of `fields`: Base64(AES-128-ECB-PKCS#7(key, sorted `k=v&…` of the
/// non-empty fields)). `key` must be 16 bytes (checked when the configuration is read).
pub fn hashed_request(key: &[u8], fields: &BTreeMap<String, String>) -> String {
    let text = fields
        .iter()
        .filter(|(name, value)| !value.is_empty() && name.as_str() != "merchantHashedReq")
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut bytes = text.into_bytes();
    let pad = 16 - bytes.len() % 16;
    bytes.extend(std::iter::repeat_n(pad as u8, pad));
    for block in bytes.chunks_mut(16) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a checkout form is for.
pub struct FormRequest<'a> {
    /// The attempt's reference (`orderRefNum`; ours, unique per attempt).
    pub order_ref: &'a str,
    pub amount_pkr: i32,
    pub postback_url: &'a str,
    pub now: DateTime<Utc>,
    /// When Easypay stops taking the payment.
    pub expires_at: DateTime<Utc>,
}

impl Easypaisa {
    /// The signed fields of the checkout form, wallet payment, times in PKT.
    pub fn checkout_form(&self, request: &FormRequest<'_>) -> BTreeMap<String, String> {
        let pkt = super::jazzcash::pkt();
        let mut fields: BTreeMap<String, String> = [
            ("amount", format!("{}.0", request.amount_pkr)),
            (
                "expiryDate",
                request
                    .expires_at
                    .with_timezone(&pkt)
                    .format("%Y%m%d %H%M%S")
                    .to_string(),
            ),
            ("orderRefNum", request.order_ref.to_owned()),
            ("paymentMethod", "MA_PAYMENT_METHOD".to_owned()),
            ("postBackURL", request.postback_url.to_owned()),
            ("storeId", self.store_id.clone()),
            (
                "timeStamp",
                request
                    .now
                    .with_timezone(&pkt)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let hashed = hashed_request(self.hash_key.expose_secret().as_bytes(), &fields);
        fields.insert("merchantHashedReq".to_owned(), hashed);
        fields
    }

    /// The second step of the browser's round trip: Easypay sent it back with an `auth_token`,
    /// which goes to `Confirm.jsf` (beside `Index.jsf`) with the same `postBackURL`.
    pub fn confirm_url(&self) -> String {
        match self.checkout_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/Confirm.jsf"),
            None => self.checkout_url.clone(),
        }
    }

    /// Asks Easypay where the attempt `order_ref` stands. An answer is believed only when it
    /// names this store and this order; anything else (unreachable, a 5xx, another store) is an
    /// error, and the attempt is asked about again later.
    pub async fn inquire(
        &self,
        client: &reqwest::Client,
        order_ref: &str,
    ) -> Result<Inquiry, InquiryError> {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose_secret()
        ));
        let answer = client
            .post(&self.inquiry_url)
            .header("Credentials", credentials)
            .json(&serde_json::json!({
                "orderId": order_ref,
                "storeId": self.store_id,
                "accountNum": self.account_num,
            }))
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|err| InquiryError::Unreachable(err.without_url().to_string()))?;
        if !answer.status().is_success() {
            return Err(InquiryError::Unreachable(format!(
                "Easypay answered {}",
                answer.status()
            )));
        }
        let body = answer
            .bytes()
            .await
            .map_err(|err| InquiryError::Unreachable(err.without_url().to_string()))?;
        self.read_inquiry(&body, order_ref)
    }

    /// Checks an inquiry's answer (see [`Easypaisa::inquire`]).
    pub fn read_inquiry(&self, body: &[u8], order_ref: &str) -> Result<Inquiry, InquiryError> {
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|err| InquiryError::Invalid(format!("not JSON: {err}")))?;
        let answer: Answer = serde_json::from_value(raw.clone())
            .map_err(|err| InquiryError::Invalid(format!("not an inquiry answer: {err}")))?;
        let text = |value: &Option<serde_json::Value>| match value {
            Some(serde_json::Value::String(s)) => s.trim().to_owned(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if answer.response_code.trim() != "0000" {
            return Err(InquiryError::Invalid(format!(
                "Easypay did not answer the inquiry: {} {}",
                answer.response_code,
                answer.response_desc.unwrap_or_default()
            )));
        }
        let store = text(&answer.store_id);
        if !store.is_empty() && store != self.store_id {
            return Err(InquiryError::Invalid(
                "the answer names another store".to_owned(),
            ));
        }
        if answer.order_id.as_deref().map(str::trim) != Some(order_ref) {
            return Err(InquiryError::Invalid(
                "the answer is about another order".to_owned(),
            ));
        }
        let amount = text(&answer.transaction_amount);
        let amount_pkr = if amount.is_empty() {
            None
        } else {
            Some(parse_rupees(&amount).ok_or_else(|| {
                InquiryError::Invalid(format!("transactionAmount {amount:?} is not an amount"))
            })?)
        };
        Ok(Inquiry {
            status: answer
                .transaction_status
                .unwrap_or_default()
                .trim()
                .to_ascii_uppercase(),
            amount_pkr,
            transaction_id: text(&answer.transaction_id),
            raw,
        })
    }
}

/// The inquiry's answer, as Easypay spells it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    response_code: String,
    response_desc: Option<String>,
    order_id: Option<String>,
    store_id: Option<serde_json::Value>,
    transaction_status: Option<String>,
    transaction_amount: Option<serde_json::Value>,
    transaction_id: Option<serde_json::Value>,
}

/// `4500`, `4500.0` or `4500.00` rupees; paisa other than zero are not a whole-rupee amount.
fn parse_rupees(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse().ok()
}

/// What Easypay's inquiry said about an attempt.
#[derive(Clone, Debug)]
pub struct Inquiry {
    /// `PAID`, `PENDING`, `FAILED`, `EXPIRED`, `REVERSED`, … (upper case).
    pub status: String,
    /// The amount paid, whole rupees.
    pub amount_pkr: Option<i64>,
    /// Easypay's transaction id.
    pub transaction_id: String,
    /// The answer as received (recorded with the payment's events).
    pub raw: serde_json::Value,
}

impl Inquiry {
    pub fn paid(&self) -> bool {
        self.status == "PAID"
    }

    /// Ended without the money: the attempt fails.
    pub fn ended_unpaid(&self) -> bool {
        matches!(
            self.status.as_str(),
            "FAILED" | "EXPIRED" | "REVERSED" | "DROPPED" | "CANCELLED"
        )
    }
}

/// Why an inquiry gave no answer to go by.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InquiryError {
    #[error("Easypay could not be asked: {0}")]
    Unreachable(String),
    #[error("Easypay's answer was refused: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with `openssl enc -aes-128-ecb` and Python's `cryptography`.
    #[test]
    fn the_hashed_request_matches_an_independent_implementation() {
        let fields: BTreeMap<String, String> = [
            ("amount", "4500.0"),
            ("expiryDate", "20261205 143000"),
            ("orderRefNum", "T20261205140000123"),
            ("paymentMethod", "MA_PAYMENT_METHOD"),
            ("postBackURL", "https://shop.pk/payments/easypaisa/return"),
            ("storeId", "12345"),
            ("timeStamp", "2026-12-05T14:00:00"),
            ("emailAddr", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            hashed_request(b"K3YEASYPAISA1234", &fields),
            "zYKzaU/v92kadoVET4NkmLLHtEEdaTelK1d8GTp9hkp5mlW5s3nIMSukSr9PhAJcgCz9d2BAPfaGgb/IDGrP13\
             psGvX2IGCy0/QOb7esLpVZwc7XV3V5AodDY76/Ck4X6utgg8DehkQvG8e//zte3IeBhH/Vth06dybkWSByH0Y\
             14SY9dTxUIp/F299I3Q9PK7tGFbGaiw/z9CRQdKIRGQQ9OK0Ha5XuNwkCwtlFO82kM6V1e6PJBC1/fAzMV0l8\
             T5yzVqxUIXm/7fr1XVGLOQ=="
        );
    }

    fn merchant() -> Easypaisa {
        Easypaisa {
            store_id: "12345".into(),
            hash_key: SecretString::from("K3YEASYPAISA1234"),
            username: "shop".into(),
            password: SecretString::from("api-pass"),
            account_num: "654123987".into(),
            checkout_url: SANDBOX_CHECKOUT_URL.into(),
            inquiry_url: SANDBOX_INQUIRY_URL.into(),
        }
    }

    #[test]
    fn the_form_is_signed_and_the_confirm_step_sits_beside_it() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let form = merchant().checkout_form(&FormRequest {
            order_ref: "T1",
            amount_pkr: 4500,
            postback_url: "https://shop.pk/payments/easypaisa/return",
            now,
            expires_at: now + chrono::Duration::days(1),
        });
        assert_eq!(form["amount"], "4500.0");
        assert_eq!(form["timeStamp"], "2026-12-05T14:00:00", "PKT");
        assert_eq!(form["expiryDate"], "20261206 140000");
        assert_eq!(
            form["merchantHashedReq"],
            hashed_request(b"K3YEASYPAISA1234", &form)
        );
        assert_eq!(
            merchant().confirm_url(),
            "https://easypaystg.easypaisa.com.pk/easypay/Confirm.jsf"
        );
    }

    #[test]
    fn an_inquiry_answer_is_read_only_for_this_store_and_order() {
        let m = merchant();
        let paid = br#"{"orderId":"T1","storeId":12345,"transactionStatus":"PAID","transactionAmount":"4500.0","transactionId":"9876","responseCode":"0000","responseDesc":"SUCCESS"}"#;
        let inquiry = m.read_inquiry(paid, "T1").unwrap();
        assert!(inquiry.paid());
        assert_eq!(inquiry.amount_pkr, Some(4500));
        assert_eq!(inquiry.transaction_id, "9876");
        assert!(m.read_inquiry(paid, "T2").is_err(), "another order");
        let foreign =
            br#"{"orderId":"T1","storeId":"999","transactionStatus":"PAID","responseCode":"0000"}"#;
        assert!(m.read_inquiry(foreign, "T1").is_err(), "another store");
        let refused = br#"{"responseCode":"0001","responseDesc":"Invalid credentials"}"#;
        assert!(m.read_inquiry(refused, "T1").is_err());
        let odd = br#"{"orderId":"T1","transactionStatus":"PAID","transactionAmount":"45.50","responseCode":"0000"}"#;
        assert!(m.read_inquiry(odd, "T1").is_err(), "paisa");
        assert!(m.read_inquiry(b"<html>", "T1").is_err());
        let failed = br#"{"orderId":"T1","transactionStatus":"failed","responseCode":"0000"}"#;
        assert!(m.read_inquiry(failed, "T1").unwrap().ended_unpaid());
    }
}
