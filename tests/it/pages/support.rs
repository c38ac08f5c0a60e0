//! Support tickets through the pages, as two browsers would: the customer opens a ticket and
//! reads the answer, the operator works the queue, answers, leaves an internal note and closes
//! it — with cookies and CSRF tokens, the customer never seeing the note.

use axum::http::StatusCode;
use sqlx::PgPool;

use super::Visitor;
use crate::helpers::TestApp;

const OPERATOR: &str = "owner@nextgenrdp.pk";

#[sqlx::test]
async fn a_ticket_conversation_through_the_pages(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    app.admin(OPERATOR).await;
    app.verified_customer("ayesha@example.pk").await;
    let mut customer = Visitor::from(&app, "198.51.100.7");
    customer
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let mut operator = Visitor::from(&app, "198.51.100.90");
    operator.log_in(OPERATOR, "operator-passphrase").await;

    // A form missing its department is answered beside the field; nothing is opened.
    let refused = customer
        .submit(
            "/account/tickets",
            "/account/tickets",
            &[
                ("subject", "RDP will not connect"),
                ("department", ""),
                ("message", "Port 3389 times out."),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains(r#"id="department-error""#));
    let opened = customer
        .submit(
            "/account/tickets",
            "/account/tickets",
            &[
                ("subject", "RDP will not connect"),
                ("department", "technical"),
                ("message", "Port 3389 times out since this morning."),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text());
    let page = opened.header("location").to_owned();
    assert!(page.starts_with("/account/tickets/"), "{page}");
    let id = page
        .trim_start_matches("/account/tickets/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // The dashboard counts it, with its age; the queue shows it.
    let dashboard = operator.get("/admin").await.text();
    let card = &dashboard[dashboard
        .find(r#"id="dash-tickets""#)
        .expect("the tickets card")..];
    assert!(card.contains(r#"<p class="dash-figure">1</p>"#), "{card}");
    assert!(card.contains("oldest waiting 0 minutes"), "{card}");

    // The operator's queue shows it; they note, then answer.
    let queue = operator.get("/admin/tickets").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.text().contains("RDP will not connect"));
    let ticket_page = format!("/admin/tickets/{id}");
    let action = format!("/admin/tickets/{id}/messages");
    let noted = operator
        .submit(
            &ticket_page,
            &action,
            &[
                ("message", "Firewall rule 7 looks wrong."),
                ("internal", "yes"),
            ],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER);
    let answered = operator
        .submit(
            &ticket_page,
            &action,
            &[("message", "We reset the firewall; please try again.")],
        )
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER);
    let empty = operator
        .submit(&ticket_page, &action, &[("message", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains(r#"id="message-error""#));
    let seen = operator.get(&ticket_page).await.text();
    assert!(seen.contains("Internal note") && seen.contains("Firewall rule 7"));

    // The customer reads the answer, not the note, and replies.
    let mine = customer.get(&format!("/account/tickets/{id}")).await.text();
    assert!(mine.contains("We reset the firewall"), "{mine}");
    assert!(!mine.contains("Firewall rule 7"));
    assert!(mine.contains("Awaiting your reply"));
    // A file that is not what it says is refused beside the file field, the message kept.
    let refused = customer
        .submit_multipart(
            &format!("/account/tickets/{id}"),
            &format!("/account/tickets/{id}/reply"),
            &[("message", "Here is the error.")],
            &[("file", "error.png", "image/png", b"<svg onload=alert(1)>")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert!(refused.text().contains(r#"id="file-error""#));
    assert!(refused.text().contains("Here is the error."));
    let replied = customer
        .submit_multipart(
            &format!("/account/tickets/{id}"),
            &format!("/account/tickets/{id}/reply"),
            &[("message", "Works now, thank you! Screenshot attached.")],
            &[("file", "works.png", "image/png", crate::helpers::TINY_PNG)],
        )
        .await;
    assert_eq!(replied.status, StatusCode::SEE_OTHER, "{}", replied.text());
    let mine = customer.get(&format!("/account/tickets/{id}")).await.text();
    let link = mine
        .split(r#"href=""#)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.contains("/files/"))
        .expect("the file is linked")
        .to_owned();
    assert!(
        link.starts_with(&format!("/account/tickets/{id}/files/")),
        "{link}"
    );
    let file = customer.get(&link).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, crate::helpers::TINY_PNG);
    let operator_link = link.replace("/account/", "/admin/");
    assert!(
        operator
            .get(&ticket_page)
            .await
            .text()
            .contains(&operator_link)
    );
    assert_eq!(operator.get(&operator_link).await.status, StatusCode::OK);

    // The operator keeps a canned reply and starts an answer from it, filled in.
    let added = operator
        .submit(
            "/admin/canned-replies",
            "/admin/canned-replies",
            &[
                ("title", "Glad it works"),
                ("body", "Glad it works, {name}! Closing {ticket}."),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let twin = operator
        .submit(
            "/admin/canned-replies",
            "/admin/canned-replies",
            &[("title", "glad it works"), ("body", "x")],
        )
        .await;
    assert_eq!(twin.status, StatusCode::CONFLICT);
    assert!(
        twin.text().contains(r#"id="title-error""#),
        "{}",
        twin.text()
    );
    let canned_id: i32 = sqlx::query_scalar("select id from canned_replies")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let started = operator
        .get(&format!("{ticket_page}?canned={canned_id}"))
        .await
        .text();
    assert!(
        started.contains(&format!("Glad it works, Ayesha Khan! Closing #{id}.")),
        "{started}"
    );

    // The operator closes it as urgent-and-done, assigned to themselves.
    let updated = operator
        .submit(
            &ticket_page,
            &ticket_page,
            &[("status", "closed"), ("priority", "high"), ("assign", "me")],
        )
        .await;
    assert_eq!(updated.status, StatusCode::SEE_OTHER, "{}", updated.text());
    let closed = customer.get(&format!("/account/tickets/{id}")).await.text();
    assert!(closed.contains("Write again to reopen it"));

    // A stranger and a customer on the operator's pages are turned away.
    app.verified_customer("bilal@example.pk").await;
    let mut stranger = Visitor::from(&app, "198.51.100.8");
    stranger
        .log_in("bilal@example.pk", "correct-horse-battery")
        .await;
    assert_eq!(
        stranger.get(&format!("/account/tickets/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        customer.get("/admin/tickets").await.status,
        StatusCode::FORBIDDEN
    );
}
