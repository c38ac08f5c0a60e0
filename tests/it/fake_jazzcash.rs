//! A local stand-in for JazzCash's transaction status inquiry, started by the tests: it checks
//! the merchant's signed request (merchant id, password, secure hash) and answers, signed with
//! the integrity salt, what the test says each transaction's state is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use nextgenrdp::payments::jazzcash::secure_hash;

use crate::helpers::JAZZCASH_SALT;

/// What the fake says about one transaction.
#[derive(Clone, Debug)]
pub struct Answer {
    /// `pp_PaymentResponseCode`: `000` paid, anything else not (yet).
    pub payment_code: String,
    /// `pp_Amount` in paisa, if the answer carries one.
    pub amount_paisa: Option<i64>,
    /// Sign with the wrong salt (a forged answer).
    pub forged: bool,
}

impl Answer {
    pub fn paid(amount_paisa: i64) -> Self {
        Self {
            payment_code: "000".into(),
            amount_paisa: Some(amount_paisa),
            forged: false,
        }
    }

    pub fn not_paid() -> Self {
        Self {
            payment_code: "157".into(),
            amount_paisa: None,
            forged: false,
        }
    }
}

#[derive(Default)]
struct Book {
    answers: BTreeMap<String, Answer>,
    requests: Vec<BTreeMap<String, String>>,
    down: bool,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeJazzCash {
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl FakeJazzCash {
    pub async fn start() -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = axum::Router::new()
            .route("/ApplicationAPI/API/PaymentInquiry/Inquire", post(inquire))
            .with_state(book.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/ApplicationAPI/API/PaymentInquiry/Inquire"),
            book,
        }
    }

    /// Says `answer` about transaction `txn_ref` from now on.
    pub fn set(&self, txn_ref: &str, answer: Answer) {
        self.book
            .lock()
            .unwrap()
            .answers
            .insert(txn_ref.to_owned(), answer);
    }

    /// Answers 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.book.lock().unwrap().down = down;
    }

    /// The inquiries received, oldest first.
    pub fn requests(&self) -> Vec<BTreeMap<String, String>> {
        self.book.lock().unwrap().requests.clone()
    }
}

async fn inquire(
    State(book): State<Arc<Mutex<Book>>>,
    Json(request): Json<BTreeMap<String, String>>,
) -> Result<Json<BTreeMap<String, String>>, StatusCode> {
    let mut book = book.lock().unwrap();
    book.requests.push(request.clone());
    if book.down {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let signed = request.get("pp_SecureHash").cloned().unwrap_or_default();
    let field = |name: &str| request.get(name).cloned().unwrap_or_default();
    let mut answer: BTreeMap<String, String> = BTreeMap::new();
    if !signed.eq_ignore_ascii_case(&secure_hash(JAZZCASH_SALT, &request))
        || field("pp_MerchantID") != "MC_TEST"
        || field("pp_Password") != "test-password"
    {
        answer.insert("pp_ResponseCode".into(), "110".into());
        answer.insert("pp_ResponseMessage".into(), "Invalid request".into());
    } else {
        let txn = field("pp_TxnRefNo");
        let known = book.answers.get(&txn).cloned().unwrap_or(Answer {
            payment_code: "199".into(),
            amount_paisa: None,
            forged: false,
        });
        answer.insert("pp_ResponseCode".into(), "000".into());
        answer.insert("pp_ResponseMessage".into(), "Successful".into());
        answer.insert("pp_TxnRefNo".into(), txn);
        answer.insert("pp_MerchantID".into(), "MC_TEST".into());
        answer.insert("pp_PaymentResponseCode".into(), known.payment_code.clone());
        answer.insert(
            "pp_PaymentResponseMessage".into(),
            if known.payment_code == "000" {
                "Transaction completed".into()
            } else {
                "Transaction not completed".into()
            },
        );
        answer.insert("pp_Status".into(), String::new());
        if let Some(amount) = known.amount_paisa {
            answer.insert("pp_Amount".into(), amount.to_string());
            answer.insert("pp_RetreivalReferenceNo".into(), "RRN-INQ-7".into());
        }
        let salt = if known.forged {
            "forged-salt"
        } else {
            JAZZCASH_SALT
        };
        let hash = secure_hash(salt, &answer);
        answer.insert("pp_SecureHash".into(), hash);
    }
    Ok(Json(answer))
}
