//! The web kit's part of the API description: the uniform error responses every operation
//! documents, and the small schema helpers the domains' API modules use. The document itself is
//! assembled on top, in `crate::router::openapi`.
//!
//! Errors are uniform (see [`crate::error`]): every failure is an RFC 9457 problem document.
//! [`add_error_responses`] documents them on every operation by what the operation does: a
//! body can be malformed (400), too large (413), of the wrong type (415) or invalid (422); a
//! bearer-authenticated call can be refused (401), an operator's by role (403); a path with an
//! id can miss (404); anything can meet a busy or broken database (500, 503). A handler names
//! its own specific refusals (a 409 with its reason) in its annotation, and those are kept.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr};

/// The security scheme of the customer and operator API.
pub const BEARER: &str = "bearer";

/// Documents the uniform error responses on every operation (see the module comment); a
/// response the handler described itself is left as it is.
pub fn add_error_responses(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let admin = path.starts_with("/api/v1/admin/");
        for operation in operations(item) {
            let has_body = operation.request_body.is_some();
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|list| !list.is_empty());
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            };
            add(
                "400",
                "Malformed request: a path or query parameter, or the body's syntax, named in `errors`",
            );
            if has_body {
                add("413", "The body is larger than this endpoint accepts");
                add("415", "The body is not of the declared content type");
                add(
                    "422",
                    "Invalid values, each offending field named in `errors`",
                );
            }
            if secured {
                add(
                    "401",
                    "No valid access token (missing, expired, or its session revoked)",
                );
            }
            if admin {
                add("403", "The caller is not an operator");
            }
            if has_id {
                add("404", "No such resource (or not the caller's)");
            }
            add(
                "500",
                "The server could not complete the request (the cause is logged, not sent)",
            );
            add(
                "503",
                "The database is unavailable or saturated; retry shortly",
            );
        }
    }
}

pub(crate) fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The schema of a list's status filter whose empty value means any status (what an HTML form's
/// blank choice sends): one of `T`'s values, or `""`.
pub fn status_or_empty<T: utoipa::ToSchema>(description: &str) -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name(T::name()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([""]))
                    .build(),
            )
            .description(Some(description))
            .build(),
    )
}

/// A response whose body is a problem document.
pub fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}
