//! Repository of `idempotency_keys`: one order per (customer, `Idempotency-Key`).

use sqlx::PgExecutor;

use crate::db::timed;

/// Claims the key for a new order. False when the key was used before; a concurrent request
/// with the same key waits here until the first one's transaction ends.
pub async fn claim(db: impl PgExecutor<'_>, user_id: i32, key: &str) -> sqlx::Result<bool> {
    let claimed: Option<i32> = timed(
        "idempotency_keys.claim",
        sqlx::query_scalar(
            "insert into idempotency_keys (user_id, key) values ($1, $2)
             on conflict do nothing returning user_id",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(db),
    )
    .await?;
    Ok(claimed.is_some())
}

/// The order a used key created.
pub async fn find_order(
    db: impl PgExecutor<'_>,
    user_id: i32,
    key: &str,
) -> sqlx::Result<Option<i32>> {
    let order: Option<Option<i32>> = timed(
        "idempotency_keys.find_order",
        sqlx::query_scalar("select order_id from idempotency_keys where user_id = $1 and key = $2")
            .bind(user_id)
            .bind(key)
            .fetch_optional(db),
    )
    .await?;
    Ok(order.flatten())
}

/// Records the order a claimed key created.
pub async fn set_order(
    db: impl PgExecutor<'_>,
    user_id: i32,
    key: &str,
    order_id: i32,
) -> sqlx::Result<()> {
    timed(
        "idempotency_keys.set_order",
        sqlx::query("update idempotency_keys set order_id = $3 where user_id = $1 and key = $2")
            .bind(user_id)
            .bind(key)
            .bind(order_id)
            .execute(db),
    )
    .await?;
    Ok(())
}
