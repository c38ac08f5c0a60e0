"""The whole purchase, through the Python client generated from the served OpenAPI document only.

Run by tests/it/clients.rs with the generated package `nextgenrdp_client` on PYTHONPATH and:

  NGR_BASE_URL        the running shop, e.g. http://127.0.0.1:41234
  NGR_MAIL_DIR        where the shop writes its e-mails (.eml files)
  NGR_PLAN            the plan to buy
  NGR_PROMO           a promo code that applies to it
  NGR_OPERATOR_EMAIL  an owner with two-factor sign-in
  NGR_OPERATOR_PASSWORD
  NGR_OPERATOR_TOTP   the owner's authenticator secret, hex

A customer registers, confirms the address with the token of the mailed link, logs in, reads the
plans, fills the cart, applies the promo code, checks out with an Idempotency-Key (and retries it),
reads the manual transfer's instructions, reports the transfer and uploads the receipt (a
multipart form). The operator logs in with a second client (password, then the authenticator's
code), approves the transfer and sets the server up by hand. The customer sees the service active
and reveals its password; the refresh token rotates, and one used twice ends the session. Every call goes through the generated
functions and models; any surprise exits non-zero with what was expected and what came.
"""

import hashlib
import hmac
import io
import os
import re
import struct
import sys
import time
import uuid
import zlib
from email import message_from_bytes
from pathlib import Path

from nextgenrdp_client import AuthenticatedClient, Client
from nextgenrdp_client.api.accounts import (
    login,
    login_second_step,
    refresh,
    register,
    verify_email,
)
from nextgenrdp_client.api.admin import (
    admin_list_services,
    admin_provision_service,
    approve_payment,
)
from nextgenrdp_client.api.cart import add_cart_item, apply_promo
from nextgenrdp_client.api.catalog import list_plans
from nextgenrdp_client.api.orders import create_order
from nextgenrdp_client.api.payments import create_payment, upload_receipt
from nextgenrdp_client.api.services import list_services, reveal_service_credentials
from nextgenrdp_client.models import (
    AddItemRequest,
    ApproveRequest,
    CheckoutResponse,
    CreateOrderRequest,
    CreatePaymentRequest,
    InstructionsStart,
    LoginRequest,
    ManualProvision,
    MfaRequest,
    MfaRequired,
    PaymentChannel,
    PaymentCreated,
    PaymentInstructions,
    PaymentMethodName,
    PromoRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    FileUpload,
    VerifyEmailRequest,
)
from nextgenrdp_client.types import File

BASE = os.environ["NGR_BASE_URL"]
EMAIL = "zainab@example.pk"
PASSWORD = "zainab-long-passphrase"


def expect(what, condition, got):
    if not condition:
        sys.exit(f"JOURNEY FAILED: {what}; got {got!r}")


def answered(response, status, kind, what):
    expect(
        f"{what}: {status} {kind.__name__}",
        response.status_code == status and isinstance(response.parsed, kind),
        (response.status_code, response.content[:500]),
    )
    return response.parsed


def png():
    """A 1×1 PNG, made here."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def mailed_token(to, path):
    """The token of the newest link to `path` mailed to `to` (waits for the mail to be sent)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        for mail in sorted(Path(os.environ["NGR_MAIL_DIR"]).glob("*.eml"), reverse=True):
            message = message_from_bytes(mail.read_bytes())
            if to not in message.get("To", ""):
                continue
            for part in message.walk():
                if part.get_content_maintype() != "text":
                    continue
                text = part.get_payload(decode=True).decode("utf-8", "replace")
                found = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", text)
                if found:
                    return found.group(1)
        time.sleep(0.2)
    sys.exit(f"JOURNEY FAILED: no {path} link mailed to {to}")


