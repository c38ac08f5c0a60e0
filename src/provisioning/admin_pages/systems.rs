//! The operator's page of operating systems: `/admin/os-templates` — each system the shop
//! offers with the plans that offer it and the template VM each Proxmox backend clones for it,
//! edited in one form per system (and one for a new system). The form becomes the API's
//! [`SystemRequest`] and goes through the same verb; a refusal shows the page again with the
//! posted values and the problems beside the fields.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::see_other;
use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::catalog::os_templates::OsFamily;
use crate::catalog::plans;
use crate::error::{AppError, AppResult};
use crate::provisioning::backends::{self, BackendDriver};
use crate::provisioning::systems::{self, ImageRequest, System, SystemRequest};
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, Notice, notice};
use crate::web::pages::{Layout, render_with};

/// One system's form as shown (or as posted, when refused).
pub(super) struct SystemForm {
    /// `None`: the new-system form.
    id: Option<i32>,
    name: String,
    family: String,
    username: String,
    sort_order: String,
    is_active: bool,
    plan_ids: Vec<String>,
    /// Template VM ids by backend id, as typed.
    vmids: BTreeMap<i32, String>,
    errors: FormErrors,
}

impl SystemForm {
    fn blank() -> Self {
        Self {
            id: None,
            name: String::new(),
            family: "linux".into(),
            username: String::new(),
            sort_order: "0".into(),
            is_active: true,
            plan_ids: Vec::new(),
            vmids: BTreeMap::new(),
            errors: FormErrors::default(),
        }
    }

    fn of(system: &System) -> Self {
        Self {
            id: Some(system.template.id),
            name: system.template.name.clone(),
            family: system.template.family.as_str().to_owned(),
            username: system.template.username.clone(),
            sort_order: system.template.sort_order.to_string(),
            is_active: system.template.is_active,
            plan_ids: system.plan_ids.clone(),
            vmids: system
                .images
                .iter()
                .map(|i| (i.backend_id, i.template_vmid.to_string()))
                .collect(),
            errors: FormErrors::default(),
        }
    }

    fn from_pairs(id: Option<i32>, pairs: &[(String, String)]) -> Self {
        let mut form = Self {
            id,
            is_active: false,
            ..Self::blank()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value.clone(),
                "family" => form.family = value.clone(),
                "username" => form.username = value.clone(),
                "sort_order" => form.sort_order = value.clone(),
                "is_active" => form.is_active = true,
                "plan_ids" => form.plan_ids.push(value.clone()),
                other => {
                    if let Some(backend) = other
                        .strip_prefix("vmid-")
                        .and_then(|b| b.parse::<i32>().ok())
                    {
                        form.vmids.insert(backend, value.clone());
                    }
                }
            }
        }
        form
    }

    /// The API's request; a number that is no number is a 422 naming its field.
    fn request(&self) -> AppResult<SystemRequest> {
        let sort_order = match self.sort_order.trim() {
            "" => 0,
            text => text
                .parse()
                .map_err(|_| AppError::invalid("sort_order", "must be a whole number"))?,
        };
        let mut images = Vec::new();
        for (backend_id, vmid) in &self.vmids {
            let vmid = vmid.trim();
            if vmid.is_empty() {
                continue;
            }
            images.push(ImageRequest {
                backend_id: *backend_id,
                template_vmid: vmid
                    .parse()
                    .map_err(|_| AppError::invalid("images", "a VM id is a whole number"))?,
            });
        }
        Ok(SystemRequest {
            name: self.name.clone(),
            family: self.family.clone(),
            username: Some(self.username.clone()).filter(|u| !u.trim().is_empty()),
            is_active: Some(self.is_active),
            sort_order: Some(sort_order),
            plan_ids: self.plan_ids.clone(),
            images,
        })
    }

    /// The text fields: (name, label, value, hint, required).
    #[allow(clippy::type_complexity)]
    fn text_fields(&self) -> Vec<(&'static str, &'static str, &str, &'static str, bool)> {
        vec![
            (
                "name",
                "Name",
                &self.name,
                "What customers choose by: Ubuntu 24.04.",
                true,
            ),
            (
                "username",
                "Login user",
                &self.username,
                "Left empty: Administrator (Windows) or root (Linux).",
                false,
            ),
            (
                "sort_order",
                "Order",
                &self.sort_order,
                "Lower first.",
                false,
            ),
        ]
    }

    fn offers(&self, plan_id: &str) -> bool {
        self.plan_ids.iter().any(|p| p == plan_id)
    }

    fn vmid(&self, backend_id: &i32) -> &str {
        self.vmids.get(backend_id).map_or("", String::as_str)
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/os-templates/{id}"),
            None => "/admin/os-templates".to_owned(),
        }
    }

    /// The prefix of the form's element ids (`os-3-`, `os-new-`).
    fn prefix(&self) -> String {
        match self.id {
            Some(id) => format!("os-{id}-"),
            None => "os-new-".to_owned(),
        }
    }
}

