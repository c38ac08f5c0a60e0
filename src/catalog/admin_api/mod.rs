//! The operator's catalog API: `/api/v1/admin/categories`, `/api/v1/admin/plans` and
//! `/api/v1/admin/locations`, each with GET (list, everything including inactive rows), POST
//! (create), and GET / PATCH / DELETE on `/{id}`. Operators only ([`ApiAdmin`]: anonymous → 401,
//! customer → 403).
//!
//! * **Bodies.** POST and PATCH take the same JSON object; POST needs the required fields, PATCH
//!   any subset (an absent field keeps its value, `null` clears an optional one). Unknown fields
//!   are refused. A plan names its category by **slug** (`"category": "rdp"`), as the catalog
//!   file and `GET /api/v1/plans?category=` do; its `features` (ordered strings) and
//!   `location_ids` (where it is sold) are replaced wholesale when given. A plan's `id` never
//!   changes (orders refer to it).
//! * **Validation** reports every field at fault at once (422, `errors` by field), including an
//!   unknown `category` or `location_ids`. A taken plan id or slug is a 409 naming the field.
//! * **Deleting** what orders (or, for a category, plans; for a location, plans selling it)
//!   refer to is a 409 saying why and what to do instead: deactivate. Deactivating a plan or a
//!   location takes it off sale and never touches existing orders or services.
//! * **Audit.** Every change writes one `audit_log` row (actor, `plan.update`-style action,
//!   entity, before/after JSON, client IP) in the transaction of the change; an edit that
//!   changes nothing writes nothing.
//! * **Cache.** After each commit the node's catalog cache is invalidated at once; other nodes
//!   hear it through the database's notification (see [`super::cache`]).
//!
//! The operations themselves (checks, audit, cache) are `catalog::manage`'s, shared with the
//! admin pages; `categories`, `locations` and `plans` hold each entity's handlers, this file
//! the router.

mod categories;
mod locations;
mod plans;
mod policies;

use axum::extract::Query;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::extract::ApiAdmin;
use crate::app::AppState;
use crate::audit::Actor;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policies::publish_policy))
        .routes(routes!(
            categories::list_categories_handler,
            categories::create_category_handler
        ))
        .routes(routes!(
            categories::find_category_handler,
            categories::update_category_handler,
            categories::delete_category_handler
        ))
        .routes(routes!(
            plans::list_plans_handler,
            plans::create_plan_handler
        ))
        .routes(routes!(
            plans::find_plan_handler,
            plans::update_plan_handler,
            plans::delete_plan_handler
        ))
        .routes(routes!(
            locations::list_locations_handler,
            locations::create_location_handler
        ))
        .routes(routes!(
            locations::find_location_handler,
            locations::update_location_handler,
            locations::delete_location_handler
        ))
}

/// A list answer: `{"items": [...]}`; the document names each (`AdminPlanList`, …) so that
/// generated clients reference the item's own schema.
#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

type RawQuery = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The operator making a change through the API, for the audit log.
fn actor<'a>(admin: &ApiAdmin, ip: &'a str) -> Actor<'a> {
    admin.0.actor(ip)
}
