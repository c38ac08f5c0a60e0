//! `/admin/settings` (the owner's): the settings this node runs with, each with the variable
//! that changes it, and the links to the settings kept in the database (staff, billing and tax,
//! policy pages). Read-only: the environment is changed on the machine, then the shop restarted.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::pages::{Layout, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/settings", get(settings_page))
}

/// One setting: what it is, its value here, and the variable that sets it.
struct Setting {
    name: &'static str,
    value: String,
    variable: &'static str,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    groups: Vec<(&'static str, Vec<Setting>)>,
}

fn on_off(on: bool) -> String {
    if on { "On" } else { "Off" }.to_owned()
}

async fn settings_page(
    State(state): State<AppState>,
    PageAdmin(owner): PageAdmin,
) -> AppResult<Response> {
    let settings = &state.settings;
    let payments = &state.payments;
    let contact = &settings.contact;
    let set = |name, value, variable| Setting {
        name,
        value,
        variable,
    };
    let groups = vec![
        (
            "The shop",
            vec![
                set(
                    "Public address",
                    settings.public_url.clone(),
                    "NEXTGENRDP_PUBLIC_URL",
                ),
                set(
                    "Support e-mail",
                    contact.email.clone().unwrap_or_else(|| "not set".into()),
                    "NEXTGENRDP_SUPPORT_EMAIL",
                ),
                set(
                    "WhatsApp number",
                    contact.whatsapp.clone().unwrap_or_else(|| "not set".into()),
                    "NEXTGENRDP_WHATSAPP_NUMBER",
                ),
                set(
                    "WhatsApp notifications",
                    on_off(settings.whatsapp_enabled),
                    "NEXTGENRDP_WHATSAPP_*",
                ),
            ],
        ),
        (
            "Payments",
            vec![
                set(
                    "Transfer accounts",
                    if payments.manual.example {
                        "not set: customers are asked to contact you".into()
                    } else {
                        format!("{} account(s)", payments.manual.accounts.len())
                    },
                    "NEXTGENRDP_MANUAL_ACCOUNTS",
                ),
                set(
                    "JazzCash",
                    on_off(payments.jazzcash.is_some()),
                    "NEXTGENRDP_JAZZCASH_*",
                ),
                set(
                    "Easypaisa",
                    on_off(payments.easypaisa.is_some()),
                    "NEXTGENRDP_EASYPAISA_*",
                ),
                set(
                    "Unpaid orders expire after",
                    format!("{} hours", settings.order_expiry_hours),
                    "NEXTGENRDP_ORDER_EXPIRY_HOURS",
                ),
            ],
        ),
        (
            "Security",
            vec![
                set(
                    "Two-factor sign-in for the staff",
                    format!("{:?}", settings.operator_two_factor).to_lowercase(),
                    "NEXTGENRDP_OPERATOR_2FA",
                ),
                set(
                    "Secure cookies (https)",
                    on_off(settings.secure_cookies()),
                    "NEXTGENRDP_PUBLIC_URL",
                ),
            ],
        ),
        (
            "Backups",
            vec![
                set(
                    "Schedule",
                    if settings.backups.daily {
                        "daily".into()
                    } else if settings.backups.takes_backups {
                        "manual".into()
                    } else {
                        "off on this machine".into()
                    },
                    "NEXTGENRDP_BACKUP_SCHEDULE",
                ),
                set(
                    "Kept",
                    format!(
                        "{} days, {} weeks",
                        settings.backups.keep_daily, settings.backups.keep_weekly
                    ),
                    "NEXTGENRDP_BACKUP_KEEP_DAILY / _WEEKLY",
                ),
            ],
        ),
    ];
    render(&SettingsPage {
        layout: Layout::for_page("Settings", &owner.context),
        groups,
    })
}
