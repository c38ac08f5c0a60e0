//! Payments: every attempt to pay an order, through a gateway, recorded with its raw payloads.
//!
//! A gateway is one [`PaymentGateway`]: how a customer starts paying an order with it
//! (instructions to follow, or a signed form that redirects to the provider). Adding one touches
//! this folder (its file, its callback routes in `api.rs`, its name in the `payments.gateway`
//! check) and the configuration. What happens once money is confirmed is the same for every
//! gateway and lives in [`settle`]: the order is paid only when its succeeded payments cover
//! `final_amount_pkr` exactly, in one guarded transaction, exactly once.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod callbacks;
pub mod easypaisa;
pub mod easypaisa_results;
pub mod invoices;
pub mod jazzcash;
pub mod manual;
pub mod pages;
pub mod pay;
// `payments::payments` mirrors the table name, as every repository module does.
#[allow(clippy::module_inception)]
pub mod payments;
pub mod receipts;
pub mod refunds;
pub mod reports;
pub mod review;
pub mod settle;
pub mod views;

use std::collections::BTreeMap;

use anyhow::bail;

use crate::db::text_enum::{TransitionError, text_enum};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::orders::orders::Order;

/// The gateways' names, as stored in `payments.gateway`.
pub const MANUAL: &str = "manual";
pub const JAZZCASH: &str = "jazzcash";
pub const EASYPAISA: &str = "easypaisa";
/// An order's `payment_method` when the account credit spent on it paid all of it.
pub const CREDIT: &str = "credit";

/// How a customer pays an attempt. The document describes it as one named schema per `kind`
/// (`InstructionsStart`, `RedirectStart`) under a discriminator, so that generated clients tell
/// the two apart (see `start_schema`).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Start {
    /// Send money yourself, then tell us the transaction id.
    Instructions(manual::Instructions),
    /// Submit this form (method POST) from the browser to the provider.
    Redirect {
        /// The provider's form address (the form's `action`).
        url: String,
        /// The form's fields, to post exactly as given (they are signed).
        fields: BTreeMap<String, String>,
    },
}

/// `Start` in the API document: `oneOf` the two named variants with a `discriminator` on `kind`
/// (what utoipa derives for an internally tagged enum is an anonymous `allOf` beside an inline
/// object, which client generators cannot name). The JSON itself is `Start`'s serde form.
mod start_schema {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use utoipa::openapi::schema::{Discriminator, OneOfBuilder, Schema};
    use utoipa::openapi::{Ref, RefOr};
    use utoipa::{PartialSchema, ToSchema};

    use super::{Start, manual};

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)] // the one value of `kind`, for the API document
    enum InstructionsKind {
        Instructions,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)] // the one value of `kind`, for the API document
    enum RedirectKind {
        Redirect,
    }

    /// Send money yourself, then tell us the transaction id (`kind: instructions`).
    #[derive(Serialize, ToSchema)]
    #[allow(dead_code)] // describes `Start::Instructions` for the API document
    struct InstructionsStart {
        kind: InstructionsKind,
        #[serde(flatten)]
        instructions: manual::Instructions,
    }

    /// Submit this form (method POST) from the browser to the provider (`kind: redirect`).
    #[derive(Serialize, ToSchema)]
    #[allow(dead_code)] // describes `Start::Redirect` for the API document
    struct RedirectStart {
        kind: RedirectKind,
        /// The provider's form address (the form's `action`).
        url: String,
        /// The form's fields, to post exactly as given (they are signed).
        fields: BTreeMap<String, String>,
    }

    fn reference(name: &str) -> String {
        format!("#/components/schemas/{name}")
    }

    impl PartialSchema for Start {
        fn schema() -> RefOr<Schema> {
            let instructions = InstructionsStart::name();
            let redirect = RedirectStart::name();
            OneOfBuilder::new()
                .item(Ref::from_schema_name(instructions.clone()))
                .item(Ref::from_schema_name(redirect.clone()))
                .discriminator(Some(Discriminator::with_mapping(
                    "kind",
                    [
                        ("instructions", reference(&instructions)),
                        ("redirect", reference(&redirect)),
                    ],
                )))
                .description(Some(
                    "How a customer pays an attempt: `kind` says which of the two it is.",
                ))
                .into()
        }
    }

    impl ToSchema for Start {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((
                InstructionsStart::name().into(),
                InstructionsStart::schema(),
            ));
            <InstructionsStart as ToSchema>::schemas(schemas);
            schemas.push((RedirectStart::name().into(), RedirectStart::schema()));
            <RedirectStart as ToSchema>::schemas(schemas);
        }
    }
}

