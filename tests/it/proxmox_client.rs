//! Contract tests of the Proxmox VE client against fakepve: each test starts its own fake, so
//! they need no database. fakepve answers with PVE's status codes and wording; what it does for
//! lock timeouts and failed tasks is pinned here.

use std::time::Duration;

use nextgenrdp::provisioning::proxmox::{
    CloneRequest, PowerAction, ProxmoxClient, PveErrorKind, TaskOutcome, Upid, encode_sshkeys,
    ipconfig,
};

use crate::fakepve::{FakePve, LINUX_TEMPLATE, NODE, STORAGE, WINDOWS_TEMPLATE};

const VMID: u32 = 101;

async fn started() -> (FakePve, ProxmoxClient) {
    let pve = FakePve::start().await;
    let client = ProxmoxClient::new(pve.client_config()).expect("client for fakepve");
    (pve, client)
}

/// Waits for the task (fakepve's tasks take milliseconds at time_scale 0.01).
async fn finish(client: &ProxmoxClient, upid: &Upid) -> TaskOutcome {
    client
        .wait_task(upid, Duration::from_secs(10), Duration::from_millis(20))
        .await
        .expect("task status")
}

fn clone_request(newid: u32) -> CloneRequest<'static> {
    CloneRequest {
        newid,
        name: "vps-101",
        description: Some("order 42"),
        storage: Some(STORAGE),
        full: true,
    }
}

/// Clones the Linux template into `newid` and waits for the clone to finish.
async fn clone_ok(client: &ProxmoxClient, newid: u32) {
    let upid = client
        .clone_vm(NODE, LINUX_TEMPLATE, &clone_request(newid))
        .await
        .expect("clone accepted");
    assert_eq!(upid.task_type(), "qmclone");
    assert_eq!(finish(client, &upid).await, TaskOutcome::Ok);
}

async fn power_ok(client: &ProxmoxClient, action: PowerAction) {
    let upid = client
        .power(NODE, VMID, action)
        .await
        .expect("power accepted");
    assert_eq!(finish(client, &upid).await, TaskOutcome::Ok, "{action:?}");
}

#[tokio::test]
async fn version_answers_for_the_token_and_a_wrong_secret_is_an_auth_error() {
    let (pve, client) = started().await;
    assert_eq!(client.version().await.expect("version"), "9.0.10");

    let mut wrong = pve.client_config();
    wrong.token_secret = "not-the-secret".to_owned().into();
    let err = ProxmoxClient::new(wrong)
        .expect("client")
        .version()
        .await
        .expect_err("refused");
    assert_eq!((err.kind, err.status), (PveErrorKind::Auth, Some(401)));
    assert!(!err.to_string().contains(&pve.token_secret));
}

#[tokio::test]
async fn a_certificate_other_than_the_pinned_one_is_refused() {
    let (pve, _) = started().await;
    let (other, _) = started().await;
    let mut config = pve.client_config();
    config.ca_pem = Some(other.ca_pem.clone());
    let err = ProxmoxClient::new(config)
        .expect("client")
        .version()
        .await
        .expect_err("untrusted");
    assert_eq!(err.kind, PveErrorKind::Transient);
    assert!(err.message.contains("certificate"), "{err}");
}

#[tokio::test]
async fn a_cloned_template_shows_its_name_and_description_and_a_second_clone_is_already_exists() {
    let (pve, client) = started().await;
    assert_eq!(client.vm_config(NODE, VMID).await.expect("answer"), None);
    clone_ok(&client, VMID).await;

    let config = client
        .vm_config(NODE, VMID)
        .await
        .expect("answer")
        .expect("the clone exists");
    assert_eq!(config["name"], "vps-101");
    assert_eq!(config["description"], "order 42");
    assert_eq!(config["scsi0"], "local-lvm:vm-101-disk-0,size=10G");
    let status = client
        .vm_status(NODE, VMID)
        .await
        .expect("answer")
        .expect("exists");
    assert!(!status.is_running());
    assert_eq!(status.lock, None);

    let err = client
        .clone_vm(NODE, LINUX_TEMPLATE, &clone_request(VMID))
        .await
        .expect_err("taken");
    assert_eq!(
        (err.kind, err.status),
        (PveErrorKind::AlreadyExists, Some(500))
    );
    assert!(
        err.message
            .ends_with("unable to create VM 101: config file already exists"),
        "{err}"
    );
    assert!(
        pve.requests()
            .await
            .iter()
            .any(|(m, p)| m == "POST" && p == "/api2/json/nodes/pve1/qemu/9000/clone")
    );
}

