//! A local stand-in for Easypay's transaction inquiry (`inquire-transaction`), started by the
//! tests: it checks the merchant's API credentials (`Credentials`: Base64 of `user:password`)
//! and store, and answers what the test says each order's state is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};

pub const STORE_ID: &str = "12345";
pub const HASH_KEY: &str = "K3YEASYPAISA1234";

/// What the fake says about one order: its status and amount (rupees, as Easypay writes them).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: &'static str,
    pub amount: Option<&'static str>,
}

#[derive(Default)]
struct Book {
    answers: BTreeMap<String, Answer>,
    asked: Vec<String>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeEasypaisa {
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl FakeEasypaisa {
    pub async fn start() -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = axum::Router::new()
            .route(
                "/easypay-service/rest/v4/inquire-transaction",
                post(inquire),
            )
            .with_state(book.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/easypay-service/rest/v4/inquire-transaction"),
            book,
        }
    }

    /// The merchant as the shop is configured against this fake.
    pub fn merchant(&self) -> nextgenrdp::payments::easypaisa::Easypaisa {
        nextgenrdp::payments::easypaisa::Easypaisa {
            store_id: STORE_ID.into(),
            hash_key: secrecy::SecretString::from(HASH_KEY),
            username: "shop-api".into(),
            password: secrecy::SecretString::from("api-pass"),
            account_num: "654123987".into(),
            checkout_url: nextgenrdp::payments::easypaisa::SANDBOX_CHECKOUT_URL.into(),
            inquiry_url: self.url.clone(),
        }
    }

    /// Says `answer` about order `order_ref` from now on.
    pub fn set(&self, order_ref: &str, status: &'static str, amount: Option<&'static str>) {
        self.book
            .lock()
            .unwrap()
            .answers
            .insert(order_ref.to_owned(), Answer { status, amount });
    }

    /// The orders asked about, oldest first.
    pub fn asked(&self) -> Vec<String> {
        self.book.lock().unwrap().asked.clone()
    }
}

async fn inquire(
    State(book): State<Arc<Mutex<Book>>>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Json<Value> {
    let credentials = base64::engine::general_purpose::STANDARD.encode("shop-api:api-pass");
    let field = |name: &str| request[name].as_str().unwrap_or_default().to_owned();
    if headers.get("Credentials").and_then(|v| v.to_str().ok()) != Some(credentials.as_str())
        || field("storeId") != STORE_ID
        || field("accountNum") != "654123987"
    {
        return Json(json!({ "responseCode": "0001", "responseDesc": "Invalid credentials" }));
    }
    let order = field("orderId");
    let mut book = book.lock().unwrap();
    book.asked.push(order.clone());
    match book.answers.get(&order) {
        None => Json(json!({ "responseCode": "0003", "responseDesc": "Record not found" })),
        Some(answer) => Json(json!({
            "orderId": order,
            "storeId": STORE_ID.parse::<i64>().unwrap(),
            "accountNum": "654123987",
            "transactionStatus": answer.status,
            "transactionAmount": answer.amount,
            "transactionId": "9876543",
            "paymentMode": "MA",
            "responseCode": "0000",
            "responseDesc": "SUCCESS",
        })),
    }
}
