// What the citizen and the staff read for the desk's own codes: ticket states, moves and error codes.

export const STATUS = {
  awaiting_photo: "等待照片",
  photo_rejected: "照片未通过",
  received: "已收到",
  classified: "已分类",
  routing: "分派中",
  dispatched: "已派发",
  triage: "人工分派中",
  accepted: "已签收",
  answered: "已答复",
  reopened: "重办",
  returned: "已退单",
  closed: "已办结",
};

// The moves of a ticket's history, as the lifecycle names them (an unknown one shows as its name).
export const MOVE = {
  receive: "收到",
  attach_photo: "照片已处理",
  refuse_photo: "照片未通过",
  end_photo_wait: "未等到照片",
  classify: "自动分类",
  dispatch: "派发",
  send_to_triage: "转人工分派",
  accept: "签收",
  answer: "答复",
  return: "退单",
  return_to_triage: "退回分派中心",
  reassign: "改派",
  reopen: "重办",
  reopen_past_limit: "多次不满意，转分派中心",
  close: "办结",
  extend: "延期",
  remind: "催办",
  escalate: "督办",
  hide: "在议事厅隐藏",
  unhide: "在议事厅恢复显示",
};

export const moveName = (move) => MOVE[move] || move;

export const SCORE = { 1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意" };

export const WITHHELD = { citizen: "提问人选择不公开", moderation: "已被管理员隐藏" };

const ERRORS = {
  rate_limited: "请求太频繁，请稍后再试",
  unavailable: "服务暂时不可用，请稍后重试",
  photo_too_large: "照片太大（最大 15 MB）",
  unsupported_photo: "照片格式不支持，请选择 JPEG、PNG、WebP 或 HEIC 照片",
  move_not_allowed: "该工单状态已变化，请刷新后再试",
  extension_refused: "无法延期",
  unauthorized: "登录已过期，请重新登录",
  not_staff: "该账号不属于任何部门",
  not_found: "未找到",
  bad_cursor: "翻页已失效，请重新查询",
  network: "网络连接失败，请检查网络后重试",
};

/** A sentence for an API error: ours in Chinese where we know the code, else the server's message. */
export function errorText(err) {
  const known = ERRORS[err.code];
  if (known && err.code !== "invalid_request") return known;
  return err.message ? `提交失败：${err.message}` : "出错了，请稍后重试";
}

export const statusName = (status) => STATUS[status] || status;
