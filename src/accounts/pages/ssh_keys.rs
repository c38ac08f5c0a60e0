//! `/account/ssh-keys`: the customer's SSH public keys — add with a name, remove. The same verbs
//! as `/api/v1/me/ssh-keys`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::see_other;
use crate::accounts::extract::PageUser;
use crate::accounts::ssh_keys::{self, SshKey};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render_with};

const NOTICES: &[(&str, &str, &str)] = &[
    (
        "added",
        "success",
        "Key added. Choose it when you order or reinstall a Linux server.",
    ),
    (
        "removed",
        "success",
        "Key removed. Servers that have it keep it until they are reinstalled.",
    ),
];

const FIELDS: &[(&str, &str)] = &[("name", "Name"), ("public_key", "Public key")];

/// A key as the page lists it.
struct KeyRow {
    key: SshKey,
    added: String,
}

#[derive(Template)]
#[template(path = "account/ssh_keys.html")]
struct SshKeysPage {
    layout: Layout,
    notice: Option<Notice>,
    keys: Vec<KeyRow>,
    /// The name typed (kept after a refusal).
    key_name: String,
    public_key: String,
    errors: FormErrors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AddForm {
    name: String,
    public_key: String,
}

async fn render(
    state: &AppState,
    visitor: &PageUser,
    status: StatusCode,
    notice: Option<Notice>,
    form: AddForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let keys = ssh_keys::list(&state.db, visitor.user.id)
        .await?
        .into_iter()
        .map(|key| KeyRow {
            added: pkt(Some(key.created_at)),
            key,
        })
        .collect();
    render_with(
        status,
        &SshKeysPage {
            layout: Layout::for_page("SSH keys", &visitor.context),
            notice,
            keys,
            key_name: form.name,
            public_key: form.public_key,
            errors,
        },
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    visitor: PageUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = notice(query.notice.as_deref(), NOTICES);
    render(
        &state,
        &visitor,
        StatusCode::OK,
        notice,
        AddForm::default(),
        FormErrors::default(),
    )
    .await
}

pub(super) async fn add(
    State(state): State<AppState>,
    visitor: PageUser,
    Form(form): Form<AddForm>,
) -> AppResult<Response> {
    match ssh_keys::add(&state.db, visitor.user.id, &form.name, &form.public_key).await {
        Ok(_) => Ok(see_other("/account/ssh-keys?notice=added")),
        Err(err) => {
            let failure = Failure::from_error(err, FIELDS)?;
            render(&state, &visitor, failure.status, None, form, failure.errors).await
        }
    }
}

pub(super) async fn remove(
    State(state): State<AppState>,
    visitor: PageUser,
    Path(id): Path<i32>,
) -> AppResult<Response> {
    match ssh_keys::remove(&state.db, visitor.user.id, id).await {
        Ok(_) => Ok(see_other("/account/ssh-keys?notice=removed")),
        Err(err @ AppError::NotFound(_)) => Err(err),
        Err(err) => Err(err),
    }
}
