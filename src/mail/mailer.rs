//! How mail leaves: over SMTP, or as `.eml` files in a directory when no SMTP server is
//! configured (development, tests), each file a complete message any mail client opens.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::{Email, File};
use crate::config::{CommonConfig, MailConfig};
use crate::jobs::Permanent;

/// Sends [`Email`]s from one sender, with the address replies should go to.
pub struct Mailer {
    from: Mailbox,
    /// Where a customer's reply goes (`Reply-To`), when the sender's address is not read.
    reply_to: Option<Mailbox>,
    way: Way,
}

enum Way {
    /// Through an SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// As `<dir>/<UTC time>-<message id>.eml` files; the directory is created when first needed.
    Files(PathBuf),
}

impl fmt::Debug for Mailer {
    /// Never shows the SMTP URL, which holds the server's password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mailer");
        out.field("from", &self.from.to_string())
            .field("reply_to", &self.reply_to.as_ref().map(Mailbox::to_string));
        match &self.way {
            Way::Smtp(_) => out.field("way", &"smtp").finish_non_exhaustive(),
            Way::Files(dir) => out.field("dir", dir).finish(),
        }
    }
}

impl Mailer {
    /// SMTP when `NEXTGENRDP_SMTP_URL` is set, otherwise files in the mail directory; replies
    /// to `NEXTGENRDP_MAIL_REPLY_TO`, else to `support_email` (the shop's contact address).
    pub fn from_config(
        config: &MailConfig,
        common: &CommonConfig,
        support_email: Option<&str>,
    ) -> anyhow::Result<Mailer> {
        let from: Mailbox = config.mail_from.parse().with_context(|| {
            format!(
                "NEXTGENRDP_MAIL_FROM {:?} is not an address",
                config.mail_from
            )
        })?;
        let reply_to = match config.mail_reply_to.as_deref().or(support_email) {
            Some(address) => Some(address.parse().with_context(|| {
                format!("NEXTGENRDP_MAIL_REPLY_TO {address:?} is not an address")
            })?),
            None => None,
        };
        let way = match &config.smtp_url {
            // lettre's error does not repeat the URL, so the password cannot leak here.
            Some(url) => Way::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("NEXTGENRDP_SMTP_URL is not a valid SMTP URL")?
                    .build(),
            ),
            None => Way::Files(config.mail_dir(common)),
        };
        Ok(Mailer {
            from,
            reply_to,
            way,
        })
    }

    /// Files in `dir`, sent by `from`.
    ///
    /// # Panics
    /// When `from` is not an address: meant for tests and literal senders.
    pub fn files(dir: PathBuf, from: &str) -> Mailer {
        let from = from
            .parse()
            .unwrap_or_else(|err| panic!("{from:?} is not an address: {err}"));
        Mailer {
            from,
            reply_to: None,
            way: Way::Files(dir),
        }
    }

    /// The same, with replies going to `reply_to`.
    ///
    /// # Panics
    /// When `reply_to` is not an address.
    pub fn replying_to(mut self, reply_to: &str) -> Mailer {
        self.reply_to = Some(
            reply_to
                .parse()
                .unwrap_or_else(|err| panic!("{reply_to:?} is not an address: {err}")),
        );
        self
    }

    /// A human description for the start-up log: where mail goes.
    pub fn describe(&self) -> String {
        match &self.way {
            Way::Smtp(_) => "SMTP".to_owned(),
            Way::Files(dir) => format!("files in {}", dir.display()),
        }
    }

    /// Sends `email`. `message_id` names this send (e.g. `job-42`): the `Message-ID` header
    /// derives from it, so a retried send is recognisable as the same message, and with files a
    /// message already written under that id is not written again. An invalid recipient is a
    /// [`Permanent`] error (retrying cannot help); anything else may succeed later.
    pub async fn send(
        &self,
        message_id: &str,
        email: &Email,
        files: &[File],
    ) -> anyhow::Result<()> {
        let id = sanitize_id(message_id);
        anyhow::ensure!(!id.is_empty(), "an e-mail needs a message id");
        let message = build_message(&self.from, self.reply_to.as_ref(), &id, email, files)?;
        match &self.way {
            Way::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .context("the SMTP server did not take the e-mail")?;
                Ok(())
            }
            Way::Files(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || write_eml(&dir, &id, &message.formatted()))
                    .await
                    .context("the mail-writing task panicked")?
            }
        }
    }
}