#[tokio::test]
async fn cloud_init_settings_and_a_resize_are_applied_by_tasks() {
    let (_pve, client) = started().await;
    let windows = CloneRequest {
        newid: VMID,
        name: "rdp-101",
        description: None,
        storage: None,
        full: false,
    };
    let upid = client
        .clone_vm(NODE, WINDOWS_TEMPLATE, &windows)
        .await
        .expect("linked clone accepted");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);

    let ip = ipconfig(
        "203.0.113.10".parse().expect("ip"),
        24,
        "203.0.113.1".parse().expect("ip"),
    );
    let keys = encode_sshkeys("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 user@host");
    let params = [
        ("ciuser", "Administrator".to_owned()),
        ("cipassword", "Secret-Pass-1".to_owned()),
        ("ipconfig0", ip.clone()),
        ("nameserver", "1.1.1.1 8.8.8.8".to_owned()),
        ("sshkeys", keys.clone()),
        ("cores", "2".to_owned()),
        ("memory", "2048".to_owned()),
    ];
    let upid = client
        .update_config(NODE, VMID, &params)
        .await
        .expect("config accepted")
        .expect("a qmconfig task");
    assert_eq!(upid.task_type(), "qmconfig");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
    let config = client
        .vm_config(NODE, VMID)
        .await
        .expect("answer")
        .expect("exists");
    assert_eq!(config["ostype"], "win11");
    assert_eq!(config["ciuser"], "Administrator");
    assert_eq!(config["ipconfig0"], ip.as_str());
    assert_eq!(config["nameserver"], "1.1.1.1 8.8.8.8");
    assert_eq!(config["sshkeys"], keys.as_str());
    assert_eq!(config["cores"], "2");
    assert_eq!(config["memory"], "2048");
    assert!(config.contains_key("cipassword"));

    // fakepve accepts the resize as a task but does not change the size (a known gap).
    let upid = client
        .resize_disk(NODE, VMID, "scsi0", "40G")
        .await
        .expect("resize accepted")
        .expect("a task");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
}

#[tokio::test]
async fn a_start_runs_the_vm_and_a_second_start_fails_its_task_as_already_running() {
    let (_pve, client) = started().await;
    clone_ok(&client, VMID).await;
    power_ok(&client, PowerAction::Start).await;
    assert!(
        client
            .vm_status(NODE, VMID)
            .await
            .expect("answer")
            .expect("exists")
            .is_running()
    );

    // HTTP 200 and a UPID: the refusal shows only in the task.
    let upid = client
        .power(NODE, VMID, PowerAction::Start)
        .await
        .expect("start accepted");
    let outcome = finish(&client, &upid).await;
    assert_eq!(
        outcome,
        TaskOutcome::Failed("VM 101 already running".to_owned())
    );
    assert_eq!(
        outcome.into_result().expect_err("failed").kind,
        PveErrorKind::AlreadyExists
    );
    let log = client.task_log_tail(&upid, 1).await.expect("log");
    assert_eq!(log, ["TASK ERROR: VM 101 already running"]);
}

#[tokio::test]
async fn a_held_config_lock_fails_config_and_start_tasks_with_a_lock_timeout() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    pve.hold_lock(VMID, None).await;
    let lock_timeout = "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout";

    // POST …/config answers 200 with a UPID; the task waits lock_wait (10 PVE s) and fails.
    let upid = client
        .update_config(NODE, VMID, &[("cores", "4".to_owned())])
        .await
        .expect("accepted")
        .expect("task");
    let outcome = finish(&client, &upid).await;
    assert_eq!(outcome, TaskOutcome::Failed(lock_timeout.to_owned()));
    let err = outcome.into_result().expect_err("failed");
    assert_eq!(err.kind, PveErrorKind::Locked);
    assert!(err.is_retryable());

    let upid = client
        .power(NODE, VMID, PowerAction::Start)
        .await
        .expect("start accepted");
    assert_eq!(
        finish(&client, &upid).await,
        TaskOutcome::Failed(lock_timeout.to_owned())
    );

    pve.release_lock(VMID).await;
    let upid = client
        .update_config(NODE, VMID, &[("cores", "4".to_owned())])
        .await
        .expect("accepted")
        .expect("task");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
}

#[tokio::test]
async fn a_task_waiting_for_a_lock_is_still_running_until_the_lock_is_released() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    pve.set_time_scale(1.0).await;
    pve.hold_lock(VMID, None).await;
    let upid = client
        .power(NODE, VMID, PowerAction::Start)
        .await
        .expect("start accepted");
    let outcome = client
        .wait_task(&upid, Duration::from_millis(300), Duration::from_millis(50))
        .await;
    assert_eq!(outcome, Ok(TaskOutcome::StillRunning));
    assert!(client.task_status(&upid).await.expect("status").running);

    pve.release_lock(VMID).await;
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
    assert!(
        client
            .vm_status(NODE, VMID)
            .await
            .expect("answer")
            .expect("exists")
            .is_running()
    );
}

