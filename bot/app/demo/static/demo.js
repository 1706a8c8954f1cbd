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
const images = new Map(); // "ts file-id" -> its <img>, kept across renders so it loads once

// A file Baton shared (files.completeUploadExternal): its title; a PNG shown, anything else a link.
function sharedFile(f, ts) {
  const box = el("figure", "file");
  box.dataset.file = f.id;
  const url = "/files/" + encodeURIComponent(f.id);
  if (f.image) {
    const key = ts + " " + f.id;
    let img = images.get(key);
    if (!img) {
      img = el("img", "file-image");
      img.alt = f.title;
      img.src = url;
      images.set(key, img);
    }
    box.append(img, el("figcaption", "file-title", f.title));
  } else {
    const link = el("a", "file-title", f.title);
    link.href = url;
    link.download = "";
    box.append(link);
  }
  return box;
}

function renderMessage(m, ctx, ephemeral) {
  const li = el("li", "msg" + (ephemeral ? " ephemeral" : ""));
  const head = el("div", "msg-head");
  const who = m.user === "UBATONBOT" || !m.user ? "Baton" : (state.names[m.user] || m.user);
  head.append(el("span", "author", who));
  head.append(el("span", "time", demoTime(parseFloat(m.ts)).toISOString().slice(11, 19)));
  if (ephemeral) head.append(el("span", "only", "Only visible to you"));
  if (m.edited) head.append(el("span", "only", "(edited)"));
  li.append(head);
  const c = { channel: ctx.channel, ts: ephemeral ? null : m.ts };
  if (m.blocks && m.blocks.length) for (const b of m.blocks) li.append(block(b, c));
  else li.append(mrkdwn(el("div", "bk-text"), m.text));
  for (const f of m.files || []) li.append(sharedFile(f, m.ts));
  if (!ephemeral && view.kind === "channel") {
    // Slack's message menu, reduced to the one shortcut Baton has.
    const add = el("button", "msg-tool", "Add to incident evidence");
    add.type = "button";
    add.addEventListener("click", () => post("/api/shortcut", { user: me, channel: ctx.channel, ts: m.ts }));
    head.append(add);
  }
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
    const title = el("p", "title", inc.title);
    title.title = inc.title; // the whole title on hover, past the three lines shown
    card.append(h, title);
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
  input.required = !b.optional; // as Slack does, a required input is asked for before submitting
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

// A real moment (epoch seconds) in demo time: Baton's clock runs `speed` times faster from `origin`.
function demoTime(real) {
  const c = state.clock;
  return new Date((c.origin + (real - c.origin) * c.speed) * 1000);
}

function tick() {
  if (!state || !state.clock) return;
  const demo = demoTime(Date.now() / 1000 + skew);
  const c = state.clock;
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
