//! Staff roles: what each operator role may do, and which permission each operator route needs.
//!
//! One table decides it for the API and the pages alike: [`for_route`] maps an operator route
//! (its path template and method) to the [`Permission`] it needs, and [`Permission::allows`]
//! says which roles hold it. The operator extractors (`ApiAdmin`, `PageAdmin`) ask both on every
//! request, so no handler can forget the check; a route the table does not know needs
//! [`Permission::Staff`], which only the owner holds (a new route is closed until it is placed).

use axum::http::Method;

use super::Role;
use crate::db::text_enum::text_enum;
use crate::web::pages::{NavGroup, NavLink, SideNav};

text_enum! {
    /// A part of the back office a staff role may use.
    pub enum Permission {
        /// The dashboard's counters and charts of orders, customers and services.
        Dashboard = "dashboard",
        /// Customers' pages, their orders, payments and services (read).
        ViewCustomers = "view_customers",
        /// Disable or enable a customer, end their sessions, resend verification, notes.
        ManageCustomers = "manage_customers",
        /// Orders, payments and invoices (read).
        ViewMoney = "view_money",
        /// Approve, reject and refund payments, cancel orders, credit, promo codes, tax and
        /// billing settings.
        ManageMoney = "manage_money",
        /// Revenue: the dashboard's revenue charts and the revenue report.
        Revenue = "revenue",
        /// Support tickets and canned replies.
        Tickets = "tickets",
        /// Services and their status (read), and the queue of customers' requests.
        ViewServices = "view_services",
        /// Resolve a customer's request on a manually run service.
        ServiceRequests = "service_requests",
        /// Provision, suspend, resume, terminate, snapshot, reinstall a service.
        OperateServices = "operate_services",
        /// Reveal a server's password, open its console.
        Credentials = "credentials",
        /// Backends, address pools, operating systems, provisioning failures and jobs.
        Provisioning = "provisioning",
        /// Plans, categories, locations and the policy pages.
        Catalog = "catalog",
        /// The backups page and "back up now".
        Backups = "backups",
        /// Download a backup (the whole database, every customer's data).
        DownloadBackups = "download_backups",
        /// The audit log.
        AuditLog = "audit_log",
        /// Staff accounts and invitations, and the settings page.
        Staff = "staff",
        /// The database page (slow queries, table sizes).
        Database = "database",
    }
}

impl Permission {
    /// Whether `role` holds this permission. The owner holds every one; customers none.
    pub fn allows(self, role: Role) -> bool {
        use Permission::*;
        match role {
            Role::Customer => false,
            Role::Owner => true,
            Role::Billing => matches!(
                self,
                Dashboard | ViewCustomers | ViewMoney | ManageMoney | Revenue | ViewServices
            ),
            Role::Support => matches!(
                self,
                Dashboard
                    | ViewCustomers
                    | ManageCustomers
                    | ViewMoney
                    | Tickets
                    | ViewServices
                    | ServiceRequests
            ),
            Role::Technical => matches!(
                self,
                Dashboard
                    | ViewCustomers
                    | ViewServices
                    | ServiceRequests
                    | OperateServices
                    | Credentials
                    | Provisioning
                    | Backups
                    | Database
            ),
        }
    }

    /// The staff roles holding this permission, for messages and the README's table.
    pub fn roles(self) -> Vec<Role> {
        Role::STAFF
            .into_iter()
            .filter(|role| self.allows(*role))
            .collect()
    }
}

