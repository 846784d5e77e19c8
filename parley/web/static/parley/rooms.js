/* Parley room page: rooms and people. The dialogs (new room, public rooms, new direct message,
 * mentions, room settings with invites, incoming webhooks and leaving), the members panel with
 * its moderation actions, and the @mention picker in the composer. Everything goes through
 * protocol v1 frames (client.act / client.ask; docs/protocol.md "Rooms, people and the sidebar"),
 * except webhooks, which only the HTTP API manages (fetch /api/v1 with the session and CSRF token).
 *
 *   ParleyUI.rooms({client, me, sidebar, notice, current(), open(slug, info), jump(slug, seq)?}) -> {setRoom(slug)}
 *
 * Names, titles and message text go into the page through textContent only.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var ROLE_RANK = { member: 0, admin: 1, owner: 2 };

  ui.rooms = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var me = opts.me || {};
    var sidebar = opts.sidebar;
    var notice = opts.notice;
    var $ = dom.byId;
    var members = []; // of the room on screen: [{user, role, muted}]
    var known = new Map(); // user id -> user: everyone the page has seen (for the pickers)

    function remember(user) {
      if (user && user.id != null && user.username) known.set(user.id, user);
    }

    function refreshKnown() {
      var list = $("known-people");
      list.textContent = "";
      known.forEach(function (u) {
        if (u.id === me.id || u.guest) return;
        var option = el("option");
        option.value = u.username;
        option.label = dom.displayName(u);
        list.appendChild(option);
      });
    }

    // --- dialogs ------------------------------------------------------------------------

    function dialog(id) {
      var node = $(id);
      node.addEventListener("click", function (e) {
        if (e.target.closest("[data-close]")) node.close();
        else if (e.target === node) node.close(); // a click on the backdrop
      });
      return node;
    }

    function showError(box, err) {
      var node = box.querySelector(".dialog-error");
      node.textContent = err ? err.message || String(err) : "";
      node.hidden = !err;
    }

    function busy(form, on) {
      form.querySelectorAll("button, input, select").forEach(function (b) { b.disabled = on; });
    }

    // New room
    var newRoom = dialog("dialog-new-room");
    var newRoomForm = $("new-room-form");
    $("open-new-room").addEventListener("click", function () {
      newRoomForm.reset();
      showError(newRoom, null);
      newRoom.showModal();
    });
    newRoomForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var title = $("new-room-title").value.trim();
      if (!title) return;
      var visibility = newRoomForm.querySelector("input[name=visibility]:checked").value;
      var topic = $("new-room-topic").value.trim();
      busy(newRoomForm, true);
      client.act("room_create", { title: title, visibility: visibility, topic: topic || undefined }).then(function (ok) {
        newRoom.close();
        opts.open(ok.room, { title: title, topic: topic, kind: visibility });
      }, function (err) {
        showError(newRoom, err);
      }).then(function () { busy(newRoomForm, false); });
    });

    // Public rooms
    var directory = dialog("dialog-directory");
    var filter = $("directory-filter");
    var directoryList = $("directory-list");
    var filterTimer = null;

    function loadDirectory() {
      var q = filter.value.trim();
      client.ask("directory", { q: q || undefined }).then(function (frame) {
        if (q !== filter.value.trim()) return; // a newer filter is on its way
        directoryList.textContent = "";
        (frame.rooms || []).forEach(function (r) { directoryList.appendChild(directoryItem(r)); });
        $("directory-empty").hidden = (frame.rooms || []).length > 0;
      }, function (err) {
        notice("Could not list the rooms: " + err.message, "error");
      });
    }

    function directoryItem(r) {
      var li = el("li", "directory-item");
      var text = el("div", "directory-text");
      text.appendChild(el("span", "directory-name", "#" + r.room));
      if (r.title && r.title !== r.room) text.appendChild(el("span", "directory-title", r.title));
      if (r.topic) text.appendChild(el("span", "directory-topic", r.topic));
      text.appendChild(el("span", "directory-meta", r.members + (r.members === 1 ? " member" : " members")));
      li.appendChild(text);
      var button = el("button", r.member ? "secondary" : "", r.member ? "Open" : "Join");
      button.type = "button";
      button.setAttribute("aria-label", (r.member ? "Open #" : "Join #") + r.room);
      button.addEventListener("click", function () {
        var info = { title: r.title, topic: r.topic, kind: "public" };
        if (r.member) {
          directory.close();
          opts.open(r.room, info);
          return;
        }
        button.disabled = true;
        client.act("join", { room: r.room }).then(function () {
          directory.close();
          opts.open(r.room, info);
        }, function (err) {
          button.disabled = false;
          notice("Could not join #" + r.room + ": " + err.message, "error");
        });
      });
      li.appendChild(button);
      return li;
    }

    $("open-directory").addEventListener("click", function () {
      filter.value = "";
      directoryList.textContent = "";
      $("directory-empty").hidden = true;
      directory.showModal();
      loadDirectory();
    });
    filter.addEventListener("input", function () {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(loadDirectory, 200);
    });

    // New direct message
    var dmDialog = dialog("dialog-dm");
    var dmForm = $("dm-form");
    $("open-dm").addEventListener("click", function () {
      dmForm.reset();
      showError(dmDialog, null);
      refreshKnown();
      dmDialog.showModal();
    });
    dmForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var users = $("dm-people").value.split(/[\s,]+/).map(function (u) { return u.replace(/^@/, ""); }).filter(Boolean);
      if (users.length === 0) return;
      busy(dmForm, true);
      client.act("dm_open", { users: users }).then(function (ok) {
        dmDialog.close();
        opts.open(ok.room, { kind: "dm" });
      }, function (err) {
        showError(dmDialog, err);
      }).then(function () { busy(dmForm, false); });
    });
    if (me.guest) $("open-dm").hidden = true; // guests cannot open DMs

    // Mentions
    var mentionsDialog = dialog("dialog-mentions");
    var mentionsList = $("mentions-list");
    var mentionsMore = $("mentions-more");
    var mentionsCursor = null;

    function loadMentions(before) {
      client.ask("mentions", { before: before || undefined }).then(function (frame) {
        (frame.events || []).forEach(function (ev) { mentionsList.appendChild(mentionItem(ev)); });
        mentionsCursor = frame.cursor;
        mentionsMore.hidden = !frame.cursor;
        $("mentions-empty").hidden = mentionsList.children.length > 0;
      }, function (err) {
        notice("Could not load your mentions: " + err.message, "error");
      });
    }

    function mentionItem(ev) {
      var li = el("li", "mention-item");
      var button = el("button", "mention-open");
      button.type = "button";
      var head = el("span", "mention-head");
      head.appendChild(el("strong", null, dom.displayName(ev.user)));
      head.appendChild(document.createTextNode(" in " + (sidebar.entry(ev.room) ? sidebar.label(ev.room) : "#" + ev.room)));
      var time = el("time", "mention-time", new Date(ev.ts).toLocaleString());
      time.dateTime = ev.ts;
      head.appendChild(time);
      button.appendChild(head);
      button.appendChild(el("span", "mention-body", String(ev.body || "").slice(0, 280)));
      button.addEventListener("click", function () {
        mentionsDialog.close();
        if (opts.jump) opts.jump(ev.room, ev.seq); // at the message (history around it)
        else opts.open(ev.room, null);
      });
      li.appendChild(button);
      return li;
    }

    $("open-mentions").addEventListener("click", function () {
      mentionsList.textContent = "";
      mentionsCursor = null;
      $("mentions-empty").hidden = true;
      mentionsDialog.showModal();
      loadMentions(null);
    });
    mentionsMore.addEventListener("click", function () { loadMentions(mentionsCursor); });

    // Room settings
    var settings = dialog("dialog-room-settings");
    var aboutForm = $("room-about-form");
    var inviteForm = $("room-invite-form");
    var notifySelect = $("room-notify");

    function myRole() {
      var entry = sidebar.entry(opts.current());
      return entry ? entry.role : null;
    }

    function canManage() {
      var role = myRole();
      return me.staff || role === "owner" || role === "admin";
    }

    $("open-room-settings").addEventListener("click", function () {
      var slug = opts.current();
      var entry = sidebar.entry(slug);
      showError(settings, null);
      $("room-settings-heading").textContent = "Settings of " + (entry && entry.kind === "dm" ? sidebar.label(slug) : "#" + slug);
      $("room-about-title").value = entry ? entry.title || "" : "";
      $("room-about-topic").value = entry ? entry.topic || "" : "";
      aboutForm.hidden = !canManage() || (entry && entry.kind === "dm");
      $("room-notify-block").hidden = !entry;
      notifySelect.value = entry ? entry.notify || "all" : "all";
      var isPublic = entry ? entry.kind === "public" : true;
      inviteForm.hidden = !entry || (entry.kind === "dm") || !(canManage() || isPublic) || me.guest;
      $("room-link-block").hidden = !canManage() || (entry && entry.kind === "dm");
      $("room-link").hidden = true;
      $("room-leave").hidden = !entry;
      var hooksForm = $("room-hooks-form");
      hooksForm.hidden = !canManage() || !entry || entry.kind === "dm" || me.guest;
      $("room-hook").hidden = true;
      if (!hooksForm.hidden) loadHooks(slug);
      refreshKnown();
      settings.showModal();
    });

    // Incoming webhooks: managed over the HTTP API (docs/api.md) with this page's session; a
    // new webhook's URL is shown once.
    function api(method, path, body) {
      var token = document.querySelector("input[name=csrfmiddlewaretoken]");
      var headers = { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" };
      return fetch("/api/v1" + path, {
        method: method, headers: headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(function (response) {
        if (response.status === 204) return null;
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data.error && data.error.detail) || "request failed");
          return data;
        });
      });
    }

    function loadHooks(slug) {
      var list = $("room-hooks-list");
      list.textContent = "";
      api("GET", "/rooms/" + slug + "/webhooks").then(function (data) {
        if (opts.current() !== slug) return;
        data.webhooks.forEach(function (hook) {
          var item = el("li");
          var name = el("span");
          name.textContent = hook.name;
          var revoke = el("button");
          revoke.type = "button";
          revoke.className = "secondary";
          revoke.textContent = "Revoke";
          revoke.setAttribute("aria-label", "Revoke the webhook " + hook.name);
          revoke.addEventListener("click", function () {
            api("DELETE", "/rooms/" + slug + "/webhooks/" + hook.id).then(function () {
              notice("Webhook " + hook.name + " revoked.", "info");
              loadHooks(slug);
            }, function (err) { showError(settings, err); });
          });
          item.appendChild(name);
          item.appendChild(revoke);
          list.appendChild(item);
        });
      }, function (err) { showError(settings, err); });
    }

    $("room-hooks-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var slug = opts.current();
      var form = $("room-hooks-form");
      var name = $("room-hook-name").value.trim();
      if (!name) return;
      busy(form, true);
      api("POST", "/rooms/" + slug + "/webhooks", { name: name }).then(function (hook) {
        $("room-hook-name").value = "";
        $("room-hook-url").value = hook.url;
        $("room-hook").hidden = false;
        loadHooks(slug);
      }, function (err) { showError(settings, err); }).then(function () {
        busy(form, false);
        $("room-hook-url").select();
      });
    });

    aboutForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var slug = opts.current();
      busy(aboutForm, true);
      client.act("room_update", { room: slug, title: $("room-about-title").value.trim(), topic: $("room-about-topic").value.trim() }).then(function () {
        notice("Room updated.", "info");
        settings.close();
      }, function (err) { showError(settings, err); }).then(function () { busy(aboutForm, false); });
    });

    notifySelect.addEventListener("change", function () {
      client.act("notify", { room: opts.current(), level: notifySelect.value }).then(function () {
        notice("Notifications for this room: " + notifySelect.selectedOptions[0].textContent.toLowerCase() + ".", "info");
      }, function (err) { showError(settings, err); });
    });

    inviteForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var user = $("room-invite-user").value.trim().replace(/^@/, "");
      if (!user) return;
      busy(inviteForm, true);
      client.act("invite", { room: opts.current(), user: user }).then(function () {
        notice("Invited " + user + ".", "info");
        $("room-invite-user").value = "";
        loadMembers();
      }, function (err) { showError(settings, err); }).then(function () { busy(inviteForm, false); });
    });

    $("room-link-create").addEventListener("click", function () {
      client.act("invite_link", { room: opts.current() }).then(function (ok) {
        var url = new URL(ok.url, location.origin).href;
        $("room-link-url").value = url;
        $("room-link-expires").textContent = "Anyone signed in can join with it until " + new Date(ok.expires).toLocaleString() + ".";
        $("room-link").hidden = false;
        $("room-link-url").select();
      }, function (err) { showError(settings, err); });
    });

    $("room-leave").addEventListener("click", function () {
      var slug = opts.current();
      client.act("leave", { room: slug }).then(function () {
        settings.close();
        notice("You left #" + slug + ".", "info");
      }, function (err) { showError(settings, err); });
    });

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
      }
    };
  };
})(window);
