// The AI assistant: POST /api/chat/search with stream: true, read as SSE from the fetch body.
// Events: {type: "products"} (products, filters, session_id), {type: "delta", content}, {type: "done"}, then [DONE].
// Every event has id "<session_id>:<index>"; after a dropped connection the same request is sent again with
// Last-Event-ID, and events already shown are skipped, so no text is duplicated.
import { ApiError, eventIndex, request, sseEvents } from "./api.js";
import { productCard } from "./cards.js";
import { el, rupiah } from "./format.js";
import { t } from "./i18n.js";

const MAX_RECONNECTS = 5;
const $ = (selector) => document.querySelector(selector);

export function initAssistant({ getKey, focusKey }) {
  const form = $("#ai-form");
  const query = $("#ai-query");
  const stopButton = $("#ai-stop");
  const submitButton = form.querySelector("[data-testid=ai-submit]");
  const newButton = $("#ai-new");
  const log = $("#ai-log");
  const empty = $("#ai-empty");
  const status = $("#ai-status");
  let sessionId = null; // the conversation; follow-ups send it back
  let active = null; // the answer being streamed

  function setStatus(text, kind = "") {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function setBusy(busy) {
    submitButton.disabled = busy;
    newButton.disabled = busy;
    stopButton.disabled = !busy;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(query.value);
  });
  query.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener("click", () => stop());
  newButton.addEventListener("click", () => {
    sessionId = null;
    for (const turn of log.querySelectorAll(".turn")) turn.remove();
    empty.hidden = false;
    setStatus(t("newConversation"));
    query.focus();
  });
  for (const chip of document.querySelectorAll("[data-example]")) {
    chip.addEventListener("click", () => {
      query.value = t(chip.dataset.example);
      query.focus();
    });
  }

  async function ask(text) {
    text = text.trim();
    if (active) return;
    const key = getKey();
    if (!key) {
      setStatus(t("needKey"), "error");
      focusKey();
      return;
    }
    if (!text) {
      setStatus(t("needQuery"), "error");
      query.focus();
      return;
    }
    empty.hidden = true;
    const turn = new Turn(log, text);
    query.value = "";
    active = { key, turn, streamId: null, conversation: sessionId, stopped: false, finished: false, controller: null };
    setBusy(true);
    setStatus(t("thinking"));
    try {
      const body = { query: text, stream: true };
      if (sessionId) body.session_id = sessionId;
      await follow(active, body);
      if (!active.finished) turn.finish({ response: "", cancelled: true });
      setStatus(active.stopped ? t("stopped") : t("answerDone"));
    } catch (error) {
      turn.fail(error.message);
      setStatus(`${t("errorPrefix")}: ${error.message}`, "error");
    } finally {
      active = null;
      setBusy(false);
    }
  }

  async function follow(state, body) {
    let lastEventId = null;
    let lastIndex = -1;
    let failures = 0;
    while (true) {
      const resuming = state.streamId !== null;
      const headers = { Accept: "text/event-stream" };
      if (resuming) headers["Last-Event-ID"] = lastEventId ?? `${state.streamId}:-1`;
      state.controller = new AbortController();
      let response;
      try {
        response = await request("/api/chat/search", {
          method: "POST",
          key: state.key,
          headers,
          body: resuming ? { query: body.query, stream: true } : body,
          signal: state.controller.signal,
        });
      } catch (error) {
        if (state.stopped) return;
        if (error instanceof ApiError) throw error; // a refusal (401, 403, 422...) is final
        if (++failures > MAX_RECONNECTS) throw new Error(t("connectionLost"));
        await pause(failures);
        continue;
      }
      state.streamId ??= response.headers.get("X-Session-ID");
      try {
        for await (const event of sseEvents(response.body)) {
          const index = eventIndex(event.id);
          if (index !== null && index <= lastIndex) continue; // shown before the reconnect
          if (event.id) lastEventId = event.id;
          if (index !== null) lastIndex = index;
          failures = 0;
          if (event.data === "[DONE]") return;
          handle(state, JSON.parse(event.data));
        }
      } catch (error) {
        if (error instanceof SyntaxError) throw error;
        // the body broke off: resume below
      }
      if (state.finished || (state.stopped && state.controller.signal.aborted)) return;
      if (++failures > MAX_RECONNECTS) throw new Error(t("connectionLost"));
      setStatus(t("reconnecting"));
      await pause(failures);
    }
  }

  function handle(state, payload) {
    if (payload.type === "products") {
      sessionId = payload.session_id ?? sessionId;
      state.conversation = sessionId;
      state.streamId ??= payload.session_id ?? null;
      state.turn.showProducts(payload);
      setStatus(t("streaming"));
    } else if (payload.type === "delta") {
      state.turn.append(payload.content ?? "");
    } else if (payload.type === "done") {
      state.finished = true;
      state.turn.finish(payload);
    } else if (payload.type === "error" || payload.error) {
      const message = payload.error?.message ?? payload.detail ?? payload.message ?? "error";
      throw new Error(message);
    }
  }

  async function stop() {
    const state = active;
    if (!state || state.stopped) return;
    state.stopped = true;
    stopButton.disabled = true;
    setStatus(t("stopping"));
    const id = state.conversation ?? state.streamId;
    if (!id) {
      state.controller?.abort();
      return;
    }
    try {
      await request(`/api/chat/search/${encodeURIComponent(id)}/cancel`, { method: "POST", key: state.key });
    } catch {
      state.controller?.abort(); // the stream is gone already: stop reading
    }
  }
}

