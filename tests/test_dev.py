"""`gen dev` on the invoices example: a saved model reaches the open page, the API and the
database; a model error is shown over the app and goes away when fixed.

One `gen dev` subprocess for the module, on a copy of the example and a database of its
own. The tests edit the copy's model files as a user's editor would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from cli.migrate import make_migration
from generators.db.diff import Answers
from runtime.database import normalize_url
from runtime.dev import PAGES_WAIT_SECONDS
from runtime.dev_link import LINK_FILE, running_dev_server
from tests.conftest import EXAMPLE
from tests.test_api_uvicorn import GEN, running_gen
from tests.test_ui_browser import account, sent_invoice, sign_in, sign_up

if TYPE_CHECKING:
    from playwright.sync_api import Page

INVOICES = "domain/invoices.model.py"
DUE_DATE = '        "due_date": date().required(),\n'
FORM_FIELDS = '"due_date", "notes", "lines", "tags"]'
#: Long enough for the watcher's debounce, a rebuild and the page's update, on a busy machine.
UPDATE_MS = 15_000


@dataclass
class Dev:
    base: str
    project: Path
    url: str
    log: Path
    process: subprocess.Popen[str]

    def edit(self, relative: str, *changes: tuple[str, str]) -> None:
        """Replace each (old, new) once, and save the file once, as an editor does."""
        path = self.project / relative
        text = path.read_text(encoding="utf-8")
        for old, new in changes:
            assert old in text, f"{old!r} is not in {relative}"
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")

    def said(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def columns(self, table: str) -> set[str]:
        engine = sa.create_engine(normalize_url(self.url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return {c["name"] for c in sa.inspect(connection).get_columns(table)}
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str) -> Iterator[Dev]:
    from tests import pg

    project = tmp_path_factory.mktemp("dev") / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    url = pg.create_database(pg_admin_url)
    log = project.parent / "dev.log"
    try:
        with running_gen(project, "dev", url, log) as (base, server):
            yield Dev(base, project, url, log, server)
    finally:
        pg.drop_database(pg_admin_url, url)


def wait_in_log(dev: Dev, text: str, after: int) -> None:
    deadline = time.monotonic() + UPDATE_MS / 1000
    while text not in dev.said()[after:]:
        assert time.monotonic() < deadline, f"gen dev did not say {text!r}:\n{dev.said()}"
        time.sleep(0.05)


def test_a_field_added_to_the_model_shows_in_the_open_form_and_the_database(
    dev: Dev, page: Page
) -> None:
    sign_up(page, dev.base, "dev@reframe.test", "Dev Shop")
    page.goto(f"{dev.base}/app/invoices/new")
    number = page.get_by_role("textbox", name="Number", exact=True)
    number.fill("INV-DEV-1")
    # Set in the page: a reload would lose it.
    page.evaluate("window.__sameDocument = true")
    assert "po_number" not in dev.columns("invoice")

    said = len(dev.said())
    dev.edit(
        INVOICES,
        (DUE_DATE, DUE_DATE + '        "po_number": text().max_length(40),\n'),
        (FORM_FIELDS, FORM_FIELDS.replace('"notes"', '"po_number", "notes"')),
    )

    expect(page.get_by_label("Po number")).to_be_visible(timeout=UPDATE_MS)
    assert page.evaluate("window.__sameDocument") is True
    expect(number).to_have_value("INV-DEV-1")  # what was typed is still there
    wait_in_log(dev, "API reloaded by", said)
    # The page said it shows the new snapshot: the API reloaded then, not after a time-out.
    told, shown = map(int, re.findall(r"told in (\d+) ms, shown by (\d+) ms", dev.said())[-1])
    assert shown - told < PAGES_WAIT_SECONDS * 1000 - 100
    assert "the database now has it: Add column invoice.po_number" in dev.said()[said:]
    assert "po_number" in dev.columns("invoice")
    # The reloaded API knows the field too.
    answer = page.evaluate("""async () => (await fetch("/api/invoices?page[size]=1")).status""")
    assert answer == 200


def test_a_model_error_is_shown_over_the_app_until_it_is_fixed(dev: Dev, page: Page) -> None:
    sign_up(page, dev.base, "oops@reframe.test", "Oops Ltd")
    page.goto(f"{dev.base}/app/customers")
    page.get_by_role("heading", level=1, name="Customers").wait_for()
    broken = '        "broken": ref("Nowhere"),\n'
    line = (dev.project / INVOICES).read_text(encoding="utf-8").splitlines().index(
        DUE_DATE.rstrip("\n")
    ) + 2  # the line after due_date, 1-based
    said = len(dev.said())
    dev.edit(INVOICES, (DUE_DATE, DUE_DATE + broken))

    overlay = page.get_by_role("alertdialog", name="The model has an error")
    expect(overlay).to_be_visible(timeout=UPDATE_MS)
    expect(overlay).to_contain_text(f"domain/invoices.model.py:{line}")
    expect(overlay).to_contain_text("unknown entity 'Nowhere'")
    wait_in_log(dev, "still serving the last good snapshot", said)
    # The app goes on with the last model that compiled.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.get_by_role("heading", level=1, name="Invoices").wait_for()
    expect(overlay).to_be_visible()

    dev.edit(INVOICES, (broken, ""))
    expect(overlay).to_be_hidden(timeout=UPDATE_MS)
    assert re.search(r"domain/invoices\.model\.py:\d+: error\[unknown-entity\]", dev.said())


BIG_TOTAL = """import { registerWidget, type DisplayProps } from "reframe/ui";

