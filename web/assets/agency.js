// The agency's workspace: its inbox, and on a ticket the moves the desk allows now (`can`): sign for it (签收),
// answer it (答复), send it back to the triage desk (退单), extend its deadline once (延期).
import { h } from "./dom.js";
import { field, moveForm, ready, Workspace } from "./staff.js";

function actions(t, ws) {
  const at = (move) => `/agency/tickets/${t.id}/${move}`;
  const can = new Set(t.can || []);
  const out = [];
  if (can.has("accept")) {
    out.push(h("div", { class: "buttons" }, h("button", { type: "button", id: "accept",
      onclick: (e) => { e.target.disabled = true; ws.move(at("accept"), undefined, `工单 ${t.ticket_no} 已签收`); } },
    "签收")));
  }
  if (can.has("answer")) {
    out.push(h("h3", {}, "答复"), moveForm("提交答复",
      field("reply-text", "答复内容（市民会收到短信，议事厅公开显示）",
        h("textarea", { id: "reply-text", name: "text", required: true, maxlength: 5000 })),
      (data) => ws.move(at("reply"), { text: String(data.get("text")).trim() }, `工单 ${t.ticket_no} 已答复`)));
  }
  if (can.has("extend")) {
    out.push(h("h3", {}, "延期"), moveForm("申请延期", [
      field("extend-until", "延期至（工作日）", h("input", { type: "date", id: "extend-until", name: "until", required: true })),
      field("extend-reason", "延期理由", h("input", { type: "text", id: "extend-reason", name: "reason", required: true,
        maxlength: 500 })),
    ], (data) => ws.move(at("extend"), { until: data.get("until"), reason: String(data.get("reason")).trim() },
      `工单 ${t.ticket_no} 已延期`)));
  }
  if (can.has("return")) {
    out.push(h("h3", {}, "退单"), moveForm("退回分派中心",
      field("return-reason", "退单理由（如：不属于本部门职责）", h("input", { type: "text", id: "return-reason",
        name: "reason", required: true, maxlength: 500 })),
      (data) => ws.move(at("return"), { reason: String(data.get("reason")).trim() }, `工单 ${t.ticket_no} 已退回分派中心`),
      { danger: true }));
  }
  return out;
}

new Workspace({
  statuses: ["dispatched", "accepted", "reopened", "answered", "closed"],
  actions,
  expects: (agency) => agency.kind !== "triage",
})
  .start()
  .finally(ready);
