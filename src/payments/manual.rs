//! Manual transfer: the customer sends the amount to one of the shop's accounts (bank, JazzCash
//! or Easypaisa wallet) with the order reference in the note, then submits the transaction id;
//! an operator checks the account and approves or rejects. The way most Pakistani RDP sellers
//! take money today.

use serde::Serialize;

use super::{MANUAL, PaymentGateway, Start, StartContext, order_reference};
use crate::money::format_pkr;

/// One account customers can pay into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Account {
    /// `bank`, `jazzcash` or `easypaisa`.
    #[schema(value_type = crate::payments::PaymentChannel)]
    pub channel: String,
    /// e.g. "Meezan Bank" or "JazzCash wallet".
    pub provider: String,
    pub title: String,
    /// IBAN, account or wallet number.
    pub number: String,
}

/// The channels a manual transfer can go through.
pub const CHANNELS: [&str; 3] = ["bank", "jazzcash", "easypaisa"];

/// The manual-transfer gateway and the accounts it shows.
#[derive(Clone, Debug, Default)]
pub struct ManualTransfer {
    pub accounts: Vec<Account>,
    /// The development stand-ins (`NEXTGENRDP_MANUAL_ACCOUNTS` unset): never shown to
    /// customers, who are told to ask for the accounts instead; operators see a banner.
    pub example: bool,
}

impl ManualTransfer {
    /// Parses `NEXTGENRDP_MANUAL_ACCOUNTS`: accounts separated by `;`, each
    /// `channel|provider|title|number`, e.g.
    /// `bank|Meezan Bank|NextGenRDP|PK36MEZN0001234567890123;jazzcash|JazzCash|Ali Raza|03001234567`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut accounts = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
            let [channel, provider, title, number] = parts[..] else {
                return Err(format!("{entry:?} is not channel|provider|title|number"));
            };
            if !CHANNELS.contains(&channel) {
                return Err(format!(
                    "{entry:?}: the channel must be one of {}",
                    CHANNELS.join(", ")
                ));
            }
            if [provider, title, number].iter().any(|p| p.is_empty()) {
                return Err(format!(
                    "{entry:?}: provider, title and number are required"
                ));
            }
            accounts.push(Account {
                channel: channel.to_owned(),
                provider: provider.to_owned(),
                title: title.to_owned(),
                number: number.to_owned(),
            });
        }
        if accounts.is_empty() {
            return Err("no account given".to_owned());
        }
        Ok(Self {
            accounts,
            example: false,
        })
    }

    /// Example accounts for development, clearly marked as such.
    pub fn example() -> Self {
        Self::parse(
            "bank|Example Bank (set NEXTGENRDP_MANUAL_ACCOUNTS)|NextGenRDP|PK00EXAM0000000000000000;\
             jazzcash|JazzCash wallet (example)|NextGenRDP|03000000000;\
             easypaisa|Easypaisa wallet (example)|NextGenRDP|03450000000",
        )
        .map(|manual| Self {
            example: true,
            ..manual
        })
        .expect("the example accounts parse")
    }

    /// The accounts customers may be shown: none while they are the development stand-ins.
    pub fn shown_accounts(&self) -> Vec<Account> {
        if self.example {
            Vec::new()
        } else {
            self.accounts.clone()
        }
    }
}

/// What a customer is told to do.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Instructions {
    /// The exact amount to send, in whole PKR.
    pub amount_pkr: i32,
    /// `amount_pkr` formatted for display (`Rs 4,500`).
    pub amount_display: String,
    /// Put this in the transfer's note or description.
    pub reference: String,
    /// The accounts to send it to (any one).
    pub accounts: Vec<Account>,
    /// What to do, in order, in words.
    pub steps: Vec<String>,
}

impl PaymentGateway for ManualTransfer {
    fn name(&self) -> &'static str {
        MANUAL
    }

    fn label(&self) -> &'static str {
        "Bank transfer, JazzCash or Easypaisa (manual)"
    }

    fn records_attempt_on_start(&self) -> bool {
        false
    }

    fn start(&self, context: &StartContext<'_>) -> Start {
        let amount = format_pkr(context.order.due_pkr());
        let reference = order_reference(context.order.id);
        let first = if self.example {
            "This shop has not listed its accounts yet: ask us for them (see the Contact page) \
             before you send money."
                .to_owned()
        } else {
            format!("Send exactly {amount} to one of the accounts below.")
        };
        Start::Instructions(Instructions {
            amount_pkr: context.order.due_pkr(),
            amount_display: amount.clone(),
            steps: vec![
                first,
                format!("Write {reference} in the transfer's note or description."),
                if context.order.kind == crate::orders::orders::OrderKind::Renewal {
                    "Submit the transaction id (TID) you receive; we confirm it and extend your \
                     server."
                } else {
                    "Submit the transaction id (TID) you receive; we confirm it and start your \
                     server."
                }
                .to_owned(),
            ],
            reference,
            accounts: self.shown_accounts(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_parsed_from_configuration() {
        let manual = ManualTransfer::parse(
            " bank|Meezan Bank|NextGenRDP (Pvt) Ltd|PK36MEZN0001 ; jazzcash|JazzCash|Ali Raza|03001234567",
        )
        .unwrap();
        assert_eq!(manual.accounts.len(), 2);
        assert_eq!(manual.accounts[0].provider, "Meezan Bank");
        assert_eq!(manual.accounts[1].number, "03001234567");
    }

    #[test]
    fn the_development_stand_ins_are_never_shown_to_customers() {
        let example = ManualTransfer::example();
        assert!(example.example && !example.accounts.is_empty());
        assert!(example.shown_accounts().is_empty());
        let real = ManualTransfer::parse("bank|Meezan Bank|NextGenRDP|PK36MEZN0001").unwrap();
        assert_eq!(real.shown_accounts().len(), 1);
    }

    #[test]
    fn malformed_accounts_are_refused_with_the_entry() {
        assert!(ManualTransfer::parse("").is_err());
        assert!(
            ManualTransfer::parse("bank|Meezan")
                .unwrap_err()
                .contains("bank|Meezan")
        );
        assert!(
            ManualTransfer::parse("paypal|PayPal|x|y")
                .unwrap_err()
                .contains("channel")
        );
        assert!(ManualTransfer::parse("bank||x|y").is_err());
    }
}
