/* Parley room page: finding things. Message search (the sidebar's search box and the results
 * dialog, with filters by room and by person, paged) and the "Jump to date" dialog. A result
 * opens its room at the message (history around its seq, messages.js/history.js).
 *
 *   ParleyUI.search({client, sidebar, notice, current(), jump(slug, seq), jumpToDate(iso)})
 *
 * Message text goes into the page through text nodes only: the match is highlighted by
 * splitting the text around it into text nodes and <mark> elements, never with innerHTML.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var SNIPPET = 280; // characters of a long message shown around its first match
  var WORD = /[\p{L}\p{N}]+/gu; // as the index splits words (an underscore separates them)

  /** The words of a query, lowercased, longest first (so "chat" does not split "chats"). */
  function termsOf(q) {
    var found = String(q).toLowerCase().match(WORD) || [];
    return found.filter(function (w, i) { return found.indexOf(w) === i; })
      .sort(function (a, b) { return b.length - a.length; });
  }

  function escapeRe(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /** `text` (a window around the first match if long) into `node`: matches in <mark>. */
  function highlight(node, text, terms) {
    node.textContent = "";
    if (!terms.length) {
      node.textContent = text;
      return;
    }
    // A term matches at the start of a word (the index matches whole words; prefixes of longer
    // words are highlighted too, which reads as expected).
    var re = new RegExp("(?<![\\p{L}\\p{N}])(?:" + terms.map(escapeRe).join("|") + ")", "giu");
    var first = text.search(re);
    if (text.length > SNIPPET) {
      var from = Math.max(0, Math.min(first - 60, text.length - SNIPPET));
      text = (from > 0 ? "…" : "") + text.slice(from, from + SNIPPET) + (from + SNIPPET < text.length ? "…" : "");
    }
    re.lastIndex = 0;
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) node.appendChild(document.createTextNode(text.slice(last, m.index)));
      var mark = document.createElement("mark");
      mark.textContent = m[0];
      node.appendChild(mark);
      last = m.index + m[0].length;
      if (m[0].length === 0) re.lastIndex += 1;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  ui.search = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var sidebar = opts.sidebar;
    var $ = dom.byId;

    // --- search -------------------------------------------------------------------------

    var dialog = $("dialog-search");
    var sideForm = $("search-form");
    var sideInput = $("search-input");
    var form = $("search-dialog-form");
    var qInput = $("search-q");
    var roomSelect = $("search-room");
    var userInput = $("search-user");
    var list = $("search-results");
    var status = $("search-status");
    var more = $("search-more");
    var asked = null; // the frame of the search on screen: {q, room?, user?}
    var cursor = null;
    var running = 0;

    dialog.addEventListener("click", function (e) {
      if (e.target.closest("[data-close]") || e.target === dialog) dialog.close();
    });

    function roomLabel(slug) {
      var entry = sidebar.entry(slug);
      return entry ? (entry.kind === "dm" ? sidebar.label(slug) : "#" + slug) : "#" + slug;
    }

    function fillRooms(chosen) {
      var slugs = sidebar.slugs();
      var here = opts.current();
      if (here && slugs.indexOf(here) < 0) slugs.unshift(here);
      roomSelect.textContent = "";
      roomSelect.appendChild(el("option", null, "All rooms"));
      roomSelect.firstChild.value = "";
      slugs.forEach(function (slug) {
        var option = el("option", null, roomLabel(slug));
        option.value = slug;
        roomSelect.appendChild(option);
      });
      roomSelect.value = chosen || "";
    }

    function resultItem(ev, terms) {
      var li = el("li", "search-result");
      var button = el("button", "search-open");
      button.type = "button";
      var head = el("span", "search-head");
      head.appendChild(el("strong", "search-author", dom.displayName(ev.user)));
      head.appendChild(el("span", "search-room", roomLabel(ev.room)));
      var date = new Date(ev.ts);
      var time = el("time", "search-time", isNaN(date.getTime()) ? "" : date.toLocaleString());
      time.dateTime = ev.ts;
      head.appendChild(time);
      button.appendChild(head);
      var body = el("span", "search-body");
      highlight(body, String(ev.body == null ? "" : ev.body), terms);
      button.appendChild(body);
      // A message is found by its files' names too: they are shown, marked like the text.
      (Array.isArray(ev.files) ? ev.files : []).forEach(function (file) {
        var line = el("span", "search-file");
        var icon = el("span", "file-icon");
        icon.setAttribute("aria-hidden", "true");
        line.appendChild(icon);
        var name = el("span");
        highlight(name, String(file && file.name != null ? file.name : ""), terms);
        line.appendChild(name);
        button.appendChild(line);
      });
      button.addEventListener("click", function () {
        dialog.close();
        opts.jump(ev.room, ev.seq);
      });
      li.appendChild(button);
      return li;
    }

    function run(frame, before) {
      var mine = ++running;
      more.disabled = true;
      if (!before) {
        list.textContent = "";
        status.textContent = "Searching…";
      }
      var fields = Object.assign({}, frame);
      if (before) fields.before = before;
      client.ask("search", fields).then(function (answer) {
        if (mine !== running) return;
        var terms = termsOf(frame.q);
        (answer.results || []).forEach(function (ev) { list.appendChild(resultItem(ev, terms)); });
        cursor = answer.cursor || null;
        more.hidden = !cursor;
        var n = list.children.length;
        status.textContent = n === 0 ? "No message matches." : n + (cursor ? "+" : "") + (n === 1 ? " message found." : " messages found.");
      }, function (err) {
        if (mine !== running) return;
        status.textContent = "Could not search: " + err.message;
      }).then(function () { more.disabled = false; });
    }

    function search() {
      var q = qInput.value.trim();
      if (!q) return;
      asked = { q: q };
      if (roomSelect.value) asked.room = roomSelect.value;
      var who = userInput.value.trim().replace(/^@/, "");
      if (who) asked.user = who;
      cursor = null;
      run(asked, null);
    }

    function open(q) {
      qInput.value = q;
      fillRooms(roomSelect.value);
      if (!dialog.open) dialog.showModal();
      search();
    }

    sideForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = sideInput.value.trim();
      if (q) open(q);
    });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      search();
    });
    roomSelect.addEventListener("change", function () { if (qInput.value.trim()) search(); });
    more.addEventListener("click", function () { if (asked && cursor) run(asked, cursor); });

    // --- jump to a date -------------------------------------------------------------------

    var dateDialog = $("dialog-jump-date");
    var dateForm = $("jump-date-form");
    var dateInput = $("jump-date");
    var timeInput = $("jump-time");

    dateDialog.addEventListener("click", function (e) {
      if (e.target.closest("[data-close]") || e.target === dateDialog) dateDialog.close();
    });

    $("open-jump-date").addEventListener("click", function () {
      if (!dateInput.value) {
        var today = new Date();
        dateInput.value = today.getFullYear() + "-" + String(today.getMonth() + 1).padStart(2, "0") + "-" + String(today.getDate()).padStart(2, "0");
      }
      dateDialog.showModal();
    });

    dateForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateInput.value);
      if (!parts) return;
      var hm = /^(\d{2}):(\d{2})/.exec(timeInput.value || "") || [null, "0", "0"];
      // The reader's own day and time, sent as UTC.
      var moment = new Date(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3]), Number(hm[1]), Number(hm[2]));
      dateDialog.close();
      opts.jumpToDate(moment.toISOString());
    });

    return { open: open };
  };

  ui.search.highlight = highlight; // for tests from the console
  ui.search.termsOf = termsOf;
})(window);
