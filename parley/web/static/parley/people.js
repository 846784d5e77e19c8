/* Parley room page: who is here. The "online" panel (a sidebar on wide screens, a drop-down card
 * behind the "N online" button on narrow ones) and the "… is typing" line above the composer.
 *
 *   ParleyUI.people({client, room, me}) -> {online(), setRoom(slug)}: the room on screen
 *
 * Names go into the page through textContent only.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var TYPING_SHOWN_MS = 3500; // a typist disappears this long after their last typing frame
  var SNAPSHOT_GRACE_MS = 1500; // no presence list this long after subscribing: show just us
  var WIDE = "(min-width: 1000px)";

  ui.people = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var room = opts.room;
    var me = opts.me || {};

    var $ = dom.byId;
    var section = document.querySelector(".room");
    var head = document.querySelector(".room-head");
    var toggle = $("people-toggle");
    var countNode = $("online-count");
    var panel = $("people");
    var panelCount = $("people-count");
    var closeBtn = $("people-close");
    var listNode = $("people-list");
    var typingNode = $("typing");
    var input = $("message-input");

    var online = []; // users, as the client last reported them
    var seenList = false;
    var graceTimer = null;
    var typists = new Map(); // user id -> {user, timer}

    function isMe(user) {
      return user && me && user.id === me.id;
    }

    // --- the online list ----------------------------------------------------------------

    function sorted(users) {
      var byId = new Map();
      users.forEach(function (u) { byId.set(u.id, u); });
      if (me.id != null && !byId.has(me.id)) byId.set(me.id, me); // we are here, whatever was dropped
      return Array.from(byId.values()).sort(function (a, b) {
        if (isMe(a) !== isMe(b)) return isMe(a) ? -1 : 1;
        return dom.displayName(a).localeCompare(dom.displayName(b), undefined, { sensitivity: "base" });
      });
    }

    function row(user) {
      var li = el("li", "person" + (isMe(user) ? " is-me" : ""));
      li.dataset.user = String(user.id);
      if (user.username) li.title = "@" + user.username;
      var presenceDot = el("span", "person-avatar");
      presenceDot.appendChild(dom.avatar(user, "avatar-sm"));
      li.appendChild(presenceDot);
      var label = el("span", "person-label");
      label.appendChild(el("span", "person-name", dom.displayName(user)));
      dom.appendBadges(label, user);
      if (isMe(user)) label.appendChild(el("span", "person-you", "(you)"));
      li.appendChild(label);
      return li;
    }

    function render() {
      var users = sorted(online);
      listNode.textContent = "";
      users.forEach(function (u) { listNode.appendChild(row(u)); });
      var text = users.length + " online";
      countNode.textContent = String(users.length);
      countNode.appendChild(el("span", "wide-only", " online")); // a phone's header shows the number
      panelCount.textContent = String(users.length);
      toggle.setAttribute("aria-label", text + ": show who");
      toggle.hidden = false;
    }

    client.on("presence", function (info) {
      if (info.room !== room) return;
      online = info.online;
      seenList = true;
      clearTimeout(graceTimer);
      if (info.snapshot) section.classList.remove("presence-stale");
      info.left.forEach(function (u) { stopTyping(u.id); });
      render();
    });

    client.on("subscribed", function (info) {
      if (info.room !== room) return;
      clearTimeout(graceTimer);
      graceTimer = setTimeout(function () {
        // The list may have been dropped (a slow connection): show what we know, un-dimmed.
        section.classList.remove("presence-stale");
        if (!seenList) render();
      }, SNAPSHOT_GRACE_MS);
    });

    client.on("status", function (s) {
      if (s.state === "live") return;
      clearTimeout(graceTimer);
      section.classList.add("presence-stale"); // a fresh list comes with the resubscribe
      clearTyping();
    });

    // --- showing and hiding the panel ---------------------------------------------------

    var wide = global.matchMedia(WIDE);
    var open = wide.matches;

    function place() {
      // Narrow screens: the card hangs below the room header.
      if (!wide.matches) panel.style.top = head.offsetTop + head.offsetHeight + 6 + "px";
      else panel.style.top = "";
    }

    function apply() {
      section.classList.toggle("people-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) place();
    }

    function setOpen(value) {
      open = value;
      apply();
    }

    toggle.addEventListener("click", function () { setOpen(!open); });
    closeBtn.addEventListener("click", function () {
      setOpen(false);
      toggle.focus();
    });
    wide.addEventListener("change", function () { setOpen(wide.matches); });
    global.addEventListener("resize", function () { if (open) place(); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && open && !wide.matches) {
        setOpen(false);
        toggle.focus();
      }
    });
    document.addEventListener("pointerdown", function (e) {
      if (!open || wide.matches) return;
      if (panel.contains(e.target) || toggle.contains(e.target)) return;
      setOpen(false); // a tap outside the card closes it
    });
    apply();

    // --- typing: theirs -----------------------------------------------------------------

    function renderTyping() {
      var users = Array.from(typists.values()).map(function (t) { return t.user; });
      typingNode.textContent = "";
      if (users.length === 0) return;
      var dots = el("span", "typing-dots");
      dots.setAttribute("aria-hidden", "true");
      for (var i = 0; i < 3; i++) dots.appendChild(el("span"));
      typingNode.appendChild(dots);
      var text = el("span", "typing-text");
      if (users.length === 1) {
        text.appendChild(el("strong", null, dom.displayName(users[0])));
        text.appendChild(document.createTextNode(" is typing…"));
      } else if (users.length === 2) {
        text.appendChild(el("strong", null, dom.displayName(users[0])));
        text.appendChild(document.createTextNode(" and "));
        text.appendChild(el("strong", null, dom.displayName(users[1])));
        text.appendChild(document.createTextNode(" are typing…"));
      } else {
        text.appendChild(document.createTextNode("several people are typing…"));
      }
      typingNode.appendChild(text);
    }

    function stopTyping(id) {
      var entry = typists.get(id);
      if (!entry) return;
      clearTimeout(entry.timer);
      typists.delete(id);
      renderTyping();
    }

    function clearTyping() {
      typists.forEach(function (entry) { clearTimeout(entry.timer); });
      typists.clear();
      renderTyping();
    }

    client.on("typing", function (info) {
      if (info.room !== room || isMe(info.user)) return;
      var id = info.user.id;
      var entry = typists.get(id);
      if (entry) clearTimeout(entry.timer);
      else typists.set(id, (entry = { user: info.user, timer: null }));
      entry.user = info.user;
      entry.timer = setTimeout(function () { stopTyping(id); }, TYPING_SHOWN_MS);
      renderTyping();
    });

    client.on("event", function (ev) {
      if (ev.room === room && ev.user) stopTyping(ev.user.id); // their message is here
    });

    // --- typing: ours -------------------------------------------------------------------

    input.addEventListener("input", function () {
      if (!input.disabled && input.value.trim() !== "") client.typing(room); // throttled there
    });

    /** Another room comes on screen: its online list (as the client holds it), nobody typing. */
    function setRoom(slug) {
      room = slug;
      online = client.online(slug);
      seenList = online.length > 0;
      clearTyping();
      render();
    }

    return { online: function () { return sorted(online); }, setRoom: setRoom };
  };
})(window);
