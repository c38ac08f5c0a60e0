//! Repository of `users`: all SQL about accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};

use crate::db::timed;
use crate::db::total::{self, Total};

/// A row of `users`. The password hash never leaves the server.
#[derive(Clone, Debug, FromRow, Serialize)]
pub struct User {
    pub id: i32,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub is_verified: Option<bool>,
    pub role: super::Role,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// When two-factor sign-in was turned on; `None` while it is off.
    pub two_factor_enabled_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether this is a staff account (an operator of the back office, any staff role).
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// Whether this account's role holds `permission`.
    pub fn can(&self, permission: super::staff::Permission) -> bool {
        self.role.can(permission)
    }

    pub fn is_verified(&self) -> bool {
        self.is_verified.unwrap_or(false)
    }
}

/// What it takes to create an account.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: super::Role,
}

/// The columns of [`User`], for `concat!` into each statement.
macro_rules! user_columns {
    () => {
        "id, name, email, phone, password_hash, is_verified, role, email_verified_at, \
         disabled_at, last_login_at, created_at, updated_at, two_factor_enabled_at"
    };
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewUser<'_>) -> sqlx::Result<User> {
    timed(
        "users.insert",
        sqlx::query_as(concat!(
            "insert into users (name, email, phone, password_hash, role)
                 values ($1, $2, $3, $4, $5) returning ",
            user_columns!()
        ))
        .bind(new.name)
        .bind(new.email)
        .bind(new.phone)
        .bind(new.password_hash)
        .bind(new.role)
        .fetch_one(db),
    )
    .await
}

