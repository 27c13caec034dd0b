// The triage desk: the tickets waiting for a person (in triage, or returned by an agency), assigned to an agency
// with the classifier's top three shown first, and the board's moderation: hide a question, or show it again, with
// the reason kept in its history.
import { h } from "./dom.js";
import { field, moveForm, ready, Workspace } from "./staff.js";

function assign(t, ws) {
  const agencies = (ws.city?.agencies || []).filter((a) => a.kind !== "triage");
  const suggested = (t.top3 || []).filter((s) => s.agency);
  const first = new Set(suggested.map((s) => s.agency.id));
  const select = h("select", { id: "assign-agency", name: "agency", required: true },
    h("option", { value: "" }, "请选择部门"),
    suggested.length ? h("optgroup", { label: "分类建议" }, suggested.map((s) => h("option", { value: s.agency.id },
      `${s.agency.name}（${s.category} ${Math.round(s.probability * 100)}%）`))) : null,
    h("optgroup", { label: "全部部门" }, agencies.filter((a) => !first.has(a.id)).map((a) =>
      h("option", { value: a.id }, a.name))));
  const send = (agency, note) =>
    ws.move(`/triage/tickets/${t.id}/assign`, note ? { agency, note } : { agency },
      `工单 ${t.ticket_no} 已分派给${ws.agencyName(agency)}`);
  return [
    h("h3", {}, "分类建议（前三）"),
    suggested.length
      ? h("ol", { class: "top3", id: "top3" }, suggested.map((s) => h("li", {},
        `${s.category} ${Math.round(s.probability * 100)}% → ${s.agency.name} `,
        h("button", { type: "button", class: "secondary", onclick: () => send(s.agency.id) }, `分派给${s.agency.name}`))))
      : h("p", { class: "muted" }, "没有分类建议。"),
    h("h3", {}, "分派"),
    moveForm("分派", [
      field("assign-agency", "分派给", select),
      field("assign-note", "备注（选填）", h("input", { type: "text", id: "assign-note", name: "note", maxlength: 500 })),
    ], (data) => send(String(data.get("agency")), String(data.get("note") || "").trim())),
  ];
}

function moderation(t, ws) {
  const reason = h("input", { type: "text", id: "hide-reason", name: "reason", required: true, maxlength: 500 });
  const hidden = t.hidden === true;
  const move = hidden ? "unhide" : "hide";
  return [
    h("h3", {}, "议事厅显示"),
    moveForm(hidden ? "在议事厅恢复显示" : "在议事厅隐藏", field("hide-reason", "理由（记入办理记录）", reason),
      (data) => ws.move(`/triage/tickets/${t.id}/${move}`, { reason: String(data.get("reason")).trim() },
        `工单 ${t.ticket_no} 已${hidden ? "恢复显示" : "隐藏"}`), { danger: !hidden }),
  ];
}

new Workspace({
  statuses: ["triage", "returned"],
  actions: (t, ws) => {
    const can = new Set(t.can || []);
    return [...(can.has("reassign") ? assign(t, ws) : []), ...(can.has("hide") ? moderation(t, ws) : [])];
  },
  expects: (agency) => agency.kind === "triage",
})
  .start()
  .finally(ready);
