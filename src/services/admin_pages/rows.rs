//! What the operator's service screens share: a service as a table row, and the e-mails of its
//! owners.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::accounts::users;
use crate::app::AppState;
use crate::catalog::names::Names;
use crate::error::AppResult;
use crate::services::logs::ServiceLog;
use crate::services::pages::{ServiceRow, action_label};
use crate::services::services::Service;
use crate::services::{ServiceAction, ServiceStatus};
use crate::web::forms::pkt;

pub(super) fn see_other(target: &str) -> Response {
    Redirect::to(target).into_response()
}

/// The e-mails of the given accounts, in one look-up (`users::emails`); a deleted account is
/// named by its id.
pub(super) async fn emails_of(state: &AppState, ids: Vec<i32>) -> AppResult<BTreeMap<i32, String>> {
    let mut emails = users::emails(&state.db, &ids).await?;
    for id in ids {
        emails
            .entry(id)
            .or_insert_with(|| format!("account {id} (deleted)"));
    }
    Ok(emails)
}

/// A service as a row of the operator's tables.
pub(super) struct AdminServiceRow {
    pub(super) row: ServiceRow,
    pub(super) customer_id: Option<i32>,
    pub(super) customer: String,
    /// Where provisioning stands: the driver and its step, or why it failed.
    pub(super) progress: String,
    pub(super) failure_reason: Option<String>,
    pub(super) created: String,
}

pub(super) async fn admin_rows(
    state: &AppState,
    names: &Names,
    list: &[Service],
) -> AppResult<Vec<AdminServiceRow>> {
    let emails = emails_of(state, list.iter().filter_map(|s| s.user_id).collect()).await?;
    Ok(list
        .iter()
        .map(|s| AdminServiceRow {
            row: ServiceRow::new(s, names),
            customer_id: s.user_id,
            customer: s
                .user_id
                .and_then(|id| emails.get(&id).cloned())
                .unwrap_or_else(|| "—".to_owned()),
            progress: match (s.status, s.backend_id) {
                (ServiceStatus::Provisioning | ServiceStatus::Failed, None) => {
                    "manual: waiting for an operator".to_owned()
                }
                (ServiceStatus::Provisioning | ServiceStatus::Failed, Some(_)) => {
                    format!("proxmox: {}", s.provisioning_step.label())
                }
                _ => "—".to_owned(),
            },
            failure_reason: s.failure_reason.clone(),
            created: pkt(s.created_at),
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    pub(super) notice: Option<String>,
    /// The usage card's range on a service's page.
    pub(super) range: Option<String>,
}

/// A customer's request on a manual service that no operator has closed yet.
pub(super) struct RequestRow {
    pub(super) log_id: i32,
    pub(super) service_id: i32,
    /// The customer's account, when the queue shows it.
    pub(super) customer_id: Option<i32>,
    pub(super) customer: String,
    /// The server's address and hostname (the queue's cards; empty on the service's own page).
    pub(super) server: String,
    pub(super) what: String,
    pub(super) when: String,
    /// A password reset: marking it done may set the new password.
    pub(super) asks_password: bool,
}

impl RequestRow {
    pub(super) fn new(
        log: &ServiceLog,
        customer: Option<(i32, String)>,
        server: String,
    ) -> Option<Self> {
        let (customer_id, customer) = match customer {
            Some((id, email)) => (Some(id), email),
            None => (None, "—".to_owned()),
        };
        Some(Self {
            log_id: log.id,
            service_id: log.service_id?,
            customer_id,
            customer,
            server,
            what: action_label(log.action),
            when: pkt(log.created_at),
            asks_password: log.action == ServiceAction::PasswordResetRequested,
        })
    }
}
