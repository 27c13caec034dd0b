// Building the page from data without ever parsing it as HTML: every text goes in through textContent, so a
// complaint that contains <script> or <img onerror> shows as the characters it is.

/** h("p", {class: "x", "aria-live": "polite"}, "text", child…): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `el` holds with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

const TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

/** An ISO 8601 time as the city reads it (Beijing time), or "" for none. */
export function when(iso) {
  if (!iso) return "";
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? "" : TIME.format(t);
}

/** A <time> element for an ISO time. */
export function timeEl(iso) {
  return h("time", { datetime: iso }, when(iso));
}

/** Shows a message in a live region (role=status or alert already on it). */
export function say(el, text, kind = "info") {
  el.className = `notice notice-${kind}`;
  el.hidden = !text;
  el.textContent = text || "";
}
