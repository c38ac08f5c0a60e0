//! Support: the customers' tickets and the conversation that answers each ([`tickets`]), the
//! files sent on them ([`attachments`]) and the operators' canned replies ([`canned`]), with
//! the customer's API ([`api`]) and the operator's ([`admin_api`]).
//!
//! A ticket's [`TicketStatus`] says whose turn it is: `awaiting_us` when the customer spoke
//! last, `awaiting_customer` when an operator answered, `closed`. [`tickets`] holds its one
//! writer.

pub mod admin_api;
pub mod admin_pages;
pub mod api;
pub mod attachments;
pub mod canned;
pub mod pages;
pub mod tickets;

use crate::db::text_enum::text_enum;

text_enum! {
    /// Whose turn it is.
    pub enum TicketStatus {
        /// The customer spoke last: the shop owes an answer.
        AwaitingUs = "awaiting_us",
        /// An operator answered: the customer's turn.
        AwaitingCustomer = "awaiting_customer",
        Closed = "closed",
    }
}

impl TicketStatus {
    /// The status in the operator's words.
    pub fn operator_label(self) -> &'static str {
        match self {
            Self::AwaitingUs => "Awaiting us",
            Self::AwaitingCustomer => "Awaiting the customer",
            Self::Closed => "Closed",
        }
    }

    /// The status in the customer's words.
    pub fn label(self) -> &'static str {
        match self {
            Self::AwaitingUs => "Awaiting our reply",
            Self::AwaitingCustomer => "Awaiting your reply",
            Self::Closed => "Closed",
        }
    }
}

text_enum! {
    /// Who answers it.
    pub enum Department {
        Sales = "sales",
        Technical = "technical",
        Billing = "billing",
    }
}

impl Department {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sales => "Sales",
            Self::Technical => "Technical support",
            Self::Billing => "Billing",
        }
    }
}

text_enum! {
    /// How soon the operator means to answer.
    pub enum Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_match() {
        use crate::db::text_enum::spellings_match_serde;
        assert!(spellings_match_serde(TicketStatus::ALL));
        assert!(spellings_match_serde(Department::ALL));
        assert!(spellings_match_serde(Priority::ALL));
    }
}
