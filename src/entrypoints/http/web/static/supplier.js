// Supplier panel: register (POST /api/suppliers/register), then add (POST /api/suppliers/{id}/products)
// and update (PUT /api/products/{id}) products with the supplier's own key.
import { json } from "./api.js";
import { productCard } from "./cards.js";
import { el, rupiah } from "./format.js";
import { t } from "./i18n.js";

const $ = (selector) => document.querySelector(selector);
const STORE = { id: "marketplace.supplierId", key: "marketplace.supplierKey" };

function value(id) {
  return $(id).value.trim();
}

function optional(id) {
  return value(id) || undefined;
}

// Marks the invalid fields, names them in `result` and focuses the first; true when all are valid.
function validate(form, result) {
  const invalid = [...form.querySelectorAll("input, textarea, select")].filter((field) => {
    const bad = !field.checkValidity();
    field.setAttribute("aria-invalid", String(bad));
    return bad;
  });
  if (!invalid.length) return true;
  const names = invalid.map((field) => form.querySelector(`label[for="${field.id}"]`)?.textContent ?? field.id);
  report(result, t("missingFields", { fields: names.join(", ") }), "error");
  invalid[0].focus();
  return false;
}

function report(result, text, kind = "ok", extra) {
  result.replaceChildren(el("p", { text }), ...(extra ? [extra] : []));
  result.dataset.kind = kind;
}

function failed(form, result, error) {
  report(result, `${t("errorPrefix")}: ${error.message}`, "error");
  const field = error.field && form.querySelector(`[data-api-field="${CSS.escape(error.field)}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function locate(latitude, longitude, result) {
  if (!("geolocation" in navigator)) return;
  navigator.geolocation.getCurrentPosition(
    (position) => {
      latitude.value = position.coords.latitude.toFixed(6);
      longitude.value = position.coords.longitude.toFixed(6);
    },
    (error) => report(result, t("geoUnavailable", { reason: error.message || error.code }), "error"),
    { timeout: 15000, maximumAge: 600000 },
  );
}

export function initSupplier() {
  const supplierId = $("#supplier-id");
  const supplierKey = $("#supplier-key");
  supplierId.value = localStorage.getItem(STORE.id) ?? "";
  supplierKey.value = localStorage.getItem(STORE.key) ?? "";
  supplierId.addEventListener("change", () => {
    localStorage.setItem(STORE.id, supplierId.value.trim());
    renderMine();
  });
  supplierKey.addEventListener("change", () => localStorage.setItem(STORE.key, supplierKey.value.trim()));

  // The supplier's products, from GET /api/suppliers/{id}/products (unavailable ones included).
  async function renderMine() {
    const list = $("#my-products");
    const id = supplierId.value.trim();
    if (!/^[1-9][0-9]*$/.test(id)) {
      list.replaceChildren();
      return;
    }
    try {
      const { data } = await json(`/api/suppliers/${id}/products?available_only=false&limit=100`);
      list.replaceChildren(...data.map(productWithEdit));
    } catch (error) {
      list.replaceChildren(el("p", { class: "hint", text: `${t("errorPrefix")}: ${error.message}` }));
    }
  }
  function productWithEdit(product) {
    const card = productCard(product, { testid: "supplier-product" });
    if (!product.is_available) card.append(el("p", { class: "reason", i18n: "unavailable" }));
    const edit = el("button", { type: "button", class: "secondary small", i18n: "edit" });
    edit.addEventListener("click", () => {
      $("#upd-id").value = product.id;
      $("#upd-name").value = product.name;
      $("#upd-price").value = product.price;
      $("#upd-stock").value = product.stock_quantity;
      $("#upd-available").value = "";
      $("#upd-price").focus();
    });
    card.append(edit);
    return card;
  }
  renderMine();

  const credentials = (result) => {
    const id = supplierId.value.trim();
    const key = supplierKey.value.trim();
    if (!id || !key) {
      report(result, t("needSupplier"), "error");
      (id ? supplierKey : supplierId).focus();
      return null;
    }
    return { id, key };
  };

  // Register
  const register = $("#supplier-register");
  const registerResult = $("#reg-result");
  $("#reg-geo").addEventListener("click", () => locate($("#reg-lat"), $("#reg-lon"), registerResult));
  register.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!validate(register, registerResult)) return;
    report(registerResult, t("saving"));
    try {
      const { data } = await json("/api/suppliers/register", {
        method: "POST",
        body: {
          name: value("#reg-name"),
          business_name: value("#reg-business"),
          email: value("#reg-email"),
          phone: optional("#reg-phone"),
          address: optional("#reg-address"),
          city: value("#reg-city"),
          latitude: Number(value("#reg-lat")),
          longitude: Number(value("#reg-lon")),
        },
      });
      supplierId.value = data.id;
      supplierKey.value = data.api_key;
      localStorage.setItem(STORE.id, String(data.id));
      localStorage.setItem(STORE.key, data.api_key);
      renderMine();
      report(registerResult, t("registered", { id: data.id }), "ok", el("code", { class: "secret", text: data.api_key }));
    } catch (error) {
      failed(register, registerResult, error);
    }
  });

  // Add a product
  const add = $("#product-add");
  const addResult = $("#add-result");
  add.addEventListener("submit", async (event) => {
    event.preventDefault();
    const who = credentials(addResult);
    if (!who || !validate(add, addResult)) return;
    report(addResult, t("saving"));
    try {
      const { data } = await json(`/api/suppliers/${encodeURIComponent(who.id)}/products`, {
        method: "POST",
        key: who.key,
        body: {
          name: value("#add-name"),
          category: value("#add-category"),
          sku: optional("#add-sku"),
          price: Number(value("#add-price")),
          stock_quantity: Number(value("#add-stock")),
          description: optional("#add-description"),
          tags: optional("#add-tags"),
        },
      });
      add.reset();
      renderMine();
      report(addResult, t("added", { id: data.id, name: data.name, price: rupiah(data.price) }));
    } catch (error) {
      failed(add, addResult, error);
    }
  });

  // Update a product
  const update = $("#product-update");
  const updateResult = $("#upd-result");
  update.addEventListener("submit", async (event) => {
    event.preventDefault();
    const who = credentials(updateResult);
    if (!who || !validate(update, updateResult)) return;
    const changes = {};
    if (value("#upd-name")) changes.name = value("#upd-name");
    if (value("#upd-price")) changes.price = Number(value("#upd-price"));
    if (value("#upd-stock")) changes.stock_quantity = Number(value("#upd-stock"));
    if (value("#upd-available")) changes.is_available = value("#upd-available") === "true";
    if (!Object.keys(changes).length) {
      report(updateResult, t("nothingToUpdate"), "error");
      return;
    }
    report(updateResult, t("saving"));
    try {
      const { data } = await json(`/api/products/${encodeURIComponent(value("#upd-id"))}`, {
        method: "PUT",
        key: who.key,
        body: changes,
      });
      renderMine();
      report(
        updateResult,
        t("updated", { id: data.id, name: data.name, price: rupiah(data.price), stock: data.stock_quantity }),
      );
    } catch (error) {
      failed(update, updateResult, error);
    }
  });
}
