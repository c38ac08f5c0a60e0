//! JazzCash hosted checkout ("Page Redirection" v1.1): the signed form that sends a customer to
//! JazzCash, the verification of what JazzCash posts back (browser return and IPN), and the
//! merchant API's transaction status inquiry (signed the same way), which confirms an attempt
//! with JazzCash itself.
//!
//! The secure hash: every `pp…` field (so `pp_*` and `ppmpf_*`) except `pp_SecureHash`, empty
//! ones dropped, sorted by name in byte order, values joined with `&`, the integrity salt and
//! `&` in front, HMAC-SHA256 keyed with the salt, hex. Hex case differs between JazzCash's
//! samples, so it is compared case-insensitively (and in constant time).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// JazzCash's sandbox and production form endpoints.
pub const SANDBOX_URL: &str =
    "https://sandbox.jazzcash.com.pk/CustomerPortal/transactionmanagement/merchantform/";
pub const PRODUCTION_URL: &str =
    "https://payments.jazzcash.com.pk/CustomerPortal/transactionmanagement/merchantform/";

/// The merchant's JazzCash credentials, where its form posts to, and where its status inquiry
/// answers (`None`: inquiries are off).
#[derive(Clone, Debug)]
pub struct JazzCash {
    pub merchant_id: String,
    pub password: SecretString,
    pub integrity_salt: SecretString,
    pub form_url: String,
    pub inquiry_url: Option<String>,
}

/// How long an attempt may be paid for (its `pp_TxnExpiryDateTime`).
pub const ATTEMPT_LIFETIME: Duration = Duration::days(1);

/// The `pp_Version` of the hosted checkout and of the inquiry.
const VERSION: &str = "1.1";

/// `SALT&v1&v2&…` over the sorted non-empty `pp` fields, HMAC-SHA256 keyed with the salt.
pub fn secure_hash(salt: &str, fields: &BTreeMap<String, String>) -> String {
    let mut message = String::from(salt);
    for (name, value) in fields {
        if name.starts_with("pp") && name != "pp_SecureHash" && !value.is_empty() {
            message.push('&');
            message.push_str(value);
        }
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(salt.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Pakistan Standard Time (UTC+5, no daylight saving), which JazzCash's date-times are in.
pub fn pkt() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

fn jazzcash_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&pkt()).format("%Y%m%d%H%M%S").to_string()
}

/// A fresh transaction reference: `T` + PKT date-time + 5 random digits (20 characters).
pub fn new_txn_ref(now: DateTime<Utc>) -> String {
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).expect("the operating system has no randomness");
    format!(
        "T{}{:05}",
        jazzcash_time(now),
        u32::from_le_bytes(random) % 100_000
    )
}

/// What the checkout form carries besides the merchant's own fields.
pub struct FormRequest<'a> {
    pub txn_ref: &'a str,
    pub amount_pkr: i32,
    pub bill_reference: &'a str,
    pub description: &'a str,
    pub return_url: &'a str,
    pub now: DateTime<Utc>,
}

impl JazzCash {
    /// The signed fields of the form that sends the customer to JazzCash.
    pub fn checkout_form(&self, request: &FormRequest<'_>) -> BTreeMap<String, String> {
        let fields = [
            ("pp_Version", VERSION.to_owned()),
            ("pp_TxnType", String::new()),
            ("pp_Language", "EN".to_owned()),
            ("pp_MerchantID", self.merchant_id.clone()),
            ("pp_SubMerchantID", String::new()),
            ("pp_Password", self.password.expose_secret().to_owned()),
            ("pp_BankID", String::new()),
            ("pp_ProductID", String::new()),
            ("pp_TxnRefNo", request.txn_ref.to_owned()),
            (
                "pp_Amount",
                (i64::from(request.amount_pkr) * 100).to_string(),
            ),
            ("pp_TxnCurrency", "PKR".to_owned()),
            ("pp_TxnDateTime", jazzcash_time(request.now)),
            (
                "pp_TxnExpiryDateTime",
                jazzcash_time(request.now + ATTEMPT_LIFETIME),
            ),
            ("pp_BillReference", request.bill_reference.to_owned()),
            ("pp_Description", request.description.to_owned()),
            ("pp_ReturnURL", request.return_url.to_owned()),
            ("ppmpf_1", String::new()),
        ];
        self.signed(fields)
    }

    /// The fields with their `pp_SecureHash`.
    fn signed<const N: usize>(&self, pairs: [(&str, String); N]) -> BTreeMap<String, String> {
        let mut fields: BTreeMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let hash = secure_hash(self.integrity_salt.expose_secret(), &fields);
        fields.insert("pp_SecureHash".to_owned(), hash);
        fields
    }

