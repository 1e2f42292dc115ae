// The generated client against the generated API (tests/test_client.py bundles this with
// esbuild and runs it with `node --test`; BASE_URL is the uvicorn server).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, etagOf } from "./client/client";
import { isProblem, ProblemError } from "./client/errors";

declare const process: { env: Record<string, string | undefined> };
const baseUrl = process.env.BASE_URL ?? "";

test("sign up, create, list with filters and includes, update with ETags, run an action", async () => {
  const anonymous = createClient({ baseUrl });
  await assert.rejects(anonymous.auth.me(), (e: unknown) => isProblem(e, 401));
  const session = await anonymous.auth.signup({
    email: "owner@client.test",
    password: "long enough 1",
    tenant: "Client Co",
  });
  const api = createClient({ baseUrl, token: () => session.token });
  const me = await api.auth.me();
  assert.deepEqual(me.roles, ["admin"]);

  const acme = await api.createCustomer({ name: "Acme Ltd", email: "billing@acme.test" });
  const other = await api.createCustomer({ name: "Other", email: "o@other.test" });
  const invoice = await api.createInvoice({ number: "INV-1", customer: acme.id, due_date: "2026-12-31" });
  assert.equal(invoice.status, "draft");
  assert.equal(invoice.subtotal, "0.0000");
  for (const [quantity, unit_price] of [[2, "10.50"], [1, "4.00"]] as const) {
    await api.createInvoiceLine({ invoice: invoice.id, description: "work", quantity, unit_price });
  }
  await api.createInvoice({ number: "INV-2", customer: other.id, due_date: "2027-01-31" });

  const page = await api.listInvoices({
    filter: { "customer.name": { contains: "Acme" }, status: "draft", total: { gte: "20" } },
    include: ["customer", "lines"],
    sort: ["-number"],
    count: true,
  });
  assert.equal(page.total, 1);
  const [row] = page.items;
  assert.equal(row.number, "INV-1");
  assert.equal(typeof row.customer === "object" ? row.customer.name : row.customer, "Acme Ltd");
  assert.equal(row.lines.length, 2);
  assert.equal(row.subtotal, "25.0000");
  const both = await api.listInvoices({ filter: { status: { in: ["draft", "sent"] } }, sort: ["number"] });
  assert.deepEqual(both.items.map((i) => i.number), ["INV-1", "INV-2"]);
  const bad = await api.listInvoices({ filter: { nmae: "x" } as never }).catch((e: unknown) => e);
  assert.ok(bad instanceof ProblemError && bad.status === 400 && "filter[nmae]" in bad.fieldErrors());

  const fetched = await api.getInvoice(invoice.id, { include: ["customer"] });
  const etag = etagOf(fetched);
  assert.ok(etag);
  const changed = await api.updateInvoice(invoice.id, { notes: "first" }, { ifMatch: etag });
  assert.equal(changed.notes, "first");
  assert.ok(etagOf(changed) && etagOf(changed) !== etag);
  const stale = await api.updateInvoice(invoice.id, { notes: "second" }, { ifMatch: etag }).catch((e: unknown) => e);
  assert.ok(stale instanceof ProblemError, String(stale));
  assert.equal(stale.status, 412);
  assert.equal((await api.getInvoice(invoice.id)).notes, "first");

  const key = `send-${invoice.id}`;
  const sent = await api.sendInvoice(invoice.id, { idempotencyKey: key });
  const again = await api.sendInvoice(invoice.id, { idempotencyKey: key });
  assert.equal(sent.status, "sent");
  assert.deepEqual(again, sent);
  await assert.rejects(api.sendInvoice(invoice.id), (e: unknown) => isProblem(e, 409));

  const invalid = await api.createCustomer({ name: "x".repeat(300), email: "nope" }).catch((e: unknown) => e);
  assert.ok(invalid instanceof ProblemError && invalid.status === 422);
  assert.deepEqual(Object.keys(invalid.fieldErrors()).sort(), ["email", "name"]);

  const tenantless = createClient({ baseUrl, token: session.token, tenant: "00000000-0000-0000-0000-000000000000" });
  await assert.rejects(tenantless.listCustomers(), (e: unknown) => e instanceof ProblemError && e.status >= 400);
});
