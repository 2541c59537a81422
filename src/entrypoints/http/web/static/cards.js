// Product cards: name, price in rupiah, stock, shop, city, distance.
import { el, km, rupiah } from "./format.js";

function fact(labelKey, value, className) {
  return el("div", { class: className }, el("dt", { i18n: labelKey }), el("dd", { text: value }));
}

export function productCard(product, { testid = "product-card", reason } = {}) {
  const card = el(
    "article",
    { class: "card", "data-testid": testid, "data-product-id": product.id },
    el(
      "div",
      { class: "card-head" },
      el("span", { class: "badge", text: product.category }),
      product.distance_km !== null && product.distance_km !== undefined
        ? el("span", { class: "distance", "data-field": "distance", text: km(product.distance_km) })
        : null,
    ),
    el("h3", { class: "card-title", text: product.name }),
    el("p", { class: "price", "data-field": "price", text: rupiah(product.price) }),
    el(
      "dl",
      { class: "facts" },
      fact("stock", String(product.stock_quantity), "stock"),
      fact("shop", product.supplier_name, "shop"),
      fact("city", product.city, "city"),
    ),
  );
  if (reason) card.append(el("p", { class: "reason", text: reason }));
  return card;
}

export function cardList(products, options) {
  const list = el("div", { class: "cards" });
  for (const product of products) list.append(productCard(product, options));
  return list;
}
