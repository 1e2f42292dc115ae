"""The generated UI in real headless Chromium, served by `gen serve` on PostgreSQL.

One `gen serve` of a copy of the invoices example for the module. The tests
act as users: they click, type and read what the page says. The `page`
fixture (tests/browser.py) fails a test on any console error.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from cli.main import main
from tests.browser import ConsoleWatch, screenshot
from tests.conftest import EXAMPLE
from tests.test_api_uvicorn import running_gen

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

PASSWORD = "correct horse battery"
#: The en dash of the pager's ranges ("1-25 of 30" with an en dash).
DASH = "\u2013"


@dataclass(frozen=True)
class Served:
    base: str
    project: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str) -> Iterator[Served]:
    from tests import pg

    project = tmp_path_factory.mktemp("ui") / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    generated = CliRunner().invoke(main, ["--project", str(project), "generate"])
    assert generated.exit_code == 0, generated.output
    url = pg.create_database(pg_admin_url)
    try:
        with running_gen(project, "serve", url, project / "serve.log") as (base, _):
            yield Served(base, project)
    finally:
        pg.drop_database(pg_admin_url, url)


# Steps a user takes ----------------------------------------------------------------------


def sign_up(page: Page, base: str, email: str, organisation: str) -> None:
    page.goto(f"{base}/app/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Organisation name").fill(organisation)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("navigation", name="Main").wait_for()


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/app/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def open_section(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.get_by_role("heading", level=1, name=name).wait_for()


def pick(page: Page, label: str, search: str, option: str) -> None:
    """Choose a row in a reference picker by typing part of its name."""
    box = page.get_by_role("combobox", name=label)
    box.fill(search)
    page.get_by_role("option", name=option).click()


def labelled(scope: Page | Locator, label: str) -> Locator:
    """The control labelled `label` (a required field's label ends in " *")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def heading(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def field_value(page: Page, label: str) -> str:
    """The value shown next to a label on a detail page."""
    pair = page.locator(".rf-pair").filter(
        has=page.locator("dt", has_text=re.compile(f"^{label}$"))
    )
    return pair.locator("dd").inner_text().strip()


def api(page: Page, method: str, path: str, body: object | None = None) -> httpx.Response:
    """A request from the signed-in browser (its cookies and CSRF token), as a script would."""
    result = page.evaluate(
        """async ([method, path, body]) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("reframe_csrf="));
            const headers = { "content-type": "application/json" };
            if (csrf) headers["x-csrf-token"] = decodeURIComponent(csrf.split("=")[1]);
            const tenant = localStorage.getItem("reframe.tenant");
            if (tenant) headers["x-tenant"] = tenant;
            const r = await fetch("/api" + path, {
                method, headers, body: body === null ? undefined : JSON.stringify(body)
            });
            return { status: r.status, text: await r.text() };
        }""",
        [method, path, body],
    )
    return httpx.Response(result["status"], text=result["text"])


# The journey -------------------------------------------------------------------------------


def test_a_user_runs_an_invoice_from_draft_to_paid(
    served: Served, page: Page, console: ConsoleWatch
) -> None:
    base = served.base
    sign_up(page, base, "ann@journey.test", "Journey Ltd")
    assert "ann@journey.test" in page.get_by_test_id("current-user").inner_text()
    me = api(page, "GET", "/auth/me").json()
    tenant = me["tenant"]["id"]
    # An admin gives herself the billing role (the members endpoint), to take payments.
    added = api(page, "POST", f"/tenants/{tenant}/members",
                {"email": "ann@journey.test", "roles": ["admin", "billing"]})  # fmt: skip
    assert added.status_code in (200, 201), added.text
    page.reload()

    open_section(page, "Customers")
    page.get_by_role("link", name="New customer").click()
    labelled(page, "Name").fill("Globex")
    labelled(page, "Email").fill("billing@globex.test")
    page.get_by_role("button", name="Create customer").click()
    page.get_by_role("heading", name="Customer Globex").wait_for()

    open_section(page, "Products")
    page.get_by_role("link", name="New product").click()
    labelled(page, "Name").fill("Widget")
    labelled(page, "SKU").fill("widget-1")
    labelled(page, "Unit price").fill("10.00")
    screenshot(page, "form-product")
    page.get_by_role("button", name="Create product").click()
    page.get_by_role("heading", name="Product Widget").wait_for()

    open_section(page, "Invoices")
    page.get_by_role("link", name="New invoice").click()
    labelled(page, "Number").fill("INV-001")
    pick(page, "Customer", "Glob", "Globex")
    labelled(page, "Due date").fill("2026-12-31")
    screenshot(page, "form-invoice")
    page.get_by_role("button", name="Create invoice").click()
    page.get_by_role("heading", name="Invoice INV-001").wait_for()
    invoice_url = page.url
    assert field_value(page, "Status") == "Draft"
    # No lines yet: the send guard (count of lines > 0) hides the button.
    assert page.get_by_role("button", name="Send", exact=True).count() == 0

    for description, quantity, price in (("Widgets", "2", "10.00"), ("Setup", "1", "5.50")):
        page.get_by_role("link", name="Add invoice line").click()
        page.get_by_role("heading", name="New invoice line").wait_for()
        labelled(page, "Description").fill(description)
        labelled(page, "Quantity").fill(quantity)
        labelled(page, "Unit price").fill(price)
        page.get_by_role("button", name="Create invoice line").click()
        page.get_by_role("heading", name=re.compile("^Invoice line")).wait_for()
        page.goto(invoice_url)
        page.get_by_role("heading", name="Invoice INV-001").wait_for()

    page.get_by_role("cell", name="Setup").wait_for()
    assert field_value(page, "Subtotal") == "25.50"
    assert field_value(page, "Total") == "25.50"
    screenshot(page, "detail-invoice")

    page.get_by_role("button", name="Send", exact=True).click()
    page.locator(".rf-pair dd", has_text="Sent").first.wait_for()
    assert field_value(page, "Status") == "Sent"
    page.get_by_role("button", name="Pay").click()
    dialog = page.get_by_role("dialog", name="Pay")
    labelled(dialog, "Amount").fill("25.50")
    labelled(dialog, "Reference").fill("bank transfer 42")
    dialog.get_by_role("button", name="Pay").click()
    dialog.wait_for(state="detached")
    page.locator(".rf-pair dd", has_text="Paid").first.wait_for()
    assert field_value(page, "Status") == "Paid"
    assert page.get_by_role("button", name="Pay").count() == 0

    # More invoices, so the list has filters, a sort and pages to work with.
    customer = api(page, "GET", "/customers?filter[name]=Globex").json()["items"][0]["id"]
    for n in range(2, 31):
        made = api(page, "POST", "/invoices",
                   {"number": f"INV-{n:03}", "customer": customer, "due_date": "2027-01-15"})  # fmt: skip
        assert made.status_code == 201, made.text

    open_section(page, "Invoices")
    table = page.get_by_role("table", name="Invoices")
    assert page.get_by_role("status").filter(has_text="of 30").inner_text() == f"1{DASH}25 of 30"
    screenshot(page, "list-invoices")
    page.get_by_role("button", name="Next page").click()
    page.get_by_role("status").filter(has_text=f"26{DASH}30 of 30").wait_for()
    assert table.locator("tbody tr").count() == 5
    page.get_by_role("button", name="Previous page").click()
    page.get_by_role("status").filter(has_text=f"1{DASH}25 of 30").wait_for()

    page.get_by_role("button", name="Number").click()  # sort by number, ascending
    first_cell = table.locator("tbody tr").first.locator("td").first
    expect(page.get_by_role("columnheader", name=re.compile("Number"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(first_cell).to_have_text("INV-001")
    page.get_by_role("button", name="Number").click()  # descending
    expect(first_cell).to_have_text("INV-030")

    labelled(page, "Status").select_option("paid")
    page.get_by_role("status").filter(has_text=f"1{DASH}1 of 1").wait_for()
    expect(first_cell).to_have_text("INV-001")
    labelled(page, "Status").select_option("void")
    page.get_by_text("No invoices match these filters.").wait_for()
    labelled(page, "Status").select_option("")

    # Two tabs edit the same draft: the second save is refused and says why.
    draft = api(page, "GET", "/invoices?filter[number]=INV-002").json()["items"][0]["id"]
    page.goto(f"{base}/app/invoices/{draft}/edit")
    other = page.context.new_page()
    other.goto(f"{base}/app/invoices/{draft}/edit")
    labelled(other, "Notes").fill("Changed in the other tab")
    other.get_by_role("button", name="Save").click()
    other.get_by_role("heading", name="Invoice INV-002").wait_for()
    other.close()
    console.expect_response(412, f"/api/invoices/{draft}$")  # the stale save, on purpose
    labelled(page, "Notes").fill("Changed in the stale tab")
    page.get_by_role("button", name="Save").click()
    conflict = page.get_by_role("alert").filter(has_text="changed by someone else")
    conflict.wait_for()
    assert api(page, "GET", f"/invoices/{draft}").json()["notes"] == "Changed in the other tab"
    page.get_by_role("button", name="Load the latest version").click()
    expect(labelled(page, "Notes")).to_have_value("Changed in the other tab")

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name=re.compile("^Sign in")).wait_for()
    page.goto(invoice_url)
    page.get_by_role("heading", name=re.compile("^Sign in")).wait_for()


def test_a_user_tags_a_customer_in_its_edit_form(served: Served, page: Page) -> None:
    """A many-to-many in a form: the picker sets the links, the detail shows them, and an
    edit starts from them (their keys: the PATCH sends keys, which the API takes)."""
    owner = account(served.base, "tags@links.test", "Links Ltd")
    made = owner.call("POST", "/customers", {"name": "Umbrella", "email": "u@umbrella.test"})
    assert made.status_code == 201, made.text
    customer = made.json()["id"]
    sign_in(page, served.base, owner.email)
    open_section(page, "Tags")
    page.get_by_role("link", name="New tag").click()
    labelled(page, "Name").fill("urgent")
    page.get_by_role("button", name="Create tag").click()
    page.get_by_role("heading", name="Tag urgent").wait_for()

    # The form checks every field: the credit limit comes back as "5000.0000", 2 places still.
    page.goto(f"{served.base}/app/customers/{customer}/edit")
    pick(page, "Tags", "urg", "urgent")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Customer Umbrella", exact=True).wait_for()
    page.get_by_role("tab", name="Contacts").click()
    expect(page.get_by_role("tabpanel", name="Contacts")).to_contain_text("urgent")
    linked = owner.call("GET", f"/customers/{customer}?include=tags").json()["tags"]
    assert [t["name"] for t in linked] == ["urgent"]

    # The edit form starts from the links; removing the chip unlinks it.
    page.goto(f"{served.base}/app/customers/{customer}/edit")
    page.get_by_role("button", name="Remove urgent").click()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Customer Umbrella", exact=True).wait_for()
    assert owner.call("GET", f"/customers/{customer}?include=tags").json()["tags"] == []


# Who sees what ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A user signed up through the API, with a bearer token for setting things up."""

    base: str
    email: str
    token: str
    tenant: str

    def call(self, method: str, path: str, body: object | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", "x-tenant": self.tenant}
        return httpx.request(method, f"{self.base}/api{path}", json=body, headers=headers)


def account(base: str, email: str, organisation: str) -> Account:
    answer = httpx.post(
        f"{base}/api/auth/signup",
        json={"email": email, "password": PASSWORD, "tenant": organisation},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Account(base, email, body["token"], body["tenant"]["id"])


def sent_invoice(owner: Account, number: str) -> str:
    """An invoice of `owner`'s tenant with one line, sent: the state where it can be paid."""
    customer = owner.call(
        "POST", "/customers", {"name": f"Customer of {number}", "email": "c@x.test"}
    )
    assert customer.status_code == 201, customer.text
    invoice = owner.call("POST", "/invoices",
                         {"number": number, "customer": customer.json()["id"], "due_date": "2027-02-01"})  # fmt: skip
    assert invoice.status_code == 201, invoice.text
    key = invoice.json()["id"]
    line = owner.call("POST", "/invoice-lines",
                      {"invoice": key, "description": "Work", "quantity": 3, "unit_price": "7.00"})  # fmt: skip
    assert line.status_code == 201, line.text
    sent = owner.call("POST", f"/invoices/{key}/actions/send")
    assert sent.status_code == 200, sent.text
    return key


def test_another_tenant_sees_none_of_it(served: Served, page: Page, console: ConsoleWatch) -> None:
    owner = account(served.base, "owner@iso.test", "Isolated Inc")
    key = sent_invoice(owner, "ISO-1")
    sign_up(page, served.base, "stranger@iso.test", "Elsewhere Ltd")
    open_section(page, "Invoices")
    page.get_by_text("No invoices yet.").wait_for()
    open_section(page, "Customers")
    page.get_by_text("No customers yet.").wait_for()
    console.expect_response(404, f"/api/invoices/{key}")  # another tenant's row: not found
    page.goto(f"{served.base}/app/invoices/{key}")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Not Found")
    assert "ISO-1" not in page.inner_text("main")


def test_without_the_billing_role_there_is_no_pay_button_and_the_server_refuses(
    served: Served, page: Page, console: ConsoleWatch
) -> None:
    owner = account(served.base, "boss@roles.test", "Roles Ltd")
    key = sent_invoice(owner, "ROLE-1")
    member = account(served.base, "member@roles.test", "Member's own")
    added = owner.call("POST", f"/tenants/{owner.tenant}/members",
                       {"email": member.email, "roles": ["member"]})  # fmt: skip
    assert added.status_code == 201, added.text
    sign_in(page, served.base, member.email)
    page.get_by_label("Organisation").select_option(label="Roles Ltd")
    expect(page.get_by_test_id("current-user")).to_contain_text("(member)")
    page.goto(f"{served.base}/app/invoices/{key}")
    page.get_by_role("heading", name="Invoice ROLE-1").wait_for()
    assert field_value(page, "Status") == "Sent"
    actions = page.get_by_role("group", name="Actions")
    assert actions.get_by_role("button", name="Pay").count() == 0
    assert actions.get_by_role("button", name="Void").count() == 0  # admin or a draft's owner
    # The owner, an admin without billing, sees Void but no Pay either.
    console.expect_response(403, f"/api/invoices/{key}/actions/pay$")  # forced, on purpose
    forced = api(page, "POST", f"/invoices/{key}/actions/pay", {"amount": "21.00"})
    assert forced.status_code == 403, forced.text
    assert "billing" in forced.json()["detail"]
    assert owner.call("GET", f"/invoices/{key}").json()["status"] == "sent"


# Overrides ------------------------------------------------------------------------------------

BIG_TOTAL = """\
import { registerWidget, type DisplayProps } from "reframe/ui";

function BigTotal(props: DisplayProps) {
  return <strong data-testid="big-total">Total due: {String(props.value)}</strong>;
}

registerWidget("Invoice.total", { Display: BigTotal });
"""

BROKEN = """\
import { registerWidget } from "reframe/ui";

const amount = 1 +* 2;
registerWidget("Invoice.number", {});
"""


def test_an_override_replaces_one_fields_widget_and_survives_regeneration(
    served: Served, page: Page
) -> None:
    owner = account(served.base, "owner@override.test", "Override Ltd")
    key = sent_invoice(owner, "OVR-1")
    override = served.project / "ui" / "overrides" / "BigTotal.tsx"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text(BIG_TOTAL, encoding="utf-8")
    try:
        sign_in(page, served.base, owner.email)
        page.goto(f"{served.base}/app/invoices/{key}")
        expect(page.get_by_test_id("big-total")).to_have_text("Total due: 21.0000")
        # Only that field: the subtotal, also money, keeps the built-in widget.
        assert field_value(page, "Subtotal") == "21.00"
        regenerated = CliRunner().invoke(main, ["--project", str(served.project), "generate"])
        assert regenerated.exit_code == 0, regenerated.output
        assert override.read_text(encoding="utf-8") == BIG_TOTAL
        page.reload()
        expect(page.get_by_test_id("big-total")).to_have_text("Total due: 21.0000")
    finally:
        override.unlink()


def test_an_override_that_does_not_compile_is_named_and_the_app_goes_on(
    served: Served, page: Page
) -> None:
    owner = account(served.base, "owner@broken.test", "Broken Ltd")
    broken = served.project / "ui" / "overrides" / "Broken.tsx"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(BROKEN, encoding="utf-8")
    try:
        sign_in(page, served.base, owner.email)
        report = page.get_by_role("alert").filter(has_text="could not be loaded")
        expect(report).to_contain_text('ui/overrides/Broken.tsx:3:19 Unexpected "*"')
        expect(report).to_contain_text("const amount = 1 +* 2;")
        screenshot(page, "override-error")
        open_section(page, "Invoices")  # the rest of the app works
        page.get_by_text("No invoices yet.").wait_for()
        # Asked for directly, the file's error is a readable page.
        page.goto(f"{served.base}/_overrides/Broken.tsx")
        expect(page.locator("body")).to_contain_text("Broken.tsx")
        expect(page.locator("body")).to_contain_text("3")
    finally:
        broken.unlink()


# Keyboard only ------------------------------------------------------------------------------


def focused(page: Page) -> str:
    """The accessible name of the focused element, as a screen reader would read it."""
    name: str = page.evaluate(
        """() => {
            const el = document.activeElement;
            const label = el.labels && el.labels[0] ? el.labels[0].textContent : null;
            return (label || el.getAttribute("aria-label") || el.textContent || "").trim();
        }"""
    )
    return name


def test_everything_in_the_journey_works_from_the_keyboard(served: Served, page: Page) -> None:
    owner = account(served.base, "keys@keyboard.test", "Keyboard Ltd")
    address = {
        "street": "1 Keyboard Lane",
        "city": "Typeton",
        "postal_code": "K3Y 1",
        "country": "GB",
    }
    assert owner.call("POST", "/addresses", address).status_code == 201
    page.goto(f"{served.base}/app/")
    labelled(page, "Email").focus()
    page.keyboard.type(owner.email)
    page.keyboard.press("Tab")
    assert focused(page) == "Password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("navigation", name="Main").wait_for()

    # The first Tab reaches the skip link; focus is visible wherever it lands.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")

    customers = page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers")
    customers.focus()
    page.keyboard.press("Enter")
    new = page.get_by_role("link", name="New customer")
    new.focus()
    page.keyboard.press("Enter")
    labelled(page, "Name").focus()
    page.keyboard.type("Initech")
    page.keyboard.press("Tab")
    page.keyboard.type("ap@initech.test")
    # The reference picker: type, arrow down to the option, Enter picks it.
    picker = page.get_by_role("combobox", name="Billing address")
    picker.focus()
    page.keyboard.type("Keyboard")
    expect(picker).to_have_attribute("aria-expanded", "true")
    page.get_by_role("option", name=re.compile("1 Keyboard Lane")).wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(picker).to_have_attribute("aria-expanded", "false")
    page.get_by_role("button", name="Create customer").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Customer Initech").wait_for()
    assert field_value(page, "Billing address") == "1 Keyboard Lane"

    # Tabs move with the arrow keys, and the panel follows.
    details = page.get_by_role("tab", name="Details")
    details.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Invoices")).to_have_attribute("aria-selected", "true")
    assert focused(page) == "Invoices"
    expect(page.get_by_role("tabpanel", name="Invoices")).to_be_visible()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Contacts")).to_be_focused()


def test_a_list_page_asks_for_its_rows_once_and_before_the_app_has_run(
    served: Served, page: Page
) -> None:
    owner = account(served.base, "early@bird.test", "Early Birds")
    sent_invoice(owner, "EARLY-2")
    sent_invoice(owner, "EARLY-1")
    draft = owner.call("POST", "/customers", {"name": "Drafty", "email": "d@x.test"})
    owner.call("POST", "/invoices", {"number": "EARLY-0", "customer": draft.json()["id"]})
    sign_in(page, served.base, owner.email)
    asked: list[str] = []
    page.on("request", lambda r: "/api/" in r.url and asked.append(r.url))
    # The address holds a filter and a sort: the early request must ask what the view asks.
    page.goto(f"{served.base}/app/invoices?f.status=sent&sort=number")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("EARLY-1")
    lists = [u for u in asked if "/api/invoices" in u]
    assert len(lists) == 1, asked
    assert "filter%5Bstatus%5D=sent" in lists[0] and "sort=number" in lists[0]
    assert len([u for u in asked if u.endswith("/api/auth/me")]) == 1, asked
    # Asked by ui/prefetch.ts, not once React had rendered the view (after DOMContentLoaded).
    started, loaded = page.evaluate(
        """() => [
          performance.getEntriesByType("resource").find((r) => r.name.includes("/api/invoices")).startTime,
          performance.getEntriesByType("navigation")[0].domContentLoadedEventStart,
        ]"""
    )
    assert started < loaded
