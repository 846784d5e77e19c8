/* Parley room page: one room's message list (history, live events, our own sends and their
 * states, and a neutral line for membership and room events). One per room the page has opened.
 *
 *   ParleyUI.messages({client, room, me, page, notice, pane, input, active()})
 *     -> {isLoaded(), atBottom(), scrollToBottom(), seenUpTo(), hide(), show(), head(),
 *         jumpTo(seq), jumpToDate(isoString)}
 *
 * Which part of the log the list shows (the newest, or a window after a jump; older pages as the
 * reader scrolls up) is history.js; one message's element (and its grouping with the one above)
 * is msgitem.js.
 *
 * `pane` holds the room's .scroller, .messages, .load-earlier, .room-start and .new-pill;
 * `active()` says whether the room is the one on screen (for the tab title's count).
 *
 * Every piece of chat text goes into the page with textContent or text nodes, never innerHTML.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  ui.messages = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var room = opts.room;
    var me = opts.me || {};
    var PAGE = opts.page;
    var notice = opts.notice;

    var pane = opts.pane;
    var list = pane.querySelector(".messages");
    var scroller = pane.querySelector(".scroller");
    var loadEarlier = pane.querySelector(".load-earlier");
    var roomStart = pane.querySelector(".room-start");
    var pill = pane.querySelector(".new-pill");
    var input = opts.input;
    var active = opts.active || function () { return true; };
    var saved = null; // {top, bottom} while hidden
    var head = 0; // highest confirmed seq shown

    var bySeq = new Map(); // seq -> <li>
    var byCid = new Map(); // cid -> <li> of our own sends
    var oldestSeq = Infinity;
    var loaded = false; // the newest page arrived
    var detached = false; // a window of older history, not the live edge (history.js)
    var unseenBelow = 0;
    var unseenHidden = 0;
    var view = ui.messageItem({
      me: me,
      toolbar: opts.toolbar,
      lookup: function (seq) { return bySeq.get(seq) || null; }
    });
    var isMine = view.isMine;

    /** A change event (edit, delete, reaction, files) applied to the message it targets, if shown. */
    function applyChange(ev) {
      var li = bySeq.get(ev.target);
      if (li && li._state) view.showState(li, ui.messageState.after(li._state, ev));
    }

    var CHANGES = ui.messageState.CHANGES;

    function baseTitle() {
      return document.title.replace(/^\(\d+\) /, "");
    }

    // --- scrolling ----------------------------------------------------------------------

    function atBottom() {
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    }

    function scrollToBottom() {
      scroller.scrollTop = scroller.scrollHeight;
      unseenBelow = 0;
      pill.hidden = true;
    }

    function noteUnseen() {
      unseenBelow += 1;
      pill.textContent = unseenBelow === 1 ? "1 new message ↓" : unseenBelow + " new messages ↓";
      pill.hidden = false;
    }

    scroller.addEventListener("scroll", function () {
      if (!pill.hidden && atBottom() && !detached) {
        unseenBelow = 0;
        pill.hidden = true;
      }
    }, { passive: true });

    pill.addEventListener("click", function () {
      if (detached) pager.latest();
      else scrollToBottom();
      input.focus();
    });

    // --- the list -----------------------------------------------------------------------

    /** Put a confirmed message at its place in seq order (pending ones stay below all of them). */
    function place(li, seq) {
      li.dataset.seq = String(seq);
      bySeq.set(seq, li);
      var formerNext = li.parentNode ? li.nextElementSibling : null;
      var node = list.lastElementChild;
      while (node && (node === li || node.dataset.seq === undefined || Number(node.dataset.seq) > seq)) {
        node = node.previousElementSibling;
      }
      var before = node ? node.nextElementSibling : list.firstElementChild;
      if (before !== li) list.insertBefore(li, before);
      view.decorateAround(li);
      if (formerNext && formerNext !== li.nextElementSibling) view.decorate(formerNext);
      if (seq < oldestSeq) oldestSeq = seq;
      roomStart.hidden = true;
      roomStart.classList.remove("empty-room");
    }

    var SYSTEM_TEXT = {
      "member.joined": function (ev) { return [ev.user, " joined"]; },
      "member.left": function (ev) { return [ev.user, " left"]; },
      "member.invited": function (ev) { return [ev.user, " added ", ev.member]; },
      "member.removed": function (ev) { return [ev.user, ev.ban ? " removed and banned " : " removed ", ev.member]; },
      "member.unbanned": function (ev) { return [ev.user, " lifted the ban on ", ev.member]; },
      "member.muted": function (ev) { return [ev.user, ev.muted ? " muted " : " unmuted ", ev.member]; },
      "member.role_changed": function (ev) { return [ev.user, " made ", ev.member, " " + (ev.role === "member" ? "a member" : "an " + ev.role)]; },
      "room.updated": function (ev) {
        return [ev.user, " changed the room to “" + (ev.title || room) + "”" + (ev.topic ? " · " + ev.topic : "")];
      }
    };

    /** A neutral line for a membership or room event (who did what to whom). */
    function buildSystem(ev) {
      var li = el("li", "msg system");
      li.dataset.user = "";
      var divider = el("div", "day-divider");
      divider.appendChild(el("span", "day-label"));
      li.appendChild(divider);
      var line = el("p", "system-line");
      SYSTEM_TEXT[ev.kind](ev).forEach(function (part, i) {
        if (typeof part === "string") line.appendChild(document.createTextNode(part));
        else line.appendChild(el("strong", null, isMine(part) ? (i === 0 ? "You" : "you") : dom.displayName(part)));
      });
      line.appendChild(document.createTextNode(" · "));
      line.appendChild(el("time", "msg-time"));
      li.appendChild(line);
      view.setTime(li, ev.ts ? new Date(ev.ts) : new Date());
      return li;
    }

    function addEvent(ev, live) {
      if (bySeq.has(ev.seq)) {
        var shown = bySeq.get(ev.seq);
        if (shown._fromAck) {
          shown._fromAck = false;
          view.showState(shown, ev); // our own message, placed by its ack: now as the server made it
        }
        return;
      }
      if (ev.seq > head) head = ev.seq;
      view.note(ev.user);
      if (CHANGES[ev.kind]) {
        applyChange(ev); // to the message if it is shown (a detached list included)
        return;
      }
      if (live && detached) {
        // Not placed: the list shows older history; the pill counts it and leads to the latest.
        if ((!ev.kind || ev.kind === "message.posted") && !isMine(ev.user)) noteUnseen();
        return;
      }
      var known = !ev.kind || ev.kind === "message.posted" || SYSTEM_TEXT[ev.kind];
      if (!known) return; // a kind this page does not show yet
      var wasAtBottom = atBottom();
      if (ev.kind && ev.kind !== "message.posted") {
        place(buildSystem(ev), ev.seq);
        if (live && wasAtBottom && active()) scrollToBottom();
        return;
      }
      var li = ev.cid ? byCid.get(ev.cid) : null;
      if (li && isMine(ev.user)) {
        view.setState(li, "sent");
        view.setTime(li, new Date(ev.ts));
        view.showState(li, ev); // the server's formatting, as everyone sees it
        place(li, ev.seq);
        return;
      }
      li = view.build(ev);
      place(li, ev.seq);
      if (!live || !active()) return;
      if (document.hidden && !isMine(ev.user)) {
        unseenHidden += 1;
        document.title = "(" + unseenHidden + ") " + baseTitle();
      }
      var last = Number(li.dataset.seq) >= Number(lastConfirmed());
      if (wasAtBottom) scrollToBottom();
      else if (last && !isMine(ev.user)) noteUnseen();
    }

    function lastConfirmed() {
      var node = list.lastElementChild;
      while (node && node.dataset.seq === undefined) node = node.previousElementSibling;
      return node ? node.dataset.seq : 0;
    }

    function clearConfirmed() {
      bySeq.forEach(function (li) { li.remove(); }); // pending sends are not in bySeq: they stay
      bySeq.clear();
      oldestSeq = Infinity;
    }

    list.addEventListener("click", function (e) {
      var button = e.target.closest("button[data-action]");
      if (!button) return;
      var li = button.closest("li.msg");
      var cid = li && li.dataset.cid;
      if (!cid) return;
      if (button.dataset.action === "retry") {
        client.retry(cid);
      } else if (button.dataset.action === "discard") {
        client.discard(cid);
        byCid.delete(cid);
        var next = li.nextElementSibling;
        li.remove();
        view.decorate(next);
      }
    });

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        if (unseenHidden && active()) document.title = baseTitle();
        unseenHidden = 0;
      }
    });

    // --- loading history ----------------------------------------------------------------

    function updateEdge(reachedStart) {
      var atStart = reachedStart || oldestSeq <= 1 || bySeq.size === 0;
      loadEarlier.hidden = atStart;
      roomStart.hidden = !atStart;
      if (atStart) {
        var empty = bySeq.size === 0;
        roomStart.classList.toggle("empty-room", empty);
        var where = opts.describe ? opts.describe() : "#" + room;
        roomStart.textContent = empty
          ? "No messages in " + where + " yet. Say hello!"
          : "This is the beginning of " + where + ".";
      }
    }

    var pager = ui.history({
      client: client, room: room, page: PAGE, notice: notice, pane: pane, scroller: scroller,
      loadEarlier: loadEarlier,
      view: {
        add: function (events) { events.forEach(function (ev) { addEvent(ev, false); }); },
        clear: clearConfirmed,
        item: function (seq) { return bySeq.get(seq) || null; },
        oldest: function () { return oldestSeq; },
        newest: function () { return Number(lastConfirmed()); },
        head: function () { return head; },
        edge: updateEdge,
        bottom: scrollToBottom,
        setLoaded: function () { loaded = true; },
        isDetached: function () { return detached; },
        setDetached: function (on) {
          detached = on;
          pane.classList.toggle("detached", on);
          unseenBelow = 0;
          pill.textContent = "Jump to latest ↓";
          pill.hidden = !on;
        }
      }
    });

    // --- client events ------------------------------------------------------------------

    client.on("subscribed", function (info) {
      if (info.room !== room) return;
      if (info.reset) {
        pager.reset();
        clearConfirmed();
        notice("Lots happened while you were away: showing the latest messages.", "info");
      }
      pager.start(info);
    });

    client.on("event", function (ev) {
      if (ev.room === room) addEvent(ev, true);
    });

    client.on("pending", function (item) {
      if (item.room === room) showPending(item);
    });

    function showPending(item) {
      if (detached) pager.latest(); // what one writes goes below the newest messages
      var li = byCid.get(item.cid);
      if (!li) {
        li = view.build({ user: me, body: item.body, reply_to: item.reply_to, files: item.files, ts: new Date(item.at || Date.now()).toISOString() });
        li.dataset.cid = item.cid;
        byCid.set(item.cid, li);
        list.appendChild(li);
        view.decorate(li);
      }
      if (item.state === "failed") view.setState(li, "failed", "Not sent.");
      else view.setState(li, "pending");
      roomStart.classList.remove("empty-room");
      if (roomStart.textContent.indexOf("No messages") === 0) roomStart.hidden = true;
      scrollToBottom();
    }

    // Sends an earlier page (or this one, before the room was opened) left unacknowledged.
    if (client.pending) client.pending(room).forEach(showPending);

    client.on("ack", function (ack) {
      if (ack.room !== room) return;
      var li = byCid.get(ack.cid);
      if (!li) return;
      if (li.dataset.seq === undefined) {
        var wasAtBottom = atBottom();
        view.setState(li, "sent");
        li._fromAck = true;
        place(li, ack.seq);
        if (wasAtBottom) scrollToBottom();
      }
      byCid.delete(ack.cid);
    });

    client.on("retrying", function (info) {
      var li = byCid.get(info.cid);
      if (li) view.setState(li, "pending", info.code === "rate_limited" ? "slowing down…" : "retrying…");
    });

    client.on("failed", function (info) {
      var li = byCid.get(info.cid);
      if (li) view.setState(li, "failed", "Not sent: " + (info.detail || info.code) + ".");
    });

    /** The highest seq whose line is on screen (what the user has seen, for the read marker). */
    function seenUpTo() {
      if (pane.hidden || !loaded) return 0;
      if (atBottom() && !detached) return head;
      var limit = scroller.scrollTop + scroller.clientHeight;
      var best = 0;
      bySeq.forEach(function (li, seq) {
        if (seq > best && li.offsetTop + Math.min(li.offsetHeight, 40) <= limit) best = seq;
      });
      return best;
    }

    return {
      isLoaded: function () { return loaded; },
      atBottom: atBottom,
      scrollToBottom: scrollToBottom,
      seenUpTo: seenUpTo,
      head: function () { return head; },
      /** The <li> of a confirmed message (seq), or null; its current state is li._state. */
      item: function (seq) { return bySeq.get(seq) || null; },
      /** The newest message of ours that can still be edited (for Up in an empty composer). */
      lastOwn: function () {
        var best = null;
        bySeq.forEach(function (li, seq) {
          if (li._state && isMine(li._state.user) && !li._state.deleted && (!best || seq > best)) best = seq;
        });
        return best;
      },
      jumpTo: function (seq) { return pager.jumpTo(seq); },
      jumpToDate: function (at) { return pager.jumpToDate(at); },
      /** Leaving the screen: remember where the reader was. */
      hide: function () {
        saved = { top: scroller.scrollTop, bottom: atBottom() };
        pane.hidden = true;
      },
      /** Back on screen: at the bottom if the reader was there, else where they left. */
      show: function () {
        pane.hidden = false;
        if (!saved || saved.bottom) scrollToBottom();
        else scroller.scrollTop = saved.top;
        saved = null;
      }
    };
  };
})(window);
