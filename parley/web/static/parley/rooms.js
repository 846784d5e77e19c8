/* Parley room page: rooms and people. The dialogs (new room, public rooms, new direct message,
 * mentions, room settings with invites, incoming webhooks and leaving); the members panel and the
 * @mention picker are members.js, made here. Everything goes through
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

  ui.rooms = function (opts) {
    var dom = ui.dom;
    var el = dom.el;
    var client = opts.client;
    var me = opts.me || {};
    var sidebar = opts.sidebar;
    var notice = opts.notice;
    var $ = dom.byId;
    // The members panel and the @mention picker (members.js); who they know fills the pickers here.
    var membersPanel = ui.members({ client: client, me: me, notice: notice, current: opts.current, canManage: canManage, role: myRole });

    function refreshKnown() {
      var list = $("known-people");
      list.textContent = "";
      membersPanel.known().forEach(function (u) {
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
      // Disabling the focused field or button drops focus to the page: it comes back after.
      if (on) form._focused = form.contains(document.activeElement) ? document.activeElement : null;
      form.querySelectorAll("button, input, select").forEach(function (b) { b.disabled = on; });
      var was = form._focused;
      if (!on && was && form.isConnected && was.offsetParent !== null && (!document.activeElement || document.activeElement === document.body)) was.focus();
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
        membersPanel.reload();
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

    return {
      setRoom: function () { membersPanel.setRoom(); }
    };
  };
})(window);
