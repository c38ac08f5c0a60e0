-- `service_logs.action` in the founding document's words, and a closed list (issue 23): the
-- document names `password_reset` (and `create`, `suspend`, `resume`, `terminate`); the product
-- wrote `reset_password`. Existing lines are renamed, then the CHECK lists every action the
-- product writes (`services::ServiceAction`; tests/it/db/statuses.rs keeps the two equal).
update service_logs set action = 'password_reset' where action = 'reset_password';
update service_logs set action = 'password_reset_requested' where action = 'reset_password_requested';

alter table service_logs add constraint service_logs_action_check check (action in (
    'create', 'provision', 'update', 'retry', 'start', 'stop', 'reboot', 'password_reset',
    'suspend', 'resume', 'terminate', 'renew', 'renewal_order', 'reinstall', 'console',
    'credentials_viewed', 'traffic_notice', 'traffic_throttle', 'snapshot_create',
    'snapshot_rollback', 'snapshot_delete', 'start_requested', 'stop_requested',
    'reboot_requested', 'password_reset_requested', 'reinstall_requested'
));
