//! Each typed status or kind knows exactly the spellings its column's `CHECK` allows: a value
//! the database accepts but the enum does not would fail to decode (and be missing from the API
//! document); one the enum has but the database refuses could never be written.

use std::collections::BTreeSet;

use nextgenrdp::accounts::billing::Province;
use nextgenrdp::accounts::credit::CreditKind;
use nextgenrdp::catalog::os_templates::OsFamily;
use nextgenrdp::catalog::policies::PolicyPage;
use nextgenrdp::jobs::JobStatus;
use nextgenrdp::orders::OrderStatus;
use nextgenrdp::orders::orders::OrderKind;
use nextgenrdp::orders::promo_codes::DiscountType;
use nextgenrdp::orders::tax::TaxMode;
use nextgenrdp::payments::invoices::InvoiceKind;
use nextgenrdp::payments::refunds::{RefundDestination, RefundServices};
use nextgenrdp::payments::{PaymentEventKind, PaymentStatus};
use nextgenrdp::provisioning::backends::BackendDriver;
use nextgenrdp::services::reinstall::ReinstallStep;
use nextgenrdp::services::{ProvisioningStep, ServiceAction, ServiceStatus};
use nextgenrdp::support::{Department, Priority, TicketStatus};
use sqlx::PgPool;

/// The spellings the `CHECK` of `table.column` lists (`column in ('a', 'b')`, which PostgreSQL
/// keeps as `(column)::text = ANY (ARRAY['a'::character varying, …])`).
async fn allowed(db: &PgPool, table: &str, column: &str) -> BTreeSet<String> {
    let definitions: Vec<String> = sqlx::query_scalar(
        "select pg_get_constraintdef(c.oid) from pg_constraint c
         where c.conrelid = $1::regclass and c.contype = 'c'",
    )
    .bind(table)
    .fetch_all(db)
    .await
    .unwrap();
    let needle = format!("({column})::text = ANY");
    let lists: Vec<&String> = definitions.iter().filter(|d| d.contains(&needle)).collect();
    assert_eq!(
        lists.len(),
        1,
        "one CHECK listing {table}.{column}, found {definitions:?}"
    );
    lists[0]
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn spellings<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|v| as_str(*v).to_owned()).collect()
}

#[sqlx::test]
async fn every_typed_column_allows_exactly_its_enum(db: PgPool) {
    let cases = [
        (
            "os_templates",
            "family",
            spellings(OsFamily::ALL, OsFamily::as_str),
        ),
        (
            "service_reinstalls",
            "step",
            spellings(ReinstallStep::ALL, ReinstallStep::as_str),
        ),
        (
            "orders",
            "status",
            spellings(OrderStatus::ALL, OrderStatus::as_str),
        ),
        (
            "orders",
            "kind",
            spellings(OrderKind::ALL, OrderKind::as_str),
        ),
        (
            "orders",
            "tax_mode",
            spellings(TaxMode::ALL, TaxMode::as_str),
        ),
        (
            "orders",
            "tax_province",
            spellings(Province::ALL, Province::as_str),
        ),
        (
            "tax_rates",
            "province",
            spellings(Province::ALL, Province::as_str),
        ),
        (
            "billing_settings",
            "tax_mode",
            spellings(TaxMode::ALL, TaxMode::as_str),
        ),
        (
            "billing_settings",
            "seller_province",
            spellings(Province::ALL, Province::as_str),
        ),
        (
            "billing_profiles",
            "province",
            spellings(Province::ALL, Province::as_str),
        ),
        (
            "invoices",
            "kind",
            spellings(InvoiceKind::ALL, InvoiceKind::as_str),
        ),
        (
            "invoices",
            "tax_mode",
            spellings(TaxMode::ALL, TaxMode::as_str),
        ),
        (
            "policy_versions",
            "page",
            spellings(PolicyPage::ALL, PolicyPage::as_str),
        ),
        (
            "tickets",
            "status",
            spellings(TicketStatus::ALL, TicketStatus::as_str),
        ),
        (
            "tickets",
            "department",
            spellings(Department::ALL, Department::as_str),
        ),
        (
            "tickets",
            "priority",
            spellings(Priority::ALL, Priority::as_str),
        ),
        (
            "credit_entries",
            "kind",
            spellings(CreditKind::ALL, CreditKind::as_str),
        ),
        (
            "payments",
            "status",
            spellings(PaymentStatus::ALL, PaymentStatus::as_str),
        ),
        (
            "refunds",
            "destination",
            spellings(RefundDestination::ALL, RefundDestination::as_str),
        ),
        (
            "refunds",
            "services",
            spellings(RefundServices::ALL, RefundServices::as_str),
        ),
        (
            "payment_events",
            "kind",
            spellings(PaymentEventKind::ALL, PaymentEventKind::as_str),
        ),
        (
            "services",
            "status",
            spellings(ServiceStatus::ALL, ServiceStatus::as_str),
        ),
        (
            "service_logs",
            "action",
            spellings(ServiceAction::ALL, ServiceAction::as_str),
        ),
        (
            "services",
            "provisioning_step",
            spellings(ProvisioningStep::ALL, ProvisioningStep::as_str),
        ),
        (
            "jobs",
            "status",
            spellings(JobStatus::ALL, JobStatus::as_str),
        ),
        (
            "promo_codes",
            "discount_type",
            spellings(DiscountType::ALL, DiscountType::as_str),
        ),
        (
            "provisioning_backends",
            "driver",
            spellings(BackendDriver::ALL, BackendDriver::as_str),
        ),
    ];
    for (table, column, known) in cases {
        assert_eq!(
            allowed(&db, table, column).await,
            known,
            "{table}.{column}: the CHECK and the enum differ"
        );
    }
}
