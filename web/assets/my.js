// The citizen's own tickets from this device: status, answers, deadline, and the rating form once answered.
import { api } from "./api.js";
import { $, fill, h, say, timeEl } from "./dom.js";
import { errorText, SCORE } from "./i18n.js";
import { cityName, ready } from "./layout.js";
import { answers, facts, stars, statusBadge } from "./render.js";
import { forgetTicket, myTickets } from "./store.js";

const notice = $("#notice");

function ratingForm(saved, card) {
  const form = h("form", { class: "rating", "aria-label": `评价问题 ${saved.ticket_no} 的答复` },
    h("fieldset", {}, h("legend", {}, "对答复的满意度"),
      h("div", { class: "choices" }, [5, 4, 3, 2, 1].map((n) =>
        h("label", {}, h("input", { type: "radio", name: "score", value: n, required: true }), `${n} 分 ${SCORE[n]}`)))),
    h("fieldset", {}, h("legend", {}, "问题是否已解决"),
      h("div", { class: "choices" },
        h("label", {}, h("input", { type: "radio", name: "resolved", value: "yes", required: true }), "已解决"),
        h("label", {}, h("input", { type: "radio", name: "resolved", value: "no" }), "未解决"))),
    h("div", { class: "field" }, h("label", { for: `comment-${saved.id}` }, "意见（选填）"),
      h("textarea", { id: `comment-${saved.id}`, name: "comment", maxlength: 500 })),
    h("p", { class: "notice", role: "alert", hidden: true }),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "提交评价")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const message = $(".notice", form);
    if (!data.get("score") || !data.get("resolved")) return say(message, "请选择满意度和是否已解决", "error");
    const body = { score: Number(data.get("score")), resolved: data.get("resolved") === "yes" };
    if (String(data.get("comment") || "").trim()) body.comment = String(data.get("comment")).trim();
    $("button", form).disabled = true;
    try {
      const ticket = await api(`/complaints/${saved.id}/rating`, {
        method: "POST", body, headers: { "X-Receipt": saved.receipt },
      });
      show(card, saved, ticket);
      say(notice, `问题 ${saved.ticket_no} 已评价，谢谢！`, "ok");
    } catch (e) {
      $("button", form).disabled = false;
      say(message, errorText(e), "error");
    }
  });
  return form;
}

function show(card, saved, t) {
  fill(card,
    h("h2", {}, `问题编号 ${t.ticket_no} `, statusBadge(t.status)),
    saved.text ? h("p", { class: "question-full" }, saved.text) : null,
    facts([
      ["提交时间", timeEl(t.created_at)],
      ["类别", t.category],
      ["镇街", t.district],
      ["办理部门", t.department],
      ["答复期限", t.deadline ? timeEl(t.deadline) : null],
      ["评价截止", t.rate_by ? timeEl(t.rate_by) : null],
      ["照片", t.photo ? (t.photo.status === "ready" ? "已上传" : t.photo.status === "rejected" ? "未通过" : "处理中") : null],
      ["我的评价", t.rating ? stars(t.rating.score) : null],
    ]),
    h("h3", {}, "答复"),
    answers(t.answers),
    t.status === "answered" ? ratingForm(saved, card) : null,
    h("p", { class: "small" }, h("a", { href: `/board/${t.ticket_no}` }, "在议事厅查看")));
}

function missing(card, saved) {
  fill(card,
    h("h2", {}, `问题编号 ${saved.ticket_no}`),
    h("p", {}, "查不到这个问题：本机保存的凭证无效。"),
    h("button", { type: "button", class: "secondary", onclick: () => { forgetTicket(saved.id); card.remove(); } },
      "从本机删除"));
}

async function load(saved, card) {
  try {
    show(card, saved, await api(`/complaints/${saved.id}`, { headers: { "X-Receipt": saved.receipt } }));
  } catch (e) {
    if (e.status === 404) missing(card, saved);
    else fill(card, h("h2", {}, `问题编号 ${saved.ticket_no}`), h("p", { role: "alert" }, errorText(e)));
  }
}

async function main() {
  cityName();
  const list = myTickets();
  const box = $("#tickets");
  if (!list.length) {
    fill(box, h("p", { class: "card" }, "本机还没有提交过投诉。", h("a", { href: "/" }, "去投诉")));
    return;
  }
  const cards = list.map((saved) => {
    const card = h("article", { class: "card ticket", "data-ticket-no": saved.ticket_no, "aria-busy": "true" },
      h("h2", {}, `问题编号 ${saved.ticket_no}`), h("p", { class: "muted" }, "加载中…"));
    box.append(card);
    return load(saved, card).finally(() => card.removeAttribute("aria-busy"));
  });
  await Promise.all(cards);
}

main().finally(ready);
