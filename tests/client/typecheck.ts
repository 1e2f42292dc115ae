// Type-level tests of the invoices example's generated client (tests/test_client.py).
// tsc --strict must pass: each `@ts-expect-error` line must NOT compile, or tsc fails.
import {
  can,
  createClient,
  etagOf,
  invalidation,
  isProblem,
  queryKeys,
  useCreateInvoiceLine,
  useInvoice,
  useInvoiceAction,
  useInvoices,
  type Caller,
  type Customer,
  type Invoice,
  type InvoiceCreate,
  type InvoiceFilter,
  type InvoiceListParams,
  type InvoiceStatus,
  type InvoiceUpdate,
  type InvoiceWith,
  type PaymentCreate,
} from "./client/index";

const client = createClient({ baseUrl: "http://localhost:8000", token: () => "t", tenant: "x" });

export async function fine(): Promise<void> {
  const page = await client.listInvoices({
    filter: { status: "sent", total: { gte: "100" }, "customer.name": { contains: "acme" } },
    sort: ["-created_at", "number", "customer.name"],
    include: ["customer", "lines"],
    page: { size: 10 },
    count: true,
  });
  const first: InvoiceWith<"customer" | "lines"> | undefined = page.items[0];
  if (first !== undefined) {
    const who: string | Customer = first.customer;
    const lines: number = first.lines.length;
    void [who, lines];
  }
  const plain = await client.getInvoice("id");
  const key: string = plain.customer; // without include a ref is the key
  const status: InvoiceStatus = plain.status;
  const updated = await client.updateInvoice(plain.id, { notes: "x" }, { ifMatch: etagOf(plain) });
  await client.payInvoice(updated.id, { amount: "25.00" }, { idempotencyKey: "k" });
  await client.sendInvoice(updated.id);
  const body: InvoiceCreate = { number: "1", customer: key, due_date: "2026-12-31" };
  const payment: PaymentCreate = { invoice: plain.id, amount: "1.00", method: "card" };
  void [status, body, payment, queryKeys.invoice.list({}), invalidation.InvoiceLine.create];
  const me: Caller = { userId: null, tenantId: null, roles: ["billing"], now: "2026-01-01T00:00:00Z" };
  const allowed: boolean = can.invoice.pay(plain, me) && can.customer.seeNotes(plain.customer === key ? ({} as Customer) : ({} as Customer), me);
  void allowed;
  try {
    await client.deleteInvoice(plain.id);
  } catch (error) {
    if (isProblem(error, 412)) void error.fieldErrors();
  }
}

export function hooks(): void {
  const list = useInvoices({ filter: { status: "draft" }, include: ["customer"] });
  const row: InvoiceWith<"customer"> | undefined = list.data?.items[0];
  const one = useInvoice("id", { include: ["lines"] });
  const lines = one.data?.lines;
  useInvoiceAction("send").mutate({ key: "id" });
  useInvoiceAction("pay").mutate({ key: "id", input: { amount: "1.00" } });
  useCreateInvoiceLine().mutate({ invoice: "id", description: "d", unit_price: "1.00" });
  void [row, lines];
}

export async function refused(): Promise<void> {
  // @ts-expect-error: no field `nmae` to filter on
  await client.listInvoices({ filter: { nmae: "x" } });
  // @ts-expect-error: "draf" is not a status
  await client.listInvoices({ filter: { status: "draf" } });
  // @ts-expect-error: `contains` is not an operator of a date
  const byDate: InvoiceFilter = { due_date: { contains: "2026" } };
  // @ts-expect-error: a money value is a string, never a float
  const byTotal: InvoiceFilter = { total: { gt: 100 } };
  // @ts-expect-error: `number` is not a relation to include
  await client.listInvoices({ include: ["number"] });
  // @ts-expect-error: no field `nope` one ref away
  const deep: InvoiceFilter = { "customer.nope": "x" };
  // @ts-expect-error: not a field to sort by
  const sorted: InvoiceListParams = { sort: ["-lines"] };
  // @ts-expect-error: `status` is a state: it moves through actions, never in a create
  const withStatus: InvoiceCreate = { number: "1", customer: "c", due_date: "2026-12-31", status: "draft" };
  // @ts-expect-error: `subtotal` is computed (read-only)
  const computed: InvoiceUpdate = { subtotal: "1.00" };
  // @ts-expect-error: `sent_at` is read-only
  const readOnly: InvoiceCreate = { number: "1", customer: "c", due_date: "2026-12-31", sent_at: "x" };
  // @ts-expect-error: `due_date` is required in a create
  const missing: InvoiceCreate = { number: "1", customer: "c" };
  // @ts-expect-error: "cheque" is not a payment method
  const method: PaymentCreate = { invoice: "i", amount: "1.00", method: "cheque" };
  // @ts-expect-error: `lines` is absent unless included
  const notIncluded = (await client.getInvoice("id")).lines;
  // @ts-expect-error: `pay` takes an input
  await client.payInvoice("id");
  // @ts-expect-error: no action `approve`
  useInvoiceAction("approve");
  // @ts-expect-error: wrong include on one row
  await client.getInvoice("id", { include: ["status"] });
  const row: Invoice = await client.getInvoice("id");
  // @ts-expect-error: an Invoice's customer without include is a key, not a Customer
  const customer: Customer = row.customer;
  void [byDate, byTotal, deep, sorted, withStatus, computed, readOnly, missing, method, notIncluded, customer];
}
