/* Parley room page: one message's element, as messages.js lists them: author, time, text (or its
 * server-sanitized formatting), files, reactions with who reacted, "(edited)", a tombstone, the
 * reply it answers, and the sending state of our own; grouped with the message above it.
 *
 *   ParleyUI.messageItem({me, lookup(seq) -> <li> or null, toolbar(data, mine)?})
 *     -> {build(data), showState(li, data), setTime(li, date), setState(li, state, text),
 *         decorate(li), decorateAround(li), isMine(user), note(user)}
 *
 * `showState` shows a message as it is now (docs/protocol.md, "Changing a message"); `note`
 * remembers a user seen in the room, for the names in reaction chips.
 * Every piece of chat text goes into the page with textContent or text nodes, never innerHTML.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;

  var GROUP_GAP_MS = 5 * 60 * 1000;

  var timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
  var dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
  var dayYearFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", day: "numeric" });

  function dayKey(date) {
    return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
  }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(date) === dayKey(today)) return "Today";
    if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
    return date.getFullYear() === today.getFullYear() ? dayFmt.format(date) : dayYearFmt.format(date);
  }

  ui.messageItem = function (ctx) {
    var dom = ui.dom;
    var el = dom.el;
    var me = ctx.me || {};

    function isMine(user) {
      return user && me && user.id === me.id;
    }

    /** Text with http(s) links made clickable; everything through text nodes. */
    function fillBody(node, text) {
      node.textContent = "";
      var re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
      var last = 0;
      var m;
      while ((m = re.exec(text)) !== null) {
        if (m.index > last) node.appendChild(document.createTextNode(text.slice(last, m.index)));
        var a = el("a", null, m[0]);
        a.href = m[0];
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        node.appendChild(a);
        last = m.index + m[0].length;
      }
      if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
    }

    function build(data) {
      var mine = isMine(data.user);
      var li = el("li", "msg" + (mine ? " own" : ""));
      li.dataset.user = String(data.user && data.user.id);
      var divider = el("div", "day-divider");
      divider.appendChild(el("span", "day-label"));
      li.appendChild(divider);

      var row = el("div", "msg-row");
      row.appendChild(dom.avatar(data.user));

      var main = el("div", "msg-main");
      var meta = el("div", "msg-meta");
      var author = el("span", "author " + dom.hue(data.user), mine ? "You" : dom.displayName(data.user));
      if (!mine) dom.appendBadges(author, data.user);
      meta.appendChild(author);
      meta.appendChild(el("time", "msg-time"));
      main.appendChild(meta);

      var bubble = el("div", "bubble");
      if (data.reply_to) bubble.appendChild(buildReplyRef(data.reply_to));
      var body = el("div", "msg-body");
      bubble.appendChild(body);
      main.appendChild(bubble);
      main.appendChild(el("div", "msg-files"));
      main.appendChild(el("div", "reactions"));
      main.appendChild(el("div", "msg-state"));
      if (ctx.toolbar) main.appendChild(ctx.toolbar(data, mine));
      row.appendChild(main);
      // A grouped (continued) message hides its name and time from sight, not from screen readers
      // (room.css); this copy of the time shows beside its bubble on hover or focus.
      var hoverTime = el("time", "msg-hover-time");
      hoverTime.setAttribute("aria-hidden", "true");
      row.appendChild(hoverTime);
      li.appendChild(row);
      setTime(li, data.ts ? new Date(data.ts) : new Date());
      showState(li, data);
      return li;
    }

    // --- a message's current state: text or formatting, edited, deleted, reactions ----------

    var fillHtml = ui.messageState.fillHtml;

    var people = new Map(); // user id -> user, from the events seen (names for reactions)

    function nameOf(id) {
      if (me && id === me.id) return "you";
      var u = people.get(id);
      return u ? dom.displayName(u) : "someone";
    }

    /** Someone else's message that names me (or @room): it stands out from the rest. */
    function mentionsMe(data) {
      if (!me || data.deleted || isMine(data.user)) return false;
      return !!data.mention_room || (Array.isArray(data.mentions) && data.mentions.indexOf(me.id) !== -1);
    }

    function showState(li, data) {
      li._state = data;
      var body = li.querySelector(".msg-body");
      li.classList.toggle("deleted", !!data.deleted);
      var forMe = mentionsMe(data);
      li.classList.toggle("mentions-me", forMe);
      var note = li.querySelector(".mention-note"); // what the highlight says, for screen readers
      if (forMe && !note) body.parentNode.insertBefore(el("span", "visually-hidden mention-note", "Mentions you: "), body);
      else if (!forMe && note) note.remove();
      body.classList.toggle("rich", !!data.html && !data.deleted);
      if (data.deleted) {
        body.textContent = "";
        body.appendChild(el("em", "tombstone", "This message was deleted."));
      } else if (data.html) {
        fillHtml(body, data.html);
      } else {
        fillBody(body, String(data.body == null ? "" : data.body));
      }
      var mark = li.querySelector(".edited");
      if (data.edited && !data.deleted) {
        if (!mark) {
          mark = el("span", "edited", "(edited)");
          body.parentNode.appendChild(mark);
        }
        mark.title = "Edited " + fullFmt.format(new Date(data.edited));
      } else if (mark) {
        mark.remove();
      }
      showReactions(li, data.deleted ? [] : data.reactions || []);
      var files = data.deleted ? [] : data.files || [];
      var bubble = body.parentNode;
      bubble.hidden = !data.deleted && !data.html && !data.body && files.length > 0 && !data.reply_to;
      var old = li.querySelector(".msg-files");
      old.parentNode.replaceChild(ui.fileList(files), old);
    }

    function showReactions(li, reactions) {
      var box = li.querySelector(".reactions");
      box.textContent = "";
      reactions.forEach(function (r) {
        var mine = me && r.users.indexOf(me.id) !== -1;
        var b = el("button", "reaction" + (mine ? " mine" : ""));
        b.type = "button";
        b.dataset.action = "react";
        b.dataset.emoji = r.emoji;
        b.setAttribute("aria-pressed", mine ? "true" : "false");
        b.setAttribute("aria-label", r.emoji + " " + r.users.length + ": " + r.users.map(nameOf).join(", "));
        b.title = r.users.map(nameOf).join(", ");
        var glyph = el("span", "reaction-emoji", r.emoji);
        glyph.setAttribute("aria-hidden", "true");
        b.appendChild(glyph);
        var count = el("span", "reaction-count", String(r.users.length));
        count.setAttribute("aria-hidden", "true");
        b.appendChild(count);
        box.appendChild(b);
      });
      box.hidden = reactions.length === 0;
    }

    function buildReplyRef(seq) {
      var ref = el("button", "reply-ref");
      ref.type = "button";
      ref.dataset.action = "jump";
      ref.dataset.target = String(seq);
      var target = ctx.lookup(seq);
      if (target) {
        var state = target._state || {};
        var text = target.querySelector(".msg-body");
        var who = isMine(state.user) ? "you" : dom.displayName(state.user);
        ref.textContent = "↪ " + who + ": " + (text ? text.textContent.slice(0, 80) : "");
      } else {
        ref.textContent = "↪ in reply to an earlier message";
      }
      return ref;
    }

    function setTime(li, date) {
      if (isNaN(date.getTime())) date = new Date();
      li.dataset.ts = String(date.getTime());
      li.dataset.day = dayKey(date);
      li.querySelectorAll(".msg-time, .msg-hover-time").forEach(function (time) {
        time.textContent = timeFmt.format(date);
        time.dateTime = date.toISOString();
        time.title = fullFmt.format(date);
      });
      li.querySelector(".day-label").textContent = dayLabel(date);
    }

    function setState(li, state, text) {
      li.classList.toggle("pending", state === "pending");
      li.classList.toggle("failed", state === "failed");
      var box = li.querySelector(".msg-state");
      box.textContent = "";
      if (state === "pending") {
        box.appendChild(el("span", "spinner"));
        box.appendChild(document.createTextNode(text || "sending…"));
      } else if (state === "failed") {
        box.appendChild(document.createTextNode(text || "Not sent."));
        var retry = el("button", "link retry", "Retry");
        retry.type = "button";
        retry.dataset.action = "retry";
        var drop = el("button", "link discard", "Discard");
        drop.type = "button";
        drop.dataset.action = "discard";
        box.appendChild(retry);
        box.appendChild(drop);
      }
    }

    /** Group a message with the one above it (same author, within minutes, same day). */
    function decorate(li) {
      if (!li || !li.classList.contains("msg")) return;
      var prev = li.previousElementSibling;
      var newDay = !prev || prev.dataset.day !== li.dataset.day;
      var continued = !newDay && prev.dataset.user === li.dataset.user &&
        Number(li.dataset.ts) - Number(prev.dataset.ts) < GROUP_GAP_MS &&
        !prev.classList.contains("failed");
      li.classList.toggle("new-day", newDay);
      li.classList.toggle("continued", continued);
    }

    function decorateAround(li) {
      decorate(li);
      decorate(li.nextElementSibling);
    }

    return {
      build: build,
      showState: showState,
      setTime: setTime,
      setState: setState,
      decorate: decorate,
      decorateAround: decorateAround,
      isMine: isMine,
      note: function (user) {
        if (user && user.id != null) people.set(user.id, user);
      }
    };
  };
})(window);
