-- WhatsApp notifications (issue 19): a customer chooses e-mail only or e-mail + WhatsApp. The
-- number is theirs once they typed back the code sent to it over WhatsApp; only then can the
-- notices go there.
alter table users
    add column whatsapp_number varchar(20) check (whatsapp_number ~ '^[0-9]{8,15}$'),
    add column whatsapp_verified_at timestamp with time zone,
    add column notify_whatsapp boolean not null default false,
    add constraint users_whatsapp_verified_check
        check ((whatsapp_verified_at is null) or (whatsapp_number is not null)),
    add constraint users_notify_whatsapp_check
        check (not notify_whatsapp or whatsapp_verified_at is not null);

-- A code sent to a number being verified: its hash, how often it was tried (5 at most) and
-- until when it works. One per account; asking again replaces it.
create table whatsapp_verifications (
    user_id integer primary key references users(id) on delete cascade,
    number varchar(20) not null check (number ~ '^[0-9]{8,15}$'),
    code_hash varchar(64) not null,
    attempts integer not null default 0 check (attempts >= 0),
    expires_at timestamp with time zone not null,
    created_at timestamp with time zone not null default current_timestamp
);
