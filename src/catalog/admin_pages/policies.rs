//! The operator's policy pages: `/admin/policies` (the four pages with their version in force)
//! and `/admin/policies/{page}` (edit the Markdown, publish it as a new version, see the earlier
//! ones). The same audited verb as the API (`policies::publish`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::accounts::extract::{PageAdmin, PageUser};
use crate::app::AppState;
use crate::catalog::policies::{self, PolicyInput, PolicyPage};
use crate::error::{AppError, AppResult};
use crate::web::extract::ClientIp;
use crate::web::forms::{Failure, FormErrors, Notice, notice, pkt};
use crate::web::pages::{Layout, render_with};

const NOTICES: &[(&str, &str, &str)] = &[(
    "published",
    "success",
    "Published. Orders placed from now on record this version.",
)];

struct PolicyRow {
    slug: &'static str,
    title: String,
    version: i32,
    published: String,
}

#[derive(Template)]
#[template(path = "admin/catalog/policies.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<PolicyRow>,
}

struct VersionRow {
    version: i32,
    published: String,
    by: String,
}

#[derive(Template)]
#[template(path = "admin/catalog/policy.html")]
struct EditPage {
    layout: Layout,
    notice: Option<Notice>,
    slug: &'static str,
    path: String,
    version: i32,
    title: String,
    body: String,
    errors: FormErrors,
    history: Vec<VersionRow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EditForm {
    title: String,
    body: String,
    based_on_version: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

fn page_of(slug: &str) -> AppResult<PolicyPage> {
    PolicyPage::parse(slug).ok_or(AppError::NotFound("page"))
}

pub(super) async fn list(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
) -> AppResult<Response> {
    let mut rows = Vec::new();
    for page in PolicyPage::ALL {
        let current = policies::current(&state.db, *page).await?;
        rows.push(PolicyRow {
            slug: page.as_str(),
            title: current.title,
            version: current.version,
            published: pkt(Some(current.created_at)),
        });
    }
    render_with(
        StatusCode::OK,
        &ListPage {
            layout: Layout::for_page("Policy pages", &admin.context),
            rows,
        },
    )
}

async fn edit_page(
    state: &AppState,
    admin: &PageUser,
    page: PolicyPage,
    status: StatusCode,
    notice: Option<Notice>,
    sent: Option<(EditForm, FormErrors)>,
) -> AppResult<Response> {
    let current = policies::current(&state.db, page).await?;
    let history = policies::history(&state.db, page)
        .await?
        .into_iter()
        .map(|(version, at, by)| VersionRow {
            version,
            published: pkt(Some(at)),
            by: by.unwrap_or_else(|| "shipped default".to_owned()),
        })
        .collect();
    let (title, body, version, errors) = match sent {
        Some((form, errors)) => (
            form.title,
            form.body,
            form.based_on_version.parse().unwrap_or(current.version),
            errors,
        ),
        None => (
            current.title.clone(),
            current.body.clone(),
            current.version,
            FormErrors::default(),
        ),
    };
    render_with(
        status,
        &EditPage {
            layout: Layout::for_page(format!("Edit: {}", current.title), &admin.context),
            notice,
            slug: page.as_str(),
            path: page.path(),
            version,
            title,
            body,
            errors,
            history,
        },
    )
}

pub(super) async fn edit(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    Path(slug): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let page = page_of(&slug)?;
    let notice = notice(query.notice.as_deref(), NOTICES);
    edit_page(&state, &admin, page, StatusCode::OK, notice, None).await
}

pub(super) async fn publish(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
    Form(form): Form<EditForm>,
) -> AppResult<Response> {
    let page = page_of(&slug)?;
    let input = PolicyInput {
        title: Some(form.title.clone()),
        body: form.body.clone(),
        based_on_version: form.based_on_version.trim().parse().ok(),
    };
    match policies::publish(&state, &admin.actor(&ip), page, &input).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/policies/{slug}?notice=published")).into_response())
        }
        Err(err) => {
            let failure = Failure::from_error(
                err,
                &[("title", "Title"), ("body", "Text"), ("version", "Version")],
            )?;
            edit_page(
                &state,
                &admin,
                page,
                failure.status,
                None,
                Some((form, failure.errors)),
            )
            .await
        }
    }
}
