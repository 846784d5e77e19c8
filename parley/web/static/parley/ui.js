/* The room page: connects ParleyClient (connection.js, outbox.js, client.js) to the page.
 *
 * This file wires the pieces together and owns the room header's status, the notices, the
 * composer and the banners; the message list is messages.js, the online list and typing line
 * people.js, shared helpers dom.js. Load order (room.html): connection, outbox, presence,
 * client, dom, messages, people, ui.
 *
 * Every piece of chat text goes into the page with textContent or text nodes, never innerHTML.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("parley-config");
  if (!configNode || typeof ParleyClient !== "function" || !window.ParleyUI) return;
  var config = JSON.parse(configNode.textContent);
  var room = config.room;
  var me = config.user || {};
  var PAGE = Math.min(config.page || 50, 100);
  var MAX_CHARS = 4000;
  var COUNTER_FROM = 3500;
  var dom = ParleyUI.dom;
  var el = dom.el;

  var $ = dom.byId;
  var statusNode = $("status");
  var statusText = $("status-text") || statusNode;
  var reconnectBtn = $("reconnect-now");
  var notices = $("notices");
  var form = $("composer");
  var input = $("message-input");
  var sendBtn = $("send-button");
  var counter = $("counter");
  var guestHint = $("guest-hint");
  var signedOut = $("signed-out");
  var countdown = null;

  // window.parleyClientOptions lets a test shorten the heartbeat; nothing sets it in production.
  var client = new ParleyClient(Object.assign({}, window.parleyClientOptions || {}, { ws: config.ws }));

  var messages = ParleyUI.messages({ client: client, room: room, me: me, page: PAGE, notice: notice });
  var people = ParleyUI.people({ client: client, room: room, me: me });

  // --- errors ---------------------------------------------------------------------------

  var ERROR_TEXT = {
    rate_limited: "You're sending quickly: your messages will go out in a moment.",
    server_error: "The server had a problem. Retrying…",
    too_large: "That message is too large.",
    forbidden: "You can't do that in this room.",
    not_found: "That room doesn't exist."
  };

  client.on("error", function (frame) {
    if (frame.ref === "typing") return; // a typing hint that did not go through: nobody cares
    var text = ERROR_TEXT[frame.code] || frame.detail || frame.code || "Something went wrong.";
    if (frame.code === "server_error" && frame.retry_after == null) text = "The server had a problem: " + (frame.detail || "error") + ".";
    notice(text, frame.code === "rate_limited" ? "info" : "error");
  });

  var lostAccess = false; // removed from this room: stays so, whatever the connection does

  client.on("revoked", function (info) {
    if (info.room !== room) return;
    lostAccess = true;
    setStatusText("signed-out", "No access");
    signedOut.textContent = "You no longer have access to #" + room + ". ";
    var a = el("a", null, "Back to the rooms");
    a.href = "/";
    signedOut.appendChild(a);
    signedOut.hidden = false;
    setComposerEnabled(false);
  });

  client.on("subscribe-failed", function (info) {
    if (info.room === room && !messages.isLoaded()) setStatusText("error", "Could not open #" + room);
  });

  // --- status ---------------------------------------------------------------------------

  function setStatusText(state, text) {
    statusNode.dataset.state = state;
    statusText.textContent = text;
  }

  client.on("status", function (s) {
    if (lostAccess) return;
    clearInterval(countdown);
    countdown = null;
    reconnectBtn.hidden = true;
    if (s.state === "connecting") {
      setStatusText("connecting", "Connecting…");
    } else if (s.state === "live") {
      setStatusText("live", "Live");
      setComposerEnabled(true);
    } else if (s.state === "reconnecting") {
      if (s.code === 4429) notice("This account has too many Parley tabs open: close one and this tab reconnects.", "info");
      if (!s.retryAt) {
        setStatusText("reconnecting", "Reconnecting…");
        return;
      }
      var tick = function () {
        var left = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
        setStatusText("reconnecting", left > 0 ? "Reconnecting in " + left + "s" : "Reconnecting…");
      };
      tick();
      countdown = setInterval(tick, 1000);
      reconnectBtn.hidden = false;
    } else if (s.state === "signed-out") {
      setStatusText("signed-out", "Signed out");
      showSignedOut("You have been signed out.", "Log in again");
    } else if (s.state === "forbidden") {
      setStatusText("signed-out", "No access");
      showSignedOut("This connection was refused.", "Log in");
    } else if (s.state === "closed") {
      setStatusText("signed-out", "Disconnected");
    }
  });

  function showSignedOut(text, linkText) {
    signedOut.textContent = text + " ";
    var a = el("a", null, linkText);
    a.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname);
    signedOut.appendChild(a);
    signedOut.hidden = false;
    guestHint.hidden = true;
    setComposerEnabled(false);
  }

  reconnectBtn.addEventListener("click", function () { client.reconnectNow(); });

  // --- notices --------------------------------------------------------------------------

  function notice(text, kind) {
    var last = notices.lastElementChild;
    if (last && last.dataset.text === text) {
      clearTimeout(Number(last.dataset.timer));
    } else {
      last = el("div", "notice notice-" + (kind || "info"));
      last.dataset.text = text;
      last.appendChild(el("span", "notice-text", text));
      var close = el("button", "notice-close", "×");
      close.type = "button";
      close.setAttribute("aria-label", "Dismiss");
      close.addEventListener("click", function () { this.parentNode.remove(); });
      last.appendChild(close);
      notices.appendChild(last);
      while (notices.children.length > 3) notices.firstElementChild.remove();
    }
    var node = last;
    node.dataset.timer = String(setTimeout(function () { node.remove(); }, 6000));
  }

  // --- composer -------------------------------------------------------------------------

  var autosize = (window.CSS && CSS.supports && CSS.supports("field-sizing", "content")) ? function () {} : function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  };

  function setComposerEnabled(on) {
    input.disabled = !on;
    updateComposer();
  }

  function updateComposer() {
    var length = input.value.length;
    var blank = input.value.trim() === "";
    sendBtn.disabled = input.disabled || blank || length > MAX_CHARS;
    if (length >= COUNTER_FROM) {
      var left = MAX_CHARS - length;
      counter.hidden = false;
      counter.textContent = left >= 0 ? left + " characters left" : -left + " over the limit";
      counter.classList.toggle("warn", left < 200);
    } else {
      counter.hidden = true;
    }
    autosize();
  }

  function submit() {
    var text = input.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
    if (text.trim() === "" || text.length > MAX_CHARS || input.disabled) return;
    client.send(room, text);
    input.value = "";
    updateComposer();
    input.focus();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
  });

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });

  input.addEventListener("input", updateComposer);

  // --- page ------------------------------------------------------------------------------

  if (me.guest) {
    guestHint.textContent = "You are chatting as ";
    var shown = dom.displayName(me).replace(/\s*\(guest\)\s*$/i, ""); // guest names may carry the suffix
    guestHint.appendChild(el("strong", null, shown));
    guestHint.appendChild(document.createTextNode(" (guest). "));
    var signup = el("a", null, "Sign up");
    signup.href = "/accounts/signup/?next=" + encodeURIComponent(location.pathname);
    guestHint.appendChild(signup);
    guestHint.appendChild(document.createTextNode(" to keep your name."));
    guestHint.hidden = false;
  }

  updateComposer();
  client.connect();
  client.subscribe(room);
  input.focus();

  window.parley = { client: client, room: room, people: people }; // handy from the console
})();
