// Money in integer rupiah and distances in km, in the page's language.
import { locale, t } from "./i18n.js";

// Always written the Indonesian way ("Rp 12.000.000"), whatever the page's language.
export function rupiah(amount) {
  return new Intl.NumberFormat("id-ID", { style: "currency", currency: "IDR", maximumFractionDigits: 0 })
    .format(amount)
    .replace(/\u00a0/g, " ");
}

export function km(distance) {
  if (distance === null || distance === undefined) return "–";
  const digits = distance < 10 ? 1 : 0;
  return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(distance)} km`;
}

// A small DOM helper: el("p", {class: "x", text: "y"}, child, ...). Text is always set as text.
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "i18n") {
      element.dataset.i18n = value;
      element.textContent = t(value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) element.append(child);
  return element;
}
