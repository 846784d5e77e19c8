/* The room page: connects ParleyClient (connection.js, outbox.js, client.js) to the page.
 *
 * This file wires the pieces together and owns the room on screen (switching rooms without a
 * reload: one pane per opened room, the URL and the back button follow), the room header, the
 * status, the notices, the composer, the banners and the read marker; the message list of a room
 * is messages.js, the online list and typing line people.js, the conversations sidebar
 * sidebar.js, the dialogs and the members panel rooms.js, search and jump to date search.js, shared
 * helpers dom.js. Load order (room.html): connection, outbox-store, outbox, presence, client, dom,
 * history, files, messages, people, sidebar, rooms, search, sending (the send queue's line), ui. The
 * composer's files (attach button, drop, paste, upload progress) are files.js.
 *
 * Every piece of chat text goes into the page with textContent or text nodes, never innerHTML.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("parley-config");
  if (!configNode || typeof ParleyClient !== "function" || !window.ParleyUI) return;
  var config = JSON.parse(configNode.textContent);
  var room = config.room; // the room on screen
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
  // Unsent messages are kept per user in localStorage (outbox-store.js) and re-sent by the next page.
  var outboxKey = me.id != null ? "parley.outbox." + me.id : null;
  var client = new ParleyClient(Object.assign({}, window.parleyClientOptions || {}, { ws: config.ws, outboxKey: outboxKey }));

  var people = ParleyUI.people({ client: client, room: room, me: me });
  var sidebar = ParleyUI.sidebar({
    client: client,
    me: me,
    notice: notice,
    current: function () { return room; },
    open: function (slug, info) { openRoom(slug, info, true); },
    changed: function (slug) { if (slug === room) showHeader(); }
  });

  var actions = ParleyUI.actions({
    client: client,
    me: me,
    notice: notice,
    room: function () { return room; },
    view: function (slug) { var p = panes.get(slug); return p ? p.view : null; },
    reply: function (seq, li) { replyTo(seq, li); }
  });

  // --- rooms on screen --------------------------------------------------------------------

  var PANES_KEPT = 12; // rooms followed at once; the least recently shown is let go beyond that
  var panes = new Map(); // slug -> {view: messages.js, node, shown: ms, info}
  var stage = $("stage");
  var paneTemplate = $("pane-template");
  var heading = $("room-heading");
  var titleNode = $("room-title");
  var joinBtn = $("join-room");
  var HOOKS = { ".scroller": "scroller", ".messages": "messages", ".load-earlier": "load-earlier", ".room-start": "room-start", ".new-pill": "new-pill" };
  var messages = null; // the view of the room on screen

  function paneFor(slug) {
    var p = panes.get(slug);
    if (p) return p;
    var node = paneTemplate.content.firstElementChild.cloneNode(true);
    node.dataset.room = slug;
    node.hidden = true;
    stage.insertBefore(node, notices);
    p = { node: node, shown: 0, info: null };
    p.view = ParleyUI.messages({
      client: client, room: slug, me: me, page: PAGE, notice: notice, pane: node, input: input,
      active: function () { return slug === room; },
      toolbar: actions.toolbar,
      describe: function () {
        var entry = sidebar.entry(slug);
        return entry && entry.kind === "dm" ? "your conversation with " + roomName(slug) : "#" + slug;
      }
    });
    panes.set(slug, p);
    client.subscribe(slug);
    return p;
  }

  function letGo() {
    if (panes.size <= PANES_KEPT) return;
    var oldest = null;
    panes.forEach(function (p, slug) {
      if (slug !== room && (oldest === null || p.shown < panes.get(oldest).shown)) oldest = slug;
    });
    if (oldest === null) return;
    panes.get(oldest).node.remove();
    panes.delete(oldest);
    client.unsubscribe(oldest);
  }

  /** The ids tests and scripts know (#messages, #scroller, ...) name the pane on screen. */
  function moveHooks(node) {
    Object.keys(HOOKS).forEach(function (sel) {
      var old = document.getElementById(HOOKS[sel]);
      if (old) old.removeAttribute("id");
      var mine = node.querySelector(sel);
      if (mine) mine.id = HOOKS[sel];
    });
  }

  function roomName(slug) {
    var entry = sidebar.entry(slug);
    var p = panes.get(slug);
    return entry ? sidebar.label(slug) : (p && p.info && p.info.title) || slug;
  }

  function showHeader() {
    var entry = sidebar.entry(room);
    var p = panes.get(room);
    var info = (p && p.info) || {};
    var dm = entry ? entry.kind === "dm" : info.kind === "dm";
    var name = roomName(room);
    heading.textContent = "";
    if (!dm) {
      var hash = dom.el("span", "hash", "#");
      hash.setAttribute("aria-hidden", "true");
      heading.appendChild(hash);
    }
    heading.appendChild(document.createTextNode(dm ? name : room));
    var title = entry ? entry.title : info.title;
    var topic = entry ? entry.topic : info.topic;
    var sub = [title && title !== room && !dm ? title : "", topic || ""].filter(Boolean).join(" \u00b7 ");
    titleNode.textContent = sub;
    titleNode.hidden = sub === "";
    input.placeholder = "Message " + (dm ? name : "#" + room);
    document.title = (dm ? name : "#" + room) + " \u00b7 Parley";
    // A public room the user is not a member of: reading and posting work, joining puts it in
    // the sidebar (and sends its news to every tab).
    joinBtn.hidden = !sidebar.isLoaded() || sidebar.isMember(room) || info.kind === "private" || dm;
    joinBtn.textContent = "Join";
    joinBtn.appendChild(dom.el("span", "wide-only", " #" + room)); // a phone shows just "Join"
    joinBtn.setAttribute("aria-label", "Join #" + room);
    var role = entry ? entry.role : null;
    actions.setModerator(me.staff || role === "owner" || role === "admin");
  }

  function openRoom(slug, info, push) {
    sidebar.closeDrawer(); // opened from the new-message, room, search or mentions dialog on a phone
    if (info) paneFor(slug).info = Object.assign(paneFor(slug).info || {}, info);
    if (slug === room && messages) return;
    if (messages && panes.has(room)) panes.get(room).view.hide();
    if (attachments && messages) attachments.clear(); // uploads belong to the room they went to
    sendWhenUploaded = false;
    room = slug;
    var p = paneFor(slug);
    p.shown = Date.now();
    messages = p.view;
    moveHooks(p.node);
    p.view.show();
    lostAccess = false;
    signedOut.hidden = true;
    if (client.state === "live") setComposerEnabled(true);
    people.setRoom(slug);
    if (rooms) rooms.setRoom(slug);
    replyTo(null);
    showHeader();
    sidebar.render();
    if (push) history.pushState({ room: slug }, "", "/rooms/" + encodeURIComponent(slug) + "/");
    letGo();
    input.focus();
    markSeen();
  }

  window.addEventListener("popstate", function (e) {
    var slug = e.state && e.state.room;
    if (!slug) {
      var m = /^\/rooms\/([^/]+)\/$/.exec(location.pathname);
      slug = m ? decodeURIComponent(m[1]) : null;
    }
    if (slug) openRoom(slug, null, false);
  });

  joinBtn.addEventListener("click", function () {
    var slug = room;
    joinBtn.disabled = true;
    client.act("join", { room: slug }).then(function () {
      notice("You joined #" + slug + ".", "info");
    }, function (err) {
      notice("Could not join #" + slug + ": " + err.message, "error");
    }).then(function () { joinBtn.disabled = false; });
  });

  // --- the read marker ------------------------------------------------------------------------

  var readTimer = null;

  /** Mark read what the user has seen: the room on screen, the tab visible and focused. */
  function markSeen() {
    if (readTimer !== null) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      if (document.visibilityState !== "visible" || !document.hasFocus() || !messages) return;
      var seq = messages.seenUpTo();
      if (seq > 0) sidebar.read(room, seq);
    }, 300);
  }

  client.on("event", function (ev) { if (ev.room === room) markSeen(); });
  client.on("subscribed", function (info) { if (info.room === room) setTimeout(markSeen, 200); });
  client.on("rooms", function () {
    showHeader(); // membership known now: the Join button, a DM's name
    markSeen();
  });
  client.on("ack", function (ack) { if (ack.room === room) markSeen(); });
  stage.addEventListener("scroll", markSeen, { capture: true, passive: true });
  window.addEventListener("focus", markSeen);
  document.addEventListener("visibilitychange", markSeen);

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
    if (frame.answered) return; // a refused action: the dialog or button that asked says why
    if (frame.code === "rate_limited" && client.sendState().waiting > 0) return; // the send line says it
    var text = ERROR_TEXT[frame.code] || frame.detail || frame.code || "Something went wrong.";
    if (frame.code === "server_error" && frame.retry_after == null) text = "The server had a problem: " + (frame.detail || "error") + ".";
    notice(text, frame.code === "rate_limited" ? "info" : "error");
  });

  var lostAccess = false; // removed from this room: stays so, whatever the connection does

  client.on("revoked", function (info) {
    if (info.room !== room) {
      var gone = panes.get(info.room);
      if (gone) {
        gone.node.remove();
        panes.delete(info.room);
      }
      return;
    }
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
    var blank = input.value.trim() === "" && (!attachments || attachments.ready().length === 0);
    var uploading = !!attachments && attachments.busy();
    sendBtn.disabled = input.disabled || blank || length > MAX_CHARS || uploading;
    if (attachButton) attachButton.disabled = input.disabled;
    // Nothing is cut: a longer text stays whole, the counter says by how much, Send waits.
    if (length > MAX_CHARS) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
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

  // --- replying -------------------------------------------------------------------------------

  var replyBar = $("reply-bar");
  var replyText = $("reply-text");
  var replying = null; // seq of the message the next send answers

  /** Answer a message (seq and its <li>), or stop answering one (null). */
  function replyTo(seq, li) {
    replying = seq;
    replyBar.hidden = seq === null;
    if (seq === null) return;
    var state = (li && li._state) || {};
    replyText.textContent = "";
    replyText.appendChild(document.createTextNode("Replying to "));
    replyText.appendChild(dom.el("strong", null, dom.displayName(state.user)));
    var said = String(state.body || "").replace(/\s+/g, " ").slice(0, 80);
    if (said) replyText.appendChild(document.createTextNode(": " + said));
    input.focus();
  }

  $("reply-cancel").addEventListener("click", function () {
    replyTo(null);
    input.focus();
  });

  var sendWhenUploaded = false; // Enter was pressed while files were still uploading

  function submit() {
    var text = input.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
    if (text.length > MAX_CHARS && !input.disabled) {
      notice("That message is " + (text.length - MAX_CHARS) + " characters over the " + MAX_CHARS + "-character limit: shorten it or split it.", "error");
      return;
    }
    var files = attachments.ready();
    if ((text.trim() === "" && files.length === 0) || input.disabled) return;
    if (attachments.busy()) {
      sendWhenUploaded = true; // sent as soon as the last upload ends
      notice("Sending when the files finish uploading…", "info");
      return;
    }
    sendWhenUploaded = false;
    client.send(room, text.trim() === "" ? "" : text, replying, files);
    attachments.clear();
    replyTo(null);
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
    } else if (e.key === "ArrowUp" && input.value === "" && actions.editLast()) {
      e.preventDefault(); // Up in an empty composer edits your last message
    } else if (e.key === "Escape" && replying !== null) {
      replyTo(null);
    }
  });

  input.addEventListener("input", updateComposer);

  var attachButton = $("attach-button");
  var attachments = ParleyUI.attachments({
    room: function () { return room; },
    csrf: config.csrf,
    max: config.upload_max,
    button: attachButton,
    picker: $("attach-input"),
    tray: $("attach-tray"),
    drop: form.parentNode, // the whole room: messages and composer
    input: input,
    notice: notice,
    changed: function () {
      updateComposer();
      if (sendWhenUploaded && !attachments.busy()) {
        sendWhenUploaded = false;
        submit();
      }
    }
  });

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

  /** Open a room at one of its messages (search results, mentions). */
  function jumpTo(slug, seq) {
    openRoom(slug, null, true);
    panes.get(slug).view.jumpTo(seq);
  }

  var rooms = ParleyUI.rooms ? ParleyUI.rooms({
    client: client, me: me, sidebar: sidebar, notice: notice,
    current: function () { return room; },
    open: function (slug, info) { openRoom(slug, info, true); },
    jump: jumpTo
  }) : null;

  if (ParleyUI.search) {
    ParleyUI.search({
      client: client, sidebar: sidebar, notice: notice,
      current: function () { return room; },
      jump: jumpTo,
      jumpToDate: function (at) { if (messages) messages.jumpToDate(at); }
    });
  }

  if (ParleyUI.sending) ParleyUI.sending({ client: client, node: $("send-state"), stage: stage });
  updateComposer();
  client.connect();
  history.replaceState({ room: room }, "");
  openRoom(room, { title: config.title, topic: config.topic, kind: config.kind }, false);

  // handy from the console
  window.parley = { client: client, people: people, sidebar: sidebar, get room() { return room; } };
})();
