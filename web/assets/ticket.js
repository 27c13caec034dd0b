// One question of the public board (/board/{ticket_no}): the question, its photo, the answers, the rating.
import { api } from "./api.js";
import { $, fill, h, timeEl } from "./dom.js";
import { errorText, WITHHELD } from "./i18n.js";
import { cityName, ready } from "./layout.js";
import { answers, facts, stars, statusBadge } from "./render.js";

const box = $("#ticket");

function show(t) {
  document.title = `问题 ${t.ticket_no} · ${document.title.split(" · ").pop()}`;
  const common = [
    ["镇街", t.district],
    ["类别", t.category],
    ["办理部门", t.agency ? t.agency.name : null],
  ];
  if (!t.public) {
    fill(box, h("h1", {}, `问题 ${t.ticket_no} `, statusBadge(t.status)),
      h("p", {}, h("span", { class: "badge withheld" }, "未公开"), " ", WITHHELD[t.withheld] || "内容未公开"),
      facts(common));
    return;
  }
  fill(box,
    h("h1", {}, `问题 ${t.ticket_no} `, statusBadge(t.status)),
    h("p", { class: "question-full" }, t.question),
    t.photo && t.photo.display_url
      ? h("a", { href: t.photo.display_url }, h("img", { class: "photo-full", src: t.photo.thumbnail_url || t.photo.display_url,
        alt: `问题 ${t.ticket_no} 的照片` }))
      : null,
    facts([
      ...common,
      ["提问时间", timeEl(t.created_at)],
      ["派发时间", t.dispatched_at ? timeEl(t.dispatched_at) : null],
      ["答复时间", t.answered_at ? timeEl(t.answered_at) : null],
      ["办结时间", t.closed_at ? timeEl(t.closed_at) : null],
      ["评价", t.rating ? stars(t.rating) : null],
    ]),
    h("h2", {}, "答复"),
    answers(t.answers));
}

async function main() {
  cityName();
  const number = (window.location.pathname.match(/^\/board\/(\d+)\/?$/) || [])[1];
  try {
    if (!number) throw Object.assign(new Error("no number"), { status: 404, code: "not_found" });
    show(await api(`/board/${number}`));
  } catch (e) {
    fill(box, h("h1", {}, "问题详情"),
      h("p", { role: "alert" }, e.status === 404 ? "议事厅上没有这个问题（可能尚未派发）。" : errorText(e)));
  } finally {
    box.removeAttribute("aria-busy");
  }
}

main().finally(ready);
