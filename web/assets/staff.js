// The staff workspace that the agency page and the triage desk share: sign-in, the inbox of the caller's agency
// (status filter, overdue badges, pages by cursor), one ticket with its photo and history. Each page adds the
// moves its staff make (`actions`).
import { config } from "./api.js";
import { $, fill, h, say, timeEl } from "./dom.js";
import { errorText, moveName, STATUS } from "./i18n.js";
import { cityName, options, ready } from "./layout.js";
import { answers, facts, stars, statusBadge } from "./render.js";
import { AuthError, session, signIn, signOut, staffApi } from "./auth.js";

const SIGN_IN_ERRORS = {
  NotAuthorizedException: "邮箱或密码不正确",
  UserNotFoundException: "邮箱或密码不正确",
  InvalidPasswordException: "新密码不符合要求（至少 8 位，含大小写字母、数字和符号）",
  PasswordResetRequiredException: "需要重置密码，请联系管理员",
  TooManyRequestsException: "尝试次数过多，请稍后再试",
  network: "无法连接登录服务，请检查网络",
};

const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);

/** A form for one move: its inputs, a submit button, and what to send; disabled while the move is on its way. */
export function moveForm(label, inputs, send, { danger = false } = {}) {
  const button = h("button", { type: "submit", class: danger ? "danger" : null }, label);
  const form = h("form", { class: "move" }, inputs, h("div", { class: "buttons" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await send(new FormData(form));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export class Workspace {
  /** statuses: the inbox's filter choices; actions(ticket, workspace): the moves this page offers. */
  constructor({ statuses, actions, expects }) {
    this.statuses = statuses;
    this.actions = actions;
    this.expects = expects;
    this.root = $("#workspace-root");
    this.notice = $("#notice");
    this.cursor = null;
    this.current = null;
  }

  async start() {
    cityName();
    this.city = await config().catch(() => null);
    if (session()) await this.open();
    else this.signInForm();
  }

  // ------------------------------------------------------------ sign-in
  signInForm() {
    const email = h("input", { type: "email", id: "email", name: "email", autocomplete: "username", required: true });
    const password = h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password",
      required: true });
    const form = moveForm("登录", [field("email", "工作邮箱", email), field("password", "密码", password)],
      async () => {
        try {
          const got = await signIn(email.value.trim(), password.value);
          if (got.challenge) return this.newPasswordForm(got.next);
          await this.open();
        } catch (e) {
          say(this.notice, SIGN_IN_ERRORS[e.code] || `登录失败：${e.message}`, "error");
        }
      });
    form.id = "signin";
    form.classList.add("card");
    fill(this.root, h("h2", {}, "工作人员登录"), form);
    email.focus();
  }

  newPasswordForm(next) {
    const first = h("input", { type: "password", id: "new-password", autocomplete: "new-password", required: true });
    const again = h("input", { type: "password", id: "new-password-again", autocomplete: "new-password", required: true });
    const form = moveForm("设置新密码并登录",
      [field("new-password", "新密码", first), field("new-password-again", "再次输入新密码", again)], async () => {
        if (first.value !== again.value) return say(this.notice, "两次输入的密码不一致", "error");
        try {
          await next(first.value);
          await this.open();
        } catch (e) {
          say(this.notice, SIGN_IN_ERRORS[e.code] || `设置失败：${e.message}`, "error");
        }
      });
    form.id = "new-password-form";
    form.classList.add("card");
    say(this.notice, "首次登录，请设置新密码。", "warn");
    fill(this.root, h("h2", {}, "设置新密码"), form);
    first.focus();
  }

  // ------------------------------------------------------------ the workspace
  async open() {
    try {
      this.me = await staffApi("/agency/me");
    } catch (e) {
      if (e instanceof AuthError || e.status === 401) return this.signInForm();
      say(this.notice, errorText(e), "error");
      return;
    }
    say(this.notice, "");
    const status = h("select", { id: "inbox-status", name: "status" }, h("option", { value: "" }, "全部"));
    options(status, this.statuses.map((s) => ({ value: s, label: STATUS[s] })));
    const overdue = h("input", { type: "checkbox", id: "inbox-overdue", name: "overdue" });
    this.filter = h("form", { class: "inbox-filter", "aria-label": "筛选待办" },
      field("inbox-status", "状态", status),
      h("div", { class: "field" }, h("label", { class: "check" }, overdue, "只看超期")),
      h("div", { class: "field" }, h("button", { type: "submit", class: "secondary" }, "刷新")));
    this.filter.addEventListener("submit", (event) => {
      event.preventDefault();
      this.inbox(true);
    });
    this.list = h("ul", { class: "list", id: "inbox", "aria-label": "待办工单" });
    this.more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.inbox(false) }, "更多");
    this.detail = h("section", { id: "detail", class: "card", "aria-label": "工单详情", tabindex: "-1" },
      h("p", { class: "muted" }, "选择左侧的工单查看详情。"));
    const who = this.me.agency ? this.me.agency.name : "管理员";
    const wrong = this.expects && this.me.agency && !this.expects(this.me.agency)
      ? h("p", { class: "notice notice-warn" }, "此页面不是为您的部门准备的：",
        h("a", { href: this.me.agency.kind === "triage" ? "/triage" : "/agency" }, "前往您的工作台"))
      : null;
    fill(this.root,
      h("div", { class: "card whoami" }, h("span", { id: "whoami" }, `${who} · ${this.me.email || ""}`),
        h("button", { type: "button", class: "secondary", id: "signout", onclick: () => {
          signOut();
          this.signInForm();
        } }, "退出登录")),
      wrong,
      h("div", { class: "workspace" },
        h("section", { "aria-labelledby": "inbox-title" }, h("h2", { id: "inbox-title" }, "待办工单"), this.filter,
          this.list, h("div", { class: "buttons" }, this.more)),
        this.detail));
    await this.inbox(true);
  }

  async inbox(reset) {
    const params = new URLSearchParams();
    const { status, overdue } = this.filter.elements;
    if (status.value) params.set("status", status.value);
    if (overdue.checked) params.set("overdue", "true");
    if (!reset && this.cursor) params.set("cursor", this.cursor);
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await staffApi(`/agency/tickets?${params}`);
      if (reset) fill(this.list);
      this.list.append(...page.tickets.map((t) => this.row(t)));
      if (!this.list.children.length) this.list.append(h("li", { class: "muted" }, "没有待办工单。"));
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
    } catch (e) {
      this.failed(e);
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  row(t) {
    const button = h("button", { type: "button", class: "inbox-item", "data-ticket-no": t.ticket_no,
      "aria-current": this.current === t.id ? "true" : "false", onclick: () => this.show(t.id) },
      h("span", { class: "line" }, h("strong", {}, `No.${t.ticket_no}`), statusBadge(t.status),
        t.overdue ? h("span", { class: "badge overdue" }, "已超期") : null,
        h("span", { class: "muted small" }, [t.district, t.category].filter(Boolean).join(" · "))),
      h("span", { class: "excerpt" }, t.text),
      t.deadlines?.answer_by ? h("span", { class: "excerpt" }, "答复期限 ", timeEl(t.deadlines.answer_by)) : null);
    return h("li", {}, button);
  }

  async show(id) {
    this.current = id;
    for (const b of this.list.querySelectorAll(".inbox-item")) b.setAttribute("aria-current", "false");
    this.detail.setAttribute("aria-busy", "true");
    try {
      this.render(await staffApi(`/agency/tickets/${id}`));
      this.detail.focus();
    } catch (e) {
      this.failed(e);
    } finally {
      this.detail.removeAttribute("aria-busy");
    }
  }

  /** The ticket as the staff view gives it, with this page's moves. */
  render(t) {
    this.ticket = t;
    const photo = t.photo && t.photo.display_url
      ? h("a", { href: t.photo.display_url }, h("img", { class: "photo-full", src: t.photo.display_url,
        alt: `工单 ${t.ticket_no} 的照片` }))
      : null;
    fill(this.detail,
      h("h2", {}, `工单 ${t.ticket_no} `, statusBadge(t.status), " ",
        t.overdue ? h("span", { class: "badge overdue" }, "已超期") : null),
      h("p", { class: "question-full", id: "ticket-text" }, t.text),
      photo,
      facts([
        ["提交时间", timeEl(t.created_at)],
        ["渠道", t.channel],
        ["类别", t.category],
        ["镇街", t.district],
        ["分类置信度", t.confidence === null ? null : `${Math.round(t.confidence * 100)}%`],
        ["位置", t.location ? `${t.location.lat.toFixed(5)}, ${t.location.lng.toFixed(5)}` : null],
        ["签收期限", t.deadlines?.accept_by ? timeEl(t.deadlines.accept_by) : null],
        ["答复期限", t.deadlines?.answer_by ? timeEl(t.deadlines.answer_by) : null],
        ["已延期至", t.extension ? `${t.extension.until}（${t.extension.reason}）` : null],
        ["重办次数", t.reopen_count || null],
        ["市民评价", t.rating ? stars(t.rating.score) : null],
      ]),
      h("h3", {}, "答复"),
      answers(t.answers),
      h("h3", {}, "办理记录"),
      h("ol", { class: "history" }, t.history.map((step) => h("li", {}, timeEl(step.at), " ",
        step.move ? moveName(step.move) : "提交", ` → ${STATUS[step.status] || step.status}`,
        step.actor?.agency ? ` · ${this.agencyName(step.actor.agency)}` : "",
        step.note ? `：${step.note}` : ""))),
      h("div", { class: "actions" }, this.actions(t, this)));
  }

  agencyName(id) {
    return this.city?.agencies.find((a) => a.id === id)?.name || id;
  }

  /** Sends one move (`/agency/tickets/{id}/accept`, …); shows the ticket as it is afterwards, or just `done` when
   * the answer is not the whole ticket (a move that takes it out of this inbox). */
  async move(path, body, done) {
    try {
      const t = await staffApi(path, { method: "POST", body });
      say(this.notice, done, "ok");
      if (t.text !== undefined) this.render(t);
      else fill(this.detail, h("p", {}, done));
      await this.inbox(true);
    } catch (e) {
      this.failed(e);
    }
  }

  failed(e) {
    if (e.status === 401) {
      say(this.notice, errorText(e), "error");
      return this.signInForm();
    }
    say(this.notice, errorText(e), "error");
  }
}

export { field, ready };
