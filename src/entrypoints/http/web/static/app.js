// The page's entry module: language, the API key, tabs, then the three panels.
import { initAssistant } from "./ai.js";
import { initialLanguage, setLanguage } from "./i18n.js";
import { initSearch } from "./search.js";
import { initSupplier } from "./supplier.js";

const KEY_STORE = "marketplace.apiKey";

function initKey() {
  const input = document.querySelector("#api-key");
  input.value = localStorage.getItem(KEY_STORE) ?? "";
  const save = () => localStorage.setItem(KEY_STORE, input.value.trim());
  input.addEventListener("input", save);
  for (const chip of document.querySelectorAll("[data-demo-key]")) {
    chip.addEventListener("click", () => {
      input.value = chip.dataset.demoKey;
      save();
      input.focus();
    });
  }
  return { getKey: () => input.value.trim(), focusKey: () => input.focus() };
}

// WAI-ARIA tabs: click or Left/Right/Home/End to move, only the selected tab is in the Tab order.
function initTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  function select(tab, focus = true) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
  }
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const next = {
        ArrowRight: tabs[(index + 1) % tabs.length],
        ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
        Home: tabs[0],
        End: tabs[tabs.length - 1],
      }[event.key];
      if (next) {
        event.preventDefault();
        select(next);
      }
    });
  }
  const initial = tabs.find((tab) => tab.id === `tab-${location.hash.slice(1)}`);
  if (initial) select(initial, false);
}

function initLanguage() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  setLanguage(initialLanguage());
}

initLanguage();
initTabs();
const key = initKey();
initAssistant(key);
initSearch();
initSupplier();
document.body.dataset.ready = "true";