/// What a gateway needs to start an attempt.
pub struct StartContext<'a> {
    pub order: &'a Order,
    /// The attempt's transaction reference (for gateways that issue one).
    pub txn_ref: &'a str,
    /// The shop's public address, for return URLs.
    pub public_url: &'a str,
    pub now: DateTime<Utc>,
}

/// A way to pay.
pub trait PaymentGateway: Send + Sync {
    /// The name stored in `payments.gateway` and used as `method` in the API.
    fn name(&self) -> &'static str;
    /// What customers see.
    fn label(&self) -> &'static str;
    /// Whether starting creates a `pending` attempt right away (a redirect gateway: its
    /// callbacks must find the attempt); manual transfers are recorded when the customer
    /// submits their reference instead.
    fn records_attempt_on_start(&self) -> bool;
    /// How to pay `context.order`.
    fn start(&self, context: &StartContext<'_>) -> Start;
}

/// A payment method's name (`payments.gateway`, `method` in the API).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // describes `Payment::gateway` and `method` for the API document
pub enum PaymentMethodName {
    /// A transfer the customer makes themselves, then reports for review.
    Manual,
    /// JazzCash hosted checkout (wallet, card or voucher).
    Jazzcash,
    /// Easypaisa hosted checkout (Easypay, wallet).
    Easypaisa,
}

text_enum! {
    /// Where a payment is: `pending` (a JazzCash attempt under way), `review` (a manual transfer
    /// awaiting an operator), `succeeded`, `failed`, `rejected` (by an operator) or `refunded`.
    pub enum PaymentStatus {
        Pending = "pending",
        Review = "review",
        Succeeded = "succeeded",
        Failed = "failed",
        Rejected = "rejected",
        Refunded = "refunded",
    }
}

impl PaymentStatus {
    /// The status in the customer's and the operator's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Started",
            Self::Review => "Waiting for review",
            Self::Succeeded => "Paid",
            Self::Failed => "Failed",
            Self::Rejected => "Rejected",
            Self::Refunded => "Refunded",
        }
    }
}

/// Whether a payment may move from `from` to `to`: an attempt (`pending`) succeeds or fails; a
/// failed (expired) attempt still succeeds when JazzCash reports the money late; a manual
/// transfer under `review` is approved (`succeeded`) or `rejected`; money received may be
/// `refunded`. Nothing else, and never to itself.
pub fn can_transition(from: PaymentStatus, to: PaymentStatus) -> bool {
    use PaymentStatus::*;
    matches!(
        (from, to),
        (Pending, Succeeded | Failed)
            | (Failed, Succeeded)
            | (Review, Succeeded | Rejected)
            | (Succeeded, Refunded)
    )
}

/// Moves payment `id` to `to` from any of `from` if it is still in one of them (guarded: `false`
/// when another request moved it first), recording `change`; a move the table does not have is
/// refused before the database is asked. The one writer of `payments.status`.
pub async fn transition(
    db: impl sqlx::PgExecutor<'_>,
    id: i32,
    from: &[PaymentStatus],
    to: PaymentStatus,
    change: &payments::Transition<'_>,
) -> Result<bool, TransitionError> {
    if let Some(&refused) = from.iter().find(|&&from| !can_transition(from, to)) {
        return Err(TransitionError::NotAllowed {
            machine: "a payment",
            from: refused.as_str(),
            to: to.as_str(),
        });
    }
    Ok(payments::set_status(db, id, from, to, change).await?)
}

/// The kind of account a manual transfer goes to.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // describes the `channel` fields for the API document
pub enum PaymentChannel {
    Bank,
    Jazzcash,
    Easypaisa,
}

text_enum! {
    /// What happened to a payment: `created` (an attempt started), `submitted` (a manual
    /// transfer reported), `return` / `ipn` (a JazzCash callback), `inquiry` (what JazzCash's
    /// status inquiry answered), `approved` / `rejected` (by an operator), `refused` (a callback
    /// that failed verification).
    pub enum PaymentEventKind {
        Created = "created",
        Submitted = "submitted",
        Return = "return",
        Ipn = "ipn",
        Inquiry = "inquiry",
        Approved = "approved",
        Rejected = "rejected",
        Refused = "refused",
    }
}

