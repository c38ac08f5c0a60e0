//! E-mail as files: what `Mailer::files` writes, and that a retried send does not duplicate it.

use std::path::{Path, PathBuf};

use nextgenrdp::mail::{self, Email, Mailer};

const LINK: &str =
    "https://shop.example.pk/verify-email?token=Zm9vYmFyYmF6cXV4LXRva2VuLWZvci10ZXN0cw_x";

/// The `.eml` files in `dir`, sorted.
pub fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    files.sort();
    files
}

/// The first link to the shop in a raw message's text.
fn first_link(raw: &str) -> Option<String> {
    raw.split_whitespace()
        .find(|word| word.starts_with("https://shop.example.pk/"))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_sent_mail_is_one_eml_file_with_both_parts_and_the_link_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail"); // created by the first send
    let mailer = Mailer::files(mail_dir.clone(), "NextGenRDP <no-reply@nextgenrdp.pk>");
    let email = mail::verification_email("ali.khan@example.pk", "Ali Khan", LINK);

    mailer.send("job-7", &email, &[]).await.unwrap();

    let files = eml_files(&mail_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    let (stamp, rest) = name.split_once('-').unwrap();
    assert_eq!(rest, "job-7.eml");
    assert!(
        stamp.len() == 16 && stamp.as_bytes()[8] == b'T' && stamp.ends_with('Z'),
        "{stamp}"
    );
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: ali.khan@example.pk\r\n"), "{raw}");
    assert!(
        raw.contains("From: NextGenRDP <no-reply@nextgenrdp.pk>\r\n"),
        "{raw}"
    );
    assert!(
        raw.contains("Subject: Confirm your e-mail for NextGenRDP\r\n"),
        "{raw}"
    );
    assert!(raw.contains("Message-ID: <job-7."), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(
        raw.contains("Content-Type: text/html; charset=utf-8"),
        "{raw}"
    );
    assert!(raw.contains("Hello Ali Khan,"), "{raw}");
    assert!(raw.contains("24 hours"));
    assert_eq!(first_link(&raw).as_deref(), Some(LINK), "{raw}");
    assert!(raw.contains(&format!("href=\"{LINK}\"")), "{raw}");
    // Nobody else on the machine reads links with tokens.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn sending_the_same_message_id_twice_leaves_one_file_and_others_add_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::files(dir.path().to_path_buf(), "no-reply@nextgenrdp.pk");
    let email = mail::password_reset_email("sana@example.pk", "Sana", LINK);

    mailer.send("job-1", &email, &[]).await.unwrap();
    let first = eml_files(dir.path());
    mailer.send("job-1", &email, &[]).await.unwrap();
    assert_eq!(eml_files(dir.path()), first);
    // An id that merely ends like another is another message.
    mailer.send("1", &email, &[]).await.unwrap();
    mailer.send("job-11", &email, &[]).await.unwrap();
    assert_eq!(eml_files(dir.path()).len(), 3);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[tokio::test]
async fn the_message_id_is_the_same_on_a_retry_and_differs_between_messages() {
    let message_id = |dir: &Path| {
        let raw = std::fs::read_to_string(&eml_files(dir)[0]).unwrap();
        raw.lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
            .unwrap()
            .to_owned()
    };
    let email = mail::password_changed_email("sana@example.pk", "Sana");
    let (one, two, three) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for (dir, id) in [(&one, "job-5"), (&two, "job-5"), (&three, "job-6")] {
        Mailer::files(dir.path().to_path_buf(), "no-reply@nextgenrdp.pk")
            .send(id, &email, &[])
            .await
            .unwrap();
    }
    assert_eq!(message_id(one.path()), message_id(two.path()));
    assert_ne!(message_id(one.path()), message_id(three.path()));
    assert!(message_id(one.path()).ends_with("@nextgenrdp.pk>"));
}

#[tokio::test]
async fn an_invalid_recipient_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::files(dir.path().to_path_buf(), "no-reply@nextgenrdp.pk");
    let email = Email {
        to: "not an address".into(),
        subject: "Hi".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
        attachments: Vec::new(),
    };
    let err = mailer.send("job-9", &email, &[]).await.unwrap_err();
    assert!(err.to_string().contains("recipient"), "{err:#}");
    assert!(eml_files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_non_ascii_name_and_subject_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::files(dir.path().to_path_buf(), "no-reply@nextgenrdp.pk");
    let email = mail::verification_email("zoe@example.pk", "Zoë علی", LINK);
    mailer.send("job-3", &email, &[]).await.unwrap();
    let raw = std::fs::read_to_string(&eml_files(dir.path())[0]).unwrap();
    assert!(raw.contains("Hello Zoë علی,"), "{raw}");
    assert_eq!(first_link(&raw).as_deref(), Some(LINK));
}

#[tokio::test]
async fn replies_go_to_the_shops_support_address_and_no_mail_says_they_are_unread() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::files(
        dir.path().to_path_buf(),
        "NextGenRDP <no-reply@nextgenrdp.pk>",
    )
    .replying_to("NextGenRDP Support <help@nextgenrdp.pk>");
    let email = mail::notice_email(
        "ali.khan@example.pk",
        "Ali Khan",
        "Your server is ready",
        &["Hello".into()],
        None,
    );
    mailer.send("job-9", &email, &[]).await.unwrap();
    let raw = std::fs::read_to_string(&eml_files(dir.path())[0]).unwrap();
    assert!(
        raw.contains("Reply-To: \"NextGenRDP Support\" <help@nextgenrdp.pk>\r\n"),
        "{raw}"
    );
    assert!(!raw.contains("not read"), "{raw}");
    assert!(raw.contains("Reply to this e-mail"), "{raw}");

    let plain = Mailer::files(dir.path().join("plain"), "no-reply@nextgenrdp.pk");
    plain.send("job-10", &email, &[]).await.unwrap();
    let raw = std::fs::read_to_string(&eml_files(&dir.path().join("plain"))[0]).unwrap();
    assert!(!raw.contains("Reply-To:"), "none configured: {raw}");
}
