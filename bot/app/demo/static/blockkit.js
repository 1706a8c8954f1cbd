// baton demo's page: Block Kit and mrkdwn as the page shows them. Slack text is only ever set
// with textContent (or as a text node), never parsed as HTML. Uses demo.js's state, me and post.
"use strict";

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

function entities(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function decode(s) {
  return entities(s).replace(/:([a-z0-9_+-]+):/g, (all, name) => (HAS_EMOJI && EMOJI[name]) || all);
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
    a.href = entities(target);
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
