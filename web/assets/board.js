// The public board: newest first, filtered by district, category, agency and status, searched by `q`, a page at a
// time by `next_cursor`. The filters live in the address (?district=…), so a filtered board can be shared.
import { api, config } from "./api.js";
import { $, fill, h, say, timeEl } from "./dom.js";
import { errorText, STATUS, WITHHELD } from "./i18n.js";
import { cityName, options, ready } from "./layout.js";
import { stars, statusBadge } from "./render.js";

// The states a ticket can be in once the board shows it (dispatched or in triage, and everything after).
const BOARD_STATUSES = ["dispatched", "triage", "accepted", "answered", "reopened", "returned", "closed"];
const FILTERS = ["q", "district", "category", "agency", "status"];

const form = $("#filters");
const list = $("#items");
const more = $("#more");
const notice = $("#notice");
let cursor = null;

function item(b) {
  const link = h("a", { href: `/board/${b.ticket_no}` }, `问题 ${b.ticket_no}`);
  const meta = h("p", { class: "meta" }, b.district || "未定镇街", b.category ? ` · ${b.category}` : "",
    b.agency ? ` · ${b.agency.name}` : "");
  if (!b.public) {
    return h("li", { class: "item withheld", "data-ticket-no": b.ticket_no },
      h("div", { class: "head" }, h("h2", {}, link), statusBadge(b.status)), meta,
      h("p", { class: "question muted" }, h("span", { class: "badge withheld" }, "未公开"), " ",
        WITHHELD[b.withheld] || "内容未公开"));
  }
  return h("li", { class: "item", "data-ticket-no": b.ticket_no },
    h("div", { class: "head" }, h("h2", {}, link), statusBadge(b.status)),
    b.thumbnail_url ? h("img", { class: "thumb", src: b.thumbnail_url, alt: `问题 ${b.ticket_no} 的照片`,
      loading: "lazy", width: 72, height: 72 }) : null,
    h("p", { class: "question" }, b.question),
    h("p", { class: "meta" }, meta.textContent, h("span", {}, timeEl(b.created_at)),
      h("span", {}, b.answers ? `${b.answers} 条答复` : "待答复"), stars(b.rating)));
}

function query() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function load(reset) {
  const params = query();
  if (reset) {
    cursor = null;
    history.replaceState(null, "", params.size ? `/board?${params}` : "/board");
  } else if (cursor) params.set("cursor", cursor);
  list.setAttribute("aria-busy", "true");
  more.disabled = true;
  try {
    const page = await api(params.size ? `/board?${params}` : "/board");
    if (reset) fill(list);
    list.append(...page.items.map(item));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    say(notice, list.children.length ? "" : "没有符合条件的问题。");
  } catch (e) {
    say(notice, errorText(e), "error");
  } finally {
    list.removeAttribute("aria-busy");
    more.disabled = false;
  }
}

async function main() {
  cityName();
  try {
    const c = await config();
    options(form.elements.district, c.districts.map((d) => ({ value: d.name, label: d.name })));
    options(form.elements.category, c.categories.map((name) => ({ value: name, label: name })));
    options(form.elements.agency, c.agencies.filter((a) => a.kind !== "triage").map((a) => ({ value: a.id, label: a.name })));
  } catch {
    say(notice, "筛选项加载失败。", "warn");
  }
  options(form.elements.status, BOARD_STATUSES.map((s) => ({ value: s, label: STATUS[s] })));
  const wanted = new URLSearchParams(window.location.search);
  for (const name of FILTERS) if (wanted.get(name)) form.elements[name].value = wanted.get(name);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  await load(true);
}

main().finally(ready);
