/* Parley: the queue of messages being sent (used by client.js).
 *
 * Sends go out in the order they were written, one in flight at a time, so they post in order
 * and a rate limit holds the whole queue. Each keeps its cid for life: after a reconnect or a
 * retryable error it is sent again with the same cid, and the server answers a repeated cid with
 * the first ack and no new event.
 *
 * With a store (outbox-store.js), the queue also survives a reload or a closed tab: `restore()`
 * takes back what an earlier page left unsent, with the same cids.
 *
 *   new ParleyOutbox(host, store?)
 *   host.send(frame) -> bool   write a frame if the socket is open
 *   host.isOpen() -> bool
 *   host.ready(room) -> bool   false while that room is being (re)subscribed
 *   host.emit(name, data)      pending / ack / retrying / failed
 *   host.stuck()               no answer to a send in time: the socket is presumed dead
 */
(function (global) {
  "use strict";

  var SEND_RETRY_LIMIT = 6; // automatic re-sends after a server_error without retry_after
  var ACK_TIMEOUT_MS = 20000; // no answer to a send: treat the socket as dead and resume
  var HOLD_CAP_MS = 20000;

  // Errors that mean "this send will never succeed as it is": no automatic retry.
  var FINAL_SEND_ERRORS = { bad_request: 1, too_large: 1, forbidden: 1, not_found: 1, unknown_type: 1 };

  function uuid() {
    if (global.crypto && typeof global.crypto.randomUUID === "function") {
      return global.crypto.randomUUID();
    }
    // Fallback for non-secure contexts (plain http on a LAN address): random enough for a cid.
    var bytes = new Uint8Array(16);
    global.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function ParleyOutbox(host, store) {
    this.host = host;
    this.store = store || null;
    // cid -> {room, cid, body, reply_to, files, state: "queued"|"sent"|"failed", tries}, in writing order
    this.items = new Map();
    this.inflight = null; // cid awaiting its ack
    this.holdUntil = 0; // rate_limited / server_error: no send before this time
    this.holdCode = null; // the error code that set holdUntil
    this.timers = { hold: null, ack: null };
  }

  ParleyOutbox.prototype = {
    /** Queue a message; returns its cid. */
    add: function (room, body, replyTo, files) {
      var item = { room: room, cid: uuid(), body: body, reply_to: replyTo == null ? null : replyTo, files: files && files.length ? files : null, state: "queued", tries: 0, at: Date.now() };
      this.items.set(item.cid, item);
      if (this.store) this.store.put(item);
      this.host.emit("pending", { room: room, cid: item.cid, body: body, reply_to: item.reply_to, files: item.files });
      this.pump();
      return item.cid;
    },

    /** Try a failed (or still pending) send again, with the same cid. */
    retry: function (cid) {
      var item = this.items.get(cid);
      if (!item) return false;
      if (item.state === "failed") {
        item.state = "queued";
        item.tries = 0;
        if (this.store) this.store.put(item);
      }
      this.host.emit("pending", { room: item.room, cid: item.cid, body: item.body, reply_to: item.reply_to, files: item.files, retry: true });
      this.pump();
      return true;
    },

    /** Give up a failed send (the UI removed it). */
    discard: function (cid) {
      var item = this.items.get(cid);
      if (item && item.state === "failed") {
        this.items.delete(cid);
        if (this.store) this.store.remove(cid);
      }
    },

    /** Take back the sends an earlier page left unsent (same cids); they go out on the next pump. */
    restore: function () {
      if (!this.store) return 0;
      var self = this;
      var count = 0;
      this.store.load().forEach(function (saved) {
        if (self.items.has(saved.cid)) return;
        self.items.set(saved.cid, {
          room: saved.room, cid: saved.cid, body: String(saved.body), reply_to: saved.reply_to == null ? null : saved.reply_to,
          files: Array.isArray(saved.files) && saved.files.length ? saved.files : null,
          state: saved.failed ? "failed" : "queued", tries: 0, at: saved.at || Date.now(), restored: true
        });
        count += 1;
      });
      return count;
    },

    /** What is waiting to go: {waiting: sends not acknowledged nor failed, holdUntil: ms, code}. */
    state: function () {
      var waiting = 0;
      this.items.forEach(function (item) { if (item.state !== "failed") waiting += 1; });
      return { waiting: waiting, holdUntil: this.holdUntil, code: this.holdCode };
    },

    /** The unacknowledged sends of a room, in writing order (a new view shows them as pending). */
    pending: function (room) {
      var out = [];
      this.items.forEach(function (item) {
        if (item.room === room) out.push({ room: item.room, cid: item.cid, body: item.body, reply_to: item.reply_to, files: item.files, at: item.at, state: item.state });
      });
      return out;
    },

    /** Send the oldest queued message, if nothing is in flight and no hold is on. */
    pump: function () {
      var self = this;
      if (this.inflight !== null || !this.host.isOpen()) return;
      var wait = this.holdUntil - Date.now();
      if (wait > 0) {
        clearTimeout(this.timers.hold);
        this.timers.hold = setTimeout(function () { self.pump(); }, wait);
        return;
      }
      var next = null;
      this.items.forEach(function (item) {
        if (next === null && item.state === "queued") next = item;
      });
      if (next === null) return;
      if (!this.host.ready(next.room)) return; // after that room's `subscribed` (which pumps again)
      var frame = { type: "send", room: next.room, cid: next.cid, body: next.body, reply_to: next.reply_to };
      if (next.files) frame.files = next.files.map(function (f) { return f.id; });
      if (this.host.send(frame)) {
        next.state = "sent";
        this.inflight = next.cid;
        clearTimeout(this.timers.ack);
        this.timers.ack = setTimeout(function () { self.host.stuck(); }, ACK_TIMEOUT_MS);
      }
    },

    /** The socket closed: whatever was in flight goes again (same cid) on the next one. */
    reset: function () {
      clearTimeout(this.timers.ack);
      clearTimeout(this.timers.hold);
      this.inflight = null;
      this.items.forEach(function (item) {
        if (item.state === "sent") item.state = "queued";
      });
    },

    acked: function (frame) {
      this.items.delete(frame.cid);
      if (this.store) this.store.remove(frame.cid);
      if (this.inflight === frame.cid) {
        clearTimeout(this.timers.ack);
        this.inflight = null;
      }
      this.host.emit("ack", { room: frame.room, cid: frame.cid, seq: frame.seq });
      this.pump();
    },

    /** An error frame; true if it answered one of our sends. */
    error: function (frame) {
      var item = typeof frame.ref === "string" ? this.items.get(frame.ref) : undefined;
      if (!item) return false;
      if (this.inflight === item.cid) {
        clearTimeout(this.timers.ack);
        this.inflight = null;
      }
      var limited = frame.code === "rate_limited" || (frame.code === "server_error" && frame.retry_after != null);
      var retryable = limited || (frame.code === "server_error" && !FINAL_SEND_ERRORS[frame.code]);
      item.tries += 1;
      if (retryable && (limited || item.tries <= SEND_RETRY_LIMIT)) {
        // Rate limited or the database is away: wait as told (the same cid makes it safe).
        var base = frame.retry_after != null ? frame.retry_after * 1000 : 500 * Math.pow(2, item.tries);
        var after = Math.min(HOLD_CAP_MS, base + Math.random() * Math.min(250, base));
        item.state = "queued";
        this.holdUntil = Date.now() + after;
        this.holdCode = frame.code;
        this.host.emit("retrying", { room: item.room, cid: item.cid, code: frame.code, after: after });
      } else {
        item.state = "failed";
        if (this.store) this.store.put(item);
        this.host.emit("failed", { room: item.room, cid: item.cid, code: frame.code, detail: frame.detail });
      }
      this.pump();
      return true;
    }
  };

  global.ParleyOutbox = ParleyOutbox;
})(window);
