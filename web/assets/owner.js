// The car owner's page (/car-moving/owner/{code}), opened from the link in the owner's SMS: the city's text, the
// plate, and one button that confirms the car is moved. The code in the address is the only key, and the page
// shows nothing of the requester. Confirming is a POST: an SMS app's link preview (a GET) never confirms.
import { api } from "./api.js";
import { $, fill, h, say } from "./dom.js";
import { errorText } from "./i18n.js";
import { cityName, ready } from "./layout.js";

const INVALID = "链接无效或已过期";
const CODE = /^\/car-moving\/owner\/([A-Za-z0-9_-]{20,64})\/?$/;

const box = $("#owner");
const plate = $("#plate");
const text = $("#text");
const notice = $("#notice");
const moved = $("#moved");
const retry = $("#retry");
const code = (window.location.pathname.match(CODE) || [])[1];

/** Shows `message` (the city's text, or ours) as the page's one paragraph; `kind` as the notices' colours. */
function tell(message, kind = null) {
  text.textContent = message;
  text.className = kind ? `notice notice-${kind}` : "";
  text.hidden = !message;
}

function show(page) {
  fill(plate, h("span", { class: "muted small" }, "车牌 "), h("strong", {}, page.plate));
  plate.hidden = false;
  tell(page.text, page.moved ? "ok" : null);
  moved.hidden = page.moved;
  retry.hidden = true;
  say(notice, "");
}

/** A 404 ends the page (the link is wrong or its request is gone); anything else leaves `again` to retry with. */
function failed(e, again) {
  if (e.status === 404) {
    plate.hidden = moved.hidden = retry.hidden = true;
    say(notice, "");
    tell(INVALID, "error");
    return;
  }
  say(notice, errorText(e), "error");
  again.hidden = false;
}

async function load() {
  try {
    if (!code) throw Object.assign(new Error("no code"), { status: 404, code: "not_found" });
    show(await api(`/car-moving/owner/${code}`));
  } catch (e) {
    tell("");
    failed(e, retry);
  }
}

async function confirm() {
  moved.disabled = true;
  say(notice, "正在提交…");
  try {
    show(await api(`/car-moving/owner/${code}/moved`, { method: "POST" }));
    text.focus(); // the button is gone: the reader goes on at the confirmation
  } catch (e) {
    failed(e, moved);
  } finally {
    moved.disabled = false;
  }
}

moved.addEventListener("click", confirm);
retry.addEventListener("click", async () => {
  retry.disabled = true;
  await load();
  retry.disabled = false;
  if (retry.hidden) text.focus();
});

async function main() {
  cityName();
  await load();
  box.removeAttribute("aria-busy");
}

main().finally(ready);
