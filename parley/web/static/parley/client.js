/* Parley protocol v1 client (docs/protocol.md).
 *
 * One WebSocket carries every room. The client reconnects by itself (connection.js), resubscribes
 * each room from the last seq it holds, re-sends unacknowledged messages with the same cid
 * (outbox.js), never delivers one event twice, and repairs gaps with `history`. It also keeps
 * each room's online list and passes typing hints on (presence.js).
 *
 * No build step, no dependencies: load connection.js, outbox-store.js, outbox.js, presence.js and
 * this file with plain <script> tags, in that order, and use `new ParleyClient()`. With
 * `options.outboxKey` (one per user), unsent messages are kept in localStorage and re-sent by the
 * next page with the same cids (outbox-store.js); client.pending(room) lists a room's unsent ones.
 *
 * Events (client.on(name, fn)):
 *   status     {state: "connecting"|"live"|"reconnecting"|"signed-out"|"forbidden"|"closed",
 *               retryAt?: ms timestamp, attempt?: n, code?: close code}
 *   subscribed {room, lastSeq, first: bool, reset: bool}  (reset: the room must be reloaded)
 *   event      {room, seq, kind, user, ts, cid, body, reply_to}  (each room+seq once)
 *   pending    {room, cid, body, reply_to, files}     a send was queued
 *   ack        {room, cid, seq}
 *   failed     {room, cid, code, detail}              a send gave up (retry with client.retry(cid))
 *   retrying   {room, cid, code, after}               a send will be retried by itself
 *   presence   {room, online: [user], joined: [user], left: [user], snapshot: bool}
 *              online: everyone online in the room now (after applying the frame)
 *   typing     {room, user}                           someone else is typing in the room
 *   error      {code, detail, ref, retry_after, answered?}  every error frame (for notices);
 *              answered: it refused a client.act, whose promise rejects (the caller says why)
 *   revoked    {room}                                 the user lost access to the room (removed from it):
 *              nothing more of it arrives and it is not resubscribed
 *   rooms, room, activity, read, members, directory, mentions: those frames as they come (the
 *              sidebar's state and news, docs/protocol.md "Rooms, people and the sidebar")
 *
 * Actions: client.act(type, fields) -> Promise of the `ok` frame; client.ask(type, fields) ->
 * Promise of the answer frame (rooms, members, directory, mentions, search); client.read(room, seq);
 * client.page(room, fields): a window of a room's log (history after, around, at a date).
 */
