//! Every job kind, in one list: the `jobs.kind` values the worker dispatches on
//! (`Worker::dispatch`). A new kind: a constant here, a branch there, and, if periodic, a line
//! in the worker's schedules.

/// Sends one e-mail (`mail::Email` is the payload).
pub const SEND_EMAIL: &str = "send_email";
/// Sends one WhatsApp template message (`mail::whatsapp::TemplateMessage` is the payload).
pub const SEND_WHATSAPP: &str = "send_whatsapp";
/// Provisions one service (`services::provision::ProvisionJob`).
pub const PROVISION_SERVICE: &str = "provision_service";
/// Carries out a driver action on a service: power, password, suspend, terminate
/// (`services::provision::ActionJob`).
pub const SERVICE_ACTION: &str = "service_action";
/// Takes, rolls back to or deletes a snapshot of a service's VM
/// (`services::snapshots::SnapshotJob`).
pub const SNAPSHOT_ACTION: &str = "snapshot_action";
/// Rebuilds a service's VM with a (new) operating system (`services::reinstall::ReinstallJob`).
pub const REINSTALL_SERVICE: &str = "reinstall_service";
/// Reads every active Proxmox server's usage (`services::usage::sample_all`; every 5 minutes).
pub const SAMPLE_USAGE: &str = "sample_usage";
/// The scheduled database backup (daily, one node).
pub const BACKUP: &str = "backup";
/// Renewal orders, reminders, suspension of overdue services (hourly;
/// `services::renewals::run_periodic`).
pub const RENEWALS: &str = "renewals";
/// Expires orders unpaid for too long, releasing their promo code uses (every 5 minutes).
pub const EXPIRE_ORDERS: &str = "expire_orders";
/// Deletes stale sessions, rate-limit counters, abandoned guest carts, old two-factor
/// challenges and login origins (hourly).
pub const CLEAN_UP: &str = "clean_up";
/// Asks JazzCash about attempts still pending (`payments::callbacks::reconcile`; every 5
/// minutes where the status inquiry is configured).
pub const RECONCILE_PAYMENTS: &str = "reconcile_payments";
/// Reminds customers of answered tickets and closes those left unanswered
/// (`support::tickets::close_stale`; hourly).
pub const CLOSE_STALE_TICKETS: &str = "close_stale_tickets";
