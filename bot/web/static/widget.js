/*
 * Patient chat widget for the hospital FAQ bot.
 *
 * Embed with one tag:
 *   <script src="https://host/widget.js" data-server="https://host"
 *           data-title="Ask about your procedure" data-accent="#0b5cad"
 *           data-position="right" data-emergency-number="911" defer></script>
 *
 * Options (all optional): data-server (default: the script's origin),
 * data-title, data-accent (a CSS colour; white text must be readable on it),
 * data-position (right|left), data-emergency-number, data-mode (widget|page),
 * data-target (CSS selector of the container for page mode),
 * data-poll-interval (milliseconds between checks for care-team replies).
 *
 * Everything lives in an open Shadow DOM. All text from the bot, staff and
 * the patient goes through textContent / createElement: never innerHTML.
 * Styles come from /static/widget.css through a <link> inside the shadow
 * root, so the widget works under a strict CSP (no inline styles/scripts).
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"]');
  if (!script) return;

  var scriptUrl = new URL(script.src, document.baseURI);
  var ds = script.dataset;
  var server = (ds.server || scriptUrl.origin).replace(/\/+$/, "");
  var title = ds.title || "Ask about your procedure";
  var mode = ds.mode === "page" ? "page" : "widget";
  var position = ds.position === "left" ? "left" : "right";
  var emergencyNumber = (ds.emergencyNumber || "911").replace(/[^0-9+*#]/g, "") || "911";
  var pollInterval = Math.max(1000, parseInt(ds.pollInterval, 10) || 10000);
  var STAFF_REQUEST = "I'd like to talk to a person";
  var DEFAULT_DISCLAIMER = "I'm an automated assistant. I give general information, " +
    "not medical advice or a diagnosis, and messages here are not watched in real time. " +
    "Always follow your own care team's instructions. In an emergency, call " +
    emergencyNumber + ".";
  var STORE_KEY = "faqbot:" + server + ":" + mode;

  // ------------------------------------------------------------------ state

  function newSessionId() {
    if (window.crypto && crypto.randomUUID) return "w-" + crypto.randomUUID();
    return "w-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function loadState() {
    try {
      var raw = window.sessionStorage.getItem(STORE_KEY);
      if (raw) {
        var parsed = JSON.parse(raw);
        if (parsed && typeof parsed.sessionId === "string" && Array.isArray(parsed.items)) {
          return parsed;
        }
      }
    } catch (e) { /* storage blocked or corrupt: start fresh */ }
    return { sessionId: newSessionId(), items: [], open: false, lastStaffId: 0,
             disclaimer: null };
  }

  var state = loadState();

  function save() {
    try {
      // Keep the transcript bounded.
      if (state.items.length > 200) state.items = state.items.slice(-200);
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* ignore */ }
  }

  // ---------------------------------------------------------------- helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(String(url));
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function svgIcon(path, size) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z" +
    "M7 9v2h10V9H7zm0 3v2h7v-2H7z";
  var ICON_CLOSE = "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9" +
    " 5.7 4.3 4.3l6.3 6.3 6.3-6.3z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z";
  var ICON_UP = "M2 21h4V9H2v12zM23 10a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L14.2" +
    " 1 7.6 7.6C7.2 8 7 8.5 7 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";
  var ICON_DOWN = "M22 3h-4v12h4V3zM1 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1L9.8 23" +
    "l6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H6c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z";
  var ICON_PHONE = "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6" +
    " 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0" +
    " 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1l-2.3 2.2z";

  // ------------------------------------------------------------------- DOM

  var host = el("div", { className: "faqbot-host", "data-faqbot": mode });
  // Hidden until the stylesheet has loaded (CSSOM, allowed under a strict CSP).
  host.style.visibility = "hidden";
  if (ds.accent && window.CSS && CSS.supports && CSS.supports("color", ds.accent)) {
    host.style.setProperty("--faqbot-accent", ds.accent);
  }
  var root = host.attachShadow({ mode: "open" });

  var link = el("link", { rel: "stylesheet", href: new URL("/static/widget.css", scriptUrl).href });
  // Work that needs the widget visible (focus) waits until it is revealed.
  var revealed = false;
  var afterReveal = [];
  function reveal() {
    if (revealed) return;
    revealed = true;
    host.style.visibility = "";
    afterReveal.splice(0).forEach(function (fn) { fn(); });
  }
  function whenRevealed(fn) {
    if (revealed) fn(); else afterReveal.push(fn);
  }
  link.addEventListener("load", reveal);
  link.addEventListener("error", reveal);
  setTimeout(reveal, 3000);
  root.appendChild(link);

  var wrapper = el("div", { className: "faqbot " + mode + " pos-" + position });
  root.appendChild(wrapper);

  var panelId = "faqbot-panel";
  var titleId = "faqbot-title";

  var launcher = null;
  if (mode === "widget") {
    launcher = el("button", {
      type: "button", className: "launcher", "aria-expanded": "false",
      "aria-controls": panelId,
    }, [svgIcon(ICON_CHAT, 26), el("span", { className: "launcher-text", text: "Questions?" }),
        el("span", { className: "visually-hidden", text: " Chat: " + title })]);
    wrapper.appendChild(launcher);
  }

  var closeBtn = mode === "widget"
    ? el("button", { type: "button", className: "icon-btn close", "aria-label": "Close chat" },
         [svgIcon(ICON_CLOSE, 20)])
    : null;
  var staffBtn = el("button", { type: "button", className: "staff-btn", text: "Talk to staff" });

  var header = el("div", { className: "header" }, [
    el("div", { className: "title-wrap" }, [
      el("h2", { className: "title", id: titleId, text: title }),
      el("p", { className: "subtitle", text: "Automated answers · staff reply in office hours" }),
    ]),
    el("div", { className: "header-actions" }, [staffBtn, closeBtn]),
  ]);

  var disclaimer = el("p", { className: "disclaimer", id: "faqbot-disclaimer" });
  var log = el("div", {
    className: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Conversation", tabindex: "0",
  });
  var typing = el("div", { className: "typing", role: "status" });
  var input = el("input", {
    type: "text", className: "input", id: "faqbot-input", autocomplete: "off",
    maxlength: "1000", placeholder: "Type your question…", "aria-describedby": "faqbot-disclaimer",
  });
  var inputLabel = el("label", { className: "visually-hidden", "for": "faqbot-input",
                                 text: "Your question" });
  var sendBtn = el("button", { type: "submit", className: "send", "aria-label": "Send" },
                   [svgIcon(ICON_SEND, 20)]);
  var form = el("form", { className: "composer", "aria-label": "Send a message" },
                [inputLabel, input, sendBtn]);

  var panel = el("section", {
    className: "panel", id: panelId, "aria-labelledby": titleId,
    role: mode === "widget" ? "dialog" : "region",
  }, [header, log, typing, form]);
  if (mode === "widget") panel.hidden = true;
  wrapper.appendChild(panel);

  // ------------------------------------------------------------- rendering

  function renderDisclaimer() {
    disclaimer.textContent = state.disclaimer || DEFAULT_DISCLAIMER;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function bubble(role, label, text, extraClass) {
    var msg = el("div", { className: "msg " + role + (extraClass ? " " + extraClass : "") });
    msg.appendChild(el("span", { className: "who", text: label }));
    var body = el("p", { className: "text" });
    body.textContent = text;
    msg.appendChild(body);
    return msg;
  }

  function renderItem(item, index) {
    if (item.role === "user") return bubble("user", "You", item.text);
    if (item.role === "staff") return bubble("staff", "Care team", item.text);
    if (item.role === "error") {
      return bubble("error", "Not sent", item.text);
    }
    var reply = item.reply || {};
    var type = reply.type || "answer";
    var msg = bubble("bot", "Assistant", reply.text || "", "type-" + type);
    msg.setAttribute("data-type", type);

    if (type === "emergency" || type === "urgent") {
      msg.setAttribute("role", "alert");
      msg.querySelector(".who").textContent = "Urgent";
      if (type === "emergency") {
        var call = el("a", { className: "call", href: "tel:" + emergencyNumber },
                      [svgIcon(ICON_PHONE, 20), "Call " + emergencyNumber + " now"]);
        msg.appendChild(call);
      }
    }

    if (reply.ticket_id && (type === "handoff" || type === "fallback" || type === "emergency" ||
                            type === "urgent")) {
      msg.appendChild(el("p", { className: "ref", text: "Reference: " + reply.ticket_id }));
    }

    var sources = (reply.sources || []).filter(function (s) { return s && safeUrl(s.url); });
    if (sources.length) {
      var list = el("ul", { className: "sources", "aria-label": "Sources" });
      sources.forEach(function (s) {
        var a = el("a", { href: safeUrl(s.url), target: "_blank", rel: "noopener noreferrer" });
        a.textContent = String(s.name || s.url);
        a.appendChild(el("span", { className: "visually-hidden", text: " (opens in a new tab)" }));
        list.appendChild(el("li", null, [a]));
      });
      msg.appendChild(el("div", { className: "sources-wrap" }, [
        el("span", { className: "sources-label", text: "Source" + (sources.length > 1 ? "s" : "") }),
        list,
      ]));
    }

    var suggestions = (reply.suggestions || []).filter(function (s) {
      return s && typeof s.question === "string" && s.question;
    });
    if (suggestions.length) {
      var heading = type === "clarify" ? "Did you mean:" : "Related questions";
      var chips = el("div", { className: "chips", role: "group", "aria-label": heading });
      suggestions.forEach(function (s) {
        var b = el("button", { type: "button", className: "chip" });
        b.textContent = s.question;
        b.addEventListener("click", function () { send(s.question); });
        chips.appendChild(b);
      });
      msg.appendChild(el("span", { className: "chips-label", text: heading }));
      msg.appendChild(chips);
    }

    if (type === "answer" && reply.faq_id) {
      var fb = el("div", { className: "feedback" });
      if (item.feedback) {
        fb.appendChild(el("p", { className: "thanks", text: "Thanks for your feedback" }));
      } else {
        fb.appendChild(el("span", { className: "fb-label", text: "Was this helpful?" }));
        var up = el("button", { type: "button", className: "icon-btn fb", "aria-label": "Yes, helpful" },
                    [svgIcon(ICON_UP, 18)]);
        var down = el("button", { type: "button", className: "icon-btn fb",
                                  "aria-label": "No, not helpful" }, [svgIcon(ICON_DOWN, 18)]);
        up.addEventListener("click", function () { giveFeedback(index, true, fb); });
        down.addEventListener("click", function () { giveFeedback(index, false, fb); });
        fb.appendChild(up);
        fb.appendChild(down);
      }
      msg.appendChild(fb);
    }
    return msg;
  }

  function renderAll() {
    while (log.firstChild) log.removeChild(log.firstChild);
    // The disclaimer opens the conversation and scrolls away with it.
    log.appendChild(disclaimer);
    state.items.forEach(function (item, i) { log.appendChild(renderItem(item, i)); });
    renderDisclaimer();
    scrollToEnd();
  }

  function append(item) {
    state.items.push(item);
    save();
    log.appendChild(renderItem(item, state.items.length - 1));
    scrollToEnd();
  }

  // ----------------------------------------------------------- networking

  var busy = false;

  function setTyping(on) {
    while (typing.firstChild) typing.removeChild(typing.firstChild);
    typing.classList.toggle("on", on);
    if (on) {
      typing.appendChild(el("span", { className: "dots", "aria-hidden": "true" },
        [el("span"), el("span"), el("span")]));
      typing.appendChild(el("span", { className: "typing-text", text: "Assistant is typing…" }));
    }
  }

  function setBusy(on) {
    busy = on;
    sendBtn.disabled = on;
    staffBtn.disabled = on;
    setTyping(on);
  }

  function tokenHeaders(extra) {
    var headers = extra || {};
    // The session's secret: only this browser may read the care team's replies.
    if (state.sessionToken) headers["X-Session-Token"] = state.sessionToken;
    return headers;
  }

  function postJson(path, payload) {
    return fetch(server + path, {
      method: "POST",
      headers: tokenHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(payload),
      credentials: "omit",
    });
  }

  function send(text) {
    text = String(text || "").trim();
    if (!text || busy) return;
    append({ role: "user", text: text });
    setBusy(true);
    postJson("/api/v1/messages", { session_id: state.sessionId, text: text })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) {
            var msg = res.status === 429
              ? "You're sending messages quickly. Please wait a moment and try again."
              : "Sorry, your message could not be sent (" + (data.error || res.status) +
                "). Please try again.";
            var error = new Error(msg);
            error.userMessage = msg;
            throw error;
          }
          return data;
        });
      })
      .then(function (data) {
        if (typeof data.session_id === "string" && data.session_id) state.sessionId = data.session_id;
        if (typeof data.session_token === "string" && data.session_token) {
          state.sessionToken = data.session_token;
        }
        if (data.disclaimer) state.disclaimer = String(data.disclaimer);
        renderDisclaimer();
        append({ role: "bot", reply: {
          type: String(data.type || "answer"), text: String(data.text || ""),
          faq_id: data.faq_id || null, ticket_id: data.ticket_id || null,
          suggestions: Array.isArray(data.suggestions) ? data.suggestions : [],
          sources: Array.isArray(data.sources) ? data.sources : [],
        } });
        startPolling();
      })
      .catch(function (err) {
        var message = err && err.userMessage
          ? err.userMessage
          : "Sorry, we couldn't reach the assistant. Check your connection and try again. " +
            "In an emergency, call " + emergencyNumber + ".";
        append({ role: "error", text: message });
      })
      .then(function () {
        setBusy(false);
      });
  }

  function giveFeedback(index, helpful, container) {
    var item = state.items[index];
    if (!item || item.feedback) return;
    var buttons = container.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    postJson("/api/v1/feedback", {
      session_id: state.sessionId, faq_id: item.reply.faq_id, helpful: helpful,
    }).then(function (res) {
      if (!res.ok) throw new Error("feedback failed");
      item.feedback = helpful ? "up" : "down";
      save();
      while (container.firstChild) container.removeChild(container.firstChild);
      container.appendChild(el("p", { className: "thanks", role: "status",
                                      text: "Thanks for your feedback" }));
    }).catch(function () {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
    });
  }

  // Staff replies: poll while the panel is open and the conversation has started.
  var pollTimer = null;
  var polling = false;

  function poll() {
    if (polling || !isOpen() || !state.items.length || !state.sessionToken) return;
    polling = true;
    fetch(server + "/api/v1/sessions/" + encodeURIComponent(state.sessionId) +
          "/messages?after=" + encodeURIComponent(String(state.lastStaffId || 0)),
          { credentials: "omit", headers: tokenHeaders() })
      .then(function (res) { return res.ok ? res.json() : { messages: [] }; })
      .then(function (data) {
        (data.messages || []).forEach(function (m) {
          var id = parseInt(m.id, 10) || 0;
          if (id <= (state.lastStaffId || 0)) return;
          state.lastStaffId = id;
          append({ role: "staff", text: String(m.text || ""), ticket_id: m.ticket_id || null });
        });
      })
      .catch(function () { /* try again next time */ })
      .then(function () { polling = false; });
  }

  function startPolling() {
    if (pollTimer || !state.items.length) return;
    pollTimer = setInterval(poll, pollInterval);
  }

  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  // ---------------------------------------------------------- open / close

  function isOpen() {
    return mode === "page" || !panel.hidden;
  }

  function open(focus) {
    if (mode === "widget") {
      panel.hidden = false;
      wrapper.classList.add("is-open");
      launcher.setAttribute("aria-expanded", "true");
      state.open = true;
      save();
    }
    scrollToEnd();
    if (focus) input.focus();
    poll();
    startPolling();
  }

  function close() {
    if (mode !== "widget") return;
    panel.hidden = true;
    wrapper.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    stopPolling();
    launcher.focus();
  }

  if (launcher) {
    launcher.addEventListener("click", function () {
      if (panel.hidden) open(true); else close();
    });
  }
  if (closeBtn) closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && mode === "widget") {
      event.preventDefault();
      close();
    }
  });
  staffBtn.addEventListener("click", function () { send(STAFF_REQUEST); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    send(text);
    input.focus();
  });

  // ----------------------------------------------------------------- mount

  function mount() {
    var target = null;
    if (mode === "page" && ds.target) {
      try { target = document.querySelector(ds.target); } catch (e) { target = null; }
    }
    (target || document.body).appendChild(host);
    renderAll();
    if (mode === "page") {
      open(false);
      if (ds.autofocus !== "false") {
        whenRevealed(function () { input.focus({ preventScroll: true }); });
      }
    } else if (state.open) {
      open(false);
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
