// The purchase journey of tests/clients/journey.py, written against the types openapi-typescript
// generates from the served document (`./api` is its output) with openapi-fetch. Only
// type-checked (`tsc --noEmit`, by tests/it/clients.rs): a path, parameter, body field or response
// field that the document stops describing the way this code uses it fails the check.
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

type Schemas = components["schemas"];

export async function journey(base: string, mailedToken: (path: string) => Promise<string>) {
  const guest = createClient<paths>({ baseUrl: base });

  const registered = await guest.POST("/api/v1/auth/register", {
    body: { email: "zainab@example.pk", name: "Zainab Ali", password: "zainab-long-passphrase" },
  });
  if (registered.error) throw new Error(registered.error.detail ?? registered.error.title);
  await guest.POST("/api/v1/auth/verify-email", { body: { token: await mailedToken("/verify-email") } });

  const login = await guest.POST("/api/v1/auth/login", {
    body: { email: "zainab@example.pk", password: "zainab-long-passphrase" },
  });
  if (!login.data || !("access_token" in login.data)) throw new Error("no tokens");
  const tokens: Schemas["TokenResponse"] = login.data;
  const customer = createClient<paths>({
    baseUrl: base,
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });

  const plans = await guest.GET("/api/v1/plans", { params: { query: { category: "windows-rdp" } } });
  const plan: Schemas["PlanView"] | undefined = plans.data?.items[0];
  if (!plan) throw new Error("no plan");
  const location: number = plan.locations[0].id;

  await customer.POST("/api/v1/cart/items", {
    body: { plan_id: plan.id, location_id: location, quantity: 1, validity_months: 1 },
  });
  const promo = await customer.POST("/api/v1/cart/promo", { body: { code: "WELCOME10" } });
  const discount: number | undefined = promo.data?.discount_pkr;

  const placed = await customer.POST("/api/v1/orders", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: { use_credit: false },
  });
  if (!placed.data) throw new Error("not placed");
  const order: Schemas["OrderResponse"] = placed.data.order;

  const asked = await customer.POST("/api/v1/orders/{id}/payments", {
    params: { path: { id: order.id } },
    body: { method: "manual" },
  });
  if (asked.data && "start" in asked.data && asked.data.start?.kind === "instructions") {
    const instructions: Schemas["InstructionsStart"] = asked.data.start;
    const amount: number = instructions.amount_pkr;
    const accounts: string[] = instructions.accounts.map((account) => account.number);
    console.log(amount, accounts, discount);
  }
  const reported = await customer.POST("/api/v1/orders/{id}/payments", {
    params: { path: { id: order.id } },
    body: { method: "manual", reference: "TID55667788", channel: "bank" },
  });
  if (!reported.data || !("payment" in reported.data)) throw new Error("not reported");
  const payment: Schemas["Payment"] = reported.data.payment;

  const receipt = new FormData();
  receipt.append("file", new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: "image/png" }), "receipt.png");
  await customer.PUT("/api/v1/payments/{id}/receipt", {
    params: { path: { id: payment.id } },
    body: { file: "receipt.png" },
    bodySerializer: () => receipt,
  });

  const first = await guest.POST("/api/v1/auth/login", {
    body: { email: "owner@nextgenrdp.pk", password: "operator-passphrase" },
  });
  if (!first.data || !("mfa_token" in first.data)) throw new Error("no second step");
  const second = await guest.POST("/api/v1/auth/mfa", {
    body: { mfa_token: first.data.mfa_token, code: "123456" },
  });
  if (!second.data) throw new Error("not logged in");
  const operator = createClient<paths>({
    baseUrl: base,
    headers: { Authorization: `Bearer ${second.data.access_token}` },
  });
  const reviewed = await operator.POST("/api/v1/admin/payments/{id}/approve", {
    params: { path: { id: payment.id } },
    body: {},
  });
  const outcome: Schemas["ReviewOutcome"] | undefined = reviewed.data?.outcome;
  const waiting = await operator.GET("/api/v1/admin/services", {
    params: { query: { user_id: tokens.user.id } },
  });
  const service = waiting.data?.items[0];
  if (!service) throw new Error("no service");
  await operator.POST("/api/v1/admin/services/{id}/provision", {
    params: { path: { id: service.id } },
    body: {
      hostname: "zainab-desk.karachi.nextgenrdp.pk",
      ip_address: "203.0.113.45",
      username: "Administrator",
      password: "Zainab-Server-Pass-77",
    },
  });

  const mine = await customer.GET("/api/v1/services");
  const status: Schemas["ServiceStatus"] | undefined = mine.data?.items[0]?.status;
  const credentials = await customer.GET("/api/v1/services/{id}/credentials", {
    params: { path: { id: service.id } },
  });
  const password: string | null | undefined = credentials.data?.password;

  const rotated = await guest.POST("/api/v1/auth/refresh", { body: { refresh_token: tokens.refresh_token } });
  const refreshToken: string | undefined = rotated.data?.refresh_token;
  return { outcome, status, password, refreshToken };
}
