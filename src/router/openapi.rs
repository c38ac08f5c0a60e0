//! The API's description: OpenAPI 3.1 at `/api/v1/openapi.json`, and Swagger UI at `/api/docs`.
//!
//! The document is generated from the code: every handler of the JSON API carries a
//! `#[utoipa::path]` annotation (method, path, parameters, request body, responses) and is
//! registered through `utoipa_axum::routes!`, which adds the route to the axum router and its
//! operation to the document in one step, so a route cannot be served without being described.
//! Request and response bodies are Rust types deriving `ToSchema`, the same types serde reads and
//! writes. utoipa was chosen over aide (which wraps every handler and ties the schemas to
//! schemars) because its annotations sit beside plain axum handlers.
//! The uniform error responses are added by the web kit's [`add_error_responses`].

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::AppState;
use crate::error::Problem;
#[cfg(test)]
use crate::web::openapi::operations;
use crate::web::openapi::{BEARER, add_error_responses};

/// Where the document is served, and the interactive page.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
pub const DOCS_PATH: &str = "/api/docs";

/// The document's fixed part: what the API is, how it authenticates, the problem shape.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "NextGenRDP API",
        description = "Buy and run Windows RDP and Linux VPS plans priced in PKR: accounts, \
            catalog, cart and checkout, payments, services, and the operator's back office.\n\n\
            Authenticate with `Authorization: Bearer <access token>` from `POST /api/v1/auth/login`. \
            Every error is an RFC 9457 problem document (`application/problem+json`) whose \
            `errors` names each offending field.",
        license(name = "Proprietary"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Probes for load balancers and orchestrators"),
        (name = "accounts", description = "Registration, e-mail verification, sessions, profile"),
        (name = "catalog", description = "Plans, categories and locations on sale"),
        (name = "cart", description = "The shopping cart and promo codes"),
        (name = "orders", description = "Checkout and the customer's orders"),
        (name = "payments", description = "Paying an order: manual transfer and JazzCash"),
        (name = "services", description = "The customer's servers: credentials, actions, renewals"),
        (name = "support", description = "The customer's support tickets"),
        (name = "invoices", description = "The customer's invoices and credit notes, as JSON and PDF"),
        (name = "admin", description = "The operator's back office (operator accounts only)"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("An access token from POST /api/v1/auth/login (15 minutes; renew with POST /api/v1/auth/refresh)"))
                .build()),
        );
    }
}

/// The described routes: the probes, the document itself, and the whole `/api/v1` API.
pub fn described_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        // Merged, not nested: each handler's annotation names its whole path. A nested router
        // strips the prefix from every request's URI (a new URI, a split of the path, an
        // extension) — 8 % of the catalog API's instructions under callgrind (`bench/run`).
        .merge(super::api_router())
        .merge(super::probes())
}

/// The router of the described routes and the finished document.
pub fn split() -> (Router<AppState>, Document) {
    let (router, mut document) = described_routes().split_for_parts();
    add_error_responses(&mut document);
    (router, document)
}

/// The finished document (built once per process).
pub fn document() -> &'static Document {
    static DOCUMENT: LazyLock<Document> = LazyLock::new(|| split().1);
    &DOCUMENT
}

static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "health",
    responses((status = OK, description = "This document", content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT_JSON.as_str(),
    )
}

/// The interactive page: Swagger UI, served from the binary, reading our document.
pub fn docs_router() -> Router<AppState> {
    let config = Config::from(DOCUMENT_PATH)
        .try_it_out_enabled(true)
        .persist_authorization(false)
        .display_request_duration(true);
    SwaggerUi::new(DOCS_PATH).config(config).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_names_its_problem_shape() {
        let json: serde_json::Value = serde_json::from_str(&DOCUMENT_JSON).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(json["components"]["schemas"]["Problem"].is_object());
        assert!(json["components"]["securitySchemes"][BEARER].is_object());
    }

    #[test]
    fn every_operation_id_is_unique() {
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in &document().paths.paths {
            let mut item = item.clone();
            for operation in operations(&mut item) {
                let id = operation
                    .operation_id
                    .clone()
                    .expect("every operation has an id");
                if let Some(other) = seen.insert(id.clone(), path.clone()) {
                    panic!("{path} and {other} share the operationId {id}");
                }
            }
        }
    }

    #[test]
    fn every_operation_documents_its_failures() {
        for (path, item) in &document().paths.paths {
            let mut item = item.clone();
            for operation in operations(&mut item) {
                let statuses: Vec<&String> = operation.responses.responses.keys().collect();
                for status in ["400", "500", "503"] {
                    assert!(
                        statuses.iter().any(|s| *s == status),
                        "{path} lacks {status}: {statuses:?}"
                    );
                }
                assert!(
                    statuses
                        .iter()
                        .any(|s| s.starts_with('2') || s.starts_with('3')),
                    "{path} documents no success: {statuses:?}"
                );
            }
        }
    }
}