struct PlanChoice {
    id: String,
    name: String,
}

struct BackendChoice {
    id: i32,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/backends/systems.html")]
struct SystemsPage {
    layout: Layout,
    notice: Option<Notice>,
    alert: Option<String>,
    /// Each system's form, then the new system's.
    forms: Vec<SystemForm>,
    plans: Vec<PlanChoice>,
    backends: Vec<BackendChoice>,
    families: &'static [OsFamily],
}

const NOTICES: &[(&str, &str, &str)] = &[
    ("created", "success", "The system is added."),
    ("saved", "success", "The system is saved."),
    (
        "deleted",
        "success",
        "The system is deleted; servers built with it keep its name.",
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

/// The page, with `refused` (a posted form and its problems) in its place.
async fn render(
    state: &AppState,
    admin: &PageAdmin,
    notice: Option<Notice>,
    refused: Option<(SystemForm, StatusCode, Option<String>)>,
) -> AppResult<Response> {
    let mut forms: Vec<SystemForm> = systems::list(&state.db)
        .await?
        .iter()
        .map(SystemForm::of)
        .collect();
    let mut new_form = SystemForm::blank();
    let (status, alert) = match refused {
        Some((form, status, alert)) => {
            match form.id {
                None => new_form = form,
                Some(id) => {
                    if let Some(slot) = forms.iter_mut().find(|f| f.id == Some(id)) {
                        *slot = form;
                    }
                }
            }
            (status, alert)
        }
        None => (StatusCode::OK, None),
    };
    let plans = plans::list(&state.db)
        .await?
        .into_iter()
        .map(|p| PlanChoice {
            id: p.id,
            name: p.name,
        })
        .collect();
    let backends = backends::list(&state.db)
        .await?
        .into_iter()
        .filter(|b| b.driver == BackendDriver::Proxmox)
        .map(|b| BackendChoice {
            id: b.id,
            name: b.name,
        })
        .collect();
    render_with(
        status,
        &SystemsPage {
            layout: Layout::for_page("Operating systems".to_owned(), &admin.0.context),
            notice,
            alert,
            forms: {
                forms.push(new_form);
                forms
            },
            plans,
            backends,
            families: OsFamily::ALL,
        },
    )
}

pub(super) async fn list(
    State(state): State<AppState>,
    admin: PageAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    render(&state, &admin, notice, None).await
}

const FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("family", "Family"),
    ("username", "Login user"),
    ("sort_order", "Order"),
    ("plan_ids", "Plans"),
    ("images", "Template VMs"),
];

/// Saves a posted form through `save`; refused, the page again with the problems.
async fn save(
    state: &AppState,
    admin: &PageAdmin,
    mut form: SystemForm,
    result: AppResult<System>,
    notice: &str,
) -> AppResult<Response> {
    match result {
        Ok(_) => Ok(see_other(&format!("/admin/os-templates?notice={notice}"))),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => {
            let failure = Failure::from_error(err, FIELDS)?;
            form.errors = failure.errors;
            render(
                state,
                admin,
                None,
                Some((form, failure.status, failure.alert)),
            )
            .await
        }
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = SystemForm::from_pairs(None, &pairs);
    let result = match form.request() {
        Ok(request) => systems::create(&state.catalog_store(), &admin.0.actor(&ip), &request).await,
        Err(err) => Err(err),
    };
    save(&state, &admin, form, result, "created").await
}

pub(super) async fn update(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = SystemForm::from_pairs(Some(id), &pairs);
    let result = match form.request() {
        Ok(request) => {
            systems::update(&state.catalog_store(), &admin.0.actor(&ip), id, &request).await
        }
        Err(err) => Err(err),
    };
    save(&state, &admin, form, result, "saved").await
}

pub(super) async fn delete(
    State(state): State<AppState>,
    admin: PageAdmin,
    ClientIp(ip): ClientIp,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    systems::delete(&state.catalog_store(), &admin.0.actor(&ip), id).await?;
    Ok(see_other("/admin/os-templates?notice=deleted"))
}