    /// Whether `fields` carry a `pp_SecureHash` made with our integrity salt (either hex case,
    /// compared in constant time).
    fn signed_by_jazzcash(&self, fields: &BTreeMap<String, String>) -> Result<(), String> {
        let sent = fields
            .get("pp_SecureHash")
            .ok_or("pp_SecureHash is missing")?;
        let expected = secure_hash(self.integrity_salt.expose_secret(), fields);
        if crate::crypto::constant_time_eq(
            sent.to_ascii_lowercase().as_bytes(),
            expected.as_bytes(),
        ) {
            Ok(())
        } else {
            Err("the secure hash does not match".to_owned())
        }
    }

    /// Checks a posted result: its secure hash and that it is addressed to this merchant.
    /// The caller then checks the reference and the amount against the attempt it stored.
    pub fn verify(&self, fields: &BTreeMap<String, String>) -> Result<Callback, String> {
        self.signed_by_jazzcash(fields)?;
        let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
        if field("pp_MerchantID") != self.merchant_id {
            return Err("the merchant id is not ours".to_owned());
        }
        let amount_paisa = field("pp_Amount")
            .parse::<i64>()
            .map_err(|_| "pp_Amount is not a number")?;
        Ok(Callback {
            txn_ref: field("pp_TxnRefNo"),
            amount_paisa,
            bill_reference: field("pp_BillReference"),
            response_code: field("pp_ResponseCode"),
            response_message: field("pp_ResponseMessage"),
            retrieval_reference: field("pp_RetreivalReferenceNo"),
            txn_type: field("pp_TxnType"),
        })
    }
}

impl JazzCash {
    /// The signed body of a status inquiry about the attempt `txn_ref`.
    pub fn inquiry_request(&self, txn_ref: &str) -> BTreeMap<String, String> {
        self.signed([
            ("pp_TxnRefNo", txn_ref.to_owned()),
            ("pp_MerchantID", self.merchant_id.clone()),
            ("pp_Password", self.password.expose_secret().to_owned()),
            ("pp_Version", VERSION.to_owned()),
        ])
    }

    /// Asks JazzCash where the attempt `txn_ref` stands. An answer is believed only when its
    /// secure hash verifies and it names this merchant and this attempt; anything else (JazzCash
    /// unreachable, a 5xx, an unsigned answer) is an error, and the attempt is asked about again
    /// later.
    pub async fn inquire(
        &self,
        client: &reqwest::Client,
        txn_ref: &str,
    ) -> Result<Inquiry, InquiryError> {
        let Some(url) = &self.inquiry_url else {
            return Err(InquiryError::Off);
        };
        let answer = client
            .post(url)
            .json(&self.inquiry_request(txn_ref))
            .timeout(std::time::Duration::from_secs(15))
            .send()
            .await
            .map_err(|err| InquiryError::Unreachable(err.without_url().to_string()))?;
        if !answer.status().is_success() {
            return Err(InquiryError::Unreachable(format!(
                "JazzCash answered {}",
                answer.status()
            )));
        }
        let body = answer
            .bytes()
            .await
            .map_err(|err| InquiryError::Unreachable(err.without_url().to_string()))?;
        let fields = result_fields_from_json(&body).map_err(InquiryError::Invalid)?;
        self.verify_inquiry(&fields, txn_ref)
    }

    /// Checks an inquiry's answer (see [`JazzCash::inquire`]).
    pub fn verify_inquiry(
        &self,
        fields: &BTreeMap<String, String>,
        txn_ref: &str,
    ) -> Result<Inquiry, InquiryError> {
        self.signed_by_jazzcash(fields)
            .map_err(|why| InquiryError::Invalid(format!("the answer: {why}")))?;
        let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let merchant = field("pp_MerchantID");
        if !merchant.is_empty() && merchant != self.merchant_id {
            return Err(InquiryError::Invalid(
                "the answer names another merchant".to_owned(),
            ));
        }
        let reference = field("pp_TxnRefNo");
        if !reference.is_empty() && reference != txn_ref {
            return Err(InquiryError::Invalid(
                "the answer is about another transaction".to_owned(),
            ));
        }
        let response_code = field("pp_ResponseCode");
        if response_code.is_empty() {
            return Err(InquiryError::Invalid(
                "the answer has no pp_ResponseCode".to_owned(),
            ));
        }
        let amount_paisa = match field("pp_Amount") {
            amount if amount.is_empty() => None,
            amount => Some(
                amount
                    .parse::<i64>()
                    .map_err(|_| InquiryError::Invalid("pp_Amount is not a number".to_owned()))?,
            ),
        };
        Ok(Inquiry {
            response_code,
            payment_response_code: field("pp_PaymentResponseCode"),
            message: [
                field("pp_PaymentResponseMessage"),
                field("pp_ResponseMessage"),
            ]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or_default(),
            amount_paisa,
            retrieval_reference: Some(field("pp_RetreivalReferenceNo")).filter(|r| !r.is_empty()),
            fields: fields.clone(),
        })
    }
}

