//! Repository of `plan_features`: the bullet points of a plan, in order.

use sqlx::{FromRow, PgExecutor};

use crate::db::timed;

/// A row of `plan_features`.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct PlanFeature {
    pub id: i32,
    pub plan_id: Option<String>,
    pub feature: String,
    pub position: i32,
}

/// Sets a plan's features to exactly `features`, in that order.
pub async fn replace_for_plan(
    db: &mut sqlx::PgConnection,
    plan_id: &str,
    features: &[String],
) -> sqlx::Result<()> {
    timed(
        "plan_features.delete_for_plan",
        sqlx::query("delete from plan_features where plan_id = $1")
            .bind(plan_id)
            .execute(&mut *db),
    )
    .await?;
    timed(
        "plan_features.insert_many",
        sqlx::query(
            "insert into plan_features (plan_id, feature, position)
             select $1, feature, position::int - 1
             from unnest($2::text[]) with ordinality as f(feature, position)",
        )
        .bind(plan_id)
        .bind(features)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}

pub async fn list_for_plan(
    db: impl PgExecutor<'_>,
    plan_id: &str,
) -> sqlx::Result<Vec<PlanFeature>> {
    timed(
        "plan_features.list_for_plan",
        sqlx::query_as(
            "select id, plan_id, feature, position from plan_features
             where plan_id = $1 order by position, id",
        )
        .bind(plan_id)
        .fetch_all(db),
    )
    .await
}

/// The features of many plans at once (one query for a whole listing).
pub async fn list_for_plans(
    db: impl PgExecutor<'_>,
    plan_ids: &[String],
) -> sqlx::Result<Vec<PlanFeature>> {
    timed(
        "plan_features.list_for_plans",
        sqlx::query_as(
            "select id, plan_id, feature, position from plan_features
             where plan_id = any($1) order by plan_id, position, id",
        )
        .bind(plan_ids)
        .fetch_all(db),
    )
    .await
}