/// The permission an operator route needs: `template` is the route's path as registered
/// (`/api/v1/admin/services/{id}/credentials`, `/admin/payments/{id}/approve`), the API's and
/// the pages' alike. Reads (GET, HEAD) of a part may need less than its changes.
pub fn for_route(method: &Method, template: &str) -> Permission {
    use Permission::*;
    let Some(rest) = template
        .strip_prefix("/api/v1/admin")
        .or_else(|| template.strip_prefix("/admin"))
    else {
        return Staff;
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let read = matches!(*method, Method::GET | Method::HEAD);
    match (segments.as_slice(), read) {
        ([], _) => Dashboard,
        (["users" | "customers", _, "credit", ..], false) => ManageMoney,
        (["users" | "customers", ..], true) => ViewCustomers,
        (["users" | "customers", ..], false) => ManageCustomers,
        (["staff" | "settings", ..], _) => Staff,
        (["orders" | "payments" | "invoices", ..], true) => ViewMoney,
        (["orders" | "payments" | "invoices", ..], false) => ManageMoney,
        (["promo-codes" | "billing" | "tax-rates", ..], _) => ManageMoney,
        (["reports", ..], _) => Revenue,
        (["tickets" | "canned-replies", ..], _) => Tickets,
        (["services", _, "credentials" | "console", ..], _) => Credentials,
        (["services", _, "requests", ..], false) => ServiceRequests,
        (["services" | "service-requests", ..], true) => ViewServices,
        (["services", ..], false) => OperateServices,
        (["provisioning" | "backends" | "os-templates" | "jobs", ..], _) => Provisioning,
        (
            [
                "catalog" | "plans" | "categories" | "locations" | "policies",
                ..,
            ],
            _,
        ) => Catalog,
        (["backups", _, "download", ..], _) => DownloadBackups,
        (["backups", ..], _) => Backups,
        (["audit", ..], _) => AuditLog,
        (["database", ..], _) => Database,
        // A route this table does not place: the owner's alone until it is placed.
        _ => Staff,
    }
}

/// A group's links: (path, label).
pub type MenuLinks = &'static [(&'static str, &'static str)];

/// The back office's menu: groups of (path, label). A staff member sees the links their role
/// opens ([`for_route`] of a GET, the same table that guards the page).
pub const BACK_OFFICE: &[(Option<&str>, MenuLinks)] = &[
    (None, &[("/admin", "Dashboard")]),
    (
        Some("Sales"),
        &[
            ("/admin/orders", "Orders"),
            ("/admin/payments", "Payments"),
            ("/admin/invoices", "Invoices"),
            ("/admin/reports/revenue", "Revenue report"),
            ("/admin/promo-codes", "Promo codes"),
        ],
    ),
    (
        Some("Customers"),
        &[
            ("/admin/customers", "Customers"),
            ("/admin/tickets", "Tickets"),
            ("/admin/canned-replies", "Canned replies"),
        ],
    ),
    (
        Some("Servers"),
        &[
            ("/admin/services", "Services"),
            ("/admin/provisioning", "Provisioning"),
            ("/admin/backends", "Backends"),
            ("/admin/os-templates", "Operating systems"),
        ],
    ),
    (
        Some("Shop"),
        &[
            ("/admin/catalog", "Catalog"),
            ("/admin/policies", "Policy pages"),
            ("/admin/billing", "Billing & tax"),
            ("/admin/staff", "Staff"),
            ("/admin/settings", "Settings"),
        ],
    ),
    (
        Some("Records"),
        &[("/admin/backups", "Backups"), ("/admin/audit", "Audit log")],
    ),
    (Some("Advanced"), &[("/admin/database", "Database")]),
];

/// Whether `path` is a page of the back office (which shows its menu).
pub fn is_back_office(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The back office's menu as `role` sees it on the page at `path`: the links its role opens,
/// the one heading the part of the site at `path` marked current.
pub fn side_nav(role: Role, path: &str) -> SideNav {
    let current = BACK_OFFICE
        .iter()
        .flat_map(|(_, links)| links.iter())
        .map(|(href, _)| *href)
        .filter(|href| {
            path == *href || (*href != "/admin" && path.starts_with(&format!("{href}/")))
        })
        .max_by_key(|href| href.len());
    let groups = BACK_OFFICE
        .iter()
        .map(|(title, links)| NavGroup {
            title: *title,
            links: links
                .iter()
                .filter(|(href, _)| role.can(for_route(&Method::GET, href)))
                .map(|(href, label)| NavLink {
                    href,
                    label,
                    current: current == Some(*href),
                })
                .collect(),
        })
        .filter(|group| !group.links.is_empty())
        .collect();
    SideNav { groups }
}

/// Why `role` is refused a route needing `permission`, for the 403's detail.
pub fn refusal(role: Role, permission: Permission) -> String {
    let roles: Vec<&str> = permission.roles().iter().map(|r| r.as_str()).collect();
    format!(
        "this needs the {permission} permission, which the {role} role does not have \
         (roles that have it: {})",
        roles.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_match_serde() {
        assert!(crate::db::text_enum::spellings_match_serde(Permission::ALL));
        assert!(crate::db::text_enum::spellings_match_serde(Role::ALL));
    }

    #[test]
    fn the_owner_holds_everything_and_a_customer_nothing() {
        for permission in Permission::ALL {
            assert!(permission.allows(Role::Owner), "{permission}");
            assert!(!permission.allows(Role::Customer), "{permission}");
        }
    }

    #[test]
    fn money_secrets_and_staff_are_kept_apart() {
        const MONEY: &[Role] = &[Role::Owner, Role::Billing];
        const SECRETS: &[Role] = &[Role::Owner, Role::Technical];
        const OWNER: &[Role] = &[Role::Owner];
        let cases: [(Method, &str, &[Role]); 6] = [
            (Method::POST, "/api/v1/admin/payments/{id}/approve", MONEY),
            (
                Method::GET,
                "/api/v1/admin/services/{id}/credentials",
                SECRETS,
            ),
            (Method::POST, "/admin/services/{id}/credentials", SECRETS),
            (Method::POST, "/admin/services/{id}/console", SECRETS),
            (Method::GET, "/admin/staff", OWNER),
            (Method::GET, "/admin/unknown-new-page", OWNER),
        ];
        for (method, route, allowed) in cases {
            let permission = for_route(&method, route);
            for role in Role::STAFF {
                assert_eq!(
                    role.can(permission),
                    allowed.contains(&role),
                    "{role} {method} {route}"
                );
            }
        }
    }

    #[test]
    fn the_menu_shows_what_the_role_opens_and_marks_where_it_is() {
        let labels = |nav: &SideNav| -> Vec<&str> {
            nav.groups
                .iter()
                .flat_map(|g| g.links.iter().map(|l| l.label))
                .collect()
        };
        let owner = side_nav(Role::Owner, "/admin/payments/17");
        let every: usize = BACK_OFFICE.iter().map(|(_, links)| links.len()).sum();
        assert_eq!(labels(&owner).len(), every);
        let current: Vec<&str> = owner
            .groups
            .iter()
            .flat_map(|g| g.links.iter().filter(|l| l.current).map(|l| l.label))
            .collect();
        assert_eq!(current, ["Payments"]);

        let technical = labels(&side_nav(Role::Technical, "/admin"));
        assert!(technical.contains(&"Backends") && technical.contains(&"Services"));
        assert!(!technical.contains(&"Payments") && !technical.contains(&"Catalog"));
        let billing = labels(&side_nav(Role::Billing, "/admin"));
        assert!(billing.contains(&"Payments") && billing.contains(&"Promo codes"));
        assert!(!billing.contains(&"Backends") && !billing.contains(&"Tickets"));
        // The dashboard is current on itself only.
        let dashboard = side_nav(Role::Owner, "/admin");
        assert!(dashboard.groups[0].links[0].current);
        assert!(!side_nav(Role::Owner, "/admin/orders").groups[0].links[0].current);
    }

    #[test]
    fn reads_need_less_than_changes() {
        assert_eq!(
            for_route(&Method::GET, "/admin/payments/{id}"),
            Permission::ViewMoney
        );
        assert_eq!(
            for_route(&Method::POST, "/admin/payments/{id}/reject"),
            Permission::ManageMoney
        );
        assert_eq!(
            for_route(
                &Method::POST,
                "/admin/services/{id}/requests/{log_id}/resolve"
            ),
            Permission::ServiceRequests
        );
        assert_eq!(
            for_route(&Method::POST, "/api/v1/admin/users/{id}/credit"),
            Permission::ManageMoney
        );
        assert_eq!(for_route(&Method::GET, "/admin"), Permission::Dashboard);
    }
}