function BigTotal(props: DisplayProps) {
  return <strong className="big-total">{String(props.value)} in all</strong>;
}

registerWidget("Invoice.total", { Display: BigTotal });
"""


def test_the_inspector_says_where_a_widget_comes_from_and_an_override_shows_on_save(
    dev: Dev, page: Page
) -> None:
    owner = account(dev.base, "inspect@reframe.test", "Inspect Co")
    sent_invoice(owner, "INS-1")
    sign_in(page, dev.base, owner.email)
    page.goto(f"{dev.base}/app/invoices")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("INS-1")
    page.evaluate("window.__sameDocument = true")

    # A saved override replaces the widget in the open page.
    (dev.project / "ui" / "overrides").mkdir(parents=True, exist_ok=True)
    (dev.project / "ui" / "overrides" / "BigTotal.tsx").write_text(BIG_TOTAL, encoding="utf-8")
    expect(row.locator(".big-total")).to_have_text("21.0000 in all", timeout=UPDATE_MS)
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_role("button", name="Inspect").click()
    expect(page.get_by_role("button", name="Inspect")).to_have_attribute("aria-pressed", "true")
    row.locator('[data-rf-field="Invoice.due_date"]').click()
    panel = page.get_by_role("dialog", name="Inspector")
    line = (dev.project / INVOICES).read_text(encoding="utf-8").splitlines().index(
        DUE_DATE.rstrip("\n")
    ) + 1
    expect(panel).to_contain_text("Invoice.due_date")
    expect(panel).to_contain_text(f"domain/invoices.model.py:{line}")
    expect(panel).to_contain_text("field f_")  # the IR node's stable id
    expect(panel).to_contain_text("rule ui.entity in ui/entities/invoice.ts")
    expect(panel).to_contain_text('the built-in widget "date"')
    assert page.url.endswith("/app/invoices")  # the click explained; it did not open the row

    row.locator('[data-rf-field="Invoice.total"]').click()
    expect(panel).to_contain_text("Invoice.total")
    expect(panel).to_contain_text('an override (ui/overrides/), registered as "Invoice.total"')

    page.get_by_role("button", name="Inspect").click()
    expect(panel).to_be_hidden()
    expect(page.locator("body.rf-inspecting")).to_have_count(0)


def test_started_on_a_broken_model_it_serves_the_last_good_one_and_says_why(
    example_copy: Path, fresh_db: str
) -> None:
    from starlette.testclient import TestClient

    from generators.pipeline import generate
    from runtime.dev import DevServer

    project = example_copy
    generate(project)  # a good snapshot
    model = project / INVOICES
    good = model.read_text(encoding="utf-8")
    model.write_text(good.replace(DUE_DATE, DUE_DATE + '        "x": ref("Nowhere"),\n'))
    said: list[str] = []
    server = DevServer(project, fresh_db, say=said.append)
    started = server.start()
    assert not started.ok
    assert "domain/invoices.model.py" in started.lines[0] and "Nowhere" in started.lines[0]
    assert server.events.current["type"] == "error"  # what a page that connects is told
    with TestClient(server) as client:
        assert client.get("/api/openapi.json").status_code == 200  # the last good API
        assert 'name="reframe-dev"' in client.get("/app/").text
    model.write_text(good)
    change = server.changed([model])
    assert change is not None and change.ok
    # Mended: the pages hear the error is gone; the output is the one served, kept as it is.
    assert server.events.current["type"] == "ok"
    assert "nothing to reload" in change.lines[0]


def test_the_page_is_told_before_the_api_reloads_and_api_requests_wait_for_it(
    example_copy: Path, fresh_db: str
) -> None:
    import threading

    from starlette.testclient import TestClient

    from runtime.dev import DevServer

    project = example_copy
    server = DevServer(project, fresh_db, say=lambda _: None)
    assert server.start().ok
    first = server.snapshot_id
    model = project / INVOICES
    with TestClient(server) as client:
        assert "courier_note" not in client.get("/api/openapi.json").text
        model.write_text(
            model.read_text().replace(DUE_DATE, DUE_DATE + '        "courier_note": text(),\n')
        )
        # A rebuild's first half: the new snapshot's UI is served and the pages are told.
        change, built, files = server._build()
        assert change.ok and built is not None and files is not None
        assert change.snapshot is not None
        server._show_ui(change.snapshot, files)
        event = server.events.current
        assert event["type"] == "update" and "ui/entities/invoice.ts" in event["changed"]
        entity_module = event["app"].replace("/ui/app", "/ui/entities/all.bundle.ts")
        assert "courier_note" in client.get(entity_module).text

        # Its API is not loaded yet: a request waits for it, and is not answered by the old one.
        answers: list[str] = []
        waiting = threading.Thread(
            target=lambda: answers.append(client.get("/api/openapi.json").text)
        )
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and not answers
        assert server._served is not None
        server._follow(server._served, built)  # the rebuild's second half
        server._load_api(built)
        server._api_ready.set()  # as the rebuild does once the API is loaded
        waiting.join(timeout=30)
        assert answers and "courier_note" in answers[0]
        # The API took the model the build made (not parsed again from ir.json), and the
        # replaced snapshot's modules are gone.
        assert server._api.state.model.project is built
        assert not [m for m in sys.modules if m.startswith(f"reframe_hook_{first}.")]

        # A save that changes no output reloads nothing.
        api = server._api
        model.write_text(model.read_text() + "\n# a comment\n")
        again = server.changed([model])
        assert again is not None and again.ok and "nothing to reload" in again.lines[0]
        assert server._api is api

        # An API that fails to load (here a broken app module) is said, over the app too;
        # /api answers 503 with why instead of waiting, or answering from the old model.
        model.write_text(
            model.read_text().replace(DUE_DATE, DUE_DATE + '        "depot": text(),\n')
        )
        change, built, files = server._build()
        assert change.snapshot is not None and files is not None
        server._show_ui(change.snapshot, {**files, "api/app.py": b"raise RuntimeError('broken')\n"})
        failure = server._load_api(built)
        assert failure is not None and "broken" in failure
        server._api_ready.set()
        answer = client.get("/api/openapi.json")
        assert answer.status_code == 503 and "broken" in answer.json()["detail"]
        assert server.events.current["type"] == "error"
        # The next save that loads mends it.
        model.write_text(model.read_text() + "\n# another comment\n")
        mended = server.changed([model])
        assert mended is not None and mended.ok, mended
        assert "depot" in client.get("/api/openapi.json").text


def test_the_api_reload_waits_for_listening_pages_but_not_for_pages_told_to_reload() -> None:
    import asyncio

    from runtime.dev import Events

    events = Events()
    loop = asyncio.new_event_loop()
    try:
        events._loop = loop
        events._queues.add(asyncio.Queue())  # one page listening
        update = {"type": "update", "app": "/_hook/~0/ui/app", "changed": []}

        events.publish({**update, "snapshot": 7, "reload": False})
        began = time.monotonic()
        events.wait_shown(7, 0.3)  # the page has not said it shows 7: the whole time
        assert time.monotonic() - began >= 0.3
        events.shown(7)
        began = time.monotonic()
        events.wait_shown(7, 5)
        assert time.monotonic() - began < 0.5

        # A new UI runtime: the page reloads whole and never says "shown".
        events.publish({**update, "snapshot": 8, "reload": True})
        began = time.monotonic()
        events.wait_shown(8, 5)
        assert time.monotonic() - began < 0.5
    finally:
        loop.close()


def gen_command(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GEN), "--project", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_gen_migrate_make_is_answered_by_the_running_gen_dev(dev: Dev, tmp_path: Path) -> None:
    """Near the end of the module: the revisions it writes make later saves apply them."""
    link = running_dev_server(dev.project)
    assert link is not None, "gen dev did not announce itself in .gen/dev.json"
    assert (dev.project / LINK_FILE).stat().st_mode & 0o077 == 0  # its token: this user's
    model = dev.project / INVOICES
    before = model.read_text(encoding="utf-8")
    said = len(dev.said())
    try:
        made = gen_command(dev.project, "migrate", "make", "-m", "first")
        assert made.returncode == 0, made.stderr
        assert "Create table invoice" in made.stdout
        assert "Wrote revision 0001:" in made.stdout
        wait_in_log(dev, "gen migrate make, answered here: ", said)
        versions = dev.project / "migrations" / "versions"
        # What the command makes by itself from the same model, byte for byte.
        alone = tmp_path / "alone"
        shutil.copytree(dev.project, alone, ignore=shutil.ignore_patterns(".gen", "migrations"))
        make_migration(alone, "first", Answers())
        for name in ("0001_first.py", "0001_first.schema.json"):
            assert (versions / name).read_bytes() == (
                alone / "migrations" / "versions" / name
            ).read_bytes()

        again = gen_command(dev.project, "migrate", "make", "-m", "again")
        assert again.returncode == 0, again.stderr
        assert "No changes" in again.stdout
        written = ["0001_first.py", "0001_first.schema.json"]
        assert sorted(p.name for p in versions.iterdir()) == written

        # Saved just now, before gen dev's watcher rebuilt (its debounce alone is 0.4 s):
        # the answer is made from the files as they are.
        dev.edit(INVOICES, (DUE_DATE, DUE_DATE + '        "approved_on": date(),\n'))
        planned = gen_command(dev.project, "migrate", "make", "--plan")
        assert planned.returncode == 0, planned.stderr
        assert "Add column invoice.approved_on" in planned.stdout
        assert "(plan only: nothing written)" in planned.stdout
        assert sorted(p.name for p in versions.iterdir()) == written

        # A model error comes back as the command's own: file:line, exit 1, nothing written.
        dev.edit(INVOICES, ('"approved_on": date(),', '"approved_on": date().max_length(3),'))
        broken = gen_command(dev.project, "migrate", "make", "-m", "broken")
        assert broken.returncode == 1
        assert "domain/invoices.model.py:" in broken.stderr
        assert sorted(p.name for p in versions.iterdir()) == written
        assert dev.said()[said:].count("gen migrate make, answered here: ") == 3
    finally:
        model.write_text(before, encoding="utf-8")
        shutil.rmtree(dev.project / "migrations", ignore_errors=True)


def test_ctrl_c_stops_it_while_a_page_listens(dev: Dev) -> None:
    """Last in this module: it stops the module's `gen dev`."""
    import signal

    import httpx

    with httpx.stream("GET", f"{dev.base}/_dev/events", timeout=30) as events:
        first = next(events.iter_lines())
        assert first.startswith("data: ") and '"connected": true' in first
        began = time.monotonic()
        dev.process.send_signal(signal.SIGINT)
        dev.process.wait(timeout=15)
    assert time.monotonic() - began < 10
    assert not (dev.project / LINK_FILE).exists()  # no command asks a gone `gen dev`


def test_stopped_with_sigterm_it_removes_its_link_file(
    example_copy: Path, pg_admin_url: str
) -> None:
    """A service manager or `kill` stops it with SIGTERM: no command may find it after."""
    import signal

    from tests import pg

    url = pg.create_database(pg_admin_url)
    try:
        with running_gen(example_copy, "dev", url, example_copy.parent / "dev.log") as (_, server):
            assert (example_copy / LINK_FILE).is_file()
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=15) == 128 + signal.SIGTERM
        assert not (example_copy / LINK_FILE).exists()
    finally:
        pg.drop_database(pg_admin_url, url)
