/* Parley protocol v1 client (docs/protocol.md, DESIGN.md section 3).
 *
 * One WebSocket carries every room. The client reconnects by itself (exponential backoff with
 * full jitter), resubscribes each room from the last seq it holds, re-sends unacknowledged
 * messages with the same cid (the server answers a repeated cid with the same ack and no new
 * event), never delivers one event twice, and repairs gaps with `history`.
 *
 * No build step, no dependencies: load it with a plain <script> and use `new ParleyClient()`.
 *
 * Events (client.on(name, fn)):
 *   status     {state: "connecting"|"live"|"reconnecting"|"signed-out"|"forbidden"|"closed",
 *               retryAt?: ms timestamp, attempt?: n, code?: close code}
 *   subscribed {room, lastSeq, first: bool, reset: bool}  (reset: the room must be reloaded)
 *   event      {room, seq, kind, user, ts, cid, body, reply_to}  (each room+seq once)
 *   pending    {room, cid, body, reply_to}            a send was queued
 *   ack        {room, cid, seq}
 *   failed     {room, cid, code, detail}              a send gave up (retry with client.retry(cid))
 *   retrying   {room, cid, code, after}               a send will be retried by itself
 *   error      {code, detail, ref, retry_after}       every error frame (for notices)
 */
(function (global) {
  "use strict";

  var BACKOFF_BASE_MS = 750;
  var BACKOFF_CAP_MS = 20000;
  var HEALTHY_AFTER_MS = 10000; // connected this long: the backoff starts over
  var PING_EVERY_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var HISTORY_MAX = 100;
  var GAP_MAX = 500; // a bigger hole resets the room instead of being filled page by page
  var SEND_RETRY_LIMIT = 6; // automatic re-sends after a server_error without retry_after
  var ACK_TIMEOUT_MS = 20000; // no answer to a send: treat the socket as dead and resume

  // Errors that mean "this send will never succeed as it is": no automatic retry.
  var FINAL_SEND_ERRORS = { bad_request: 1, too_large: 1, forbidden: 1, not_member: 1, not_found: 1, unknown_type: 1 };

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

  function wsUrl(path) {
    if (/^wss?:\/\//.test(path)) return path;
    var scheme = global.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + global.location.host + (path || "/ws/");
  }

  function ParleyClient(options) {
    options = options || {};
    this.url = wsUrl(options.ws || "/ws/");
    this.pingEveryMs = options.pingEveryMs || PING_EVERY_MS;
    this.pongTimeoutMs = options.pongTimeoutMs || PONG_TIMEOUT_MS;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.rooms = new Map(); // slug -> room state (see _room)
    // Sends in the order they were written: cid -> {room, cid, body, reply_to, state, tries}.
    // One is in flight at a time, so they post in order and a rate limit holds the whole queue.
    this.outbox = new Map();
    this.inflight = null; // cid awaiting its ack
    this.holdUntil = 0; // rate_limited / server_error: no send before this time
    this.timers_send = { hold: null, ack: null };
    this.requests = new Map(); // request id -> {room, resolve, reject, type}
    this.subscribeRefs = new Map(); // subscribe request id -> room
    this.listeners = {};
    this.nextRequest = 1;
    this.timers = { reconnect: null, ping: null, pong: null, healthy: null };
    this.stopped = false;
    this.retryAt = 0;
    var self = this;
    this._onOnline = function () { self.reconnectNow(); };
    this._onVisible = function () {
      if (global.document.visibilityState === "visible") self._wake();
    };
    global.addEventListener("online", this._onOnline);
    global.document.addEventListener("visibilitychange", this._onVisible);
  }

  ParleyClient.prototype = {
    // --- public API ---------------------------------------------------------------------

    on: function (name, fn) {
      (this.listeners[name] = this.listeners[name] || []).push(fn);
      return this;
    },

    connect: function () {
      this.stopped = false;
      if (this.ws) return;
      this._open();
    },

    /** Follow a room. Resolves with {lastSeq} once the server confirmed the subscription. */
    subscribe: function (room) {
      var r = this._room(room);
      r.wanted = true;
      if (this._isOpen() && !r.subscribing && !r.subscribed) this._subscribe(r);
      return new Promise(function (resolve) { r.waiters.push(resolve); });
    },

    unsubscribe: function (room) {
      var r = this.rooms.get(room);
      if (!r) return;
      r.wanted = false;
      this.rooms.delete(room);
      if (this._isOpen()) this._send({ type: "unsubscribe", room: room });
    },

    /** Post a message. Returns its cid at once; progress comes as pending/ack/failed events. */
    send: function (room, body, replyTo) {
      var item = { room: room, cid: uuid(), body: body, reply_to: replyTo == null ? null : replyTo, state: "queued", tries: 0 };
      this.outbox.set(item.cid, item);
      this._emit("pending", { room: room, cid: item.cid, body: body, reply_to: item.reply_to });
      this._pump();
      return item.cid;
    },

    /** Try a failed (or still pending) send again, with the same cid. */
    retry: function (cid) {
      var item = this.outbox.get(cid);
      if (!item) return false;
      if (item.state === "failed") {
        item.state = "queued";
        item.tries = 0;
      }
      this._emit("pending", { room: item.room, cid: item.cid, body: item.body, reply_to: item.reply_to, retry: true });
      this._pump();
      if (!this._isOpen()) this.reconnectNow();
      return true;
    },

    /** Give up a failed send (the UI removed it). */
    discard: function (cid) {
      var item = this.outbox.get(cid);
      if (item && item.state === "failed") this.outbox.delete(cid);
    },

    /**
     * Older events, ascending: up to `limit` with seq < before (before omitted: the newest).
     * Events already delivered are left out, and the ones returned count as delivered.
     */
    history: function (room, before, limit) {
      var r = this._room(room);
      var self = this;
      return this._request(room, "history", { before: before, limit: Math.min(limit || 50, HISTORY_MAX) }).then(function (events) {
        return events.filter(function (ev) { return self._mark(r, ev); });
      });
    },

    /** Skip the backoff wait and reconnect now (the "retry now" button, the browser going online). */
    reconnectNow: function () {
      if (this.stopped || this.state === "signed-out" || this.state === "forbidden") return;
      if (this.ws) return;
      clearTimeout(this.timers.reconnect);
      this._open();
    },

    close: function () {
      this.stopped = true;
      this._clearTimers();
      if (this.ws) {
        var ws = this.ws;
        this._detach();
        try { ws.close(1000, "bye"); } catch (e) { /* already closed */ }
      }
      this._setState("closed");
    },

    // --- connection -----------------------------------------------------------------------

    _isOpen: function () {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    },

    _open: function () {
      this._setState(this.attempt === 0 && this.state === "idle" ? "connecting" : "reconnecting", { retryAt: 0 });
      var ws;
      try {
        ws = new WebSocket(this.url);
      } catch (e) {
        this._scheduleReconnect();
        return;
      }
      var self = this;
      this.ws = ws;
      ws.onopen = function () { self._onOpen(); };
      ws.onmessage = function (msg) { self._onMessage(msg.data); };
      ws.onclose = function (ev) { self._onClose(ev.code, ev.reason); };
      ws.onerror = function () { /* a close event follows */ };
    },

    _onOpen: function () {
      var self = this;
      this._setState("live");
      clearTimeout(this.timers.healthy);
      this.timers.healthy = setTimeout(function () { self.attempt = 0; }, HEALTHY_AFTER_MS);
      this._schedulePing();
      this.rooms.forEach(function (r) {
        r.subscribed = false;
        r.subscribing = false;
        if (r.wanted) self._subscribe(r);
      });
      this._pump(); // sends for rooms we do not follow go now, the others after `subscribed`
    },

    _onClose: function (code, reason) {
      this._detach();
      this._clearTimers();
      this._failRequests("connection closed");
      this.subscribeRefs.clear();
      this._resetInflight();
      this.rooms.forEach(function (r) {
        r.subscribed = false;
        r.subscribing = false;
      });
      if (this.stopped) return;
      if (code === 4401) {
        this._setState("signed-out", { code: code, reason: reason });
        return;
      }
      if (code === 4403) {
        this._setState("forbidden", { code: code, reason: reason });
        return;
      }
      this._scheduleReconnect(code);
    },

    /** Forget the socket without waiting for a close handshake (a half-open socket never ends). */
    _drop: function () {
      var ws = this.ws;
      if (!ws) return;
      try { ws.close(4000, "heartbeat timeout"); } catch (e) { /* ignore */ }
      this._onClose(1006, "heartbeat timeout");
    },

    _detach: function () {
      if (!this.ws) return;
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
      this.ws = null;
    },

    _scheduleReconnect: function (code) {
      var self = this;
      var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, this.attempt));
      var delay = Math.max(200, Math.floor(Math.random() * ceiling)); // full jitter
      this.attempt += 1;
      this.retryAt = Date.now() + delay;
      this._setState("reconnecting", { retryAt: this.retryAt, attempt: this.attempt, code: code });
      clearTimeout(this.timers.reconnect);
      this.timers.reconnect = setTimeout(function () { self._open(); }, delay);
    },

    _wake: function () {
      if (this.ws === null) this.reconnectNow();
      else if (this._isOpen()) this._ping();
    },

    _schedulePing: function () {
      var self = this;
      clearTimeout(this.timers.ping);
      this.timers.ping = setTimeout(function () { self._ping(); }, this.pingEveryMs);
    },

    _ping: function () {
      var self = this;
      if (!this._isOpen()) return;
      clearTimeout(this.timers.ping);
      if (!this.timers.pong) {
        this.timers.pong = setTimeout(function () {
          self.timers.pong = null;
          self._drop();
        }, this.pongTimeoutMs);
      }
      this._send({ type: "ping", t: Date.now() });
    },

    _clearTimers: function () {
      var t = this.timers;
      clearTimeout(t.reconnect);
      clearTimeout(t.ping);
      clearTimeout(t.pong);
      clearTimeout(t.healthy);
      t.reconnect = t.ping = t.pong = t.healthy = null;
    },

    _setState: function (state, extra) {
      this.state = state;
      var info = { state: state };
      if (extra) for (var k in extra) info[k] = extra[k];
      this._emit("status", info);
    },

    // --- frames out -----------------------------------------------------------------------

    _send: function (frame) {
      if (!this._isOpen()) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    },

    _subscribe: function (r) {
      var frame = { type: "subscribe", room: r.slug };
      if (r.known) frame.since = r.gapFrom !== null ? r.gapFrom - 1 : r.head;
      r.subscribing = true;
      r.buffer = [];
      r.resumeFrom = frame.since === undefined ? null : frame.since;
      frame.cid = "s" + this.nextRequest++; // an error frame's ref names this subscribe
      this.subscribeRefs.set(frame.cid, r.slug);
      this._send(frame);
    },

    /** Send the oldest queued message, if nothing is in flight and no hold is on. */
    _pump: function () {
      var self = this;
      if (this.inflight !== null || !this._isOpen()) return;
      var wait = this.holdUntil - Date.now();
      if (wait > 0) {
        clearTimeout(this.timers_send.hold);
        this.timers_send.hold = setTimeout(function () { self._pump(); }, wait);
        return;
      }
      var next = null;
      this.outbox.forEach(function (item) {
        if (next === null && item.state === "queued") next = item;
      });
      if (next === null) return;
      var r = this.rooms.get(next.room);
      if (r && !r.subscribed) return; // after that room's `subscribed` (which pumps again)
      if (this._send({ type: "send", room: next.room, cid: next.cid, body: next.body, reply_to: next.reply_to })) {
        next.state = "sent";
        this.inflight = next.cid;
        clearTimeout(this.timers_send.ack);
        this.timers_send.ack = setTimeout(function () { self._drop(); }, ACK_TIMEOUT_MS);
      }
    },

    _resetInflight: function () {
      clearTimeout(this.timers_send.ack);
      clearTimeout(this.timers_send.hold);
      this.inflight = null;
      this.outbox.forEach(function (item) {
        if (item.state === "sent") item.state = "queued";
      });
    },

    _request: function (room, type, fields) {
      var self = this;
      var id = "r" + this.nextRequest++;
      return new Promise(function (resolve, reject) {
        if (!self._isOpen()) {
          reject(new Error("not connected"));
          return;
        }
        var frame = { type: type, room: room, cid: id }; // the cid makes an error frame's ref point here
        for (var k in fields) if (fields[k] !== undefined && fields[k] !== null) frame[k] = fields[k];
        self.requests.set(id, { room: room, type: type, resolve: resolve, reject: reject });
        self._send(frame);
      });
    },

    _failRequests: function (why) {
      this.requests.forEach(function (req) { req.reject(new Error(why)); });
      this.requests.clear();
    },

    // --- frames in ------------------------------------------------------------------------

    _onMessage: function (text) {
      var frame;
      try {
        frame = JSON.parse(text);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      switch (frame.type) {
        case "event": return this._onEvent(frame);
        case "subscribed": return this._onSubscribed(frame);
        case "ack": return this._onAck(frame);
        case "history": return this._onHistory(frame);
        case "pong":
          clearTimeout(this.timers.pong);
          this.timers.pong = null;
          this._schedulePing();
          return;
        case "error": return this._onError(frame);
        case "unsubscribed": return;
        default: this._emit(frame.type, frame); // presence, typing, read... for a richer UI
      }
    },

    _onEvent: function (ev) {
      var r = this.rooms.get(ev.room);
      if (!r || typeof ev.seq !== "number") return;
      if (r.subscribing) {
        r.buffer.push(ev); // resumed events: handled once `subscribed` tells whether they were cut
        return;
      }
      this._live(r, ev);
    },

    _live: function (r, ev) {
      if (ev.seq <= r.head) {
        // Old news, unless it fills a hole we are waiting for.
        if (r.gapFrom !== null && ev.seq >= r.gapFrom && this._mark(r, ev)) this._deliver(ev);
        return;
      }
      if (r.known && ev.seq > r.head + 1) this._fillGap(r, r.head + 1, ev.seq);
      r.head = ev.seq;
      r.known = true;
      if (this._mark(r, ev)) this._deliver(ev);
    },

    _onSubscribed: function (frame) {
      var self = this;
      this.subscribeRefs.forEach(function (room, id) {
        if (room === frame.room) self.subscribeRefs.delete(id);
      });
      var r = this.rooms.get(frame.room);
      if (!r) return;
      var first = !r.known;
      var buffered = r.buffer;
      r.buffer = [];
      r.subscribing = false;
      r.subscribed = true;
      var reset = false;
      var missing = r.resumeFrom === null ? 0 : frame.last_seq - r.resumeFrom;
      if (frame.truncated || missing > GAP_MAX || frame.last_seq < r.head) {
        // Too much to replay (or the room's log is not the one we knew): start the room over.
        reset = !first;
        r.seen = new Set();
        r.head = frame.last_seq;
        r.gapFrom = null;
        buffered = [];
      }
      if (first) r.head = Math.max(r.head, frame.last_seq);
      r.known = true;
      for (var i = 0; i < buffered.length; i++) this._live(r, buffered[i]);
      if (frame.last_seq > r.head) {
        // The server knows more than it sent us: fetch what is missing (not expected to happen).
        this._fillGap(r, r.head + 1, frame.last_seq + 1);
        r.head = frame.last_seq;
      }
      var waiters = r.waiters;
      r.waiters = [];
      var info = { room: r.slug, lastSeq: frame.last_seq, first: first, reset: reset };
      this._emit("subscribed", info);
      waiters.forEach(function (resolve) { resolve(info); });
      this._pump();
    },

    /** Fetch events with from <= seq < upto (a hole in the live stream), newest page first. */
    _fillGap: function (r, from, upto) {
      var self = this;
      if (upto - from > GAP_MAX) {
        r.seen = new Set();
        r.gapFrom = null;
        this._emit("subscribed", { room: r.slug, lastSeq: upto - 1, first: false, reset: true });
        return;
      }
      r.gapFrom = r.gapFrom === null ? from : Math.min(r.gapFrom, from);
      var fetchPage = function (before) {
        self._request(r.slug, "history", { before: before, limit: Math.min(HISTORY_MAX, before - from) }).then(function (events) {
          var lowest = before;
          events.forEach(function (ev) {
            lowest = Math.min(lowest, ev.seq);
            if (ev.seq >= from && self._mark(r, ev)) self._deliver(ev);
          });
          if (lowest > from && events.length > 0) fetchPage(lowest);
          else if (r.gapFrom === from) r.gapFrom = null;
        }, function () { /* the connection dropped: the resubscribe resumes from gapFrom */ });
      };
      fetchPage(upto);
    },

    _onAck: function (frame) {
      this.outbox.delete(frame.cid);
      if (this.inflight === frame.cid) {
        clearTimeout(this.timers_send.ack);
        this.inflight = null;
      }
      this._emit("ack", { room: frame.room, cid: frame.cid, seq: frame.seq });
      this._pump();
    },

    _onHistory: function (frame) {
      // Replies come in request order; take the oldest open history request of that room.
      var found = null;
      this.requests.forEach(function (req, id) {
        if (found === null && req.type === "history" && req.room === frame.room) found = id;
      });
      if (found === null) return;
      var req = this.requests.get(found);
      this.requests.delete(found);
      req.resolve(Array.isArray(frame.events) ? frame.events : []);
    },

    _onError: function (frame) {
      this._emit("error", frame);
      var ref = frame.ref;
      if (typeof ref !== "string") return;
      var req = this.requests.get(ref);
      if (req) {
        this.requests.delete(ref);
        req.reject(Object.assign(new Error(frame.detail || frame.code), { code: frame.code, retry_after: frame.retry_after }));
        return;
      }
      var room = this.subscribeRefs.get(ref);
      if (room !== undefined) {
        this.subscribeRefs.delete(ref);
        this._subscribeFailed(room, frame);
        return;
      }
      var item = this.outbox.get(ref);
      if (item) this._sendFailed(item, frame);
    },

    _subscribeFailed: function (room, frame) {
      var r = this.rooms.get(room);
      if (!r) return;
      var self = this;
      r.subscribing = false;
      r.buffer = [];
      this._emit("subscribe-failed", { room: room, code: frame.code, detail: frame.detail });
      if (frame.retry_after != null || frame.code === "server_error") {
        var after = Math.min(BACKOFF_CAP_MS, (frame.retry_after || 2) * 1000 + Math.random() * 1000);
        setTimeout(function () {
          if (r.wanted && self._isOpen() && !r.subscribing && !r.subscribed) self._subscribe(r);
        }, after);
      }
    },

    _sendFailed: function (item, frame) {
      if (this.inflight === item.cid) {
        clearTimeout(this.timers_send.ack);
        this.inflight = null;
      }
      var limited = frame.code === "rate_limited" || (frame.code === "server_error" && frame.retry_after != null);
      var retryable = limited || (frame.code === "server_error" && !FINAL_SEND_ERRORS[frame.code]);
      item.tries += 1;
      if (retryable && (limited || item.tries <= SEND_RETRY_LIMIT)) {
        // Rate limited or the database is away: wait as told (the same cid makes it safe).
        var base = frame.retry_after != null ? frame.retry_after * 1000 : 500 * Math.pow(2, item.tries);
        var after = Math.min(BACKOFF_CAP_MS, base + Math.random() * Math.min(250, base));
        item.state = "queued";
        this.holdUntil = Date.now() + after;
        this._emit("retrying", { room: item.room, cid: item.cid, code: frame.code, after: after });
      } else {
        item.state = "failed";
        this._emit("failed", { room: item.room, cid: item.cid, code: frame.code, detail: frame.detail });
      }
      this._pump();
    },

    // --- bookkeeping ----------------------------------------------------------------------

    _room: function (slug) {
      var r = this.rooms.get(slug);
      if (!r) {
        r = {
          slug: slug,
          wanted: false,
          known: false, // we have a `subscribed` for it: head is meaningful
          head: 0, // highest seq delivered
          gapFrom: null, // lowest seq of a hole being filled
          seen: new Set(),
          subscribing: false,
          subscribed: false,
          buffer: [],
          resumeFrom: null,
          waiters: []
        };
        this.rooms.set(slug, r);
      }
      return r;
    },

    /** True the first time this room+seq comes by. */
    _mark: function (r, ev) {
      if (r.seen.has(ev.seq)) return false;
      r.seen.add(ev.seq);
      return true;
    },

    _deliver: function (ev) {
      this._emit("event", ev);
    },

    _emit: function (name, data) {
      var fns = this.listeners[name];
      if (!fns) return;
      for (var i = 0; i < fns.length; i++) {
        try {
          fns[i](data);
        } catch (e) {
          if (global.console) global.console.error("parley: listener for " + name + " failed", e);
        }
      }
    }
  };

  global.ParleyClient = ParleyClient;
})(window);