def totp(secret_hex, step):
    digest = hmac.new(bytes.fromhex(secret_hex), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def main():
    guest = Client(base_url=BASE, raise_on_unexpected_status=True)

    # Register, confirm with the mailed link's token, log in.
    registered = register.sync_detailed(
        client=guest,
        body=RegisterRequest(email=EMAIL, name="Zainab Ali", password=PASSWORD, phone="03001234567"),
    )
    expect("registered: 201", registered.status_code == 201, (registered.status_code, registered.content))
    token = mailed_token(EMAIL, "/verify-email")
    verify_email.sync_detailed(client=guest, body=VerifyEmailRequest(token=token))
    tokens = answered(
        login.sync_detailed(client=guest, body=LoginRequest(email=EMAIL, password=PASSWORD)),
        200,
        TokenResponse,
        "the customer's login",
    )
    expect("a customer", str(tokens.user.role) == "customer", tokens.user.role)
    customer = AuthenticatedClient(base_url=BASE, token=tokens.access_token, raise_on_unexpected_status=True)

    # The plan, into the cart, with the promo code.
    plans = list_plans.sync_detailed(client=guest)
    expect("the plans: 200", plans.status_code == 200, plans.status_code)
    plan = next((p for p in plans.parsed.items if p.id == os.environ["NGR_PLAN"]), None)
    expect("the plan on sale", plan is not None, [p.id for p in plans.parsed.items])
    expect("the plan has a location", len(plan.locations) > 0, plan.locations)
    cart = add_cart_item.sync_detailed(
        client=customer,
        body=AddItemRequest(plan_id=plan.id, location_id=plan.locations[0].id, validity_months=1),
    )
    expect("added: 201", cart.status_code == 201, (cart.status_code, cart.content))
    cart = apply_promo.sync_detailed(client=customer, body=PromoRequest(code=os.environ["NGR_PROMO"]))
    expect("promo applied: 200", cart.status_code == 200, (cart.status_code, cart.content))
    expect("a discount", cart.parsed.discount_pkr > 0, cart.parsed.to_dict())

    # Checkout with an Idempotency-Key; the retry answers the same order.
    key = str(uuid.uuid4())
    placed = answered(
        create_order.sync_detailed(client=customer, body=CreateOrderRequest(), idempotency_key=key),
        201,
        CheckoutResponse,
        "checkout",
    )
    order = placed.order
    expect("the promo's discount on the order", order.discount_amount_pkr > 0, order.to_dict())
    again = answered(
        create_order.sync_detailed(client=customer, body=CreateOrderRequest(), idempotency_key=key),
        200,
        CheckoutResponse,
        "the retried checkout",
    )
    expect("the same order", again.order.id == order.id, (again.order.id, order.id))

    # The transfer's instructions, the transfer reported, the receipt uploaded.
    instructions = answered(
        create_payment.sync_detailed(
            order.id, client=customer, body=CreatePaymentRequest(method=PaymentMethodName.MANUAL)
        ),
        200,
        PaymentInstructions,
        "the instructions",
    )
    start = instructions.start
    expect("instructions to follow", isinstance(start, InstructionsStart), start)
    expect("the order's amount", start.amount_pkr == order.final_amount_pkr, (start.amount_pkr, order.final_amount_pkr))
    expect("an account to send it to", len(start.accounts) > 0, start.to_dict())
    created = answered(
        create_payment.sync_detailed(
            order.id,
            client=customer,
            body=CreatePaymentRequest(
                method=PaymentMethodName.MANUAL, reference="TID55667788", channel=PaymentChannel.BANK
            ),
        ),
        201,
        PaymentCreated,
        "the transfer reported",
    )
    payment = created.payment
    expect("awaiting review", str(payment.status) == "review", payment.status)
    receipt = upload_receipt.sync_detailed(
        payment.id,
        client=customer,
        body=FileUpload(
            file=File(payload=io.BytesIO(png()), file_name="receipt.png", mime_type="image/png")
        ),
    )
    expect("receipt stored: 204", receipt.status_code == 204, (receipt.status_code, receipt.content))

    # The operator: password, then the authenticator's code; approves, then sets the server up.
    first = answered(
        login.sync_detailed(
            client=guest,
            body=LoginRequest(
                email=os.environ["NGR_OPERATOR_EMAIL"], password=os.environ["NGR_OPERATOR_PASSWORD"]
            ),
        ),
        200,
        MfaRequired,
        "the operator's first step",
    )
    step = int(time.time()) // 30
    second = login_second_step.sync_detailed(
        client=guest, body=MfaRequest(mfa_token=first.mfa_token, code=totp(os.environ["NGR_OPERATOR_TOTP"], step))
    )
    if second.status_code != 200:  # the step turned over between the code and the check
        second = login_second_step.sync_detailed(
            client=guest,
            body=MfaRequest(mfa_token=first.mfa_token, code=totp(os.environ["NGR_OPERATOR_TOTP"], step + 1)),
        )
    operator_tokens = answered(second, 200, TokenResponse, "the operator's second step")
    expect("an owner", str(operator_tokens.user.role) == "owner", operator_tokens.user.role)
    operator = AuthenticatedClient(
        base_url=BASE, token=operator_tokens.access_token, raise_on_unexpected_status=True
    )
    reviewed = approve_payment.sync_detailed(payment.id, client=operator, body=ApproveRequest())
    expect("approved: 200", reviewed.status_code == 200, (reviewed.status_code, reviewed.content))
    expect("the order paid", str(reviewed.parsed.outcome) == "order_paid", reviewed.parsed.to_dict())
    waiting = admin_list_services.sync_detailed(client=operator, user_id=tokens.user.id)
    expect("the operator sees the service", waiting.status_code == 200 and len(waiting.parsed.items) == 1, waiting.content)
    service = waiting.parsed.items[0]
    provisioned = admin_provision_service.sync_detailed(
        service.id,
        client=operator,
        body=ManualProvision(
            hostname="zainab-desk.karachi.nextgenrdp.pk",
            ip_address="203.0.113.45",
            username="Administrator",
            password="Zainab-Server-Pass-77",
        ),
    )
    expect("provisioned: 200", provisioned.status_code == 200, (provisioned.status_code, provisioned.content))

    # The customer's server, and its password.
    mine = list_services.sync_detailed(client=customer)
    expect("one service", mine.status_code == 200 and len(mine.parsed.items) == 1, mine.content)
    expect("active", str(mine.parsed.items[0].status) == "active", mine.parsed.items[0].status)
    credentials = reveal_service_credentials.sync_detailed(mine.parsed.items[0].id, client=customer)
    expect("credentials: 200", credentials.status_code == 200, credentials.content)
    expect("the password set", credentials.parsed.password == "Zainab-Server-Pass-77", credentials.parsed.to_dict())

    # The refresh token rotates: the new pair works, the old refresh token no longer does.
    rotated = answered(
        refresh.sync_detailed(client=guest, body=RefreshRequest(refresh_token=tokens.refresh_token)),
        200,
        TokenResponse,
        "the refresh",
    )
    expect("a new refresh token", rotated.refresh_token != tokens.refresh_token, rotated.refresh_token)
    # A refresh token used twice is taken for a stolen one: refused, and the session ends, so the
    # newest pair stops working too.
    reused = refresh.sync_detailed(client=guest, body=RefreshRequest(refresh_token=tokens.refresh_token))
    expect("the old refresh token refused", reused.status_code == 403, (reused.status_code, reused.content))
    ended = refresh.sync_detailed(client=guest, body=RefreshRequest(refresh_token=rotated.refresh_token))
    expect("the session ended", ended.status_code in (401, 403), (ended.status_code, ended.content))

    print("JOURNEY OK: order", order.id, "payment", payment.id, "service", service.id)


if __name__ == "__main__":
    main()
