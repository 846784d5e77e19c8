/* Parley room page: the sidebar of the user's conversations (rooms and direct messages) with
 * unread counts and mention badges, kept live from the `rooms`, `room`, `activity` and `read`
 * frames (docs/protocol.md "Rooms, people and the sidebar") and from the events of the rooms the
 * page follows. Also the browser notifications for mentions and DMs while the tab is hidden.
 *
 *   ParleyUI.sidebar({client, me, current(), open(slug, info), notice(text, kind)?})
 *     -> {closeDrawer(), entry(slug), read(slug, seq), sent(slug, seq), isMember(slug), setCurrent(slug), slugs()}
 *
 * Names, titles and previews go into the page through textContent only.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;

  ui.sidebar = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var me = opts.me || {};
    var $ = dom.byId;
    var nav = $("sidebar");
    var roomList = $("room-list");
    var dmList = $("dm-list");
    var emptyRooms = $("rooms-empty");
    var toggle = $("sidebar-toggle");
    var toggleBadge = $("sidebar-unread");
    var closeBtn = $("sidebar-close");
    var notifyBtn = $("enable-notifications");

    // slug -> entry (docs/protocol.md) + {mentionSeqs, messageSeqs: Sets of live seqs, unreadUpTo, touched: ms}
    var entries = new Map();
    var loaded = false;

    // --- state --------------------------------------------------------------------------

    /** Messages of other people past the marker: the server's count (exact up to `unreadUpTo`,
     *  from `rooms`, `room` or `read`) and the ones seen live since. Edits, reactions and members
     *  coming and going move `last_seq` but are no unread message. */
    function unread(e) {
      var live = 0;
      e.messageSeqs.forEach(function (seq) { if (seq > e.read_seq && seq > e.unreadUpTo) live += 1; });
      return (e.read_seq >= e.unreadUpTo ? 0 : e.unread || 0) + live;
    }

    function forgetRead(e) {
      e.messageSeqs.forEach(function (seq) { if (seq <= e.read_seq) e.messageSeqs.delete(seq); });
    }

    function mentionCount(e) {
      var live = 0;
      e.mentionSeqs.forEach(function (seq) { if (seq > e.read_seq) live += 1; });
      return (e.read_seq >= e.baseMentionsUpTo ? 0 : e.mentions) + live;
    }

    function adopt(entry, previous) {
      var e = Object.assign({}, entry);
      e.mentionSeqs = previous ? previous.mentionSeqs : new Set();
      e.messageSeqs = previous ? previous.messageSeqs : new Set();
      e.baseMentionsUpTo = entry.last_seq; // the server's counts cover events up to here
      e.unreadUpTo = entry.last_seq;
      e.touched = previous ? previous.touched : 0;
      if (previous) {
        // Frames of different rooms are not ordered: never move a count back.
        e.last_seq = Math.max(e.last_seq, previous.last_seq);
        e.read_seq = Math.max(e.read_seq, previous.read_seq);
      }
      return e;
    }

    function mentionsMe(ev) {
      // A new message's mention only: an edit re-mentions at the message's old seq, as the server counts.
      if (!ev.user || ev.user.id === me.id || (ev.kind && ev.kind !== "message.posted")) return false;
      if (ev.mention_room) return true;
      return Array.isArray(ev.mentions) && ev.mentions.indexOf(me.id) !== -1;
    }

    /** A new event of one of our rooms (an `activity` frame, or an event of a followed room). */
    function news(ev) {
      var e = entries.get(ev.room);
      if (!e || typeof ev.seq !== "number" || ev.seq <= e.last_seq) return;
      e.last_seq = ev.seq;
      e.touched = Date.now();
      if (ev.kind === "room.updated") {
        if (ev.title) e.title = ev.title;
        e.topic = ev.topic || "";
      }
      var mine = ev.user && ev.user.id === me.id;
      if (mine && e.read_seq === ev.seq - 1) e.read_seq = ev.seq; // our own words are read
      var mention = mentionsMe(ev);
      if (mention) e.mentionSeqs.add(ev.seq);
      if (!mine && ev.kind === "message.posted") e.messageSeqs.add(ev.seq);
      render();
      if (!mine && (ev.kind === "message.posted" || ev.kind === undefined)) notify(e, ev, mention);
    }

    // --- frames ---------------------------------------------------------------------------

    client.on("rooms", function (frame) {
      var next = new Map();
      (frame.rooms || []).forEach(function (entry) { next.set(entry.room, adopt(entry, entries.get(entry.room))); });
      entries = next;
      loaded = true;
      render();
    });

    client.on("room", function (frame) {
      if (frame.removed) entries.delete(frame.room);
      else if (frame.entry) entries.set(frame.room, adopt(frame.entry, entries.get(frame.room)));
      render();
      if (opts.changed) opts.changed(frame.room);
    });

    client.on("activity", news);
    client.on("event", news);

    client.on("read", function (frame) {
      var e = entries.get(frame.room);
      if (!e || frame.seq < e.read_seq) return; // a marker this page has already moved past
      e.read_seq = frame.seq;
      // The server's fresh count (this page's own `read` comes back with one too).
      if (typeof frame.unread === "number" && typeof frame.last_seq === "number" && frame.last_seq >= e.unreadUpTo) {
        e.unread = frame.unread;
        e.unreadUpTo = frame.last_seq;
      }
      forgetRead(e);
      render();
    });

    client.on("status", function (s) {
      if (s.state !== "live") return;
      // Every (re)connection asks again: the answer is the truth, and from then on this
      // connection receives the sidebar's news.
      client.ask("rooms").catch(function () { /* the next connection asks again */ });
    });

    // --- rendering --------------------------------------------------------------------------

    function label(e) {
      if (e.kind === "dm") {
        var others = (e.members || []).filter(function (u) { return u.id !== me.id; });
        return others.length ? others.map(dom.displayName).join(", ") : e.title || e.room;
      }
      return e.title && e.title !== e.room ? e.title : e.room;
    }

    var SVG = "http://www.w3.org/2000/svg";

    /** A small padlock (no emoji font needed): marks a private room. */
    function lockIcon() {
      var svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 16 16");
      svg.setAttribute("width", "12");
      svg.setAttribute("height", "12");
      svg.setAttribute("class", "lock");
      var body = document.createElementNS(SVG, "rect");
      [["x", "3"], ["y", "7"], ["width", "10"], ["height", "8"], ["rx", "1.5"]].forEach(function (kv) { body.setAttribute(kv[0], kv[1]); });
      var shackle = document.createElementNS(SVG, "path");
      shackle.setAttribute("d", "M5 7V5a3 3 0 0 1 6 0v2");
      shackle.setAttribute("fill", "none");
      shackle.setAttribute("stroke", "currentColor");
      shackle.setAttribute("stroke-width", "1.6");
      body.setAttribute("fill", "currentColor");
      svg.appendChild(shackle);
      svg.appendChild(body);
      return svg;
    }

    function item(e) {
      var li = el("li", "conv-item");
      var a = el("a", "conv");
      a.href = "/rooms/" + encodeURIComponent(e.room) + "/";
      a.dataset.room = e.room;
      var count = unread(e);
      var mentions = mentionCount(e);
      if (e.room === opts.current()) a.setAttribute("aria-current", "page");
      if (count > 0 && e.notify !== "nothing") a.classList.add("has-unread");
      if (e.muted) a.classList.add("is-muted");

      if (e.kind === "dm") {
        var others = (e.members || []).filter(function (u) { return u.id !== me.id; });
        a.appendChild(dom.avatar(others[0] || { username: e.room }, "avatar-xs"));
      } else {
        var icon = el("span", "conv-icon", e.kind === "private" ? null : "#");
        if (e.kind === "private") icon.appendChild(lockIcon());
        icon.setAttribute("aria-hidden", "true");
        a.appendChild(icon);
      }
      var name = label(e);
      a.appendChild(el("span", "conv-name", name));
      var spoken = name;
      if (mentions > 0) {
        var at = el("span", "conv-mentions", "@" + mentions);
        at.setAttribute("aria-hidden", "true");
        a.appendChild(at);
        spoken += ", " + mentions + (mentions === 1 ? " mention" : " mentions");
      }
      if (count > 0) {
        var badge = el("span", "conv-unread", count > 99 ? "99+" : String(count));
        badge.setAttribute("aria-hidden", "true");
        a.appendChild(badge);
        spoken += ", " + (count > 99 ? "over 99" : count) + " unread"; // the server counts up to 100
      }
      a.setAttribute("aria-label", spoken);
      li.appendChild(a);
      return li;
    }

    function render() {
      var rooms = [];
      var dms = [];
      entries.forEach(function (e) { (e.kind === "dm" ? dms : rooms).push(e); });
      rooms.sort(function (a, b) { return label(a).localeCompare(label(b), undefined, { sensitivity: "base" }); });
      dms.sort(function (a, b) { return b.touched - a.touched || label(a).localeCompare(label(b)); });
      fill(roomList, rooms);
      fill(dmList, dms);
      if (emptyRooms) emptyRooms.hidden = !loaded || rooms.length > 0;
      var total = 0;
      var totalMentions = 0;
      entries.forEach(function (e) {
        if (e.room === opts.current() || e.notify === "nothing") return;
        if (unread(e) > 0) total += 1;
        totalMentions += mentionCount(e);
      });
      toggleBadge.hidden = total === 0 && totalMentions === 0;
      toggleBadge.textContent = totalMentions > 0 ? "@" + totalMentions : String(total);
      toggle.setAttribute("aria-label", "Conversations" + (total ? ", " + total + " with unread messages" : ""));
    }

    function fill(list, items) {
      list.textContent = "";
      items.forEach(function (e) { list.appendChild(item(e)); });
    }

    nav.addEventListener("click", function (e) {
      var a = e.target.closest("a.conv");
      if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      var entry = entries.get(a.dataset.room);
      opts.open(a.dataset.room, entry ? { title: label(entry), topic: entry.topic, kind: entry.kind } : null);
      setDrawer(false);
    });

    // --- the drawer (narrow screens) --------------------------------------------------------

    function setDrawer(open) {
      document.body.classList.toggle("sidebar-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        var first = nav.querySelector("a.conv, button");
        if (first) first.focus();
      }
    }

    toggle.addEventListener("click", function () {
      setDrawer(!document.body.classList.contains("sidebar-open"));
    });
    var scrim = document.querySelector(".sidebar-scrim");
    if (scrim) scrim.addEventListener("click", function () { setDrawer(false); });
    closeBtn.addEventListener("click", function () {
      setDrawer(false);
      toggle.focus();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && document.body.classList.contains("sidebar-open")) {
        setDrawer(false);
        toggle.focus();
      }
    });

    // --- notifications -----------------------------------------------------------------------

    var canNotify = typeof global.Notification === "function";

    function showNotifyButton() {
      notifyBtn.hidden = !canNotify || global.Notification.permission !== "default";
    }

    notifyBtn.addEventListener("click", function () {
      // Asked on this click only: browsers refuse (and users dislike) a prompt without a gesture.
      global.Notification.requestPermission().then(function (answer) {
        showNotifyButton();
        if (!opts.notice) return;
        // a word either way: the button just vanishing said nothing
        if (answer === "granted") {
          opts.notice("Notifications are on: new messages show while Parley is in the background (each room's settings say which).", "info");
        } else if (answer === "denied") {
          opts.notice("Your browser blocks notifications from this site: allow them in its site settings.", "error");
        }
      }, showNotifyButton);
    });

    function notify(e, ev, mention) {
      if (!canNotify || global.Notification.permission !== "granted" || !document.hidden) return;
      var level = e.notify || "all";
      // all: every message; mentions: mentions of you (a DM is all mentions); nothing: none.
      var wanted = level === "all" || (level === "mentions" && (mention || e.kind === "dm"));
      if (!wanted) return;
      var who = dom.displayName(ev.user);
      var where = e.kind === "dm" ? who : "#" + label(e);
      var body = ev.preview !== undefined ? ev.preview : String(ev.body || "").slice(0, 140);
      if (!body && Array.isArray(ev.files)) { // a message of files only: their names, as `activity` says
        body = ev.files.map(function (f) { return "[" + f.name + "]"; }).join(" ").slice(0, 140);
      }
      try {
        var n = new global.Notification(e.kind === "dm" ? who : who + " in " + where, { body: body, tag: e.room });
        n.onclick = function () {
          global.focus();
          opts.open(e.room, { title: label(e), topic: e.topic, kind: e.kind });
          n.close();
        };
      } catch (err) {
        /* some browsers allow notifications from service workers only */
      }
    }

    showNotifyButton();

    return {
      /** Close the drawer (a phone): a conversation opened from a dialog shows, not the list. */
      closeDrawer: function () { if (document.body.classList.contains("sidebar-open")) setDrawer(false); },
      entry: function (slug) { return entries.get(slug) || null; },
      isMember: function (slug) { return entries.has(slug); },
      isLoaded: function () { return loaded; },
      /** The slugs of the user's conversations (for the search filter). */
      slugs: function () { return Array.from(entries.keys()); },
      label: function (slug) {
        var e = entries.get(slug);
        return e ? label(e) : slug;
      },
      /** The page showed the user up to `seq`: move the marker (the server echoes it to every tab). */
      read: function (slug, seq) {
        var e = entries.get(slug);
        if (!e || seq <= e.read_seq) return;
        e.read_seq = seq;
        if (e.last_seq < seq) e.last_seq = seq;
        client.read(slug, seq);
        render();
      },
      render: render
    };
  };
})(window);
