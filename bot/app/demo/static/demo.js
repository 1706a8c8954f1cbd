// baton demo's page: renders the stand-in's workspace from /state and sends what a person does
// to the page's API, which signs it for Baton. Slack text is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
let etag = null;
let skew = 0; // server time minus this browser's, in seconds
let me = null; // the person the page acts as
let view = { kind: "channel", id: "C0GENERAL" }; // what the middle column shows
let openModal = null; // id of the modal shown

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// -- mrkdwn: Slack's entities decoded, mentions named, *bold* and `code`; nothing else ----------

// The few emoji Baton uses; any other :name: stays as typed.
const EMOJI = {
  rotating_light: "\u{1F6A8}", pager: "\u{1F4DF}", white_check_mark: "\u2705", warning: "\u26A0\uFE0F",
  handshake: "\u{1F91D}", fire: "\u{1F525}", hourglass: "\u231B", bell: "\u{1F514}", pushpin: "\u{1F4CC}",
  x: "\u274C", red_circle: "\u{1F534}", large_green_circle: "\u{1F7E2}", memo: "\u{1F4DD}",
  information_source: "\u2139\uFE0F", clipboard: "\u{1F4CB}", no_entry: "\u26D4", alarm_clock: "\u23F0",
};

// Without an emoji font (a bare server's headless browser) an emoji is a box: keep the :name: then.
const HAS_EMOJI = (() => {
  try {
    const c = document.createElement("canvas").getContext("2d");
    const pixels = (ch) => { c.clearRect(0, 0, 32, 32); c.font = "24px sans-serif"; c.fillText(ch, 0, 24);
      return c.getImageData(0, 0, 32, 32).data.join(","); };
    return pixels("\u{1F6A8}") !== pixels("\u{10FFFD}");
  } catch (e) { return false; }
})();

function decode(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")
    .replace(/:([a-z0-9_+-]+):/g, (all, name) => (HAS_EMOJI && EMOJI[name]) || all);
}

