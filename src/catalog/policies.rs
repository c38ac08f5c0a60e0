//! The pages a buyer reads before paying — terms of service, refund policy, privacy policy and
//! FAQ (`policy_versions`) — in Markdown the operator edits. Each save publishes a new version
//! (old ones stay readable: an order records the versions of the terms and refund policy it was
//! placed under); version 1 of each is the default text the migration shipped. Markdown is
//! rendered by `pulldown-cmark` with raw HTML shown as text and only web, mail and in-site links
//! kept, so an operator's paste can never put a script on the shop.

use chrono::{DateTime, Utc};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::audit::{self, Actor, NewAuditEntry};
use crate::context::Context;
use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult, ResultExt};

text_enum! {
    /// One of the policy pages.
    pub enum PolicyPage {
        Terms = "terms",
        RefundPolicy = "refund-policy",
        Privacy = "privacy",
        Faq = "faq",
    }
}

impl PolicyPage {
    /// Where the shop shows it: `/terms`, `/refund-policy`, `/privacy`, `/faq`.
    pub fn path(self) -> String {
        format!("/{}", self.as_str())
    }
}

/// The longest page, in characters.
pub const MAX_BODY_CHARS: usize = 100_000;
const MAX_TITLE_CHARS: usize = 100;

/// A published version of a policy page.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct PolicyVersion {
    pub page: PolicyPage,
    /// 1 for the shipped default, one more for each save.
    pub version: i32,
    pub title: String,
    /// The Markdown as the operator wrote it.
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The operator who published it (null for the shipped default).
    pub created_by: Option<i32>,
}

macro_rules! columns {
    () => {
        "page, version, title, body, created_at, created_by"
    };
}

/// A new version of a policy page.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// 1 to 100 characters; absent: the current title.
    #[schema(min_length = 1, max_length = 100)]
    pub title: Option<String>,
    /// Markdown, 1 to 100,000 characters. Raw HTML in it is shown as text.
    #[schema(min_length = 1, max_length = 100000)]
    pub body: String,
    /// The version this edit started from: if another was published since, the save is refused
    /// (409) instead of overwriting it unseen.
    #[serde(default)]
    pub based_on_version: Option<i32>,
}

/// The version in force.
pub async fn current(db: impl PgExecutor<'_>, page: PolicyPage) -> sqlx::Result<PolicyVersion> {
    timed(
        "policy_versions.current",
        sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from policy_versions where page = $1 order by version desc limit 1"
        ))
        .bind(page)
        .fetch_one(db),
    )
    .await
}

/// One version of a page.
pub async fn version(
    db: impl PgExecutor<'_>,
    page: PolicyPage,
    version: i32,
) -> AppResult<PolicyVersion> {
    timed(
        "policy_versions.find",
        sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from policy_versions where page = $1 and version = $2"
        ))
        .bind(page)
        .bind(version)
        .fetch_optional(db),
    )
    .await?
    .ok_or(AppError::NotFound("version"))
}

/// Every version of a page, the newest first (without their text).
pub async fn history(
    db: impl PgExecutor<'_>,
    page: PolicyPage,
) -> sqlx::Result<Vec<(i32, DateTime<Utc>, Option<String>)>> {
    timed(
        "policy_versions.history",
        sqlx::query_as(
            "select v.version, v.created_at, u.name
             from policy_versions v left join users u on u.id = v.created_by
             where v.page = $1 order by v.version desc",
        )
        .bind(page)
        .fetch_all(db),
    )
    .await
}

/// The versions of the terms and the refund policy in force, for an order being placed.
pub async fn agreed_versions(db: impl PgExecutor<'_>) -> sqlx::Result<(i32, i32)> {
    timed(
        "policy_versions.agreed",
        sqlx::query_as(
            "select
                 (select max(version) from policy_versions where page = 'terms'),
                 (select max(version) from policy_versions where page = 'refund-policy')",
        )
        .fetch_one(db),
    )
    .await
}

