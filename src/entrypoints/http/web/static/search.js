// Product search: GET /api/products/search with words, category, price bounds and a location
// (the browser's, or a city's centre); with a location the cards come nearest first with their distance.
import { json } from "./api.js";
import { productCard } from "./cards.js";
import { el } from "./format.js";
import { t } from "./i18n.js";

const PAGE_SIZE = 20;
const $ = (selector) => document.querySelector(selector);

// City centres for "or a city" (the gazetteer the AI search understands has the same places and more).
export const CITIES = [
  ["Jakarta", -6.2088, 106.8456],
  ["Jakarta Selatan", -6.2615, 106.8106],
  ["Bandung", -6.9175, 107.6191],
  ["Surabaya", -7.2575, 112.7521],
  ["Medan", 3.5952, 98.6722],
  ["Yogyakarta", -7.7956, 110.3695],
  ["Semarang", -6.9667, 110.4167],
  ["Bekasi", -6.2383, 106.9756],
  ["Tangerang", -6.1783, 106.6319],
  ["Depok", -6.4025, 106.7942],
  ["Bogor", -6.595, 106.8166],
  ["Malang", -7.9666, 112.6326],
  ["Denpasar", -8.6705, 115.2126],
  ["Makassar", -5.1477, 119.4327],
  ["Palembang", -2.9761, 104.7754],
];

export function initSearch() {
  const form = $("#search-form");
  const city = $("#search-city");
  const cityOnly = $("#search-city-only");
  const geoButton = $("#search-geo");
  const locationStatus = $("#search-location-status");
  const summary = $("#search-summary");
  const results = $("#search-results");
  const more = $("#search-more");
  let browserLocation = null;
  let lastParams = null;
  let shown = 0;

  function fillCities() {
    const selected = city.value;
    city.replaceChildren(
      el("option", { value: "", text: t("noLocation") }),
      ...CITIES.map(([name]) => el("option", { value: name, text: name })),
    );
    city.value = selected;
  }
  fillCities();
  document.addEventListener("languagechange", () => {
    fillCities();
    if (browserLocation) showLocation();
  });

  function showLocation() {
    locationStatus.textContent = t("myLocation", {
      lat: browserLocation.latitude.toFixed(4),
      lon: browserLocation.longitude.toFixed(4),
    });
  }

  geoButton.addEventListener("click", () => {
    if (!("geolocation" in navigator)) {
      locationStatus.textContent = t("geoUnavailable", { reason: "—" });
      return;
    }
    locationStatus.textContent = t("locating");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        browserLocation = { latitude: position.coords.latitude, longitude: position.coords.longitude };
        city.value = "";
        showLocation();
      },
      (error) => {
        locationStatus.textContent = t("geoUnavailable", { reason: error.message || error.code });
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 },
    );
  });
  city.addEventListener("change", () => {
    if (city.value) {
      browserLocation = null;
      locationStatus.textContent = "";
    }
  });

  function params() {
    const query = new URLSearchParams();
    const words = $("#search-query").value.trim();
    const category = $("#search-category").value.trim();
    const min = $("#search-min").value.trim();
    const max = $("#search-max").value.trim();
    if (words) query.set("q", words);
    if (category) query.set("category", category);
    if (min) query.set("min_price", String(Math.max(0, Math.round(Number(min)))));
    if (max) query.set("max_price", String(Math.max(0, Math.round(Number(max)))));
    const place = CITIES.find(([name]) => name === city.value);
    const origin = browserLocation ?? (place ? { latitude: place[1], longitude: place[2] } : null);
    if (origin) {
      query.set("user_lat", String(origin.latitude));
      query.set("user_lon", String(origin.longitude));
    }
    if (place && cityOnly.checked) query.set("city", place[0]);
    query.set("limit", String(PAGE_SIZE));
    return query;
  }

  async function run(skip) {
    const query = skip ? lastParams : params();
    lastParams = query;
    query.set("skip", String(skip));
    summary.textContent = t("searching");
    summary.dataset.kind = "";
    results.setAttribute("aria-busy", "true");
    try {
      const { data, response } = await json(`/api/products/search?${query}`);
      const total = Number(response.headers.get("X-Total-Count") ?? data.length);
      const cards = data.map((product) => productCard(product));
      if (skip) results.append(...cards);
      else results.replaceChildren(...cards);
      shown = skip + data.length;
      const nearest = query.has("user_lat");
      summary.textContent = total
        ? t(nearest ? "showingNearest" : "showing", { shown, total })
        : t("noProducts");
      more.hidden = shown >= total;
    } catch (error) {
      summary.textContent = `${t("errorPrefix")}: ${error.message}`;
      summary.dataset.kind = "error";
    } finally {
      results.setAttribute("aria-busy", "false");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(0);
  });
  more.addEventListener("click", () => run(shown));
}
