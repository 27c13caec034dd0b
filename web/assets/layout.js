// What every page does once its script runs: the city's board name in the header, and a mark on <html> that the
// page is ready to use (the browser tests and the load benchmark wait for it).
import { config } from "./api.js";
import { $ } from "./dom.js";

export async function cityName() {
  try {
    const { city } = await config();
    const brand = $("header.site .brand");
    if (brand && city.board_name) brand.textContent = city.board_name;
    return city;
  } catch {
    return null;
  }
}

export function ready() {
  performance.mark("desk:ready");
  document.documentElement.dataset.ready = "true";
}

/** <option>s for a select, after its first (the "any" choice). */
export function options(select, items) {
  for (const { value, label } of items) select.append(new Option(label, value));
}