/// Keeps the characters safe in a file name and a `Message-ID`.
fn sanitize_id(message_id: &str) -> String {
    message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('.')
        .to_owned()
}

/// The message: From, Reply-To, To, Subject, a stable Message-ID, and text + HTML as
/// alternatives.
fn build_message(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    id: &str,
    email: &Email,
    files: &[File],
) -> anyhow::Result<Message> {
    let to: Mailbox =
        email.to.trim().parse().map_err(|err| {
            Permanent::error(format!("the recipient is not a valid address: {err}"))
        })?;
    // The id plus a digest of the content: the same job retried gives the same Message-ID, and
    // a job id reused by a rebuilt database does not collide with an old message.
    let mut digest = Sha256::new();
    for part in [id, &email.to, &email.subject, &email.text, &email.html] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let digest = hex::encode(&digest.finalize()[..8]);
    let domain = from.email.domain().to_owned();
    let content = MultiPart::alternative_plain_html(body(&email.text), body(&email.html));
    // Attachments make it `multipart/mixed`: the text and HTML, then each file.
    let content = if files.is_empty() {
        content
    } else {
        files.iter().try_fold(
            MultiPart::mixed().multipart(content),
            |mixed, file| -> anyhow::Result<MultiPart> {
                let kind = ContentType::parse(&file.content_type)
                    .with_context(|| format!("{} is no content type", file.content_type))?;
                Ok(mixed.singlepart(
                    lettre::message::Attachment::new(file.name.clone())
                        .body(file.bytes.clone(), kind),
                ))
            },
        )?
    };
    let mut builder = Message::builder().from(from.clone());
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    builder
        .to(to)
        .subject(email.subject.as_str())
        .message_id(Some(format!("<{id}.{digest}@{domain}>")))
        .multipart(content)
        .context("building the e-mail")
}

/// The body of one part, readable as is whenever possible: 7bit (or 8bit for non-ASCII text)
/// when every line fits SMTP's 998 octets, so links stay intact in the raw message; otherwise
/// lettre's choice of quoted-printable or base64.
fn body(content: &str) -> Body {
    let crlf = content.replace('\r', "").replace('\n', "\r\n");
    let fits = !crlf.contains('\0') && crlf.split("\r\n").all(|line| line.len() <= 998);
    if fits {
        let encoding = if crlf.is_ascii() {
            ContentTransferEncoding::SevenBit
        } else {
            ContentTransferEncoding::EightBit
        };
        Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
    } else {
        Body::new(content.to_owned())
    }
}

/// Writes `<dir>/<UTC time>-<id>.eml` atomically (a temporary file renamed into place), unless a
/// file for `id` is already there: the message was written by an earlier try.
fn write_eml(dir: &Path, id: &str, message: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let suffix = format!("-{id}.eml");
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        // `<stamp>-<id>.eml`: the stamp has no '-', so what follows the first one is the id.
        let name = entry.file_name();
        let written_id = name
            .to_str()
            .and_then(|name| name.strip_suffix(".eml"))
            .and_then(|name| name.split_once('-'))
            .map(|(_, written_id)| written_id);
        if written_id == Some(id) {
            tracing::debug!(
                message_id = id,
                "the e-mail file already exists; not writing it again"
            );
            return Ok(());
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("{stamp}{suffix}"));
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).context("the operating system gave no random bytes")?;
    let temp = dir.join(format!(".{id}.{}.tmp", hex::encode(random)));
    let written = (|| -> std::io::Result<()> {
        // The message may hold links with tokens: readable by the owner only.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(message)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(err).with_context(|| format!("writing {}", path.display()));
    }
    tracing::info!(message_id = id, path = %path.display(), "e-mail written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_safe_for_file_names() {
        assert_eq!(sanitize_id("job-42"), "job-42");
        assert_eq!(sanitize_id("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize_id("a b\r\nc"), "a_b__c");
    }

    #[test]
    fn long_lines_fall_back_to_a_transfer_encoding() {
        assert_eq!(
            body("short\nlines").encoding(),
            ContentTransferEncoding::SevenBit
        );
        assert_eq!(
            body("Salaam, Zoë").encoding(),
            ContentTransferEncoding::EightBit
        );
        let long = "x".repeat(2000);
        assert_ne!(body(&long).encoding(), ContentTransferEncoding::SevenBit);
    }
}