/// Creates the account unless one with this e-mail (in any case) exists: `None` then, without
/// an error that would abort the caller's transaction.
pub async fn insert_if_new(
    db: impl PgExecutor<'_>,
    new: &NewUser<'_>,
) -> sqlx::Result<Option<User>> {
    timed(
        "users.insert_if_new",
        sqlx::query_as(concat!(
            "insert into users (name, email, phone, password_hash, role)
                 values ($1, $2, $3, $4, $5) on conflict do nothing returning ",
            user_columns!()
        ))
        .bind(new.name)
        .bind(new.email)
        .bind(new.phone)
        .bind(new.password_hash)
        .bind(new.role)
        .fetch_optional(db),
    )
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<User>> {
    timed(
        "users.find",
        sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The account, locked until the transaction ends (`FOR NO KEY UPDATE`: rows that reference it
/// can still be written meanwhile), or `None`. Serializes changes to what hangs off one account,
/// such as its credit.
pub async fn find_for_update(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<User>> {
    timed(
        "users.find_for_update",
        sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users where id = $1 for no key update"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// Looks an account up by e-mail, whatever the case it was typed in.
/// The e-mail addresses of these accounts, by id (ids without an account are absent): one
/// statement for a page's customers instead of one per row.
pub async fn emails(
    db: impl PgExecutor<'_>,
    ids: &[i32],
) -> sqlx::Result<std::collections::BTreeMap<i32, String>> {
    let rows: Vec<(i32, String)> = timed(
        "users.emails",
        sqlx::query_as("select id, email from users where id = any($1)")
            .bind(ids)
            .fetch_all(db),
    )
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<User>> {
    timed(
        "users.find_by_email",
        sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users where lower(email) = lower($1)"
        ))
        .bind(email)
        .fetch_optional(db),
    )
    .await
}

/// A page of accounts, newest first, optionally filtered by a search on name, e-mail or phone.
///
/// A search is ordered by `id + 0`, which no index provides: the planner then finds the matches
/// (through the trigram indexes for a selective search, by reading the table for one that
/// matches most) and sorts them, instead of walking the ids backwards hoping to meet 25 matches
/// soon — a walk that read nearly every account when the matches were old ones (127 ms for one
/// customer's e-mail among 200,000 accounts, 1.7 ms this way; a search matching every account:
/// 76 ms). Without a search the ids are walked backwards: the first page is the newest 25.
pub async fn list(
    db: impl PgExecutor<'_>,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<User>> {
    let query = match search {
        None => sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users order by id desc limit $1 offset $2"
        ))
        .bind(limit)
        .bind(offset),
        Some(search) => sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users where email ilike $3 or name ilike $3 or phone like $4
             order by id + 0 desc limit $1 offset $2"
        ))
        .bind(limit)
        .bind(offset)
        .bind(crate::db::contains_pattern(search))
        .bind(phone_pattern(search)),
    };
    timed("users.list", query.fetch_all(db)).await
}

/// The staff's accounts (every role but customer), by name: the `users_staff_idx` rows.
pub async fn list_staff(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<User>> {
    timed(
        "users.list_staff",
        sqlx::query_as(concat!(
            "select ",
            user_columns!(),
            " from users where role <> 'customer' order by name, id"
        ))
        .fetch_all(db),
    )
    .await
}

/// How many accounts `list` would page through: exact up to 10,000, else estimated.
pub async fn count(db: &PgPool, search: Option<&str>) -> sqlx::Result<Total> {
    let sql = crate::total_sql!(
        "users.count",
        "from users where $1::text is null or email ilike $1 or name ilike $1 or phone like $2"
    );
    total::count(db, sql, |query| {
        query
            .bind(search.map(crate::db::contains_pattern))
            .bind(search.and_then(phone_pattern))
    })
    .await
}

/// A search that reads as a phone number (`0300-1234567`, `+92 300 1234567`, `3001234567`:
/// at least 6 digits and only digits, spaces, dashes and a leading `+`), as a pattern of the
/// stored E.164 form (`%3001234567%`): the leading `0` or `92` is the country's, left out.
fn phone_pattern(search: &str) -> Option<String> {
    let search = search.trim();
    let phone_like = search
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (i == 0 && c == '+'));
    let digits: String = search.chars().filter(char::is_ascii_digit).collect();
    if !phone_like || digits.len() < 6 {
        return None;
    }
    let national = digits
        .strip_prefix("92")
        .or_else(|| digits.strip_prefix('0'))
        .unwrap_or(&digits);
    Some(format!("%{national}%"))
}

pub async fn mark_verified(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "users.mark_verified",
        sqlx::query(
            "update users set is_verified = true, email_verified_at = coalesce(email_verified_at, now())
             where id = $1",
        )
        .bind(id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: i32,
    name: &str,
    phone: Option<&str>,
) -> sqlx::Result<Option<User>> {
    timed(
        "users.update_profile",
        sqlx::query_as(concat!(
            "update users set name = $2, phone = $3 where id = $1 returning ",
            user_columns!()
        ))
        .bind(id)
        .bind(name)
        .bind(phone)
        .fetch_optional(db),
    )
    .await
}

/// Changes the account's e-mail address; the new one is not confirmed yet. `None` when there is
/// no such account; the unique index refuses an address another account has (any case).
pub async fn change_email(
    db: impl PgExecutor<'_>,
    id: i32,
    email: &str,
) -> sqlx::Result<Option<User>> {
    timed(
        "users.change_email",
        sqlx::query_as(concat!(
            "update users set email = $2, is_verified = false, email_verified_at = null
             where id = $1 returning ",
            user_columns!()
        ))
        .bind(id)
        .bind(email)
        .fetch_optional(db),
    )
    .await
}

pub async fn update_password_hash(
    db: impl PgExecutor<'_>,
    id: i32,
    password_hash: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "users.update_password_hash",
        sqlx::query("update users set password_hash = $2 where id = $1")
            .bind(id)
            .bind(password_hash)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_role(db: impl PgExecutor<'_>, id: i32, role: super::Role) -> sqlx::Result<bool> {
    let done = timed(
        "users.set_role",
        sqlx::query("update users set role = $2 where id = $1")
            .bind(id)
            .bind(role)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables (`true`) or re-enables an account.
pub async fn set_disabled(db: impl PgExecutor<'_>, id: i32, disabled: bool) -> sqlx::Result<bool> {
    let done = timed(
        "users.set_disabled",
        sqlx::query(
            "update users set disabled_at = case when $2 then coalesce(disabled_at, now()) end
             where id = $1",
        )
        .bind(id)
        .bind(disabled)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_login(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<()> {
    timed(
        "users.record_login",
        sqlx::query("update users set last_login_at = now() where id = $1")
            .bind(id)
            .execute(db),
    )
    .await?;
    Ok(())
}

/// Turns the two-factor flag on (now) or off; when turned on, the time it was, `None` when off
/// or there is no such account.
pub async fn set_two_factor(
    db: impl PgExecutor<'_>,
    id: i32,
    enabled: bool,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let row: Option<(Option<DateTime<Utc>>,)> = timed(
        "users.set_two_factor",
        sqlx::query_as(
            "update users set two_factor_enabled_at = case when $2 then now() end
             where id = $1 returning two_factor_enabled_at",
        )
        .bind(id)
        .bind(enabled)
        .fetch_optional(db),
    )
    .await?;
    Ok(row.and_then(|(at,)| at))
}

#[cfg(test)]
mod tests {
    use super::phone_pattern;

    #[test]
    fn phone_searches_match_the_stored_form() {
        for search in [
            "0300-1234567",
            "+92 300 1234567",
            "3001234567",
            "923001234567",
        ] {
            assert_eq!(
                phone_pattern(search).as_deref(),
                Some("%3001234567%"),
                "{search}"
            );
        }
        for search in ["ali", "12345", "ali 0300", "300+123456"] {
            assert_eq!(phone_pattern(search), None, "{search}");
        }
    }
}