/// Publishes a new version of `page` (the title kept when absent). Two operators saving at
/// once: the second is told to reload (409) rather than silently overwriting. Audited as
/// `policy.publish`.
pub async fn publish(
    ctx: &Context,
    actor: &Actor<'_>,
    page: PolicyPage,
    input: &PolicyInput,
) -> AppResult<PolicyVersion> {
    let mut errors = crate::accounts::validation::FieldErrors::default();
    let title = input.title.as_deref().map(str::trim);
    if let Some(title) = title
        && (title.is_empty() || title.chars().count() > MAX_TITLE_CHARS)
    {
        errors.add("title", &format!("write 1 to {MAX_TITLE_CHARS} characters"));
    }
    let body = input.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        errors.add("body", &format!("write 1 to {MAX_BODY_CHARS} characters"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors.0));
    }
    let mut tx = ctx.db.begin().await?;
    let before = current(&mut *tx, page).await?;
    if let Some(based_on) = input.based_on_version
        && based_on != before.version
    {
        return Err(AppError::conflict(
            "version",
            format!(
                "version {} was published while you edited version {based_on}; reload and edit it",
                before.version
            ),
        ));
    }
    let published: PolicyVersion = timed(
        "policy_versions.insert",
        sqlx::query_as(concat!(
            "insert into policy_versions (page, version, title, body, created_by)
             values ($1, $2, $3, $4, $5) returning ",
            columns!()
        ))
        .bind(page)
        .bind(before.version + 1)
        .bind(title.unwrap_or(&before.title))
        .bind(body)
        .bind(actor.user_id)
        .fetch_one(&mut *tx),
    )
    .await
    .on_constraint("policy_versions_page_version_key", |_| {
        AppError::conflict(
            "version",
            "another version was published at the same moment; reload and edit it",
        )
    })?;
    audit::insert(
        &mut *tx,
        &NewAuditEntry {
            before: Some(json!({ "version": before.version, "title": before.title })),
            after: Some(json!({ "version": published.version, "title": published.title })),
            ..actor.entry("policy.publish", "policy", Some(page.as_str()))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(published)
}

/// Whether a link may be followed from a policy page: in-site paths, anchors, http(s), mailto
/// and tel; never `javascript:`, `data:` or other schemes.
fn safe_link(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with('/') || url.starts_with('#') {
        return !url.starts_with("//");
    }
    let lower = url.to_ascii_lowercase();
    match lower.split_once(':') {
        Some((scheme, _)) => ["http", "https", "mailto", "tel"].contains(&scheme),
        // No scheme: a relative path (`faq`); a colon-free word cannot run anything.
        None => true,
    }
}

/// A page's Markdown as HTML that is safe to put in ours: raw HTML is shown as text, links and
/// images with any other scheme lead nowhere.
pub fn render<'a>(markdown: &'a str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let checked = |dest: CowStr<'a>| -> CowStr<'a> {
        if safe_link(&dest) {
            dest
        } else {
            CowStr::Borrowed("#")
        }
    };
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: checked(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: checked(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_but_never_runs() {
        let html = render("## Refunds\n\nWithin **24 hours**. See [terms](/terms).");
        assert!(html.contains("<h2>Refunds</h2>"), "{html}");
        assert!(html.contains("<strong>24 hours</strong>"));
        assert!(html.contains(r#"<a href="/terms">terms</a>"#));
        for hostile in [
            "<script>alert(1)</script>",
            "Hi <img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "[click]( JAVASCRIPT:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](//evil.example/)",
        ] {
            let html = render(hostile);
            assert!(!html.contains("<script"), "{hostile}: {html}");
            assert!(!html.contains("<img src=x"), "{hostile}: {html}");
            assert!(!html.contains("<a href=\"javascript"), "{hostile}: {html}");
            let lower = html.to_ascii_lowercase();
            assert!(!lower.contains("<a href=\"javascript"), "{hostile}: {html}");
            assert!(!html.contains("<a href=\"data:"), "{hostile}: {html}");
            assert!(!html.contains("<img src=\"javascript"), "{hostile}: {html}");
            assert!(!html.contains("<a href=\"//evil"), "{hostile}: {html}");
        }
        assert!(render("<b>bold</b>").contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(render("[mail](mailto:help@shop.pk)").contains("mailto:help@shop.pk"));
    }
}