#[tokio::test]
async fn a_lock_timeout_answered_over_http_is_a_locked_error() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    pve.fail_named(
        "POST",
        "/nodes/pve1/qemu/101/config",
        "config_lock_timeout",
        Some(1),
    )
    .await;

    let err = client
        .update_config(NODE, VMID, &[("cores", "2".to_owned())])
        .await
        .expect_err("locked");
    assert_eq!((err.kind, err.status), (PveErrorKind::Locked, Some(500)));
    assert!(
        err.message
            .ends_with("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"),
        "{err}"
    );
    assert!(err.is_retryable());
    // times=1: the retry goes through.
    let upid = client
        .update_config(NODE, VMID, &[("cores", "2".to_owned())])
        .await
        .expect("accepted")
        .expect("task");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
}

#[tokio::test]
async fn a_clone_that_runs_out_of_space_ends_in_task_error_and_leaves_no_vm() {
    let (pve, client) = started().await;
    pve.set_storage_avail(STORAGE, Some(1024 * 1024 * 1024))
        .await;

    let upid = client
        .clone_vm(NODE, LINUX_TEMPLATE, &clone_request(VMID))
        .await
        .expect("clone accepted");
    let message = "clone failed: unable to write to storage 'local-lvm': No space left on device";
    assert_eq!(
        finish(&client, &upid).await,
        TaskOutcome::Failed(message.to_owned())
    );
    let log = client.task_log_tail(&upid, 1).await.expect("log");
    assert_eq!(log, [format!("TASK ERROR: {message}")]);
    assert_eq!(client.vm_config(NODE, VMID).await.expect("answer"), None);
}

#[tokio::test]
async fn an_injected_in_task_error_fails_the_task_not_the_request() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    pve.fail_named(
        "POST",
        "/nodes/pve1/qemu/101/status/start",
        "qemu_exited_code",
        None,
    )
    .await;

    let upid = client
        .power(NODE, VMID, PowerAction::Start)
        .await
        .expect("start accepted");
    assert_eq!(
        finish(&client, &upid).await,
        TaskOutcome::Failed("QEMU exited with code 1".to_owned())
    );

    pve.reset_failures().await;
    power_ok(&client, PowerAction::Start).await;
}

#[tokio::test]
async fn deleting_a_running_vm_is_refused_and_after_a_stop_the_vm_is_gone() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    power_ok(&client, PowerAction::Start).await;

    let err = client.delete_vm(NODE, VMID).await.expect_err("running");
    assert_eq!((err.kind, err.status), (PveErrorKind::Transient, Some(500)));
    assert!(
        err.message.ends_with("VM 101 is running - destroy failed"),
        "{err}"
    );

    power_ok(&client, PowerAction::Stop).await;
    let upid = client.delete_vm(NODE, VMID).await.expect("delete accepted");
    assert_eq!(finish(&client, &upid).await, TaskOutcome::Ok);
    assert_eq!(client.vm_config(NODE, VMID).await.expect("answer"), None);
    assert_eq!(client.vm_status(NODE, VMID).await.expect("answer"), None);
    assert!(pve.vms().await.iter().all(|vm| vm["vmid"] != VMID));
    let again = client.delete_vm(NODE, VMID).await.expect_err("gone");
    assert_eq!(again.kind, PveErrorKind::NotFound);
    let deletes = pve
        .requests()
        .await
        .into_iter()
        .filter(|(m, _)| m == "DELETE")
        .count();
    assert_eq!(deletes, 3);
}

#[tokio::test]
async fn a_guest_password_needs_a_running_agent() {
    let (pve, client) = started().await;
    clone_ok(&client, VMID).await;
    power_ok(&client, PowerAction::Start).await;

    let err = client
        .set_user_password(NODE, VMID, "Administrator", "Secret-Pass-1")
        .await
        .expect_err("no agent");
    assert_eq!(err.kind, PveErrorKind::Transient);
    assert!(
        err.message.ends_with("QEMU guest agent is not running"),
        "{err}"
    );
    assert!(!err.to_string().contains("Secret-Pass-1"));

    pve.start_agent(VMID).await;
    client
        .set_user_password(NODE, VMID, "Administrator", "Secret-Pass-1")
        .await
        .expect("password set");
}

#[tokio::test]
async fn an_offline_node_and_dropped_connections_are_transient() {
    let (pve, client) = started().await;
    pve.fail(
        "GET",
        "/nodes/pve1/qemu/9000/status/current",
        595,
        "No route to host",
        Some(1),
    )
    .await;
    let err = client
        .vm_status(NODE, LINUX_TEMPLATE)
        .await
        .expect_err("offline");
    assert_eq!((err.kind, err.status), (PveErrorKind::Transient, Some(595)));

    pve.flaky(1.0, 0.0, 7).await;
    let err = client.version().await.expect_err("dropped");
    assert_eq!((err.kind, err.status), (PveErrorKind::Transient, None));
    pve.flaky(0.0, 0.0, 7).await;
    assert!(
        client
            .vm_status(NODE, LINUX_TEMPLATE)
            .await
            .expect("answer")
            .is_some()
    );
}
