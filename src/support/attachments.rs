//! Files sent on tickets (`ticket_attachments`): a screenshot of the error, the bank's slip as a
//! PDF. Each belongs to the message it came with, is checked by its bytes (PNG, JPEG, WebP or
//! PDF, at most 5 MiB; a file whose type the browser declared differently is refused) and is
//! only ever sent back to the ticket's customer (not a note's file) or an operator.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::db::timed;
use crate::error::{AppError, AppResult};

/// The largest file.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// The most files a ticket holds.
pub const MAX_FILES_PER_TICKET: i64 = 20;
/// The most files one message carries.
pub const MAX_FILES_PER_MESSAGE: usize = 3;
/// The longest file name kept (longer ones are cut, keeping the extension).
const MAX_NAME_CHARS: usize = 120;

/// A file as listed with its message (without its bytes).
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Attachment {
    pub id: i32,
    #[serde(skip)]
    pub message_id: i32,
    pub file_name: String,
    /// What the bytes are: `image/png`, `image/jpeg`, `image/webp` or `application/pdf`.
    pub content_type: String,
    /// In bytes.
    pub size: i32,
    pub created_at: DateTime<Utc>,
}

/// A file checked and ready to store.
#[derive(Clone, Debug)]
pub struct Upload {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// What a file is, by its first bytes: one of the types a ticket takes, or none.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        crate::web::forms::sniff_image(bytes)
    }
}

/// A file name as kept: the last part of a path, without control characters, at most 120
/// characters (the extension kept); `fallback` when nothing is left.
fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let base: String = base.chars().filter(|c| !c.is_control()).collect();
    let base = base.trim().trim_start_matches('.').trim();
    if base.is_empty() {
        return fallback.to_owned();
    }
    if base.chars().count() <= MAX_NAME_CHARS {
        return base.to_owned();
    }
    let extension = base
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 10)
        .unwrap_or_default();
    let keep = MAX_NAME_CHARS - extension.chars().count() - 1;
    let stem: String = base.chars().take(keep).collect();
    format!("{stem}.{extension}")
}

impl Upload {
    /// Checks a file sent as form field `field`: its size, and that its bytes are one of the
    /// types a ticket takes (and the type the browser declared, when it declared one of them).
    /// A 413 or 422 names the field.
    pub fn check(
        field: &str,
        file_name: &str,
        declared: Option<&str>,
        bytes: &[u8],
    ) -> AppResult<Self> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(AppError::invalid(field, "must be at most 5 MB"));
        }
        let Some(content_type) = sniff(bytes) else {
            return Err(AppError::invalid(
                field,
                "must be a PNG, JPEG or WebP image or a PDF; this file is none of them",
            ));
        };
        if let Some(declared) = declared
            && ["image/png", "image/jpeg", "image/webp", "application/pdf"].contains(&declared)
            && declared != content_type
        {
            return Err(AppError::invalid(
                field,
                format!("the file is not the {declared} it claims to be"),
            ));
        }
        let extension = match content_type {
            "application/pdf" => "pdf",
            "image/png" => "png",
            "image/jpeg" => "jpg",
            _ => "webp",
        };
        Ok(Self {
            file_name: clean_name(file_name, &format!("file.{extension}")),
            content_type,
            bytes: bytes.to_vec(),
        })
    }
}

/// Stores `files` with message `message_id` of ticket `ticket_id`, in the caller's transaction
/// (which holds the ticket's row): 409 when the ticket would hold more than 20 files.
pub(super) async fn insert(
    tx: &mut sqlx::PgConnection,
    ticket_id: i32,
    message_id: i32,
    files: &[Upload],
) -> AppResult<()> {
    if files.is_empty() {
        return Ok(());
    }
    let held: i64 = timed(
        "ticket_attachments.count",
        sqlx::query_scalar("select count(*) from ticket_attachments where ticket_id = $1")
            .bind(ticket_id)
            .fetch_one(&mut *tx),
    )
    .await?;
    if held + files.len() as i64 > MAX_FILES_PER_TICKET {
        return Err(AppError::conflict(
            "file",
            format!("a ticket holds at most {MAX_FILES_PER_TICKET} files; this one has {held}"),
        ));
    }
    for file in files {
        timed(
            "ticket_attachments.insert",
            sqlx::query(
                "insert into ticket_attachments
                     (ticket_id, message_id, file_name, content_type, size, bytes)
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ticket_id)
            .bind(message_id)
            .bind(&file.file_name)
            .bind(file.content_type)
            .bind(file.bytes.len() as i32)
            .bind(&file.bytes)
            .execute(&mut *tx),
        )
        .await?;
    }
    Ok(())
}

/// A ticket's files, oldest first (those of notes too: the caller keeps the messages it shows).
pub(super) async fn list(db: impl PgExecutor<'_>, ticket_id: i32) -> sqlx::Result<Vec<Attachment>> {
    timed(
        "ticket_attachments.list",
        sqlx::query_as(
            "select id, message_id, file_name, content_type, size, created_at
             from ticket_attachments where ticket_id = $1 order by id",
        )
        .bind(ticket_id)
        .fetch_all(db),
    )
    .await
}

/// A stored file's name, type and bytes.
#[derive(Debug, FromRow)]
pub struct StoredFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// File `id` of ticket `ticket_id`; `owner`: only if it is that customer's ticket and the file
/// is not on an internal note (else 404, as for a ticket that does not exist).
pub async fn find(
    db: impl PgExecutor<'_>,
    ticket_id: i32,
    id: i32,
    owner: Option<i32>,
) -> AppResult<StoredFile> {
    timed(
        "ticket_attachments.find",
        sqlx::query_as(
            "select a.file_name, a.content_type, a.bytes
             from ticket_attachments a
             join tickets t on t.id = a.ticket_id
             join ticket_messages m on m.id = a.message_id
             where a.ticket_id = $1 and a.id = $2
               and ($3::int is null or (t.user_id = $3 and not m.internal))",
        )
        .bind(ticket_id)
        .bind(id)
        .bind(owner)
        .fetch_optional(db),
    )
    .await?
    .ok_or(AppError::NotFound("file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_what_their_bytes_say() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"<html><script>"), None);
        let pdf = Upload::check(
            "file",
            "C:\\Users\\a\\slip.pdf",
            Some("application/pdf"),
            b"%PDF-1.4",
        )
        .unwrap();
        assert_eq!(
            (pdf.file_name.as_str(), pdf.content_type),
            ("slip.pdf", "application/pdf")
        );
        let untyped =
            Upload::check("file", "", Some("application/octet-stream"), b"%PDF-1.4").unwrap();
        assert_eq!(untyped.file_name, "file.pdf");
        assert!(Upload::check("file", "a.png", Some("image/png"), b"%PDF-1.4").is_err());
        assert!(Upload::check("file", "a.html", Some("text/html"), b"<html>").is_err());
        assert!(Upload::check("file", "big.pdf", None, &vec![b'%'; MAX_FILE_BYTES + 1]).is_err());
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let name = format!("{}.png", "x".repeat(300));
        let kept = clean_name(&name, "file.png");
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".png"));
        assert_eq!(clean_name("../../.htaccess", "f"), "htaccess");
        assert_eq!(clean_name("a\u{0}b.pdf", "f"), "ab.pdf");
    }
}