/// What JazzCash's status inquiry said about an attempt (its signature verified).
#[derive(Clone, Debug)]
pub struct Inquiry {
    /// `000`: the inquiry itself was answered.
    pub response_code: String,
    /// The transaction's own code: `000` is the only one that means paid.
    pub payment_response_code: String,
    pub message: String,
    pub amount_paisa: Option<i64>,
    pub retrieval_reference: Option<String>,
    /// The answer as received (recorded with the payment's events).
    pub fields: BTreeMap<String, String>,
}

impl Inquiry {
    /// Paid: the inquiry answered, and the transaction's code is `000`.
    pub fn paid(&self) -> bool {
        self.response_code == "000" && self.payment_response_code == "000"
    }
}

/// Why an inquiry gave no answer to go by.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InquiryError {
    #[error("JazzCash status inquiries are off (NEXTGENRDP_JAZZCASH_INQUIRY_URL is not set)")]
    Off,
    #[error("JazzCash could not be asked: {0}")]
    Unreachable(String),
    #[error("JazzCash's answer was refused: {0}")]
    Invalid(String),
}

/// A JazzCash result's fields from a JSON object: strings as they are, `null` as an empty string
/// (JazzCash's JSON notifications carry nulls), numbers and booleans as their text. Nested
/// values make it not a result.
pub fn result_fields_from_json(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let object: BTreeMap<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|err| format!("not a JSON object of fields: {err}"))?;
    object
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(text) => text,
                serde_json::Value::Bool(flag) => flag.to_string(),
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(format!("{name} is not a plain value"));
                }
            };
            Ok((name, text))
        })
        .collect()
}

/// A verified result from JazzCash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    pub txn_ref: String,
    pub amount_paisa: i64,
    pub bill_reference: String,
    pub response_code: String,
    pub response_message: String,
    pub retrieval_reference: String,
    pub txn_type: String,
}

impl Callback {
    /// `000` is the only code that means paid.
    pub fn succeeded(&self) -> bool {
        self.response_code == "000"
    }

    /// A voucher (OTC) attempt that has not been paid yet stays pending.
    pub fn still_pending(&self) -> bool {
        !self.succeeded() && self.txn_type == "OTC"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The published vector in shared/research/payments.md.
    fn vector() -> BTreeMap<String, String> {
        fields(&[
            ("pp_Amount", "10000"),
            ("pp_BillReference", "JC-ORDER-123"),
            ("pp_Description", "MWallet One Time Payment"),
            ("pp_Language", "EN"),
            ("pp_MerchantID", "MYCONTENT5"),
            ("pp_Password", "h2x1yxctww"),
            (
                "pp_ReturnURL",
                "https://wallets.mycodigital.io/api/v1/jazzcash/callback",
            ),
            ("pp_TxnCurrency", "PKR"),
            ("pp_TxnDateTime", "20251217123456"),
            ("pp_TxnExpiryDateTime", "20251218123456"),
            ("pp_TxnRefNo", "T20251217123456"),
            ("pp_TxnType", "MWALLET"),
            ("pp_Version", "1.1"),
            ("ppmpf_1", "03123456789"),
        ])
    }

    #[test]
    fn the_secure_hash_matches_the_published_test_vector() {
        assert_eq!(
            secure_hash("440982v92s", &vector()),
            "37bd0d99b659497e341f835e7996998136615582fb66144febfc85762150da08"
        );
    }

    #[test]
    fn empty_fields_the_hash_itself_and_foreign_fields_do_not_count() {
        let mut with_extras = vector();
        with_extras.insert("pp_SubMerchantID".into(), String::new());
        with_extras.insert("pp_SecureHash".into(), "whatever".into());
        with_extras.insert("csrf_token".into(), "not a pp field".into());
        assert_eq!(
            secure_hash("440982v92s", &with_extras),
            secure_hash("440982v92s", &vector())
        );
    }

    #[test]
    fn ppmpf_fields_sort_after_pp_fields_and_non_ascii_is_hashed_as_utf8() {
        // `_` (0x5F) sorts before `m` (0x6D): pp_Version's value comes before ppmpf_1's.
        let f = fields(&[("ppmpf_1", "B"), ("pp_Version", "A")]);
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"salt").unwrap();
            mac.update(b"salt&A&B");
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(secure_hash("salt", &f), expected);
        let urdu = fields(&[("pp_Description", "ادائیگی"), ("pp_Version", "1.1")]);
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"salt").unwrap();
            mac.update("salt&ادائیگی&1.1".as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(secure_hash("salt", &urdu), expected);
    }