function pause(failures) {
  return new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** (failures - 1), 4000)));
}

// One question and its answer in the conversation log. Only the newest answer carries data-testid="ai-answer".
class Turn {
  constructor(log, question) {
    for (const old of log.querySelectorAll("[data-testid=ai-answer]")) old.removeAttribute("data-testid");
    this.streamed = "";
    this.answer = el("p", { class: "answer streaming", "data-testid": "ai-answer", "aria-live": "polite", "aria-busy": "true" });
    this.filters = el("ul", { class: "filters", "aria-label": t("understood") });
    this.meta = el("p", { class: "answer-meta" });
    this.products = el("div", { class: "cards" });
    this.alternatives = el("section", { class: "alternatives", hidden: true });
    this.element = el(
      "article",
      { class: "turn" },
      el("div", { class: "bubble user" }, el("span", { class: "who", i18n: "you" }), el("p", { text: question })),
      el(
        "div",
        { class: "bubble bot" },
        el("span", { class: "who", i18n: "assistant" }),
        this.filters,
        this.answer,
        this.meta,
        this.products,
        this.alternatives,
      ),
    );
    log.append(this.element);
    this.element.scrollIntoView({ block: "nearest" });
  }

  showProducts(payload) {
    this.filters.replaceChildren(...filterChips(payload.filters));
    this.products.replaceChildren(...(payload.products ?? []).map((product) => productCard(product)));
    this.meta.textContent = payload.products?.length ? t("productsFound", { n: payload.products.length }) : t("noProducts");
    this.showAlternatives(payload.alternatives);
  }

  showAlternatives(alternatives) {
    if (!alternatives?.length) return;
    this.alternatives.replaceChildren(
      el("h4", { i18n: "alternatives" }),
      el(
        "div",
        { class: "cards" },
        ...alternatives.map((product) => productCard(product, { testid: "alternative-card", reason: product.reason })),
      ),
    );
    this.alternatives.hidden = false;
  }

  append(text) {
    this.streamed += text;
    this.answer.textContent = this.streamed.trimStart();
  }

  finish(done) {
    const response = done.response ?? "";
    // The final answer wins when it differs from what streamed (for instance a summary that replaced the model's text).
    if (response && response !== this.streamed.trim()) this.answer.textContent = response;
    else this.answer.textContent = this.streamed.trim();
    this.answer.classList.remove("streaming");
    this.answer.setAttribute("aria-busy", "false");
    const notes = [];
    if (done.cancelled) notes.push(t("stopped"));
    else notes.push(done.ai_generated ? t("aiGenerated") : t("summaryGenerated"));
    if (this.meta.textContent) notes.unshift(this.meta.textContent);
    this.meta.textContent = notes.join(" · ");
    this.showAlternatives(done.alternatives);
  }

  fail(message) {
    this.answer.classList.remove("streaming");
    this.answer.classList.add("failed");
    this.answer.setAttribute("aria-busy", "false");
    if (!this.answer.textContent) this.answer.textContent = message;
  }
}

function filterChips(filters) {
  if (!filters) return [];
  const chips = [];
  const chip = (labelKey, value) =>
    el("li", { class: "filter" }, el("span", { class: "filter-label", i18n: labelKey }), el("span", { text: value }));
  if (filters.category) chips.push(chip("filterCategory", filters.category));
  if (filters.min_price != null || filters.max_price != null) {
    const parts = [];
    if (filters.min_price != null) parts.push(t("from", { v: rupiah(filters.min_price) }));
    if (filters.max_price != null) parts.push(t("upTo", { v: rupiah(filters.max_price) }));
    chips.push(chip("filterBudget", parts.join(" ")));
  }
  if (filters.location) {
    const source = filters.location.source === "profile" ? ` (${t("fromProfile")})` : "";
    chips.push(chip("filterLocation", filters.location.name + source));
  }
  if (filters.brands?.length) chips.push(chip("filterBrands", filters.brands.join(", ")));
  if (filters.exclude_brands?.length) chips.push(chip("filterExclude", filters.exclude_brands.join(", ")));
  if (filters.prefer_cheaper) chips.push(chip("filterSort", t("cheaper")));
  if (filters.sort && filters.sort !== "nearest") chips.push(chip("filterSort", t(`sort_${filters.sort}`)));
  if (filters.intent && filters.intent !== "recommend") chips.push(chip("filterIntent", t(`intent_${filters.intent}`)));
  return chips;
}
