/* Parley: who is online in each room, and typing hints (used by client.js).
 *
 * `presence` frames: `online` (after every `subscribed`) replaces a room's list; `joined` / `left`
 * change it, idempotently, keyed by user id (a `left` entry may carry only the id: what we knew
 * of that user fills it in). They are best effort: the server may drop them for a slow client,
 * and the next resubscribe brings a fresh list.
 *
 *   new ParleyPresence(host)
 *   host.send(frame) -> bool   write a frame if the socket is open
 *   host.emit(name, data)      presence {room, online, joined, left, snapshot} / typing {room, user}
 */
(function (global) {
  "use strict";

  var TYPING_EVERY_MS = 2200; // the server drops more than one typing frame per 2 s per room

  function isUser(u) {
    return !!u && typeof u === "object" && u.id != null;
  }

  function ParleyPresence(host) {
    this.host = host;
    this.rooms = new Map(); // slug -> {online: Map(user id -> user), typingSent: ms}
  }

  ParleyPresence.prototype = {
    /** The people online in a room, as last told by the server ([] before the first list). */
    online: function (room) {
      var p = this.rooms.get(room);
      return p ? Array.from(p.online.values()) : [];
    },

    /** Send `typing` unless one went out for this room less than TYPING_EVERY_MS ago. */
    typing: function (room) {
      var p = this._room(room);
      var now = Date.now();
      if (now - p.typingSent < TYPING_EVERY_MS) return false;
      if (!this.host.send({ type: "typing", room: room })) return false;
      p.typingSent = now;
      return true;
    },

    /** The socket closed: a new one may send typing at once. The lists stay until replaced. */
    reset: function () {
      this.rooms.forEach(function (p) { p.typingSent = 0; });
    },

    forget: function (room) {
      this.rooms.delete(room);
    },

    presenceFrame: function (frame) {
      var p = this._room(frame.room);
      var known = p.online;
      var snapshot = Array.isArray(frame.online);
      if (snapshot) {
        p.online = new Map();
        frame.online.filter(isUser).forEach(function (u) { p.online.set(u.id, u); });
      }
      var joined = (Array.isArray(frame.joined) ? frame.joined : []).filter(isUser);
      var left = (Array.isArray(frame.left) ? frame.left : []).filter(isUser).map(function (u) {
        var before = known.get(u.id);
        if (!before) return u;
        return Object.assign({}, before, u, { name: u.name || before.name, username: u.username || before.username });
      });
      joined.forEach(function (u) { p.online.set(u.id, Object.assign({}, p.online.get(u.id), u)); });
      left.forEach(function (u) { p.online.delete(u.id); });
      this.host.emit("presence", {
        room: frame.room, online: Array.from(p.online.values()), joined: joined, left: left, snapshot: snapshot
      });
    },

    typingFrame: function (frame) {
      var user = frame.user;
      if (!isUser(user)) return;
      var known = this._room(frame.room).online.get(user.id);
      if (known && !user.name) user = Object.assign({}, known, user);
      this.host.emit("typing", { room: frame.room, user: user });
    },

    _room: function (room) {
      var p = this.rooms.get(room);
      if (!p) {
        p = { online: new Map(), typingSent: 0 };
        this.rooms.set(room, p);
      }
      return p;
    }
  };

  global.ParleyPresence = ParleyPresence;
})(window);
