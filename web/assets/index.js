// The complaint form: text, a photo (camera or album) sent by the presigned upload, a location (the browser's,
// with permission) or a district, an optional phone, and whether the board may show it.
import { api, config, uuid } from "./api.js";
import { $, fill, h, say } from "./dom.js";
import { errorText } from "./i18n.js";
import { cityName, options, ready } from "./layout.js";
import { keepTicket } from "./store.js";

const PHOTO_TYPES = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", heic: "image/heic",
  heif: "image/heic" };
const MAX_PHOTO_BYTES = 15 * 1024 * 1024;

const form = $("#complaint");
const result = $("#result");
let photo = null;
let location = null;
// One key per complaint, kept across retries of the same one (the desk answers a retry with the same ticket); a
// change to the form makes it another complaint, with a key of its own.
let idempotencyKey = null;

function photoType(file) {
  if (Object.values(PHOTO_TYPES).includes(file.type)) return file.type;
  if (file.type === "image/heif") return "image/heic";
  return PHOTO_TYPES[(file.name.split(".").pop() || "").toLowerCase()] || null;
}

function choosePhoto(file) {
  const preview = $("#photo-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  photo = null;
  preview.hidden = true;
  preview.removeAttribute("src");
  $("#photo-clear").hidden = true;
  $("#photo-name").textContent = "";
  if (!file) return;
  if (!photoType(file)) return say(result, "照片格式不支持，请选择 JPEG、PNG、WebP 或 HEIC 照片", "error");
  if (file.size > MAX_PHOTO_BYTES) return say(result, "照片太大（最大 15 MB）", "error");
  photo = file;
  $("#photo-name").textContent = `已选择：${file.name}（${Math.ceil(file.size / 1024)} KB）`;
  $("#photo-clear").hidden = false;
  if (photoType(file) !== "image/heic") {
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  }
}

function locate() {
  const status = $("#locate-status");
  if (!navigator.geolocation) {
    status.textContent = "此浏览器不能定位，请选择镇街。";
    return;
  }
  status.textContent = "正在定位…";
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      location = { lat: pos.coords.latitude, lng: pos.coords.longitude };
      status.textContent = `已获取位置（${location.lat.toFixed(4)}, ${location.lng.toFixed(4)}）`;
      idempotencyKey = null;
    },
    () => {
      location = null;
      status.textContent = "未能获取位置，请选择镇街。";
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function body() {
  const out = { text: $("#text").value.trim(), channel: "web" };
  if (!$("#public").checked) out.public = false; // shown on the board unless the citizen says not
  if ($("#district").value) out.district = $("#district").value;
  if (location) out.location = location;
  const phone = $("#phone").value.trim();
  if (phone) out.contact = { phone };
  if (photo) out.photo_upload = { content_type: photoType(photo), size: photo.size };
  return out;
}

async function upload(target, file) {
  const data = new FormData();
  for (const [name, value] of Object.entries(target.fields)) data.append(name, value);
  data.append("file", file);
  const response = await fetch(target.url, { method: "POST", body: data });
  if (!response.ok) throw new Error(`upload ${response.status}`);
}

function done(ticket, photoSent) {
  fill(
    result,
    h("p", {}, "已收到您的投诉，问题编号："),
    h("p", { class: "ticket-no", id: "ticket-no" }, String(ticket.ticket_no)),
    h("p", {}, "本机已保存查询凭证，可在“我的投诉”查看办理进度和答复。"),
    photoSent ? null : h("p", {}, "照片上传失败，投诉已受理，但不含照片。"),
    h("p", { class: "buttons" }, h("a", { class: "button", href: "/my" }, "查看我的投诉"),
      h("a", { class: "button secondary", href: `/board/${ticket.ticket_no}` }, "在议事厅查看")),
  );
  result.className = "notice notice-ok";
  result.hidden = false;
}

async function submit(event) {
  event.preventDefault();
  const complaint = body();
  if (!complaint.text) {
    say(result, "请填写投诉内容", "error");
    $("#text").focus();
    return;
  }
  const button = $("#submit");
  button.disabled = true;
  say(result, "正在提交…");
  idempotencyKey ||= uuid();
  try {
    const ticket = await api("/complaints", {
      method: "POST",
      body: complaint,
      headers: { "Idempotency-Key": idempotencyKey },
    });
    keepTicket({ ...ticket, text: complaint.text.slice(0, 80) });
    let photoSent = true;
    if (ticket.upload && photo) photoSent = await upload(ticket.upload, photo).then(() => true, () => false);
    done(ticket, photoSent);
    form.reset();
    choosePhoto(null);
    location = null;
    $("#locate-status").textContent = "";
    idempotencyKey = null;
  } catch (e) {
    say(result, errorText(e), "error");
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("submit", submit);
form.addEventListener("input", (e) => {
  if (e.target.type !== "file") idempotencyKey = null;
});
for (const input of [$("#camera"), $("#album")]) {
  input.addEventListener("change", () => {
    choosePhoto(input.files[0] || null);
    input.value = "";
    idempotencyKey = null;
  });
}
$("#photo-clear").addEventListener("click", () => {
  choosePhoto(null);
  idempotencyKey = null;
});
$("#locate").addEventListener("click", locate);

cityName();
config()
  .then(({ districts }) => options($("#district"), districts.map((d) => ({ value: d.name, label: d.name }))))
  .catch(() => say(result, "镇街列表加载失败，可以不选择镇街直接提交。", "warn"))
  .finally(ready);