function plain(parent, s) {
  // *bold* and `code` in text between Slack's <…> tokens
  const re = /\*([^*\n]+)\*|`([^`\n]+)`/g;
  let last = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    if (m.index > last) parent.append(decode(s.slice(last, m.index)));
    parent.append(m[1] !== undefined ? el("strong", null, decode(m[1])) : el("code", null, decode(m[2])));
    last = re.lastIndex;
  }
  if (last < s.length) parent.append(decode(s.slice(last)));
}

function token(parent, body) {
  const [target, label] = body.split("|", 2);
  const names = (state && state.names) || {};
  if (/^@[UW]/.test(target)) {
    parent.append(el("span", "mention", "@" + (names[target.slice(1)] || label || target.slice(1))));
  } else if (target.startsWith("#C") || target.startsWith("#G")) {
    const ch = state && state.channels.find((c) => c.id === target.slice(1));
    parent.append(el("span", "mention", "#" + (label || (ch ? ch.name : target.slice(1)))));
  } else if (/^!(channel|here|everyone)$/.test(target)) {
    parent.append(el("span", "mention broadcast", "@" + target.slice(1)));
  } else if (target.startsWith("!subteam^")) {
    parent.append(el("span", "mention", label ? decode(label) : "@" + (names[target.slice(9)] || "group")));
  } else if (target.startsWith("!date^")) {
    parent.append(decode(label || ""));
  } else if (/^(https?:\/\/|mailto:)/.test(target)) {
    const a = el("a", null, decode(label || target));
    a.href = decode(target);
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    parent.append(a);
  } else {
    parent.append("<" + decode(body) + ">");
  }
}

function mrkdwn(parent, text) {
  const s = String(text || "");
  const re = /<([^<>\n]+)>/g;
  let last = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    if (m.index > last) plain(parent, s.slice(last, m.index));
    token(parent, m[1]);
    last = re.lastIndex;
  }
  if (last < s.length) plain(parent, s.slice(last));
  return parent;
}

function textObj(obj, tag, cls) {
  const node = el(tag || "div", cls);
  if (!obj) return node;
  if (obj.type === "mrkdwn") mrkdwn(node, obj.text);
  else node.textContent = String(obj.text || "");
  return node;
}

// -- Block Kit ------------------------------------------------------------------------------------

function button(elem, ctx) {
  const b = el("button", "btn" + (elem.style ? " " + elem.style : ""), (elem.text && elem.text.text) || "Button");
  b.type = "button";
  b.addEventListener("click", async () => {
    b.disabled = true;
    await post("/api/action", {
      user: me, channel: ctx.channel, ts: ctx.ts, action_id: elem.action_id,
      value: elem.value || "", block_id: ctx.block_id,
    });
    b.disabled = false;
  });
  return b;
}

function select(elem, ctx) {
  const s = el("select");
  s.setAttribute("aria-label", (elem.placeholder && elem.placeholder.text) || "Choose");
  s.append(el("option", null, (elem.placeholder && elem.placeholder.text) || "Choose…"));
  for (const o of elem.options || []) {
    const opt = el("option", null, o.text.text);
    opt.value = o.value;
    s.append(opt);
  }
  s.addEventListener("change", () => post("/api/action", {
    user: me, channel: ctx.channel, ts: ctx.ts, action_id: elem.action_id, value: s.value, block_id: ctx.block_id,
  }));
  return s;
}

function element(elem, ctx) {
  if (elem.type === "button") return button(elem, ctx);
  if (elem.type === "static_select" || elem.type === "overflow") return select(elem, ctx);
  if (elem.type === "image") return el("span", "img-alt", elem.alt_text || "");
  if (elem.type === "mrkdwn" || elem.type === "plain_text") return textObj(elem, "span");
  return el("span", "unknown", "[" + elem.type + "]");
}

function block(b, ctx) {
  const c = Object.assign({}, ctx, { block_id: b.block_id || "actions" });
  switch (b.type) {
    case "header": return textObj(b.text, "h3", "bk-header");
    case "divider": return el("hr", "bk-divider");
    case "section": {
      const node = el("div", "bk-section");
      if (b.text) node.append(textObj(b.text, "div", "bk-text"));
      if (b.fields) {
        const grid = el("div", "bk-fields");
        for (const f of b.fields) grid.append(textObj(f, "div"));
        node.append(grid);
      }
      if (b.accessory) node.append(element(b.accessory, c));
      return node;
    }
    case "context": {
      const node = el("div", "bk-context");
      for (const e of b.elements || []) node.append(element(e, c));
      return node;
    }
    case "actions": {
      const node = el("div", "bk-actions");
      for (const e of b.elements || []) node.append(element(e, c));
      return node;
    }
    default: return el("div", "bk-unknown", b.text && b.text.text ? b.text.text : "[" + b.type + " block]");
  }
}

function renderMessage(m, ctx, ephemeral) {
  const li = el("li", "msg" + (ephemeral ? " ephemeral" : ""));
  const head = el("div", "msg-head");
  const who = m.user === "UBATONBOT" || !m.user ? "Baton" : (state.names[m.user] || m.user);
  head.append(el("span", "author", who));
  head.append(el("span", "time", new Date(parseFloat(m.ts) * 1000).toLocaleTimeString()));
  if (ephemeral) head.append(el("span", "only", "Only visible to you"));
  if (m.edited) head.append(el("span", "only", "(edited)"));
  li.append(head);
  const c = { channel: ctx.channel, ts: ephemeral ? null : m.ts };
  if (m.blocks && m.blocks.length) for (const b of m.blocks) li.append(block(b, c));
  else li.append(mrkdwn(el("div", "bk-text"), m.text));
  return li;
}

// -- the page -----------------------------------------------------------------------------------

function person(id) { return state.people.find((p) => p.id === id); }

function current() {
  if (view.kind === "dm") {
    const dm = state.dms[me];
    return { id: dm ? dm.id : null, title: "Baton (direct messages of " + person(me).handle + ")",
      topic: "", messages: dm ? dm.messages : [] };
  }
  const ch = state.channels.find((c) => c.id === view.id) || state.channels[0];
  return { id: ch.id, title: "#" + ch.name + (ch.archived ? " (archived)" : ""), topic: ch.topic, messages: ch.messages };
}

function sideItem(label, count, selected, onClick, cls) {
  const li = el("li");
  const b = el("button", "side-item" + (selected ? " selected" : "") + (cls ? " " + cls : ""));
  b.type = "button";
  b.append(el("span", "label", label));
  if (count) b.append(el("span", "count", count));
  if (selected) b.setAttribute("aria-current", "true");
  b.addEventListener("click", onClick);
  li.append(b);
  return li;
}

function render() {
  if (!state) return;
  if (!me || !person(me)) me = state.people[0].id;
  // Re-rendering replaces the side lists: keep the keyboard's place in them.
  const focused = document.activeElement;
  const keep = focused && focused.dataset ? (focused.dataset.user ? '[data-user="' + focused.dataset.user + '"]'
    : focused.dataset.channel ? '[data-channel="' + focused.dataset.channel + '"]' : null) : null;
  const people = $("people");
  people.replaceChildren(...state.people.map((p) => {
    const dm = state.dms[p.id];
    const item = sideItem(p.handle, dm && dm.messages.length ? String(dm.messages.length) : "",
      p.id === me, () => { me = p.id; view = { kind: "dm" }; render(); }, p.id === me ? "me" : "");
    item.firstChild.dataset.user = p.id;
    item.firstChild.setAttribute("aria-label", p.handle + (dm ? ", " + dm.messages.length + " direct messages" : ""));
    return item;
  }));
  const channels = $("channels");
  channels.replaceChildren(...state.channels.map((c) => {
    const item = sideItem("#" + c.name, c.messages.length ? String(c.messages.length) : "",
      view.kind === "channel" && view.id === c.id, () => { view = { kind: "channel", id: c.id }; render(); });
    item.firstChild.dataset.channel = c.id;
    return item;
  }));
  $("as").textContent = person(me).handle;
  const conv = current();
  $("conv-title").textContent = conv.title;
  $("conv-topic").replaceChildren(mrkdwn(el("span"), conv.topic || ""));
  const eph = (state.ephemerals[me] || []).filter((e) => e.channel === conv.id ||
    (view.kind === "channel" && !conv.id));
  const items = conv.messages.map((m) => ({ m, e: false })).concat(eph.map((m) => ({ m, e: true })));
  items.sort((a, b) => parseFloat(a.m.ts) - parseFloat(b.m.ts));
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...items.map((i) => renderMessage(i.m, { channel: conv.id }, i.e)));
  if (atBottom) list.scrollTop = list.scrollHeight;
  renderIncidents();
  if (keep && !document.activeElement.dataset.user && !document.activeElement.dataset.channel) {
    const again = document.querySelector(".side " + keep);
    if (again) again.focus();
  }
  renderModal();
}

function hhmmss(iso) { return iso ? iso.slice(11, 19) : "—"; }

function renderIncidents() {
  const box = $("incidents");
  if (!state.incidents.length) { box.replaceChildren(el("p", "hint", "No incident yet.")); return; }
  box.replaceChildren(...state.incidents.map((inc) => {
    const card = el("section", "incident state-" + inc.state);
    card.dataset.incident = inc.id;
    const h = el("h3");
    h.append(el("span", "sev", inc.severity), " #" + inc.id + " " + inc.area);
    card.append(h, el("p", "title", inc.title));
    card.append(el("p", "meta", inc.state + (inc.deadline ? " · window ends " + hhmmss(inc.deadline) : "")));
    const ol = el("ol", "ladder");
    for (const s of inc.steps) {
      const li = el("li", "step " + s.state);
      const what = s.kind === "breach" ? "breach at T" : s.kind === "page"
        ? (s.step === 0 ? "page" : "escalate " + s.step) + (s.jobs > 1 ? " ×" + s.jobs : "") : s.kind;
      li.dataset.kind = s.kind;
      li.dataset.step = s.step ?? "";
      li.append(el("span", "what", what),
        el("span", "due", hhmmss(s.due_at)), el("span", "st", s.state));
      ol.append(li);
    }
    card.append(ol);
    return card;
  }));
}

function renderModal() {
  const dialog = $("modal");
  const modal = state.modals[me];
  if (!modal) {
    if (dialog.open) dialog.close();
    openModal = null;
    return;
  }
  if (openModal === modal.id + modal.hash) return;
  openModal = modal.id + modal.hash;
  $("modal-title").textContent = (modal.title && modal.title.text) || "Baton";
  $("modal-submit").textContent = (modal.submit && modal.submit.text) || "Submit";
  $("modal-close").textContent = (modal.close && modal.close.text) || "Cancel";
  $("modal-error").textContent = "";
  const body = $("modal-body");
  body.replaceChildren(...(modal.blocks || []).map((b, i) => b.type === "input" ? field(b, i) : block(b, {})));
  if (!dialog.open) dialog.showModal();
  const first = body.querySelector("input, textarea, select");
  if (first) first.focus();
}

function field(b, i) {
  const wrap = el("div", "field");
  const e = b.element || {};
  const id = "f" + i;
  const label = el("label", null, (b.label && b.label.text) || "");
  label.htmlFor = id;
  if (b.optional) label.append(el("span", "hint", " (optional)"));
  let input;
  if (e.type === "static_select") {
    input = el("select");
    input.append(el("option", null, ""));
    for (const o of e.options || []) {
      const opt = el("option", null, o.text.text);
      opt.value = o.value;
      if (e.initial_option && e.initial_option.value === o.value) opt.selected = true;
      input.append(opt);
    }
  } else {
    input = el(e.multiline ? "textarea" : "input");
    if (!e.multiline) input.type = "text";
    if (e.initial_value) input.value = e.initial_value;
    if (e.placeholder) input.placeholder = e.placeholder.text || "";
    if (e.max_length) input.maxLength = e.max_length;
  }
  input.id = id;
  input.dataset.block = b.block_id;
  input.dataset.action = e.action_id;
  wrap.append(label, input);
  if (b.hint) wrap.append(textObj(b.hint, "p", "hint"));
  wrap.append(el("p", "error field-error"));
  wrap.dataset.block = b.block_id;
  return wrap;
}

async function submitModal(ev) {
  ev.preventDefault();
  const modal = state && state.modals[me];
  if (!modal) return;
  const values = {};
  for (const input of $("modal-body").querySelectorAll("[data-action]")) {
    values[input.dataset.block] = { [input.dataset.action]: input.value };
  }
  const out = await post("/api/submit", { user: me, view_id: modal.id, values });
  const reply = out && out.reply;
  if (reply && reply.response_action === "errors") {
    for (const [blockId, msg] of Object.entries(reply.errors || {})) {
      const w = $("modal-body").querySelector('[data-block="' + CSS.escape(blockId) + '"] .field-error');
      if (w) w.textContent = msg;
      else $("modal-error").textContent = msg;
    }
    return;
  }
  $("modal").close();
  openModal = null;
}

async function closeModal() {
  const modal = state && state.modals[me];
  $("modal").close();
  openModal = null;
  if (modal) await post("/api/close", { user: me, view_id: modal.id });
}

async function post(path, data) {
  const status = $("status");
  try {
    const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data) });
    const out = await resp.json();
    status.textContent = resp.ok ? "Sent as " + person(me).handle + "; Baton answered " + out.status
      : "Not sent: " + (out.error || resp.status);
    poll();
    return out;
  } catch (e) {
    status.textContent = "Not sent: " + e;
    return null;
  }
}

async function poll() {
  try {
    const resp = await fetch("/state", { headers: etag ? { "If-None-Match": etag } : {} });
    const now = parseFloat(resp.headers.get("X-Demo-Now"));
    if (!isNaN(now)) skew = now - Date.now() / 1000;
    if (resp.status === 200) {
      state = await resp.json();
      etag = resp.headers.get("ETag");
      render();
    }
    document.body.classList.remove("offline");
  } catch (e) {
    document.body.classList.add("offline");
  }
}

function tick() {
  if (!state || !state.clock) return;
  const c = state.clock;
  const real = Date.now() / 1000 + skew;
  const demo = new Date((c.origin + (real - c.origin) * c.speed) * 1000);
  $("clock").textContent = "Demo time " + demo.toISOString().slice(11, 19) + " UTC" +
    (c.speed !== 1 ? " · " + c.speed + "× real time" : "");
}

document.addEventListener("DOMContentLoaded", () => {
  $("command").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("cmd").value.trim();
    if (!text) return;
    const conv = current();
    const out = await post("/api/command", { user: me, text, channel: conv.id });
    if (out && out.ok) $("cmd").value = "";
  });
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-close").addEventListener("click", closeModal);
  $("modal").addEventListener("cancel", (ev) => { ev.preventDefault(); closeModal(); });
  poll();
  setInterval(poll, 700);
  setInterval(tick, 250);
});