    fn merchant() -> JazzCash {
        JazzCash {
            merchant_id: "MC12345".into(),
            password: SecretString::from("pass"),
            integrity_salt: SecretString::from("salt123"),
            form_url: SANDBOX_URL.into(),
            inquiry_url: None,
        }
    }

    #[test]
    fn json_results_take_nulls_as_empty_and_refuse_nesting() {
        let fields = result_fields_from_json(
            br#"{"pp_ResponseCode": "000", "pp_AuthCode": null, "pp_Amount": 250000, "x": true}"#,
        )
        .unwrap();
        assert_eq!(fields["pp_AuthCode"], "");
        assert_eq!(fields["pp_Amount"], "250000");
        assert_eq!(fields["x"], "true");
        assert!(result_fields_from_json(br#"{"pp_Amount": {"a": 1}}"#).is_err());
        assert!(result_fields_from_json(b"[1, 2]").is_err());
    }

    #[test]
    fn the_inquiry_is_signed_and_its_answer_believed_only_when_signed_for_this_attempt() {
        let request = merchant().inquiry_request("T1");
        assert_eq!(request["pp_SecureHash"], secure_hash("salt123", &request));
        assert_eq!(request["pp_Password"], "pass");
        let mut answer = fields(&[
            ("pp_ResponseCode", "000"),
            ("pp_PaymentResponseCode", "000"),
            ("pp_TxnRefNo", "T1"),
            ("pp_MerchantID", "MC12345"),
            ("pp_Amount", "250000"),
        ]);
        let hash = secure_hash("salt123", &answer);
        answer.insert("pp_SecureHash".into(), hash);
        let inquiry = merchant().verify_inquiry(&answer, "T1").unwrap();
        assert!(inquiry.paid());
        assert_eq!(inquiry.amount_paisa, Some(250_000));
        assert!(merchant().verify_inquiry(&answer, "T2").is_err());
        let mut pending = answer.clone();
        pending.insert("pp_PaymentResponseCode".into(), "157".into());
        assert!(
            merchant().verify_inquiry(&pending, "T1").is_err(),
            "hash no longer matches"
        );
        pending.remove("pp_SecureHash");
        let hash = secure_hash("salt123", &pending);
        pending.insert("pp_SecureHash".into(), hash);
        assert!(!merchant().verify_inquiry(&pending, "T1").unwrap().paid());
    }

    #[test]
    fn the_checkout_form_is_signed_in_paisa_and_pakistan_time() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T20:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let form = merchant().checkout_form(&FormRequest {
            txn_ref: "T20261127013000123",
            amount_pkr: 2500,
            bill_reference: "NGR-42",
            description: "Order 42",
            return_url: "https://shop.pk/payments/jazzcash/return",
            now,
        });
        assert_eq!(form["pp_Amount"], "250000");
        assert_eq!(
            form["pp_TxnDateTime"], "20261127013000",
            "UTC+5, the next day"
        );
        assert_eq!(form["pp_TxnExpiryDateTime"], "20261128013000");
        assert_eq!(form["pp_SecureHash"], secure_hash("salt123", &form));
    }

    #[test]
    fn a_callback_verifies_only_with_our_salt_and_merchant() {
        let mut posted = fields(&[
            ("pp_Amount", "250000"),
            ("pp_MerchantID", "MC12345"),
            ("pp_ResponseCode", "000"),
            ("pp_TxnRefNo", "T1"),
            ("pp_BillReference", "NGR-42"),
        ]);
        let hash = secure_hash("salt123", &posted).to_uppercase();
        posted.insert("pp_SecureHash".into(), hash);
        let callback = merchant().verify(&posted).unwrap();
        assert!(callback.succeeded());
        assert_eq!(callback.amount_paisa, 250_000);

        let mut tampered = posted.clone();
        tampered.insert("pp_Amount".into(), "100".into());
        assert!(merchant().verify(&tampered).unwrap_err().contains("hash"));
        let mut other = merchant();
        other.merchant_id = "SOMEONE".into();
        assert!(other.verify(&posted).unwrap_err().contains("merchant"));
        posted.remove("pp_SecureHash");
        assert!(merchant().verify(&posted).is_err());
    }

    #[test]
    fn transaction_references_fit_in_twenty_characters() {
        let reference = new_txn_ref(Utc::now());
        assert_eq!(reference.len(), 20);
        assert!(reference.starts_with('T'));
    }
}
