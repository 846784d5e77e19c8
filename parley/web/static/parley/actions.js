/* Parley room page: what a person can do to a message. The toolbar on each message (shown on
 * hover, on keyboard focus, and on a tap on touch screens): react (an emoji picker), reply, edit
 * (own messages: in place, Enter saves, Escape cancels), delete (own messages, or any as a room
 * admin; confirmed in place); the reaction chips toggle; a reply's quote jumps to the original.
 *
 *   ParleyUI.actions({client, me, notice, room(), view(slug), canModerate(slug), reply(seq, li)})
 *     -> {toolbar(data, mine): element for messages.js, editLast()}
 *
 * Text goes into the page through textContent only.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var EMOJI = [
    ["👍", "thumbs up"], ["❤️", "heart"], ["😂", "laughing"], ["🎉", "party"], ["😮", "surprised"], ["😢", "sad"],
    ["👀", "eyes"], ["🙏", "thank you"], ["✅", "done"], ["🔥", "fire"], ["🚀", "rocket"], ["👎", "thumbs down"]
  ];

  ui.actions = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var notice = opts.notice;
    var stage = dom.byId("stage");
    var picker = null; // the open emoji picker

    function button(action, label, text) {
      var b = el("button", "msg-action", text);
      b.type = "button";
      b.dataset.action = action;
      b.setAttribute("aria-label", label);
      b.title = label;
      return b;
    }

    /** The toolbar messages.js puts on each message (hidden while pending, failed or deleted). */
    function toolbar(data, mine) {
      var bar = el("div", "msg-actions");
      bar.setAttribute("role", "group");
      bar.setAttribute("aria-label", "Message actions");
      bar.appendChild(button("pick", "React", "React"));
      bar.appendChild(button("reply", "Reply", "Reply"));
      if (mine) bar.appendChild(button("edit", "Edit", "Edit"));
      var del = button("delete", "Delete", "Delete");
      if (!mine) del.classList.add("moderator-only");
      bar.appendChild(del);
      return bar;
    }

    function failed(what) {
      return function (err) { notice("Could not " + what + ": " + (err && err.message ? err.message : "error") + ".", "error"); };
    }

    function seqOf(li) {
      return li && li.dataset.seq !== undefined ? Number(li.dataset.seq) : null;
    }

    // --- the emoji picker -----------------------------------------------------------------

    function closePicker(focusBack) {
      if (!picker) return;
      var opener = picker._opener;
      picker.remove();
      picker = null;
      if (focusBack && opener) opener.focus();
    }

    function openPicker(li, opener) {
      closePicker(false);
      var seq = seqOf(li);
      picker = el("div", "emoji-picker");
      picker.setAttribute("role", "dialog");
      picker.setAttribute("aria-label", "Pick a reaction");
      picker._opener = opener;
      EMOJI.forEach(function (pair) {
        var b = el("button", "emoji-choice", pair[0]);
        b.type = "button";
        b.setAttribute("aria-label", "React with " + pair[1]);
        b.addEventListener("click", function () {
          var slug = opts.room();
          var state = li._state || {};
          var mine = (state.reactions || []).some(function (r) { return r.emoji === pair[0] && r.users.indexOf(opts.me.id) !== -1; });
          closePicker(true);
          client.react(slug, seq, pair[0], !mine).catch(failed("react"));
        });
        picker.appendChild(b);
      });
      picker.addEventListener("keydown", function (e) {
        var choices = Array.prototype.slice.call(picker.querySelectorAll("button"));
        var at = choices.indexOf(document.activeElement);
        if (e.key === "Escape") {
          e.preventDefault();
          closePicker(true);
        } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          e.preventDefault();
          choices[(at + (e.key === "ArrowRight" ? 1 : choices.length - 1)) % choices.length].focus();
        }
      });
      li.querySelector(".msg-main").appendChild(picker);
      picker.querySelector("button").focus();
    }

    // --- edit in place ------------------------------------------------------------------------

    function startEdit(li) {
      if (li.querySelector(".edit-form")) return;
      var state = li._state || {};
      var bubble = li.querySelector(".bubble");
      var form = el("form", "edit-form");
      var box = el("textarea", "edit-box");
      box.value = state.body || "";
      box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
      box.maxLength = 4000;
      box.setAttribute("aria-label", "Edit message");
      var save = el("button", null, "Save");
      save.type = "submit";
      var cancel = el("button", "secondary", "Cancel");
      cancel.type = "button";
      var buttons = el("div", "edit-buttons");
      buttons.appendChild(el("span", "edit-hint", "Enter to save · Esc to cancel"));
      buttons.appendChild(cancel);
      buttons.appendChild(save);
      form.appendChild(box);
      form.appendChild(buttons);
      bubble.hidden = true;
      bubble.parentNode.insertBefore(form, bubble.nextSibling);
      li.classList.add("editing");
      var done = function () {
        form.remove();
        bubble.hidden = false;
        li.classList.remove("editing");
        var tools = li.querySelector("[data-action=edit]");
        if (tools) tools.focus();
      };
      cancel.addEventListener("click", done);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var text = box.value.trim();
        if (text === "" || text === (state.body || "")) return done();
        save.disabled = true;
        client.edit(opts.room(), seqOf(li), text).then(done, function (err) {
          save.disabled = false;
          failed("save the edit")(err);
        });
      });
      box.addEventListener("keydown", function (e) {
        if (e.key === "Escape") {
          e.preventDefault();
          done();
        } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          form.requestSubmit();
        }
      });
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }

    // --- delete, confirmed in place --------------------------------------------------------------

    function askDelete(li) {
      if (li.querySelector(".confirm-delete")) return;
      var box = el("div", "confirm-delete");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Delete this message?");
      box.appendChild(el("span", null, "Delete this message for everyone?"));
      var yes = el("button", "danger", "Delete message");
      yes.type = "button";
      var no = el("button", "secondary", "Keep it");
      no.type = "button";
      box.appendChild(no);
      box.appendChild(yes);
      li.querySelector(".msg-main").appendChild(box);
      no.addEventListener("click", function () { box.remove(); });
      yes.addEventListener("click", function () {
        yes.disabled = true;
        client.remove(opts.room(), seqOf(li)).then(function () { box.remove(); }, function (err) {
          box.remove();
          failed("delete it")(err);
        });
      });
      no.focus();
    }

    // --- one listener for every pane -------------------------------------------------------------

    stage.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-action]");
      var li = e.target.closest("li.msg");
      if (!b) {
        // A tap on a message shows its toolbar on touch screens (no hover there).
        if (li && !e.target.closest("a, button, textarea")) {
          stage.querySelectorAll("li.msg.touched").forEach(function (n) { if (n !== li) n.classList.remove("touched"); });
          li.classList.toggle("touched");
        }
        return;
      }
      if (!li || seqOf(li) === null) return;
      var action = b.dataset.action;
      var slug = opts.room();
      if (action === "pick") openPicker(li, b);
      else if (action === "reply") opts.reply(seqOf(li), li);
      else if (action === "edit") startEdit(li);
      else if (action === "delete") askDelete(li);
      else if (action === "react") client.react(slug, seqOf(li), b.dataset.emoji, b.getAttribute("aria-pressed") !== "true").catch(failed("react"));
      else if (action === "jump") jump(Number(b.dataset.target));
    });

    document.addEventListener("pointerdown", function (e) {
      if (picker && !picker.contains(e.target)) closePicker(false);
    });

    /** Scroll to a message of the room on screen and flash it (if it is loaded). */
    function jump(seq) {
      var view = opts.view(opts.room());
      var li = view && view.item(seq);
      if (!li) {
        notice("That message is further back: scroll up to load it.", "info");
        return;
      }
      li.scrollIntoView({ block: "center", behavior: "smooth" });
      li.classList.remove("flash");
      void li.offsetWidth; // restart the animation
      li.classList.add("flash");
    }

    return {
      toolbar: toolbar,
      /** Up in an empty composer: edit the newest message of ours. */
      editLast: function () {
        var view = opts.view(opts.room());
        var seq = view && view.lastOwn();
        var li = seq && view.item(seq);
        if (!li) return false;
        li.scrollIntoView({ block: "nearest" });
        startEdit(li);
        return true;
      },
      setModerator: function (on) {
        stage.classList.toggle("can-moderate", !!on);
      }
    };
  };
})(window);
