//! The account mails, rendered from `templates/email/`: a `.txt` template (never HTML-escaped)
//! and an `.html` one (escaped, inline-styled since mail clients load no style sheets) each.

use askama::Template;

use super::Email;

#[derive(Template)]
#[template(path = "email/verify_email.txt", escape = "none")]
struct VerifyEmailText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyEmailHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt", escape = "none")]
struct PasswordResetText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_changed.txt", escape = "none")]
struct PasswordChangedText<'a> {
    name: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_changed.html")]
struct PasswordChangedHtml<'a> {
    name: &'a str,
}

/// Renders a template made only of string fields, which cannot fail.
fn render(template: &impl Template) -> String {
    template
        .render()
        .expect("an e-mail template with string fields always renders")
}

/// The mail that confirms a new account's address: `link` (verbatim in the text part) confirms
/// it and expires in 24 hours. An empty `name` greets with a plain "Hello,".
pub fn verification_email(to: &str, name: &str, link: &str) -> Email {
    let name = name.trim();
    Email {
        attachments: Vec::new(),
        to: to.to_owned(),
        subject: "Confirm your e-mail for NextGenRDP".to_owned(),
        text: render(&VerifyEmailText { name, link }),
        html: render(&VerifyEmailHtml { name, link }),
    }
}

/// The mail that lets a customer choose a new password: `link` (verbatim in the text part)
/// expires in 1 hour; a customer who did not ask is told to ignore it.
pub fn password_reset_email(to: &str, name: &str, link: &str) -> Email {
    let name = name.trim();
    Email {
        attachments: Vec::new(),
        to: to.to_owned(),
        subject: "Reset your NextGenRDP password".to_owned(),
        text: render(&PasswordResetText { name, link }),
        html: render(&PasswordResetHtml { name, link }),
    }
}

/// The notice that an account's password was changed (and what to do if it was not them).
pub fn password_changed_email(to: &str, name: &str) -> Email {
    let name = name.trim();
    Email {
        attachments: Vec::new(),
        to: to.to_owned(),
        subject: "Your NextGenRDP password was changed".to_owned(),
        text: render(&PasswordChangedText { name }),
        html: render(&PasswordChangedHtml { name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://shop.example.pk/verify-email?token=abc_DEF-123&x=<1>";

    #[test]
    fn the_text_part_holds_the_link_verbatim_and_the_html_part_escapes_it() {
        let mail = verification_email("ali@example.pk", "Ali <Khan>", LINK);
        assert_eq!(mail.subject, "Confirm your e-mail for NextGenRDP");
        assert!(mail.text.contains(LINK), "{}", mail.text);
        assert!(mail.text.contains("Hello Ali <Khan>,"), "{}", mail.text);
        assert!(mail.text.contains("24 hours"));
        assert!(!mail.text.contains("&#") && !mail.text.contains("&amp;"));
        assert!(mail.html.contains("NextGenRDP"));
        assert!(
            mail.html.contains("Hello Ali &#60;Khan&#62;,")
                || mail.html.contains("Hello Ali &lt;Khan&gt;,"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("<Khan>") && !mail.html.contains("x=<1>"));
        assert!(
            mail.html.contains("token=abc_DEF-123&#38;x=")
                || mail.html.contains("token=abc_DEF-123&amp;x="),
            "{}",
            mail.html
        );
    }

    #[test]
    fn reset_and_changed_mails_say_what_they_must() {
        let reset = password_reset_email("ali@example.pk", "", LINK);
        assert!(reset.text.starts_with("Hello,\n"), "{}", reset.text);
        assert!(reset.text.contains(LINK));
        assert!(reset.text.contains("1 hour") && reset.text.contains("did not ask"));
        assert!(reset.html.contains("1 hour") && reset.html.contains("did not ask"));

        let changed = password_changed_email("ali@example.pk", "Ali");
        assert!(changed.subject.contains("password was changed"));
        assert!(changed.text.starts_with("Hello Ali,\n"));
        assert!(changed.html.contains("did not change it"));
    }
}

#[derive(Template)]
#[template(path = "email/notice.txt", escape = "none")]
struct NoticeText<'a> {
    name: &'a str,
    paragraphs: &'a [String],
    link: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/notice.html")]
struct NoticeHtml<'a> {
    name: &'a str,
    subject: &'a str,
    paragraphs: &'a [String],
    action: &'a str,
    link: Option<&'a str>,
}

/// A short notice about an order, a payment or a server: a few paragraphs and, optionally, a
/// button (`action` → `link`, the link also verbatim in the text part).
pub fn notice_email(
    to: &str,
    name: &str,
    subject: &str,
    paragraphs: &[String],
    action: Option<(&str, &str)>,
) -> Email {
    let name = name.trim();
    let (action, link) = match action {
        Some((label, link)) => (label, Some(link)),
        None => ("", None),
    };
    Email {
        attachments: Vec::new(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: render(&NoticeText {
            name,
            paragraphs,
            link,
        }),
        html: render(&NoticeHtml {
            name,
            subject,
            paragraphs,
            action,
            link,
        }),
    }
}
