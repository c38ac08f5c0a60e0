//! The customer's JSON API for their servers: `/api/v1/services*` — list, inspect with its log,
//! reveal the login details, power and password actions, renew. Someone else's service is a 404
//! on every route, as if it did not exist.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lifecycle::{self, CustomerAction};
use super::logs::{self, ServiceLog};
use super::renewals;
use super::services::{self, Service};
use crate::accounts::extract::ApiUser;
use crate::app::AppState;
use crate::catalog::{locations, plans};
use crate::error::{AppError, AppResult};
use crate::orders::api::order_response;
use crate::web::extract::AppJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/services", get(list_services))
        .route("/services/{id}", get(find_service))
        .route("/services/{id}/credentials", get(reveal_credentials))
        .route("/services/{id}/actions", post(act_on_service))
        .route("/services/{id}/renew", post(renew_service))
}

/// A service as its customer sees it: no backend internals, no failure details.
#[derive(Debug, Serialize)]
pub struct ServiceView {
    pub id: i32,
    pub service_type: String,
    pub status: String,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    pub location_id: Option<i32>,
    pub location_name: Option<String>,
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub username: Option<String>,
    /// Whether `GET /services/{id}/credentials` has a password to show.
    pub has_credentials: bool,
    pub validity_months: Option<i32>,
    pub suspended_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_renewal_date: Option<DateTime<Utc>>,
    pub next_renewal_date: Option<DateTime<Utc>>,
    pub termination_date: Option<DateTime<Utc>>,
}

/// A log line as the customer sees it: who acted, not which operator.
#[derive(Debug, Serialize)]
pub struct LogView {
    pub action: String,
    pub status: String,
    pub details: Option<String>,
    /// `you`, `operator` or `system`.
    pub by: &'static str,
    pub created_at: Option<DateTime<Utc>>,
}

/// The names of plans and locations, to label services.
struct Names {
    plans: HashMap<String, String>,
    locations: HashMap<i32, String>,
}

impl Names {
    async fn load(state: &AppState) -> AppResult<Self> {
        let plans = plans::list(&state.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let locations = locations::list(&state.db)
            .await?
            .into_iter()
            .map(|l| (l.id, l.name))
            .collect();
        Ok(Self { plans, locations })
    }

    fn view(&self, service: Service) -> ServiceView {
        ServiceView {
            plan_name: service
                .plan_id
                .as_ref()
                .and_then(|p| self.plans.get(p).cloned()),
            location_name: service
                .location_id
                .and_then(|l| self.locations.get(&l).cloned()),
            has_credentials: service.password_encrypted.is_some()
                && !matches!(service.status.as_str(), "provisioning" | "failed"),
            id: service.id,
            service_type: service.service_type,
            status: service.status,
            plan_id: service.plan_id,
            location_id: service.location_id,
            hostname: service.hostname,
            ip_address: service.ip_address,
            username: service.username,
            validity_months: service.validity_months,
            suspended_reason: service.suspended_reason,
            created_at: service.created_at,
            last_renewal_date: service.last_renewal_date,
            next_renewal_date: service.next_renewal_date,
            termination_date: service.termination_date,
        }
    }
}

fn log_view(log: ServiceLog, customer: i32) -> LogView {
    LogView {
        by: match log.performed_by {
            Some(id) if id == customer => "you",
            Some(_) => "operator",
            None => "system",
        },
        action: log.action,
        status: log.status,
        details: log.details,
        created_at: log.created_at,
    }
}

/// The caller's service, or 404.
async fn own_service(state: &AppState, id: i32, user_id: i32) -> AppResult<Service> {
    services::find_for_user(&state.db, id, user_id)
        .await?
        .ok_or(AppError::NotFound("service"))
}

async fn list_services(
    State(state): State<AppState>,
    caller: ApiUser,
) -> AppResult<impl IntoResponse> {
    let rows = services::list_for_user(&state.db, caller.user.id).await?;
    let names = Names::load(&state).await?;
    let items: Vec<ServiceView> = rows.into_iter().map(|s| names.view(s)).collect();
    Ok(Json(json!({ "items": items })))
}

async fn find_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let service = own_service(&state, id, caller.user.id).await?;
    let logs: Vec<LogView> = logs::list_for_service(&state.db, id)
        .await?
        .into_iter()
        .map(|l| log_view(l, caller.user.id))
        .collect();
    let names = Names::load(&state).await?;
    Ok(Json(
        json!({ "service": names.view(service), "logs": logs }),
    ))
}

/// The login details; never cached by the browser or a proxy.
async fn reveal_credentials(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
) -> AppResult<impl IntoResponse> {
    let credentials = lifecycle::reveal_credentials(
        &state.db,
        &state.settings.provisioning,
        id,
        Some(caller.user.id),
        caller.user.id,
    )
    .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(credentials)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionRequest {
    action: String,
}

async fn act_on_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<ActionRequest>,
) -> AppResult<impl IntoResponse> {
    // Someone else's service is a 404 whatever the action says.
    own_service(&state, id, caller.user.id).await?;
    let action: CustomerAction = body
        .action
        .trim()
        .parse()
        .map_err(|problem: String| AppError::invalid("action", problem))?;
    let acted = lifecycle::customer_action(&state.db, id, caller.user.id, action).await?;
    let names = Names::load(&state).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "service": names.view(acted.service),
            "log": log_view(acted.log, caller.user.id),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewRequest {
    validity_months: i32,
}

async fn renew_service(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(id): Path<i32>,
    AppJson(body): AppJson<RenewRequest>,
) -> AppResult<impl IntoResponse> {
    own_service(&state, id, caller.user.id).await?;
    let order = renewals::renew(
        &state.db,
        &state.settings.provisioning,
        caller.user.id,
        id,
        body.validity_months,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(order_response(&state, order).await?),
    ))
}