/// An `http(s)://` address from a flag, checked.
fn parse_url(flag: &str, url: &str) -> anyhow::Result<String> {
    let parsed: reqwest::Url = url
        .parse()
        .map_err(|err| anyhow::anyhow!("{flag} is not a URL: {err}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        bail!("{flag} must be an https:// address");
    }
    Ok(url.to_owned())
}

/// Easypaisa's settings from its flags (`NEXTGENRDP_EASYPAISA_*`), checked.
impl crate::config::EasypaisaConfig {
    /// Easypaisa, when configured.
    pub fn settings(&self) -> anyhow::Result<Option<easypaisa::Easypaisa>> {
        use secrecy::ExposeSecret;
        let production = self.easypaisa_environment == "production";
        let url = |flag: &str, given: &Option<String>, sandbox: &str, live: &str| match given
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => Ok(if production { live } else { sandbox }.to_owned()),
            Some(url) => parse_url(flag, url),
        };
        let checkout_url = url(
            "NEXTGENRDP_EASYPAISA_CHECKOUT_URL",
            &self.easypaisa_checkout_url,
            easypaisa::SANDBOX_CHECKOUT_URL,
            easypaisa::PRODUCTION_CHECKOUT_URL,
        )?;
        let inquiry_url = url(
            "NEXTGENRDP_EASYPAISA_INQUIRY_URL",
            &self.easypaisa_inquiry_url,
            easypaisa::SANDBOX_INQUIRY_URL,
            easypaisa::PRODUCTION_INQUIRY_URL,
        )?;
        match (
            &self.easypaisa_store_id,
            &self.easypaisa_hash_key,
            &self.easypaisa_username,
            &self.easypaisa_password,
            &self.easypaisa_account_num,
        ) {
            (Some(store_id), Some(hash_key), Some(username), Some(password), Some(account)) => {
                if hash_key.expose_secret().len() != 16 {
                    bail!(
                        "NEXTGENRDP_EASYPAISA_HASH_KEY must be the 16-character key from the Easypay portal"
                    );
                }
                Ok(Some(easypaisa::Easypaisa {
                    store_id: store_id.trim().to_owned(),
                    hash_key: hash_key.clone(),
                    username: username.clone(),
                    password: password.clone(),
                    account_num: account.trim().to_owned(),
                    checkout_url,
                    inquiry_url,
                }))
            }
            (None, None, None, None, None) => Ok(None),
            _ => bail!(
                "Easypaisa needs all of NEXTGENRDP_EASYPAISA_STORE_ID, NEXTGENRDP_EASYPAISA_HASH_KEY, \
                 NEXTGENRDP_EASYPAISA_USERNAME, NEXTGENRDP_EASYPAISA_PASSWORD and \
                 NEXTGENRDP_EASYPAISA_ACCOUNT_NUM"
            ),
        }
    }
}

/// JazzCash's settings from its flags (`NEXTGENRDP_JAZZCASH_*`), checked.
impl crate::config::JazzCashConfig {
    /// JazzCash, when configured.
    pub fn settings(&self) -> anyhow::Result<Option<jazzcash::JazzCash>> {
        let inquiry_url = match self.jazzcash_inquiry_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(parse_url("NEXTGENRDP_JAZZCASH_INQUIRY_URL", url)?),
        };
        match (
            &self.jazzcash_merchant_id,
            &self.jazzcash_password,
            &self.jazzcash_integrity_salt,
        ) {
            (Some(merchant_id), Some(password), Some(salt)) => Ok(Some(jazzcash::JazzCash {
                merchant_id: merchant_id.clone(),
                password: password.clone(),
                integrity_salt: salt.clone(),
                form_url: if self.jazzcash_environment == "production" {
                    jazzcash::PRODUCTION_URL
                } else {
                    jazzcash::SANDBOX_URL
                }
                .to_owned(),
                inquiry_url,
            })),
            (None, None, None) => Ok(None),
            _ => bail!(
                "JazzCash needs all of NEXTGENRDP_JAZZCASH_MERCHANT_ID, NEXTGENRDP_JAZZCASH_PASSWORD \
                 and NEXTGENRDP_JAZZCASH_INTEGRITY_SALT"
            ),
        }
    }
}

