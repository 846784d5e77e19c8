/* Parley room page: a message's state as data, without the page. Copying the server's sanitized
 * `html` into fresh elements of an allow-list, and folding a change event (edit, delete, reaction,
 * files) into a message's state: what messages.js then shows.
 *
 *   ParleyUI.messageState.fillHtml(node, html)
 *   ParleyUI.messageState.after(state, event) -> the new state (the old one is left as it was)
 *   ParleyUI.messageState.CHANGES: the event kinds that change an earlier message
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;

  var ALLOWED = { P: 1, BR: 1, STRONG: 1, EM: 1, S: 1, DEL: 1, CODE: 1, PRE: 1, BLOCKQUOTE: 1, UL: 1, OL: 1, LI: 1, A: 1 };

  /**
   * The server's sanitized `html`, copied node by node into fresh elements of an allow-list
   * (a second check in the page): text stays text, links keep only an http(s) or mailto href.
   */
  function fillHtml(node, html) {
    node.textContent = "";
    var parsed = new DOMParser().parseFromString(html, "text/html"); // inert: nothing runs
    (function copy(from, to) {
      for (var child = from.firstChild; child; child = child.nextSibling) {
        if (child.nodeType === 3) {
          to.appendChild(document.createTextNode(child.nodeValue));
        } else if (child.nodeType === 1) {
          if (!ALLOWED[child.tagName]) {
            copy(child, to);
            continue;
          }
          var made = document.createElement(child.tagName.toLowerCase());
          if (child.tagName === "A") {
            var href = child.getAttribute("href") || "";
            if (/^(https?:|mailto:)/i.test(href)) made.href = href;
            made.rel = "noopener noreferrer nofollow";
            made.target = "_blank";
          } else if (child.tagName === "OL" && /^\d{1,9}$/.test(child.getAttribute("start") || "")) {
            made.start = Number(child.getAttribute("start"));
          }
          copy(child, made);
          to.appendChild(made);
        }
      }
    })(parsed.body, node);
  }

  var CHANGES = { "message.edited": 1, "message.deleted": 1, "reaction.added": 1, "reaction.removed": 1, "message.files_updated": 1 };

  function reactionsAfter(reactions, ev) {
    var out = (reactions || []).map(function (r) { return { emoji: r.emoji, users: r.users.slice() }; });
    var found = out.filter(function (r) { return r.emoji === ev.emoji; })[0];
    if (ev.kind === "reaction.added") {
      if (!found) out.push((found = { emoji: ev.emoji, users: [] }));
      if (found.users.indexOf(ev.user.id) === -1) found.users.push(ev.user.id);
    } else if (found) {
      found.users = found.users.filter(function (id) { return id !== ev.user.id; });
      if (found.users.length === 0) out = out.filter(function (r) { return r !== found; });
    }
    return out;
  }

  function after(state, ev) {
    var data = Object.assign({}, state);
    if (ev.kind === "message.edited") {
      data.body = ev.body;
      data.html = ev.html;
      data.edited = ev.ts;
      data.mentions = ev.mentions; // the new text's (none: absent)
      data.mention_room = ev.mention_room;
    } else if (ev.kind === "message.deleted") {
      Object.assign(data, { body: "", html: null, deleted: true, reactions: [], files: [] });
    } else if (ev.kind === "message.files_updated") {
      data.files = ev.files; // a picture's thumbnail is ready
    } else if (ev.user) {
      data.reactions = reactionsAfter(data.reactions, ev);
    }
    return data;
  }

  ui.messageState = { fillHtml: fillHtml, after: after, CHANGES: CHANGES };
})(window);
