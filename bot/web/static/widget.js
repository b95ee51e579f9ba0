/*
 * Patient chat widget for the hospital FAQ bot.
 *
 * Embed with one tag:
 *   <script src="https://host/widget.js" data-server="https://host"
 *           data-title="Ask about your procedure" data-accent="#0b5cad"
 *           data-position="right" data-emergency-number="911" defer></script>
 *
 * Options (all optional): data-server (default: the script's origin),
 * data-title (the title in the page's language, data-language or English),
 * data-title-en / data-title-es (a title per language),
 * data-accent (a CSS colour; white text must be readable on it),
 * data-position (right|left), data-emergency-number, data-mode (widget|page),
 * data-target (CSS selector of the container for page mode),
 * data-poll-interval (milliseconds between checks for care-team replies),
 * data-procedure (a procedure slug: the empty chat offers its questions),
 * data-language (en|es: the language before the first reply),
 * data-sync-page (page mode: also translate the page's title, its <html lang>
 * and its elements marked data-faqbot-text="key").
 * The page's query string may carry ?procedure=slug and ?lang=en|es too; they
 * win over the data- attributes.
 *
 * Language: the chrome (title, buttons, labels, disclaimers) starts in the
 * language of ?lang=, data-language or the browser, and then follows the
 * `language` of the latest reply. Every string is in STRINGS below, written
 * for patients in each language; nothing is translated by machine.
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
  var mode = ds.mode === "page" ? "page" : "widget";
  var position = ds.position === "left" ? "left" : "right";
  var emergencyNumber = (ds.emergencyNumber || "911").replace(/[^0-9+*#]/g, "") || "911";
  var pollInterval = Math.max(1000, parseInt(ds.pollInterval, 10) || 10000);
  var syncPage = mode === "page" && ds.syncPage === "true";
  var STORE_KEY = "faqbot:" + server + ":" + mode;

  // ---------------------------------------------------------------- strings

  var STRINGS = {
    en: {
      title: "Ask about your procedure",
      pageTitle: "Patient questions",
      subtitle: "Automated answers · staff reply in office hours",
      launcher: "Questions?",
      launcherName: "Chat: {title}",
      close: "Close chat",
      staff: "Talk to staff",
      staffRequest: "I'd like to talk to a person",
      region: "Conversation",
      log: "Messages",
      inputLabel: "Your question",
      placeholder: "Type your question…",
      send: "Send",
      composer: "Send a message",
      disclaimer: "I'm an automated assistant. I give general information, not medical " +
        "advice or a diagnosis, and messages here are not watched in real time. Always " +
        "follow your own care team's instructions. In an emergency, call {number}.",
      footnote: "General information, not medical advice. This chat is not watched in " +
        "real time. In an emergency, call {number}.",
      starters: "Common questions",
      you: "You",
      assistant: "Assistant",
      careTeam: "Care team",
      notSent: "Not sent",
      emergency: "Emergency",
      urgent: "Urgent",
      call: "Call {number}",
      reference: "Reference: {id}",
      source: "Source",
      sources: "Sources",
      newTab: " (opens in a new tab)",
      choose: "Questions to choose from",
      related: "Related questions",
      helpful: "Was this helpful?",
      yes: "Yes, helpful",
      no: "No, not helpful",
      thanks: "Thanks for your feedback",
      typing: "Assistant is typing…",
      tooFast: "You're sending messages quickly. Please wait a moment and try again.",
      failed: "Sorry, your message could not be sent ({detail}). Please try again.",
      offline: "Sorry, we couldn't reach the assistant. Check your connection and try " +
        "again. In an emergency, call {number}.",
      documentTitle: "Ask about your procedure – Patient questions",
      brand: "Interventional Radiology",
      pageHeading: "Questions about your procedure",
      pageIntro: "Answers come from information checked by our care team. You can ask " +
        "to talk to a person at any time.",
    },
    es: {
      title: "Pregunte sobre su procedimiento",
      pageTitle: "Preguntas de pacientes",
      subtitle: "Respuestas automáticas · el personal responde en horario de oficina",
      launcher: "¿Preguntas?",
      launcherName: "Chat: {title}",
      close: "Cerrar el chat",
      staff: "Hablar con una persona",
      staffRequest: "Quiero hablar con una persona",
      region: "Conversación",
      log: "Mensajes",
      inputLabel: "Su pregunta",
      placeholder: "Escriba su pregunta…",
      send: "Enviar",
      composer: "Enviar un mensaje",
      disclaimer: "Soy un asistente automático. Doy información general, no consejos " +
        "médicos ni un diagnóstico, y nadie lee estos mensajes en tiempo real. Siga " +
        "siempre las instrucciones de su equipo de atención. En una emergencia, llame " +
        "al {number}.",
      footnote: "Información general, no consejos médicos. Nadie lee este chat en tiempo " +
        "real. En una emergencia, llame al {number}.",
      starters: "Preguntas frecuentes",
      you: "Usted",
      assistant: "Asistente",
      careTeam: "Equipo de atención",
      notSent: "No se envió",
      emergency: "Emergencia",
      urgent: "Urgente",
      call: "Llamar al {number}",
      reference: "Referencia: {id}",
      source: "Fuente",
      sources: "Fuentes",
      newTab: " (se abre en otra pestaña)",
      choose: "Preguntas para elegir",
      related: "Preguntas relacionadas",
      helpful: "¿Le sirvió esta respuesta?",
      yes: "Sí, me sirvió",
      no: "No me sirvió",
      thanks: "Gracias por su opinión",
      typing: "El asistente está escribiendo…",
      tooFast: "Está enviando mensajes muy rápido. Espere un momento y vuelva a intentarlo.",
      failed: "Lo sentimos, no se pudo enviar su mensaje ({detail}). Vuelva a intentarlo.",
      offline: "Lo sentimos, no pudimos comunicarnos con el asistente. Revise su conexión " +
        "y vuelva a intentarlo. En una emergencia, llame al {number}.",
      documentTitle: "Pregunte sobre su procedimiento – Preguntas de pacientes",
      brand: "Radiología intervencionista",
      pageHeading: "Preguntas sobre su procedimiento",
      pageIntro: "Las respuestas vienen de información revisada por nuestro equipo de " +
        "atención. Puede pedir hablar con una persona en cualquier momento.",
    },
  };

  function languageOf(value) {
    var v = String(value || "").toLowerCase();
    if (/^es\b/.test(v)) return "es";
    if (/^en\b/.test(v)) return "en";
    return null;
  }

  function browserLanguage() {
    var list = (navigator.languages && navigator.languages.length)
      ? navigator.languages : [navigator.language];
    for (var i = 0; i < list.length; i++) {
      var found = languageOf(list[i]);
      if (found) return found;
    }
    return null;
  }

  var query = new URLSearchParams(window.location.search);
  var startLanguage = languageOf(query.get("lang")) || languageOf(ds.language) ||
    browserLanguage() || "en";
  var SLUG = /^[a-z0-9-]{1,64}$/;
  var procedure = [query.get("procedure"), ds.procedure].filter(function (p) {
    return p && SLUG.test(p);
  })[0] || "";

  // The host page's own titles, per language.
  var titles = {};
  if (ds.title) titles[languageOf(ds.language) || "en"] = ds.title;
  if (ds.titleEn) titles.en = ds.titleEn;
  if (ds.titleEs) titles.es = ds.titleEs;

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
          if (!parsed.disclaimers || typeof parsed.disclaimers !== "object") {
            parsed.disclaimers = {};
          }
          return parsed;
        }
      }
    } catch (e) { /* storage blocked or corrupt: start fresh */ }
    return { sessionId: newSessionId(), items: [], open: false, lastStaffId: 0,
             disclaimers: {}, language: null };
  }

  var state = loadState();

  function save() {
    try {
      // Keep the transcript bounded.
      if (state.items.length > 200) state.items = state.items.slice(-200);
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* ignore */ }
  }

  // The conversation's language once a reply has named one; before that, the
  // page's or the browser's.
  function currentLanguage() {
    return languageOf(state.language) || startLanguage;
  }

  function t(key, vars) {
    var table = STRINGS[currentLanguage()] || STRINGS.en;
    var text = table[key] !== undefined ? table[key] : STRINGS.en[key];
    var values = vars || {};
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      if (name === "number") return emergencyNumber;
      return values[name] !== undefined ? String(values[name]) : whole;
    });
  }

  function widgetTitle() {
    var lang = currentLanguage();
    if (titles[lang]) return titles[lang];
    return mode === "page" ? t("pageTitle") : t("title");
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

  // On the bot's own chat page the page's <h1> names the chat: the panel's
  // title is left to screen readers.
  var wrapper = el("div", { className: "faqbot " + mode + " pos-" + position +
                                        (syncPage ? " titled-by-page" : "") });
  root.appendChild(wrapper);

  var panelId = "faqbot-panel";
  var titleId = "faqbot-title";
  var startersId = "faqbot-starters-heading";

  var launcher = null;
  var launcherText = el("span", { className: "launcher-text" });
  var launcherName = el("span", { className: "visually-hidden" });
  if (mode === "widget") {
    launcher = el("button", {
      type: "button", className: "launcher", "aria-expanded": "false",
      "aria-controls": panelId,
    }, [svgIcon(ICON_CHAT, 26), launcherText, launcherName]);
    wrapper.appendChild(launcher);
  }

  var closeBtn = mode === "widget"
    ? el("button", { type: "button", className: "icon-btn close" }, [svgIcon(ICON_CLOSE, 20)])
    : null;
  var staffBtn = el("button", { type: "button", className: "staff-btn" });
  var titleEl = el("h2", { className: "title", id: titleId });
  var subtitleEl = el("p", { className: "subtitle" });

  // A grid: the title over the subtitle, the buttons beside them (on a phone,
  // the close button beside the title and the staff button beside the subtitle).
  var header = el("div", { className: "header" }, [titleEl, subtitleEl, staffBtn, closeBtn]);

  // The full disclaimer opens the conversation and scrolls away with it; the
  // short footnote under the message box stays in sight.
  var disclaimer = el("p", { className: "disclaimer", id: "faqbot-disclaimer" });
  var startersHeading = el("h3", { className: "starters-heading", id: startersId });
  var startersList = el("ul", { className: "starter-list", "aria-labelledby": startersId });
  var starters = el("section", { className: "starters", "aria-labelledby": startersId },
                    [startersHeading, startersList]);
  starters.hidden = true;
  var log = el("div", {
    className: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
  });
  var scroller = el("div", { className: "scroll", role: "region", tabindex: "0" },
                    [disclaimer, starters, log]);
  var typing = el("div", { className: "typing", role: "status" });
  var input = el("input", {
    type: "text", className: "input", id: "faqbot-input", autocomplete: "off",
    maxlength: "1000", "aria-describedby": "faqbot-footnote",
  });
  var inputLabel = el("label", { className: "visually-hidden", "for": "faqbot-input" });
  var sendBtn = el("button", { type: "submit", className: "send" }, [svgIcon(ICON_SEND, 20)]);
  var form = el("form", { className: "composer" }, [inputLabel, input, sendBtn]);
  var footnote = el("p", { className: "footnote", id: "faqbot-footnote" });

  var panel = el("section", {
    className: "panel", id: panelId, "aria-labelledby": titleId,
    role: mode === "widget" ? "dialog" : "region",
  }, [header, scroller, typing, form, footnote]);
  if (mode === "widget") panel.hidden = true;
  wrapper.appendChild(panel);

  // ------------------------------------------------------------- language

  var shownLanguage = null;

  // Every piece of chrome in the conversation's language.
  function applyLanguage() {
    var lang = currentLanguage();
    shownLanguage = lang;
    wrapper.setAttribute("lang", lang);
    var title = widgetTitle();
    titleEl.textContent = title;
    subtitleEl.textContent = t("subtitle");
    launcherText.textContent = t("launcher");
    launcherName.textContent = " " + t("launcherName", { title: title });
    if (closeBtn) closeBtn.setAttribute("aria-label", t("close"));
    staffBtn.textContent = t("staff");
    scroller.setAttribute("aria-label", t("region"));
    log.setAttribute("aria-label", t("log"));
    inputLabel.textContent = t("inputLabel");
    input.setAttribute("placeholder", t("placeholder"));
    sendBtn.setAttribute("aria-label", t("send"));
    form.setAttribute("aria-label", t("composer"));
    disclaimer.textContent = state.disclaimers[lang] || t("disclaimer");
    footnote.textContent = t("footnote");
    startersHeading.textContent = t("starters");
    if (typing.classList.contains("on")) setTyping(true);
    if (syncPage) {
      document.documentElement.setAttribute("lang", lang);
      document.title = t("documentTitle");
      Array.prototype.forEach.call(document.querySelectorAll("[data-faqbot-text]"), function (node) {
        var key = node.getAttribute("data-faqbot-text");
        if (Object.prototype.hasOwnProperty.call(STRINGS.en, key)) node.textContent = t(key);
      });
    }
  }

  // ------------------------------------------------------------- starters

  function touchScreen() {
    return !!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
  }

  var starterCache = {};

  function renderStarters() {
    var lang = currentLanguage();
    var questions = starterCache[lang];
    while (startersList.firstChild) startersList.removeChild(startersList.firstChild);
    if (state.items.length || !questions || !questions.length) {
      starters.hidden = true;
      return;
    }
    questions.forEach(function (q) {
      var b = el("button", { type: "button", className: "starter" });
      b.textContent = q.question;
      b.addEventListener("click", function () {
        send(q.question);
        // The list goes away with the first message: focus moves to the box
        // (not on a touch screen, where that opens the keyboard over the answer).
        if (!touchScreen()) input.focus();
      });
      startersList.appendChild(el("li", null, [b]));
    });
    starters.hidden = false;
  }

  function loadStarters() {
    var lang = currentLanguage();
    if (state.items.length || starterCache[lang]) {
      renderStarters();
      return;
    }
    var url = server + "/api/v1/starters?language=" + encodeURIComponent(lang) +
      (procedure ? "&procedure=" + encodeURIComponent(procedure) : "");
    fetch(url, { credentials: "omit" })
      .then(function (res) { return res.ok ? res.json() : { questions: [] }; })
      .then(function (data) {
        starterCache[lang] = (Array.isArray(data.questions) ? data.questions : [])
          .filter(function (q) { return q && typeof q.question === "string" && q.question; })
          .slice(0, 6);
        if (lang === currentLanguage()) renderStarters();
      })
      .catch(function () { /* an empty chat without starters still works */ });
  }

  // ------------------------------------------------------------- rendering

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // Scroll so that `node` (the patient's question) sits at the top of the
  // conversation area, with the reply below it; the browser stops at the end.
  function scrollToShow(node) {
    if (!node) {
      if (state.items.length) scrollToEnd(); else scroller.scrollTop = 0;
      return;
    }
    var offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    scroller.scrollTop = Math.max(0, scroller.scrollTop + offset - 8);
  }

  function lastQuestion() {
    var users = log.querySelectorAll(".msg.user");
    return users.length ? users[users.length - 1] : null;
  }

  function bubble(role, label, text, extraClass) {
    var msg = el("div", { className: "msg " + role + (extraClass ? " " + extraClass : ""),
                          lang: currentLanguage() });
    msg.appendChild(el("span", { className: "who", text: label }));
    var body = el("p", { className: "text" });
    body.textContent = text;
    msg.appendChild(body);
    return msg;
  }

  function renderItem(item, index) {
    if (item.role === "user") return bubble("user", t("you"), item.text);
    if (item.role === "staff") return bubble("staff", t("careTeam"), item.text);
    if (item.role === "error") {
      return bubble("error", t("notSent"), item.text);
    }
    var reply = item.reply || {};
    var type = reply.type || "answer";
    var msg = bubble("bot", t("assistant"), reply.text || "", "type-" + type);
    msg.setAttribute("data-type", type);
    var replyLanguage = languageOf(reply.language);
    // The labels are in the chrome's language, the bot's words in the reply's.
    if (replyLanguage) msg.querySelector(".text").setAttribute("lang", replyLanguage);

    if (type === "emergency" || type === "urgent") {
      msg.setAttribute("role", "alert");
      msg.querySelector(".who").textContent = type === "emergency" ? t("emergency") : t("urgent");
      if (type === "emergency") {
        var call = el("a", { className: "call", href: "tel:" + emergencyNumber },
                      [svgIcon(ICON_PHONE, 20), t("call")]);
        msg.appendChild(call);
      }
    }

    // The reference once: not when the text already gives it, and not on an
    // emergency, where the only thing to do is call.
    var text = String(reply.text || "");
    if (reply.ticket_id && text.indexOf(reply.ticket_id) === -1 &&
        (type === "handoff" || type === "fallback" || type === "urgent")) {
      msg.appendChild(el("p", { className: "ref", text: t("reference", { id: reply.ticket_id }) }));
    }

    var sources = (reply.sources || []).filter(function (s) { return s && safeUrl(s.url); });
    if (sources.length) {
      var list = el("ul", { className: "sources", "aria-label": t("sources") });
      sources.forEach(function (s) {
        var a = el("a", { href: safeUrl(s.url), target: "_blank", rel: "noopener noreferrer" });
        a.textContent = String(s.name || s.url);
        a.appendChild(el("span", { className: "visually-hidden", text: t("newTab") }));
        list.appendChild(el("li", null, [a]));
      });
      msg.appendChild(el("div", { className: "sources-wrap" }, [
        el("span", { className: "sources-label",
                     text: sources.length > 1 ? t("sources") : t("source") }),
        list,
      ]));
    }

    var suggestions = (reply.suggestions || []).filter(function (s) {
      return s && typeof s.question === "string" && s.question;
    });
    if (suggestions.length) {
      // A clarify or fallback text already asks "did you mean one of these?":
      // its buttons follow without a second heading.
      var introduced = type === "clarify" || type === "fallback";
      var heading = introduced ? t("choose") : t("related");
      var chips = el("div", { className: "chips", role: "group", "aria-label": heading,
                              lang: replyLanguage });
      suggestions.forEach(function (s) {
        var b = el("button", { type: "button", className: "chip" });
        b.textContent = s.question;
        b.addEventListener("click", function () { send(s.question); });
        chips.appendChild(b);
      });
      if (!introduced) msg.appendChild(el("span", { className: "chips-label", text: heading }));
      msg.appendChild(chips);
    }

    if (type === "answer" && reply.faq_id) {
      var fb = el("div", { className: "feedback" });
      if (item.feedback) {
        fb.appendChild(el("p", { className: "thanks", text: t("thanks") }));
      } else {
        fb.appendChild(el("span", { className: "fb-label", text: t("helpful") }));
        var up = el("button", { type: "button", className: "icon-btn fb", "aria-label": t("yes") },
                    [svgIcon(ICON_UP, 18)]);
        var down = el("button", { type: "button", className: "icon-btn fb",
                                  "aria-label": t("no") }, [svgIcon(ICON_DOWN, 18)]);
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
    applyLanguage();
    while (log.firstChild) log.removeChild(log.firstChild);
    state.items.forEach(function (item, i) { log.appendChild(renderItem(item, i)); });
    renderStarters();
    scrollToShow(lastQuestion());
  }

  function append(item) {
    state.items.push(item);
    save();
    if (!starters.hidden) renderStarters();  // the chat is no longer empty
    var node = renderItem(item, state.items.length - 1);
    log.appendChild(node);
    if (item.role === "user") scrollToEnd();
    else if (item.role === "staff") scrollToShow(node);
    else scrollToShow(lastQuestion());
  }

  // ----------------------------------------------------------- networking

  var busy = false;

  function setTyping(on) {
    while (typing.firstChild) typing.removeChild(typing.firstChild);
    typing.classList.toggle("on", on);
    if (on) {
      typing.appendChild(el("span", { className: "dots", "aria-hidden": "true" },
        [el("span"), el("span"), el("span")]));
      typing.appendChild(el("span", { className: "typing-text", text: t("typing") }));
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
              ? t("tooFast")
              : t("failed", { detail: data.error || res.status });
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
        var language = languageOf(data.language);
        if (language) state.language = language;
        if (data.disclaimer) state.disclaimers[language || currentLanguage()] = String(data.disclaimer);
        var item = { role: "bot", reply: {
          type: String(data.type || "answer"), text: String(data.text || ""),
          faq_id: data.faq_id || null, ticket_id: data.ticket_id || null,
          suggestions: Array.isArray(data.suggestions) ? data.suggestions : [],
          sources: Array.isArray(data.sources) ? data.sources : [],
          language: language,
        } };
        // The chrome follows the reply's language. Earlier bubbles keep theirs
        // (re-adding them would make screen readers read the log again).
        if (currentLanguage() !== shownLanguage || data.disclaimer) applyLanguage();
        append(item);
        startPolling();
      })
      .catch(function (err) {
        var message = err && err.userMessage ? err.userMessage : t("offline");
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
      container.appendChild(el("p", { className: "thanks", role: "status", text: t("thanks") }));
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
    scrollToShow(lastQuestion());
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
  staffBtn.addEventListener("click", function () { send(t("staffRequest")); });
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
    loadStarters();
    if (mode === "page") {
      open(false);
      // On a touch screen the keyboard would cover the starter questions.
      if (ds.autofocus !== "false" && !touchScreen()) {
        whenRevealed(function () { input.focus({ preventScroll: true }); });
      }
    } else if (state.open) {
      open(false);
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
