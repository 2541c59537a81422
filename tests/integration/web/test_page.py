"""The marketplace page at ``/`` in headless Chromium: AI assistant, product search, supplier panel."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.integration.web.conftest import (
    ANSWER,
    FIRST_SENTENCE_TOKENS,
    SENTENCES,
    BrowserSession,
    CuttingProxy,
    WebServer,
    open_session,
)

pytestmark = pytest.mark.browser

JOHN = "sk_usr_demo_1"  # Jakarta, AI access
QUERY = "Saya butuh laptop gaming di Jakarta, budget 12 juta"
CHEAPER = "Laptop Acer Aspire 5 lebih murah: Rp 7.999.000 di Computer World Medan."


def _expect():  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    return expect


def _starts_with(text: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(text))


def _record_answer_texts(page) -> None:  # type: ignore[no-untyped-def]
    """Every text the newest answer ever showed, in order (window.__answerTexts)."""
    page.add_init_script(
        """
        window.__answerTexts = [];
        new MutationObserver(() => {
          const answer = document.querySelector('[data-testid=ai-answer]');
          const text = answer ? answer.textContent : null;
          if (text && window.__answerTexts[window.__answerTexts.length - 1] !== text) window.__answerTexts.push(text);
        }).observe(document, {subtree: true, childList: true, characterData: true});
        """
    )


def _ask(web: BrowserSession, query: str, key: str = JOHN) -> None:
    page = web.page
    page.get_by_test_id("api-key").fill(key)  # type: ignore[attr-defined]
    page.get_by_test_id("ai-query").fill(query)  # type: ignore[attr-defined]
    page.get_by_test_id("ai-submit").click()  # type: ignore[attr-defined]


def _chat_requests(page) -> list:  # type: ignore[no-untyped-def]
    requests: list = []
    page.on("request", lambda r: r.url.endswith("/api/chat/search") and requests.append(r))
    return requests


def test_ai_answer_streams_with_product_cards_and_a_follow_up_continues_the_conversation(
    web: BrowserSession, web_server: WebServer
) -> None:
    expect = _expect()
    page = web.page
    requests = _chat_requests(page)
    web_server.model.hold_after = FIRST_SENTENCE_TOKENS + 1  # the first sentence and one more word
    web.goto()
    _ask(web, QUERY)

    answer = page.get_by_test_id("ai-answer")  # type: ignore[attr-defined]
    expect(answer).to_have_text(_starts_with(SENTENCES[0]))  # mid-stream: the model holds
    expect(answer).not_to_have_text(_starts_with(SENTENCES[0] + " " + SENTENCES[1]))
    expect(page.get_by_test_id("ai-stop")).to_be_enabled()  # type: ignore[attr-defined]
    expect(page.get_by_test_id("ai-submit")).to_be_disabled()  # type: ignore[attr-defined]
    card = page.locator("#panel-ai").get_by_test_id("product-card").first  # type: ignore[attr-defined]
    expect(card).to_be_visible()
    web.shot("streaming")
    web_server.model.release.set()

    expect(answer).to_have_text(ANSWER)
    expect(page.get_by_test_id("ai-stop")).to_be_disabled()  # type: ignore[attr-defined]
    expect(card.locator(".card-title")).to_have_text("Laptop HP Pavilion Gaming")
    expect(card.locator("[data-field=price]")).to_have_text("Rp 11.999.000")
    expect(card.locator(".stock dd")).to_have_text("7")
    expect(card.locator(".shop dd")).to_have_text("Tech Store Surabaya")
    expect(card.locator(".city dd")).to_have_text("Surabaya")
    expect(card.locator("[data-field=distance]")).to_have_text(re.compile(r"^\d[\d.,]* km$"))
    expect(page.locator(".turn .filters")).to_contain_text("Rp 12.000.000")  # type: ignore[attr-defined]
    web.shot("answered")

    web_server.model.reply = CHEAPER
    page.get_by_test_id("ai-query").fill("yang lebih murah?")  # type: ignore[attr-defined]
    page.get_by_test_id("ai-query").press("Enter")  # type: ignore[attr-defined]
    expect(page.locator(".turn")).to_have_count(2)  # type: ignore[attr-defined]
    second = page.locator(".turn").nth(1)  # type: ignore[attr-defined]
    expect(second.get_by_test_id("ai-answer")).to_have_text(CHEAPER)
    expect(second.get_by_test_id("product-card").locator(".card-title")).to_have_text(["Laptop Acer Aspire 5"])
    expect(page.locator(".turn").first.locator(".answer")).to_have_text(ANSWER)  # type: ignore[attr-defined]
    expect(page.get_by_test_id("ai-answer")).to_have_count(1)  # type: ignore[attr-defined]
    web.shot("follow-up")

    first, follow_up = (json.loads(r.post_data) for r in requests)
    session_id = requests[0].response().headers["x-session-id"]
    assert "session_id" not in first and first["stream"] is True
    assert follow_up == {"query": "yang lebih murah?", "stream": True, "session_id": session_id}
    with httpx.Client(base_url=web_server.url) as client:
        conversations = client.get("/api/users/1/conversations", headers={"Authorization": f"Bearer {JOHN}"})
        (conversation,) = [c for c in conversations.json() if c["session_id"] == session_id]
        messages = client.get(
            f"/api/conversations/{conversation['id']}/messages", headers={"Authorization": f"Bearer {JOHN}"}
        ).json()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "yang lebih murah?"

    page.reload()
    expect(page.get_by_test_id("api-key")).to_have_value(JOHN)  # type: ignore[attr-defined]


def test_a_dropped_stream_resumes_with_last_event_id_and_shows_the_text_once(
    web: BrowserSession, web_server: WebServer
) -> None:
    """The first response is cut after four events (the connection drops); the page asks again with
    Last-Event-ID and gets only the rest."""
    expect = _expect()
    page = web.page
    _record_answer_texts(page)
    requests = _chat_requests(page)
    cut: dict[str, object] = {}

    def drop_after_four_events(route) -> None:  # type: ignore[no-untyped-def]
        request = route.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length", "host")}
        events: list[str] = []
        with (
            httpx.Client(base_url=web_server.url, timeout=60) as client,
            client.stream("POST", "/api/chat/search", content=request.post_data, headers=headers) as response,
        ):
            block: list[str] = []
            for line in response.iter_lines():
                if line:
                    block.append(line)
                    continue
                events.append("\n".join(block) + "\n\n")
                block = []
                if len(events) == 4:
                    break
            session_id = response.headers["x-session-id"]
        cut["last_id"] = events[-1].split("\n")[0].removeprefix("id: ")
        cut["text"] = "".join(json.loads(event.split("data: ", 1)[1])["content"] for event in events[1:]).lstrip()
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream", "X-Session-ID": session_id},
            body="".join(events),
        )

    page.route("**/api/chat/search", drop_after_four_events, times=1)  # type: ignore[attr-defined]
    web.goto()
    _ask(web, QUERY)

    expected = web_server.model.reply
    expect(page.get_by_test_id("ai-answer")).to_have_text(expected)  # type: ignore[attr-defined]
    expect(page.locator(".answer-meta")).to_contain_text("AI")  # type: ignore[attr-defined]
    assert len(requests) == 2
    assert cut["last_id"] == f"{requests[0].response().headers['x-session-id']}:3"
    assert requests[1].headers["last-event-id"] == cut["last_id"]
    assert "session_id" not in json.loads(requests[1].post_data)
    texts = page.evaluate("window.__answerTexts")  # type: ignore[attr-defined]
    assert cut["text"] and cut["text"] in texts  # what the three deltas before the drop showed
    assert all(expected.startswith(text) for text in texts), texts  # never a repeated piece, even briefly
    assert texts[-1] == expected


def test_a_connection_broken_mid_event_resumes_without_repeating_text(
    browser: Any, web_server: WebServer, request: pytest.FixtureRequest
) -> None:
    """A proxy breaks the first stream's connection in the middle of an event; the page resumes with the id
    of the last whole event it showed."""
    expect = _expect()
    proxy = CuttingProxy(web_server.url, events=4)
    context, web = open_session(browser, proxy.url, request)
    try:
        page: Any = web.page
        _record_answer_texts(page)
        requests = _chat_requests(page)
        web.goto()
        _ask(web, QUERY)
        expect(page.get_by_test_id("ai-answer")).to_have_text(ANSWER)
        assert proxy.cut.is_set()
        assert len(requests) == 2
        session_id = requests[0].response().headers["x-session-id"]
        # None to four whole events (products, deltas) arrived before the drop, as the bytes happened to split.
        assert requests[1].headers["last-event-id"] in {f"{session_id}:{index}" for index in range(-1, 4)}
        texts = page.evaluate("window.__answerTexts")
        assert all(ANSWER.startswith(text) for text in texts), texts
        web.shot("resumed")
        # The browser reports the broken body itself; nothing else may have gone wrong.
        assert all("ERR_INCOMPLETE_CHUNKED_ENCODING" in text for text in web.console_errors), web.console_errors
        web.console_errors.clear()
        web.assert_clean()
    finally:
        context.close()
        proxy.close()


def test_stop_cancels_the_answer(web: BrowserSession, web_server: WebServer) -> None:
    expect = _expect()
    page = web.page
    web_server.model.hold_after = FIRST_SENTENCE_TOKENS + 1
    web.goto()
    _ask(web, QUERY)
    answer = page.get_by_test_id("ai-answer")  # type: ignore[attr-defined]
    expect(answer).to_have_text(_starts_with(SENTENCES[0]))
    shown = answer.inner_text()
    with page.expect_response(re.compile(r"/api/chat/search/[^/]+/cancel$")) as cancelled:  # type: ignore[attr-defined]
        page.get_by_test_id("ai-stop").click()  # type: ignore[attr-defined]
    assert cancelled.value.status == 200 and cancelled.value.json()["cancelled"] is True
    expect(page.locator(".answer-meta")).to_contain_text("Dihentikan")  # type: ignore[attr-defined]
    expect(answer).to_have_text(shown.strip())
    expect(page.get_by_test_id("ai-stop")).to_be_disabled()  # type: ignore[attr-defined]
    expect(page.get_by_test_id("ai-submit")).to_be_enabled()  # type: ignore[attr-defined]


def test_an_empty_result_shows_the_alternatives_with_their_reason(web: BrowserSession, web_server: WebServer) -> None:
    expect = _expect()
    page: Any = web.page
    web_server.model.reply = (
        "Maaf, tidak ada laptop di bawah Rp 2.000.000. Laptop Acer Aspire 5 paling dekat dengan budget."
    )
    web.goto()
    _ask(web, "laptop di bawah 2 juta")
    turn = page.locator(".turn").last
    expect(turn.get_by_test_id("ai-answer")).to_have_text(web_server.model.reply)
    expect(turn.locator(".answer-meta")).to_contain_text("Tidak ada produk yang cocok")
    expect(turn.get_by_test_id("product-card")).to_have_count(0)
    alternatives = turn.locator(".alternatives").get_by_test_id("alternative-card")
    expect(alternatives.locator(".card-title")).to_have_text(["Laptop Acer Aspire 5", "Laptop HP Pavilion Gaming"])
    expect(alternatives.first.locator(".reason")).to_have_text("Rp 5.999.000 di atas budget")
    expect(alternatives.first.locator("[data-field=price]")).to_have_text("Rp 7.999.000")
    web.shot("alternatives")


def test_a_refused_request_shows_the_services_reason(web: BrowserSession) -> None:
    expect = _expect()
    page: Any = web.page
    web.goto()
    _ask(web, QUERY, key="sk_usr_demo_3")  # Bob has no AI access
    expect(page.locator("#ai-status")).to_contain_text("AI access is not enabled")
    expect(page.get_by_test_id("ai-answer")).to_have_class(re.compile("failed"))
    expect(page.get_by_test_id("ai-submit")).to_be_enabled()
    expect(page.get_by_test_id("ai-stop")).to_be_disabled()
    # The browser reports the refused request itself; nothing else may have gone wrong.
    assert all("403" in text for text in web.console_errors), web.console_errors
    web.console_errors.clear()


def _distances(page) -> list[float]:  # type: ignore[no-untyped-def]
    texts = page.locator("#search-results [data-testid=product-card] [data-field=distance]").all_inner_texts()
    return [float(t.removesuffix(" km").replace(".", "").replace(",", ".")) for t in texts]


def test_search_by_words_with_the_browser_location_then_a_city_and_a_budget(web: BrowserSession) -> None:
    expect = _expect()
    page = web.page
    web.goto()
    page.get_by_role("tab", name="Cari produk").click()  # type: ignore[attr-defined]
    page.get_by_test_id("search-query").fill("laptop")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Gunakan lokasi saya").click()  # type: ignore[attr-defined]
    expect(page.locator("#search-location-status")).to_contain_text("-6.9175, 107.6191")  # type: ignore[attr-defined]
    with page.expect_request(re.compile(r"/api/products/search\?")) as sent:  # type: ignore[attr-defined]
        page.get_by_test_id("search-submit").click()  # type: ignore[attr-defined]
    assert "user_lat=-6.9175" in sent.value.url and "user_lon=107.6191" in sent.value.url

    cards = page.locator("#search-results").get_by_test_id("product-card")  # type: ignore[attr-defined]
    expect(cards).to_have_count(5)
    expect(cards.first.locator(".card-title")).to_have_text("Laptop Lenovo ThinkPad X1 Carbon")
    expect(cards.first.locator(".city dd")).to_have_text("Bandung")
    distances = _distances(page)
    assert distances == sorted(distances) and distances[0] < 1
    expect(page.locator("#search-summary")).to_contain_text("terdekat")  # type: ignore[attr-defined]
    web.shot("bandung")

    page.get_by_label("atau kota").select_option("Medan")  # type: ignore[attr-defined]
    page.get_by_label("Harga maks (Rp)").fill("12000000")  # type: ignore[attr-defined]
    page.get_by_test_id("search-query").press("Enter")  # type: ignore[attr-defined]
    expect(cards).to_have_count(2)
    expect(cards.locator(".card-title")).to_have_text(["Laptop Acer Aspire 5", "Laptop HP Pavilion Gaming"])
    expect(cards.first.locator("[data-field=price]")).to_have_text("Rp 7.999.000")
    assert _distances(page) == sorted(_distances(page))


def test_supplier_registers_adds_a_product_and_updates_it(web: BrowserSession, web_server: WebServer) -> None:
    expect = _expect()
    page = web.page
    web.goto("/#supplier")
    page.wait_for_selector("body[data-ready=true]")  # type: ignore[attr-defined]
    form = page.locator("#supplier-register")  # type: ignore[attr-defined]
    form.get_by_label("Nama kontak").fill("Sari Wulandari")
    form.get_by_label("Nama toko").fill("Toko Gaming Bogor")
    form.get_by_label("Email").fill("sari@tokobogor.example")
    form.get_by_label("Kota").fill("Bogor")
    form.get_by_label("Lintang").fill("-6.595")
    form.get_by_label("Bujur").fill("106.8166")
    form.get_by_role("button", name="Daftar").click()
    expect(page.locator("#reg-result")).to_contain_text("Terdaftar sebagai pemasok #6")  # type: ignore[attr-defined]
    key = page.locator("#reg-result code").inner_text()  # type: ignore[attr-defined]
    assert key.startswith("sk_sup_")
    expect(page.get_by_label("Kunci pemasok")).to_have_value(key)  # type: ignore[attr-defined]
    expect(page.get_by_label("ID pemasok")).to_have_value("6")  # type: ignore[attr-defined]

    add = page.locator("#product-add")  # type: ignore[attr-defined]
    add.get_by_label("Nama produk").fill("Headset Rexus Thundervox HX20")
    add.get_by_label("Kategori").fill("headset")
    add.get_by_label("Harga (Rp)").fill("349000")
    add.get_by_label("Stok").fill("4")
    add.get_by_label("Tag (pisahkan dengan koma)").fill("gaming,rexus,headset")
    add.get_by_role("button", name="Tambah produk").click()
    expect(page.locator("#add-result")).to_contain_text("Headset Rexus Thundervox HX20, Rp 349.000")  # type: ignore[attr-defined]
    mine = page.locator("#my-products [data-testid=supplier-product]")  # type: ignore[attr-defined]
    expect(mine).to_have_count(1)

    mine.first.get_by_role("button", name="Ubah").click()
    update = page.locator("#product-update")  # type: ignore[attr-defined]
    expect(update.get_by_label("Harga (Rp)")).to_be_focused()
    update.get_by_label("Harga (Rp)").fill("299000")
    update.get_by_label("Stok").fill("2")
    update.get_by_role("button", name="Simpan perubahan").click()
    expect(page.locator("#upd-result")).to_contain_text("Rp 299.000, stok 2")  # type: ignore[attr-defined]
    expect(mine.first.locator("[data-field=price]")).to_have_text("Rp 299.000")
    web.shot("supplier")

    found = httpx.get(f"{web_server.url}/api/products/search", params={"q": "rexus"}).json()
    assert [(p["name"], p["price"], p["stock_quantity"], p["city"]) for p in found] == [
        ("Headset Rexus Thundervox HX20", 299_000, 2, "Bogor")
    ]

    # The list comes from the server: a demo supplier's key and id show its own products.
    page.get_by_label("ID pemasok").fill("1")  # type: ignore[attr-defined]
    page.get_by_label("Kunci pemasok").fill("sk_sup_demo_1")  # type: ignore[attr-defined]
    page.get_by_label("ID pemasok").press("Tab")  # type: ignore[attr-defined]
    expect(mine).to_have_count(3)
    assert sorted(mine.locator(".card-title").all_inner_texts()) == [
        "Keyboard Mechanical Logitech G Pro",
        "Laptop ASUS ROG Strix G15",
        "Monitor LG 27' 4K UHD",
    ]
    monitor = mine.filter(has_text="Monitor LG 27' 4K UHD")
    monitor.get_by_role("button", name="Ubah").click()
    update.get_by_label("Ketersediaan").select_option("false")
    update.get_by_role("button", name="Simpan perubahan").click()
    expect(monitor).to_contain_text("Tidak tersedia")
    assert all(p["name"] != "Monitor LG 27' 4K UHD" for p in httpx.get(f"{web_server.url}/api/products").json())


def test_language_switch_keyboard_and_labels(web: BrowserSession) -> None:
    expect = _expect()
    page = web.page
    web.goto()
    page.get_by_role("button", name="EN", exact=True).click()  # type: ignore[attr-defined]
    expect(page.locator("html")).to_have_attribute("lang", "en")  # type: ignore[attr-defined]
    expect(page.get_by_role("tab", name="Product search")).to_be_visible()  # type: ignore[attr-defined]
    expect(page.get_by_test_id("ai-submit")).to_have_text("Ask")  # type: ignore[attr-defined]
    page.reload()
    expect(page.get_by_test_id("ai-submit")).to_have_text("Ask")  # type: ignore[attr-defined]

    # Keyboard: the skip link first, then the language buttons and the key field, each with a visible outline.
    page.keyboard.press("Tab")  # type: ignore[attr-defined]
    expect(page.locator(".skip-link")).to_be_focused()  # type: ignore[attr-defined]
    for _ in range(4):
        page.keyboard.press("Tab")  # type: ignore[attr-defined]
    expect(page.get_by_test_id("api-key")).to_be_focused()  # type: ignore[attr-defined]
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")  # type: ignore[attr-defined]
    assert outline == "solid"
    page.get_by_role("tab", name="AI assistant").focus()  # type: ignore[attr-defined]
    page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
    expect(page.get_by_role("tab", name="Product search")).to_be_focused()  # type: ignore[attr-defined]
    expect(page.get_by_test_id("search-query")).to_be_visible()  # type: ignore[attr-defined]
    page.keyboard.press("End")  # type: ignore[attr-defined]
    expect(page.locator("#panel-supplier")).to_be_visible()  # type: ignore[attr-defined]

    unlabelled = page.evaluate(  # type: ignore[attr-defined]
        """[...document.querySelectorAll('input, select, textarea')].filter((field) =>
             !(field.labels && field.labels.length) && !field.getAttribute('aria-label')).map((f) => f.id)"""
    )
    assert unlabelled == []


def test_phone_width_has_no_horizontal_scroll(phone: BrowserSession, web_server: WebServer) -> None:
    expect = _expect()
    page = phone.page
    phone.goto()
    _ask(phone, QUERY)
    expect(page.get_by_test_id("ai-answer")).to_have_text(ANSWER)  # type: ignore[attr-defined]
    for tab in ("Asisten AI", "Cari produk", "Panel pemasok"):
        page.get_by_role("tab", name=tab).click()  # type: ignore[attr-defined]
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")  # type: ignore[attr-defined]
        assert overflow <= 0, (tab, overflow)
    page.get_by_role("tab", name="Asisten AI").click()  # type: ignore[attr-defined]


def test_the_checks_see_a_request_to_another_host(web: BrowserSession) -> None:
    """The page's policy and the test's guard both stop a request to another host, and the test notices."""
    web.goto()
    page: Any = web.page
    with page.expect_console_message(lambda message: "cdn.example.com" in message.text):
        page.evaluate("fetch('http://cdn.example.com/x.js').catch(() => null)")
    assert any("cdn.example.com" in text for text in web.console_errors + web.foreign_requests)
    web.console_errors.clear()
    web.foreign_requests.clear()


def test_docs_render_swagger_ui_from_local_assets(web: BrowserSession) -> None:
    expect = _expect()
    page = web.page
    web.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]
    expect(page.locator(".swagger-ui")).to_contain_text("/api/chat/search")  # type: ignore[attr-defined]
    web.shot("docs", full_page=False)
