//! Provisioning: turning a paid order into running servers, and the drivers that do it.

pub mod proxmox;
