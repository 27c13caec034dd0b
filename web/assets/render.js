// Pieces of a ticket that several pages show the same way.
import { h, timeEl } from "./dom.js";
import { SCORE, statusName } from "./i18n.js";

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, statusName(status));
}

export function stars(score) {
  if (!score) return null;
  return h("span", { class: "stars", title: SCORE[score] }, "★".repeat(score) + "☆".repeat(5 - score),
    h("span", { class: "muted" }, ` ${score} 分 ${SCORE[score] || ""}`));
}

// The citizen's view names the agency; the board gives {id, name}; the staff view its id and agency_name.
const agencyName = (a) => (a.agency && typeof a.agency === "object" ? a.agency.name : a.agency_name || a.agency);

export function answers(list) {
  if (!list || !list.length) return h("p", { class: "muted" }, "尚未答复。");
  return h("div", { class: "answers" }, list.map((a) =>
    h("section", { class: "answer", "aria-label": "部门答复" },
      h("h3", {}, `${agencyName(a) || "办理部门"} 答复`, " ", h("span", { class: "muted small" }, timeEl(a.at))),
      h("p", {}, a.text))));
}

/** <dl> of label → value pairs, leaving out empty values. */
export function facts(pairs) {
  const dl = h("dl", { class: "facts" });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(h("dt", {}, label), h("dd", {}, value));
  }
  return dl;
}