impl crate::config::PaymentConfig {
    /// The gateways this configuration enables.
    pub fn settings(
        &self,
        environment: crate::config::Environment,
    ) -> anyhow::Result<PaymentSettings> {
        use manual::ManualTransfer;
        let manual = match &self.manual_accounts {
            Some(text) => ManualTransfer::parse(text)
                .map_err(|why| anyhow::anyhow!("NEXTGENRDP_MANUAL_ACCOUNTS: {why}"))?,
            None if environment == crate::config::Environment::Production => {
                bail!(
                    "NEXTGENRDP_MANUAL_ACCOUNTS is required in production: the accounts customers pay into"
                )
            }
            None => ManualTransfer::example(),
        };
        let jazzcash = self.jazzcash.settings()?;
        let easypaisa = self.easypaisa.settings()?;
        Ok(PaymentSettings {
            manual,
            jazzcash,
            easypaisa,
        })
    }
}

/// The gateways this node offers, from configuration.
#[derive(Clone, Debug, Default)]
pub struct PaymentSettings {
    pub manual: manual::ManualTransfer,
    pub jazzcash: Option<jazzcash::JazzCash>,
    pub easypaisa: Option<easypaisa::Easypaisa>,
}

impl PaymentSettings {
    /// The enabled gateways, manual first.
    pub fn gateways(&self) -> Vec<&dyn PaymentGateway> {
        let mut gateways: Vec<&dyn PaymentGateway> = vec![&self.manual];
        if let Some(jazzcash) = &self.jazzcash {
            gateways.push(jazzcash);
        }
        if let Some(easypaisa) = &self.easypaisa {
            gateways.push(easypaisa);
        }
        gateways
    }

    /// The gateway called `name`, if enabled.
    pub fn gateway(&self, name: &str) -> Option<&dyn PaymentGateway> {
        self.gateways().into_iter().find(|g| g.name() == name)
    }
}

impl PaymentGateway for jazzcash::JazzCash {
    fn name(&self) -> &'static str {
        JAZZCASH
    }

    fn label(&self) -> &'static str {
        "JazzCash (wallet or card)"
    }

    fn records_attempt_on_start(&self) -> bool {
        true
    }

    fn start(&self, context: &StartContext<'_>) -> Start {
        let fields = self.checkout_form(&jazzcash::FormRequest {
            txn_ref: context.txn_ref,
            amount_pkr: context.order.due_pkr(),
            bill_reference: &order_reference(context.order.id),
            description: &format!("NextGenRDP order {}", context.order.id),
            return_url: &format!("{}/payments/jazzcash/return", context.public_url),
            now: context.now,
        });
        Start::Redirect {
            url: self.form_url.clone(),
            fields,
        }
    }
}

impl PaymentGateway for easypaisa::Easypaisa {
    fn name(&self) -> &'static str {
        EASYPAISA
    }

    fn label(&self) -> &'static str {
        "Easypaisa (wallet)"
    }

    fn records_attempt_on_start(&self) -> bool {
        true
    }

    fn start(&self, context: &StartContext<'_>) -> Start {
        let fields = self.checkout_form(&easypaisa::FormRequest {
            order_ref: context.txn_ref,
            amount_pkr: context.order.due_pkr(),
            postback_url: &format!("{}/payments/easypaisa/return", context.public_url),
            now: context.now,
            expires_at: context.now + jazzcash::ATTEMPT_LIFETIME,
        });
        Start::Redirect {
            url: self.checkout_url.clone(),
            fields,
        }
    }
}

/// The reference customers put in a transfer note and JazzCash carries as bill reference.
pub fn order_reference(order_id: i32) -> String {
    format!("NGR-{order_id}")
}

#[cfg(test)]
mod status_tests {
    use super::PaymentStatus::*;
    use super::*;

    #[test]
    fn statuses_are_spelled_as_stored_and_move_only_as_the_table_says() {
        assert!(crate::db::text_enum::spellings_match_serde(
            PaymentStatus::ALL
        ));
        assert!(crate::db::text_enum::spellings_match_serde(
            PaymentEventKind::ALL
        ));
        let allowed = [
            (Pending, Succeeded),
            (Pending, Failed),
            (Failed, Succeeded),
            (Review, Succeeded),
            (Review, Rejected),
            (Succeeded, Refunded),
        ];
        for &from in PaymentStatus::ALL {
            for &to in PaymentStatus::ALL {
                assert_eq!(
                    can_transition(from, to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!("review".parse(), Ok(Review));
        assert_eq!(
            "approved".parse::<PaymentStatus>().unwrap_err().to_string(),
            "must be one of pending, review, succeeded, failed, rejected, refunded"
        );
    }
}