(function (global) {
  "use strict";

  var HISTORY_MAX = 100;
  var GAP_MAX = 500; // a bigger hole resets the room instead of being filled page by page

  function ParleyClient(options) {
    options = options || {};
    var self = this;
    this.rooms = new Map(); // slug -> room state (see _room)
    this.requests = new Map(); // request id -> {room, resolve, reject, type}
    this.subscribeRefs = new Map(); // subscribe request id -> room
    this.listeners = {};
    this.nextRequest = 1;
    this.state = "idle";
    this.conn = new global.ParleyConnection(options.ws || "/ws/", options, {
      opened: function () { self._onOpen(); },
      frame: function (frame) { self._onFrame(frame); },
      closed: function () { self._onClose(); },
      status: function (state, extra) {
        self.state = state;
        var info = { state: state };
        if (extra) for (var k in extra) info[k] = extra[k];
        self._emit("status", info);
      }
    });
    this.outbox = new global.ParleyOutbox({
      send: function (frame) { return self.conn.send(frame); },
      isOpen: function () { return self.conn.isOpen(); },
      ready: function (room) {
        var r = self.rooms.get(room);
        return !r || r.subscribed;
      },
      emit: function (name, data) { self._emit(name, data); },
      stuck: function () { self.conn.drop("no ack"); }
    }, global.ParleyOutboxStore && options.outboxKey ? new global.ParleyOutboxStore(options.outboxKey) : null);
    this.outbox.restore(); // unsent messages of an earlier page: sent once connected
    this.presence = new global.ParleyPresence({
      send: function (frame) { return self.conn.send(frame); },
      emit: function (name, data) { self._emit(name, data); }
    });
  }

  ParleyClient.prototype = {
    // --- public API ---------------------------------------------------------------------

    on: function (name, fn) {
      (this.listeners[name] = this.listeners[name] || []).push(fn);
      return this;
    },

    connect: function () {
      this.conn.connect();
    },

    /** Follow a room. Resolves with {lastSeq} once the server confirmed the subscription. */
    subscribe: function (room) {
      var r = this._room(room);
      r.wanted = true;
      if (this.conn.isOpen() && !r.subscribing && !r.subscribed) this._subscribe(r);
      return new Promise(function (resolve) { r.waiters.push(resolve); });
    },

    unsubscribe: function (room) {
      var r = this.rooms.get(room);
      if (!r) return;
      r.wanted = false;
      this.rooms.delete(room);
      this.presence.forget(room);
      this.conn.send({ type: "unsubscribe", room: room });
    },

    /**
     * Post a message, with `files` (refs from the upload endpoint) if any. Returns its cid at
     * once; progress comes as pending/ack/failed events.
     */
    send: function (room, body, replyTo, files) {
      return this.outbox.add(room, body, replyTo, files);
    },

    /** Try a failed (or still pending) send again, with the same cid. */
    retry: function (cid) {
      if (!this.outbox.retry(cid)) return false;
      if (!this.conn.isOpen()) this.reconnectNow();
      return true;
    },

    /** Give up a failed send (the UI removed it). */
    discard: function (cid) {
      this.outbox.discard(cid);
    },

    /** The send queue: {waiting, holdUntil (ms; a rate limit or busy server), code}. */
    sendState: function () {
      return this.outbox.state();
    },

    /** A room's sends not acknowledged yet, [{room, cid, body, reply_to, at, state}] (queued, sent, failed). */
    pending: function (room) {
      return this.outbox.pending(room);
    },

    /**
     * Tell the room that we are typing. Call it on every keystroke: it sends at most one frame
     * per TYPING_EVERY_MS, and only while the room is subscribed. True if a frame went out.
     */
    typing: function (room) {
      var r = this.rooms.get(room);
      return !!r && r.subscribed && this.presence.typing(room);
    },

    /** The people online in a room, as last told by the server ([] before the first list). */
    online: function (room) {
      return this.presence.online(room);
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

    /**
     * A page of a room's log as the server has it, ascending: `fields` is {limit} and at most one
     * of before, after, around (seqs) or at (an ISO 8601 date-time). Unlike history(), events
     * already delivered are kept: a view that shows another window of the log dedupes by seq.
     */
    page: function (room, fields) {
      return this._request(room, "history", fields || {});
    },

    /**
     * An action frame (join, leave, room_create, invite, remove, ...: docs/protocol.md). Resolves
     * with the `ok` answer, rejects with an Error carrying `code` for an `error` answer.
     */
    act: function (type, fields) {
      return this._request(null, type, fields || {}, "ok");
    },

    /**
     * A question whose answer is a frame of its own type (rooms, members, directory, mentions).
     * Answers come in order per type; an error frame with our ref rejects.
     */
    ask: function (type, fields) {
      return this._request(null, type, fields || {}, type);
    },

    /** Change a message: edit its text (own), delete it (own, or as a room admin), react to it. */
    edit: function (room, seq, body) {
      return this.act("edit", { room: room, seq: seq, body: body });
    },

    remove: function (room, seq) {
      return this.act("delete", { room: room, seq: seq });
    },

    react: function (room, seq, emoji, on) {
      return this.act("react", { room: room, seq: seq, emoji: emoji, on: on !== false });
    },

    /** Move the read marker of a room forward (fire and forget: the echo is a `read` frame). */
    read: function (room, seq) {
      return this.conn.isOpen() && this.conn.send({ type: "read", room: room, seq: seq });
    },

    /** Skip the backoff wait and reconnect now (the "retry now" button, the browser going online). */
    reconnectNow: function () {
      this.conn.reconnectNow();
    },

    close: function () {
      this.conn.close();
    },

    // --- connection -----------------------------------------------------------------------

    _onOpen: function () {
      var self = this;
      this.rooms.forEach(function (r) {
        r.subscribed = false;
        r.subscribing = false;
        if (r.wanted) self._subscribe(r);
      });
      this.outbox.pump(); // sends for rooms we do not follow go now, the others after `subscribed`
    },

    _onClose: function () {
      this._failRequests("connection closed");
      this.subscribeRefs.clear();
      this.outbox.reset();
      this.presence.reset();
      this.rooms.forEach(function (r) {
        r.subscribed = false;
        r.subscribing = false;
      });
    },

    // --- frames out -----------------------------------------------------------------------

    _subscribe: function (r) {
      var frame = { type: "subscribe", room: r.slug };
      if (r.known) frame.since = r.gapFrom !== null ? r.gapFrom - 1 : r.head;
      r.subscribing = true;
      r.buffer = [];
      r.resumeFrom = frame.since === undefined ? null : frame.since;
      frame.cid = "s" + this.nextRequest++; // an error frame's ref names this subscribe
      this.subscribeRefs.set(frame.cid, r.slug);
      this.conn.send(frame);
    },

    _request: function (room, type, fields, answer) {
      var self = this;
      var id = "r" + this.nextRequest++;
      return new Promise(function (resolve, reject) {
        if (!self.conn.isOpen()) {
          reject(new Error("not connected"));
          return;
        }
        var frame = { type: type, cid: id }; // the cid makes an error frame's ref point here
        if (room !== null) frame.room = room;
        for (var k in fields) if (fields[k] !== undefined && fields[k] !== null) frame[k] = fields[k];
        self.requests.set(id, { room: frame.room, type: type, answer: answer || type, resolve: resolve, reject: reject });
        self.conn.send(frame);
      });
    },

    _failRequests: function (why) {
      this.requests.forEach(function (req) { req.reject(new Error(why)); });
      this.requests.clear();
    },

    // --- frames in ------------------------------------------------------------------------

    _onFrame: function (frame) {
      switch (frame.type) {
        case "event": return this._onEvent(frame);
        case "subscribed": return this._onSubscribed(frame);
        case "ack":
          // A change (edit, delete, react) answered with our request's cid; else a send's ack.
          if (this.requests.has(frame.cid) && this.requests.get(frame.cid).answer === "ok") return this._onAnswer(frame, frame.cid);
          return this.outbox.acked(frame);
        case "history": return this._onHistory(frame);
        case "presence":
          if (this.rooms.has(frame.room)) this.presence.presenceFrame(frame);
          return;
        case "typing":
          if (this.rooms.has(frame.room)) this.presence.typingFrame(frame);
          return;
        case "error": return this._onError(frame);
        case "unsubscribed": return this._onUnsubscribed(frame);
        case "ok": return this._onAnswer(frame, frame.ref);
        case "rooms":
        case "members":
        case "directory":
        case "mentions":
        case "search":
          this._onAnswer(frame, null);
          return this._emit(frame.type, frame);
        default: this._emit(frame.type, frame); // room, read, activity: the sidebar's news
      }
    },

    _onUnsubscribed: function (frame) {
      // Unasked, with a reason: the server dropped the room (the user lost access to it).
      var r = this.rooms.get(frame.room);
      if (!r || frame.reason !== "access_revoked") return;
      r.wanted = false;
      r.subscribed = false;
      r.subscribing = false;
      r.buffer = [];
      this.presence.presenceFrame({ room: frame.room, online: [] }); // who is there is no longer ours to see
      this.presence.forget(frame.room);
      this._emit("revoked", { room: frame.room });
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
      this.outbox.pump();
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

    _onHistory: function (frame) {
      // Replies come in request order; take the oldest open history request of that room.
      var found = null;
      this.requests.forEach(function (req, id) {
        if (found === null && req.answer === "history" && req.room === frame.room) found = id;
      });
      if (found === null) return;
      var req = this.requests.get(found);
      this.requests.delete(found);
      req.resolve(Array.isArray(frame.events) ? frame.events : []);
    },

    /** An `ok` (by ref) or a question's answer (the oldest open one of that type). */
    _onAnswer: function (frame, ref) {
      var found = null;
      if (ref !== null) {
        var byRef = this.requests.get(ref);
        if (byRef && byRef.answer === "ok") found = ref;
      } else {
        this.requests.forEach(function (req, id) {
          if (found === null && req.answer === frame.type) found = id;
        });
      }
      if (found === null) return;
      var req = this.requests.get(found);
      this.requests.delete(found);
      req.resolve(frame);
    },

    _onError: function (frame) {
      var ref = frame.ref;
      var req = typeof ref === "string" ? this.requests.get(ref) : undefined;
      this._emit("error", req && req.answer === "ok" ? Object.assign({ answered: true }, frame) : frame);
      if (typeof ref !== "string") return;
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
      this.outbox.error(frame);
    },

    _subscribeFailed: function (room, frame) {
      var r = this.rooms.get(room);
      if (!r) return;
      var self = this;
      r.subscribing = false;
      r.buffer = [];
      this._emit("subscribe-failed", { room: room, code: frame.code, detail: frame.detail });
      if (frame.retry_after != null || frame.code === "server_error") {
        var cap = global.ParleyConnection.BACKOFF_CAP_MS;
        var after = Math.min(cap, (frame.retry_after || 2) * 1000 + Math.random() * 1000);
        setTimeout(function () {
          if (r.wanted && self.conn.isOpen() && !r.subscribing && !r.subscribed) self._subscribe(r);
        }, after);
      }
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
