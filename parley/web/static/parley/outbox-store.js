/* Parley: the unsent messages kept in the browser's localStorage (used by outbox.js).
 *
 * A message written while the network is down must survive a reload or a closed tab. Every
 * queued send is stored with its cid under one key per user; it is removed when the server
 * acknowledges it (or the user discards it). On the next page load the outbox sends what is
 * left with the same cids, and the server answers a known cid with its first ack and no new
 * event, so a message is never posted twice, even when two tabs re-send it at once.
 *
 * Each change reads the stored list again before writing it, so tabs of the same user do not
 * erase each other's entries. Without localStorage (disabled, full, private mode) it keeps
 * nothing and says so by `available` being false: sending works as before.
 *
 *   new ParleyOutboxStore(key)
 *   store.load() -> [{room, cid, body, reply_to, at, failed}]   oldest first
 *   store.put(item)          add or update one (by cid)
 *   store.remove(cid)
 */
(function (global) {
  "use strict";

  var KEEP_MS = 7 * 24 * 3600 * 1000; // older entries are dropped unsent (the page said "sending" for a week)

  function storage() {
    try {
      var s = global.localStorage;
      var probe = "parley.probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }

  function ParleyOutboxStore(key) {
    this.key = key;
    this.storage = key ? storage() : null;
    this.available = this.storage !== null;
  }

  ParleyOutboxStore.prototype = {
    _read: function () {
      if (!this.available) return [];
      try {
        var list = JSON.parse(this.storage.getItem(this.key) || "[]");
        return Array.isArray(list) ? list.filter(function (i) { return i && typeof i.cid === "string" && typeof i.room === "string"; }) : [];
      } catch (e) {
        return [];
      }
    },

    _write: function (list) {
      if (!this.available) return;
      try {
        if (list.length) this.storage.setItem(this.key, JSON.stringify(list));
        else this.storage.removeItem(this.key);
      } catch (e) { /* full: the message still goes out from memory */ }
    },

    load: function () {
      var now = Date.now();
      var list = this._read();
      var fresh = list.filter(function (i) { return !(now - (i.at || 0) > KEEP_MS); });
      if (fresh.length !== list.length) this._write(fresh);
      return fresh;
    },

    put: function (item) {
      var list = this._read();
      var entry = { room: item.room, cid: item.cid, body: item.body, reply_to: item.reply_to, files: item.files || null, at: item.at, failed: item.state === "failed" };
      var found = false;
      for (var i = 0; i < list.length; i++) {
        if (list[i].cid === entry.cid) {
          list[i] = entry;
          found = true;
        }
      }
      if (!found) list.push(entry);
      this._write(list);
    },

    remove: function (cid) {
      var list = this._read();
      var kept = list.filter(function (i) { return i.cid !== cid; });
      if (kept.length !== list.length) this._write(kept);
    }
  };

  global.ParleyOutboxStore = ParleyOutboxStore;
})(window);
