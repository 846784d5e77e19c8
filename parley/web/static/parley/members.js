/* Parley room page: the members panel of the room on screen (roles, muted, bans; the moderation
 * actions an owner or admin may take) and the @mention picker in the composer, which offers them.
 *
 *   ParleyUI.members({client, me, notice, current(), canManage(), role()})
 *     -> {setRoom(), reload(), known(): Map user id -> user (everyone the page has seen)}
 *
 * Names go into the page through textContent only.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var ROLE_RANK = { member: 0, admin: 1, owner: 2 };

  ui.members = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var me = opts.me || {};
    var notice = opts.notice;
    var $ = dom.byId;
    var myRole = opts.role;
    var canManage = opts.canManage;
    var members = []; // of the room on screen: [{user, role, muted}]
    var known = new Map(); // user id -> user: everyone the page has seen (for the pickers)

    function remember(user) {
      if (user && user.id != null && user.username) known.set(user.id, user);
    }

    // --- members panel ------------------------------------------------------------------

    var membersList = $("members-list");
    var bannedList = $("banned-list");
    var banned = []; // users banned from the room on screen (told to its owners and admins only)
    var membersCount = $("members-count");
    var membersTimer = null;

    function loadMembers() {
      var slug = opts.current();
      client.ask("members", { room: slug }).then(function (frame) {
        if (frame.room !== opts.current()) return;
        members = frame.members || [];
        banned = frame.banned || [];
        members.forEach(function (m) { remember(m.user); });
        renderMembers();
      }, function () {
        members = [];
        banned = [];
        renderMembers();
      });
    }

    function later() {
      clearTimeout(membersTimer);
      membersTimer = setTimeout(loadMembers, 250);
    }

    function act(type, fields, done) {
      client.act(type, fields).then(function () { if (done) notice(done, "info"); later(); }, function (err) {
        notice(err.message, "error");
      });
    }

    function memberRow(m) {
      var li = el("li", "person member");
      var slug = opts.current();
      var wrap = el("span", "person-avatar");
      wrap.appendChild(dom.avatar(m.user, "avatar-sm"));
      li.appendChild(wrap);
      var label = el("span", "person-label");
      label.appendChild(el("span", "person-name", dom.displayName(m.user)));
      dom.appendBadges(label, m.user); // bot, guest
      if (m.role !== "member") label.appendChild(el("span", "role-tag role-" + m.role, m.role));
      if (m.muted) label.appendChild(el("span", "role-tag role-muted", "muted"));
      if (m.user.id === me.id) label.appendChild(el("span", "person-you", "(you)"));
      li.appendChild(label);
      var mine = myRole();
      var myRank = me.staff ? 3 : ROLE_RANK[mine] || 0;
      var theirRank = ROLE_RANK[m.role] || 0;
      var manageable = m.user.id !== me.id && myRank >= 1 && (myRank >= 2 || theirRank < 1);
      if (manageable) {
        var toggle = el("button", "member-actions", "\u22ef");
        toggle.type = "button";
        toggle.setAttribute("aria-label", "Manage " + dom.displayName(m.user));
        toggle.setAttribute("aria-expanded", "false");
        var menu = el("div", "member-menu");
        menu.hidden = true;
        menu.id = "member-menu-" + m.user.id;
        toggle.setAttribute("aria-controls", menu.id);
        toggle.addEventListener("click", function () {
          var open = menu.hidden;
          closeMenus();
          menu.hidden = !open;
          toggle.setAttribute("aria-expanded", open ? "true" : "false");
          if (open) menu.querySelector("button").focus();
        });
        var name = m.user.username;
        var shown = dom.displayName(m.user);
        var add = function (text, fn) {
          var b = el("button", null, text);
          b.type = "button";
          b.addEventListener("click", function () {
            closeMenus();
            fn();
          });
          menu.appendChild(b);
        };
        if (myRank >= 2) {
          if (m.role !== "admin") add("Make admin", function () { act("role", { room: slug, user: name, role: "admin" }, shown + " is now an admin."); });
          if (m.role !== "member") add("Make member", function () { act("role", { room: slug, user: name, role: "member" }, shown + " is now a member."); });
          if (m.role !== "owner") add("Make owner", function () { act("role", { room: slug, user: name, role: "owner" }, shown + " is now an owner."); });
        }
        add(m.muted ? "Unmute" : "Mute", function () { act("mute", { room: slug, user: name, muted: !m.muted }, shown + (m.muted ? " can post again." : " is muted.")); });
        add("Remove from room", function () { act("remove", { room: slug, user: name }, shown + " was removed."); });
        add("Remove and ban", function () { act("remove", { room: slug, user: name, ban: true }, shown + " was removed and banned."); });
        li.appendChild(toggle);
        li.appendChild(menu);
      }
      return li;
    }

    function closeMenus() {
      membersList.querySelectorAll(".member-menu").forEach(function (menu) { menu.hidden = true; });
      membersList.querySelectorAll(".member-actions").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
    }

    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") closeMenus();
    });
    document.addEventListener("pointerdown", function (e) {
      if (!e.target.closest(".member")) closeMenus();
    });

    function bannedRow(user) {
      var li = el("li", "person member");
      var wrap = el("span", "person-avatar");
      wrap.appendChild(dom.avatar(user, "avatar-sm"));
      li.appendChild(wrap);
      var label = el("span", "person-label");
      label.appendChild(el("span", "person-name", dom.displayName(user)));
      li.appendChild(label);
      var lift = el("button", "chip", "Lift ban");
      lift.type = "button";
      lift.setAttribute("aria-label", "Lift the ban on " + dom.displayName(user));
      lift.addEventListener("click", function () {
        act("unban", { room: opts.current(), user: user.username }, dom.displayName(user) + " may join again.");
      });
      li.appendChild(lift);
      return li;
    }

    function renderMembers() {
      membersList.textContent = "";
      members.forEach(function (m) { membersList.appendChild(memberRow(m)); });
      membersCount.textContent = String(members.length);
      bannedList.textContent = "";
      banned.forEach(function (u) { bannedList.appendChild(bannedRow(u)); });
      $("banned-block").hidden = banned.length === 0;
    }

    client.on("event", function (ev) {
      remember(ev.user);
      if (ev.room === opts.current() && ev.kind && ev.kind.indexOf("member.") === 0) later();
    });
    client.on("presence", function (info) { (info.online || []).forEach(remember); });
    client.on("room", function (frame) { if (frame.room === opts.current()) later(); });
    client.on("status", function (s) { if (s.state === "live") later(); });

    // --- @mention picker ----------------------------------------------------------------

    var input = $("message-input");
    var picker = $("mention-picker");
    var choices = [];
    var chosen = 0;
    var atStart = -1;

    function candidates(prefix) {
      var seen = new Map();
      members.forEach(function (m) { seen.set(m.user.id, m.user); });
      if (client.online) client.online(opts.current()).forEach(function (u) { if (!seen.has(u.id)) seen.set(u.id, u); });
      var p = prefix.toLowerCase();
      var found = Array.from(seen.values()).filter(function (u) {
        if (u.id === me.id || !u.username) return false;
        return u.username.toLowerCase().indexOf(p) === 0 || dom.displayName(u).toLowerCase().indexOf(p) === 0;
      });
      found.sort(function (a, b) { return a.username.localeCompare(b.username); });
      var out = found.slice(0, 8).map(function (u) { return { value: u.username, user: u }; });
      if (canManage() && "room".indexOf(p) === 0) out.push({ value: "room", user: null });
      return out;
    }

    function closePicker() {
      picker.hidden = true;
      picker.textContent = "";
      choices = [];
      atStart = -1;
      input.removeAttribute("aria-activedescendant");
    }

    function renderPicker() {
      picker.textContent = "";
      choices.forEach(function (c, i) {
        var li = el("li", "mention-choice" + (i === chosen ? " active" : ""));
        li.id = "mention-choice-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === chosen ? "true" : "false");
        if (c.user) {
          li.appendChild(dom.avatar(c.user, "avatar-xs"));
          li.appendChild(el("span", "mention-choice-name", dom.displayName(c.user)));
          li.appendChild(el("span", "mention-choice-user", "@" + c.value));
        } else {
          li.appendChild(el("span", "mention-choice-name", "@room"));
          li.appendChild(el("span", "mention-choice-user", "everyone in the room"));
        }
        li.addEventListener("mousedown", function (e) {
          e.preventDefault(); // keep the focus in the composer
          pick(i);
        });
        picker.appendChild(li);
      });
      picker.hidden = choices.length === 0;
      if (choices.length) input.setAttribute("aria-activedescendant", "mention-choice-" + chosen);
    }

    function pick(i) {
      var c = choices[i];
      if (!c || atStart < 0) return;
      var caret = input.selectionStart;
      var before = input.value.slice(0, atStart);
      var after = input.value.slice(caret);
      input.value = before + "@" + c.value + " " + after;
      var at = before.length + c.value.length + 2;
      input.setSelectionRange(at, at);
      closePicker();
      input.dispatchEvent(new Event("input"));
    }

    input.addEventListener("input", function () {
      var caret = input.selectionStart;
      var text = input.value.slice(0, caret);
      var m = /(^|[\s(])@([A-Za-z0-9_.+-]{0,30})$/.exec(text);
      if (!m) {
        if (!picker.hidden) closePicker();
        return;
      }
      atStart = caret - m[2].length - 1;
      choices = candidates(m[2]);
      chosen = 0;
      renderPicker();
    });

    input.addEventListener("keydown", function (e) {
      if (picker.hidden || choices.length === 0) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        chosen = (chosen + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
        renderPicker();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        e.stopImmediatePropagation(); // Enter picks; it does not send
        pick(chosen);
      } else if (e.key === "Escape") {
        e.preventDefault();
        closePicker();
      }
    }, true);
    input.addEventListener("blur", function () { setTimeout(closePicker, 150); });

    return {
      setRoom: function () {
        members = [];
        banned = [];
        renderMembers();
        closePicker();
        if (client.state === "live") loadMembers();
      },
      reload: loadMembers,
      known: function () { return known; }
    };
  };
})(window);
