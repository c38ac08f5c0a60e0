//! Support tickets through the API: a customer's conversation with the shop, the operator's
//! queue, replies, internal notes the customer never sees, assignment and status, the e-mails
//! each side gets, and bad input refused by name with nothing written.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::payments::customer_with_order;
use crate::helpers::{TestApp, TestResponse};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> TestResponse {
    app.send_json_as(Some(token), Method::POST, path, &body)
        .await
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test]
async fn a_customer_and_the_shop_talk_on_a_ticket(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin_id = admin["user"]["id"].as_i64().unwrap();
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let (login, order) = customer_with_order(&app, "ayesha@example.pk").await;
    let own = login["access_token"].as_str().unwrap().to_owned();
    let (other_login, other_order) = customer_with_order(&app, "bilal@example.pk").await;
    let other = other_login["access_token"].as_str().unwrap().to_owned();

    // Bad input: each field named, nothing written.
    for (body, field) in [
        (
            json!({ "subject": "  ", "department": "billing", "message": "hi" }),
            "subject",
        ),
        (
            json!({ "subject": "Help", "department": "billing", "message": "x".repeat(10_001) }),
            "message",
        ),
        (
            json!({ "subject": "Help", "department": "billing", "message": "hi", "order_id": other_order }),
            "order_id",
        ),
        (
            json!({ "subject": "Help", "department": "billing", "message": "hi", "service_id": 999 }),
            "service_id",
        ),
    ] {
        let refused = post(&app, &own, "/api/v1/tickets", body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            refused.json()["errors"][field].is_string(),
            "{body}: {}",
            refused.text()
        );
    }
    let unknown = post(
        &app,
        &own,
        "/api/v1/tickets",
        json!({ "subject": "Help", "department": "legal", "message": "hi" }),
    )
    .await;
    assert!(unknown.status.is_client_error());
    assert_eq!(count(&app.db, "select count(*) from tickets").await, 0);

    // Opened: the operators hear of it.
    let opened = post(
        &app,
        &own,
        "/api/v1/tickets",
        json!({
            "subject": "Transfer sent, order still waiting",
            "department": "billing",
            "message": "I sent Rs 4,500 from my Meezan account an hour ago.",
            "order_id": order,
        }),
    )
    .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let ticket = opened.json()["ticket"].clone();
    let id = ticket["id"].as_i64().unwrap();
    assert_eq!(ticket["status"], "awaiting_us");
    assert_eq!(ticket["priority"], "normal");
    assert_eq!(ticket["order_id"], order);
    let mail = app.mails_to("owner@nextgenrdp.pk").await;
    assert!(
        mail.iter()
            .any(|m| m.contains(&format!("Subject: New ticket #{id}")) && m.contains("Meezan")),
        "{mail:?}"
    );

    // The queue shows it; its filters are checked.
    let queue = app.get_as(&admin, "/api/v1/admin/tickets").await.json();
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["id"], id);
    let billing = app
        .get_as(&admin, "/api/v1/admin/tickets?department=sales")
        .await
        .json();
    assert_eq!(billing["total"], 0);
    let bad = app
        .get_as(&admin, "/api/v1/admin/tickets?status=lost")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["errors"]["status"].is_string());

    // An internal note: the customer neither sees it nor is mailed.
    let before = app.mails_to("ayesha@example.pk").await.len();
    let noted = post(
        &app,
        &admin,
        &format!("/api/v1/admin/tickets/{id}/messages"),
        json!({ "message": "Checked Meezan: nothing yet.", "internal": true }),
    )
    .await;
    assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.text());
    assert_eq!(
        noted.json()["ticket"]["status"],
        "awaiting_us",
        "a note moves nothing"
    );
    let seen = app
        .get_as(&own, &format!("/api/v1/tickets/{id}"))
        .await
        .json();
    assert_eq!(seen["messages"].as_array().unwrap().len(), 1);
    assert!(!seen.to_string().contains("nothing yet"));
    assert_eq!(app.mails_to("ayesha@example.pk").await.len(), before);

    // The shop answers: mailed to the customer, their turn.
    let answered = post(
        &app,
        &admin,
        &format!("/api/v1/admin/tickets/{id}/messages"),
        json!({ "message": "Transfers from Meezan take up to two hours; we approve it on arrival." }),
    )
    .await;
    assert_eq!(answered.json()["ticket"]["status"], "awaiting_customer");
    let mail = app.mails_to("ayesha@example.pk").await;
    assert!(
        mail.iter()
            .any(|m| m.contains(&format!("[ticket #{id}]")) && m.contains("two hours"))
    );

    // The customer writes back (the shop's turn), closes, and a new message reopens it.
    let back = post(
        &app,
        &own,
        &format!("/api/v1/tickets/{id}/messages"),
        json!({ "message": "Thanks, it arrived." }),
    )
    .await;
    assert_eq!(back.status, StatusCode::CREATED);
    assert_eq!(back.json()["ticket"]["status"], "awaiting_us");
    let mail = app.mails_to("owner@nextgenrdp.pk").await;
    assert!(
        mail.iter()
            .any(|m| m.contains(&format!("Subject: Reply on ticket #{id}")))
    );
    let closed = post(
        &app,
        &own,
        &format!("/api/v1/tickets/{id}/close"),
        json!({}),
    )
    .await;
    assert_eq!(closed.json()["ticket"]["status"], "closed");
    assert!(closed.json()["ticket"]["closed_at"].is_string());
    let reopened = post(
        &app,
        &own,
        &format!("/api/v1/tickets/{id}/messages"),
        json!({ "message": "One more question." }),
    )
    .await;
    assert_eq!(reopened.json()["ticket"]["status"], "awaiting_us");
    assert!(reopened.json()["ticket"]["closed_at"].is_null());
    let empty = post(
        &app,
        &own,
        &format!("/api/v1/tickets/{id}/messages"),
        json!({ "message": "   " }),
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The operator assigns it, raises it, closes it; a customer cannot be the assignee.
    let path = format!("/api/v1/admin/tickets/{id}");
    let customer_id = login["user"]["id"].as_i64().unwrap();
    let wrong = app
        .send_json_as(
            Some(&admin),
            Method::PATCH,
            &path,
            &json!({ "assignee_id": customer_id }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.json()["errors"]["assignee_id"].is_string());
    let changed = app
        .send_json_as(
            Some(&admin),
            Method::PATCH,
            &path,
            &json!({ "assignee_id": admin_id, "priority": "urgent", "status": "closed" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["ticket"]["assignee_id"], admin_id);
    assert_eq!(changed.json()["ticket"]["priority"], "urgent");
    assert_eq!(changed.json()["ticket"]["status"], "closed");
    let operator_view = app.get_as(&admin, &path).await.json();
    assert_eq!(
        operator_view["messages"].as_array().unwrap().len(),
        5,
        "the note too"
    );
    let closed_queue = app
        .get_as(&admin, "/api/v1/admin/tickets?status=closed")
        .await
        .json();
    assert_eq!(closed_queue["total"], 1);
    assert_eq!(
        app.get_as(&admin, "/api/v1/admin/tickets").await.json()["total"],
        0,
        "open tickets only by default"
    );
    assert_eq!(
        count(
            &app.db,
            "select count(*) from audit_log where action in ('ticket.note', 'ticket.reply', 'ticket.update')"
        )
        .await,
        3
    );

    // Someone else's ticket does not exist for another customer; operators' routes are closed.
    assert_eq!(
        app.get_as(&other, &format!("/api/v1/tickets/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let intruding = post(
        &app,
        &other,
        &format!("/api/v1/tickets/{id}/messages"),
        json!({ "message": "hello" }),
    )
    .await;
    assert_eq!(intruding.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(&other, "/api/v1/tickets").await.json()["total"],
        0
    );
    assert_eq!(
        app.get_as(&own, "/api/v1/admin/tickets").await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test]
async fn an_answered_ticket_left_waiting_is_reminded_then_closed(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let login = app.verified_customer("ayesha@example.pk").await;
    let own = login["access_token"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for subject in ["Left waiting", "Answered back"] {
        let opened = post(
            &app,
            &own,
            "/api/v1/tickets",
            json!({ "subject": subject, "department": "sales", "message": "Do you sell in Lahore?" }),
        )
        .await;
        let id = opened.json()["ticket"]["id"].as_i64().unwrap();
        post(
            &app,
            &admin,
            &format!("/api/v1/admin/tickets/{id}/messages"),
            json!({ "message": "Yes: Lahore and Karachi." }),
        )
        .await;
        ids.push(id);
    }
    let age = |days: i32| {
        let db = app.db.clone();
        async move {
            sqlx::query("update tickets set last_message_at = now() - make_interval(days => $1)")
                .bind(days)
                .execute(&db)
                .await
                .unwrap();
        }
    };
    // Six days on: the worker's hourly job reminds both customers' tickets.
    age(6).await;
    let worker = nextgenrdp::worker::Worker::new(
        app.db.clone(),
        std::sync::Arc::new(nextgenrdp::mail::Mailer::files(
            app.mail_dir.path().to_path_buf(),
            "NextGenRDP <no-reply@shop.test>",
        )),
        crate::helpers::test_provisioning(),
    )
    .with_ticket_auto_close_days(7);
    worker.enqueue_due_schedules().await.unwrap();
    worker.run_pending().await.unwrap();
    assert_eq!(
        count(
            &app.db,
            "select count(*) from tickets where reminded_at is not null"
        )
        .await,
        2
    );
    let mail = app.mails_to("ayesha@example.pk").await;
    assert_eq!(
        mail.iter()
            .filter(|m| m.contains("Subject: Waiting for you"))
            .count(),
        2
    );
    // The customer answers one: its wait starts over.
    post(
        &app,
        &own,
        &format!("/api/v1/tickets/{}/messages", ids[1]),
        json!({ "message": "Great, ordering now." }),
    )
    .await;
    // Nothing more happens the same day.
    let again = nextgenrdp::support::tickets::close_stale(&app.db, "http://shop.test", 7)
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    // Eight days on, a day after the reminder: the silent one closes, with a last e-mail.
    sqlx::query(
        "update tickets set last_message_at = now() - interval '8 days',
                            reminded_at = now() - interval '2 days'
         where id = $1",
    )
    .bind(ids[0] as i32)
    .execute(&app.db)
    .await
    .unwrap();
    let round = nextgenrdp::support::tickets::close_stale(&app.db, "http://shop.test", 7)
        .await
        .unwrap();
    assert_eq!(round.closed, 1);
    let statuses: Vec<String> = sqlx::query_scalar("select status from tickets order by id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(statuses, ["closed", "awaiting_us"]);
    let mail = app.mails_to("ayesha@example.pk").await;
    assert!(
        mail.iter()
            .any(|m| m.contains("Subject: Closed: Left waiting"))
    );
}

async fn files_on_tickets(db: &PgPool) -> (i64, i64) {
    let files: i64 = sqlx::query_scalar("select count(*) from ticket_attachments")
        .fetch_one(db)
        .await
        .unwrap();
    let messages: i64 = sqlx::query_scalar("select count(*) from ticket_messages")
        .fetch_one(db)
        .await
        .unwrap();
    (files, messages)
}

#[sqlx::test]
async fn files_go_with_messages_checked_by_their_bytes_and_only_to_who_may_see_them(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let (_, own) = app.direct_customer("ayesha@example.pk").await;
    let (_, other) = app.direct_customer("bilal@example.pk").await;
    let opened = post(
        &app,
        &own,
        "/api/v1/tickets",
        json!({ "subject": "RDP shows an error", "department": "technical", "message": "See the screenshot." }),
    )
    .await;
    let id = opened.json()["ticket"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/tickets/{id}/attachments");
    let pdf: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

    // Refused, each naming the problem, nothing written.
    let before = files_on_tickets(&app.db).await;
    for (files, why) in [
        (
            vec![(
                "file",
                "error.png",
                "image/png",
                &b"<html><script>alert(1)</script>"[..],
            )],
            "HTML posing as a PNG",
        ),
        (
            vec![("file", "page.html", "text/html", &b"<html></html>"[..])],
            "an HTML page",
        ),
        (
            vec![("file", "slip.png", "image/png", pdf)],
            "a PDF declared as a PNG",
        ),
        (
            vec![("file", "a.png", "image/png", crate::helpers::TINY_PNG); 4],
            "four files",
        ),
        (vec![], "no file at all"),
    ] {
        let refused = app
            .post_multipart_as(&own, &path, &[("message", "hi")], &files)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            refused.text()
        );
        assert!(
            refused.json()["errors"]["file"].is_string(),
            "{why}: {}",
            refused.text()
        );
    }
    let big = [b"%PDF-".as_slice(), &vec![b' '; 5 * 1024 * 1024]].concat();
    let too_big = app
        .post_multipart_as(
            &own,
            &path,
            &[],
            &[("file", "big.pdf", "application/pdf", &big)],
        )
        .await;
    assert_eq!(
        too_big.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_big.text()
    );
    assert!(
        too_big.json()["errors"]["file"]
            .as_str()
            .unwrap()
            .contains("5 MB")
    );
    let json_body = post(&app, &own, &path, json!({ "message": "hi" })).await;
    assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = vec![b'x'; 16 * 1024 * 1024];
    let over = app
        .post_multipart_as(
            &own,
            &path,
            &[],
            &[("file", "huge.pdf", "application/pdf", &huge)],
        )
        .await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    let foreign = app
        .post_multipart_as(
            &other,
            &path,
            &[],
            &[("file", "a.png", "image/png", crate::helpers::TINY_PNG)],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(files_on_tickets(&app.db).await, before);

    // A screenshot and the bank's slip, with a message: the shop hears of them, by name only.
    let sent = app
        .post_multipart_as(
            &own,
            &path,
            &[("message", "The error, and my slip.")],
            &[
                (
                    "file",
                    "C:\\Users\\Ayesha\\error.png",
                    "image/png",
                    crate::helpers::TINY_PNG,
                ),
                ("file", "meezan slip.pdf", "application/octet-stream", pdf),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let detail = sent.json();
    assert_eq!(detail["ticket"]["status"], "awaiting_us");
    let message = &detail["messages"][1];
    assert_eq!(message["body"], "The error, and my slip.");
    let files = message["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file_name"], "error.png");
    assert_eq!(files[0]["content_type"], "image/png");
    assert_eq!(files[1]["file_name"], "meezan slip.pdf");
    assert_eq!(
        files[1]["content_type"], "application/pdf",
        "typed by its bytes"
    );
    let mail = app.mails_to("owner@nextgenrdp.pk").await;
    let told = mail
        .iter()
        .find(|m| m.contains(&format!("Reply on ticket #{id}")))
        .expect("the shop is told");
    assert!(
        told.contains("error.png") && told.contains("open the ticket"),
        "{told}"
    );
    assert!(
        !told.contains("Content-Disposition: attachment"),
        "a link, not the file"
    );

    // The customer gets their files back, served so a browser never runs them.
    let png_id = files[0]["id"].as_i64().unwrap();
    let got = app.get_as(&own, &format!("{path}/{png_id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("content-type"), "image/png");
    assert!(got.header("content-security-policy").contains("sandbox"));
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert_eq!(got.body, crate::helpers::TINY_PNG);
    let pdf_id = files[1]["id"].as_i64().unwrap();
    let got = app.get_as(&own, &format!("{path}/{pdf_id}")).await;
    assert!(got.header("content-disposition").starts_with("attachment;"));
    assert_eq!(got.body, pdf);
    assert_eq!(
        app.get_as(&other, &format!("{path}/{pdf_id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // A file with an operator's internal note stays with the operators.
    let noted = app
        .post_multipart_as(
            &admin,
            &format!("/api/v1/admin/tickets/{id}/attachments"),
            &[("internal", "true")],
            &[("file", "statement.pdf", "application/pdf", pdf)],
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.text());
    let note = noted.json()["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(note["internal"], true);
    assert_eq!(note["body"], "Sent a file: statement.pdf");
    let note_file = note["attachments"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.get_as(&own, &format!("{path}/{note_file}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !app.get_as(&own, &format!("/api/v1/tickets/{id}"))
            .await
            .text()
            .contains("statement.pdf")
    );
    let admin_got = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/tickets/{id}/attachments/{note_file}"),
        )
        .await;
    assert_eq!(admin_got.status, StatusCode::OK);
    let bad_flag = app
        .post_multipart_as(
            &admin,
            &format!("/api/v1/admin/tickets/{id}/attachments"),
            &[("internal", "maybe")],
            &[("file", "a.png", "image/png", crate::helpers::TINY_PNG)],
        )
        .await;
    assert_eq!(bad_flag.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A ticket holds at most 20 files.
    for _ in 0..5 {
        let three = [("file", "a.png", "image/png", crate::helpers::TINY_PNG); 3];
        let sent = app.post_multipart_as(&own, &path, &[], &three).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    }
    let before = files_on_tickets(&app.db).await;
    assert_eq!(before.0, 18);
    let full = app
        .post_multipart_as(
            &own,
            &path,
            &[],
            &[("file", "a.png", "image/png", crate::helpers::TINY_PNG); 3],
        )
        .await;
    assert_eq!(full.status, StatusCode::CONFLICT, "{}", full.text());
    assert!(full.json()["errors"]["file"].is_string() || full.text().contains("20 files"));
    assert_eq!(files_on_tickets(&app.db).await, before);
}

#[sqlx::test]
async fn operators_keep_canned_replies(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let (_, customer) = app.direct_customer("ayesha@example.pk").await;
    let base = "/api/v1/admin/canned-replies";

    for (body, field) in [
        (json!({ "title": "RDP help" }), "body"),
        (json!({ "title": " ", "body": "x" }), "title"),
        (json!({ "title": "x".repeat(101), "body": "x" }), "title"),
        (
            json!({ "title": "RDP help", "body": "x".repeat(10_001) }),
            "body",
        ),
    ] {
        let refused = post(&app, &admin, base, body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            refused.json()["errors"][field].is_string(),
            "{body}: {}",
            refused.text()
        );
    }
    let created = post(
        &app,
        &admin,
        base,
        json!({ "title": "How to connect", "body": "Hello {name}, open Remote Desktop Connection ({ticket})." }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let twin = post(
        &app,
        &admin,
        base,
        json!({ "title": "HOW TO CONNECT", "body": "x" }),
    )
    .await;
    assert_eq!(twin.status, StatusCode::CONFLICT);
    assert_eq!(
        count(&app.db, "select count(*) from canned_replies").await,
        1
    );
    let changed = app
        .send_json_as(
            Some(&admin),
            Method::PATCH,
            &format!("{base}/{id}"),
            &json!({ "title": "Connecting with RDP" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["title"], "Connecting with RDP");
    assert!(
        changed.json()["body"]
            .as_str()
            .unwrap()
            .starts_with("Hello {name}")
    );
    let listed = app.get_as(&admin, base).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_as(&customer, base).await.status,
        StatusCode::FORBIDDEN
    );
    let gone = app
        .send_json_as(
            Some(&admin),
            Method::DELETE,
            &format!("{base}/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let again = app
        .send_json_as(
            Some(&admin),
            Method::DELETE,
            &format!("{base}/{id}"),
            &json!(null),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(
            &app.db,
            "select count(*) from audit_log where action like 'canned_reply.%'"
        )
        .await,
        3
    );
}
