/* Parley: one WebSocket that keeps itself alive (used by client.js).
 *
 * Reconnects by itself with exponential backoff and full jitter, notices a dead (half-open)
 * socket with a ping/pong heartbeat, and wakes up when the browser comes back online or the tab
 * becomes visible. It knows nothing about rooms or messages: it hands parsed frames to its host.
 *
 * The heartbeat: any frame from the server proves the socket alive. After IDLE_PING_MS with
 * nothing received, a `ping` goes out; no frame at all within PONG_TIMEOUT_MS of it and the
 * socket is dropped (status "reconnecting"). So a dead network shows within 4.5 s while the tab
 * is visible. The cost for an idle visible tab is one ~35-byte ping and its pong every ~2 s; a
 * hidden tab pings only every HIDDEN_PING_MS (browsers throttle its timers anyway) and pings at
 * once when it becomes visible again, or when the browser reports going offline.
 *
 *   new ParleyConnection(url, options, host)
 *   host.opened()              the socket is open (resubscribe, re-send)
 *   host.frame(frame)          every parsed JSON object frame with a string "type" (not "pong")
 *   host.closed(code, reason)  the socket is gone (fail requests, requeue sends)
 *   host.status(state, extra)  "connecting"|"live"|"reconnecting"|"signed-out"|"forbidden"|"closed"
 */
(function (global) {
  "use strict";

  var BACKOFF_BASE_MS = 750;
  var BACKOFF_CAP_MS = 20000;
  var HEALTHY_AFTER_MS = 10000; // connected this long: the backoff starts over
  var IDLE_PING_MS = 2000; // nothing received this long (tab visible): ping
  var HIDDEN_PING_MS = 25000; // the same while the tab is hidden
  var PONG_TIMEOUT_MS = 2500; // nothing received this long after a ping: the socket is dead

  function wsUrl(path) {
    if (/^wss?:\/\//.test(path)) return path;
    var scheme = global.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + global.location.host + (path || "/ws/");
  }

  function ParleyConnection(url, options, host) {
    options = options || {};
    this.url = wsUrl(url || "/ws/");
    this.pingEveryMs = options.pingEveryMs || IDLE_PING_MS;
    this.hiddenPingMs = options.hiddenPingMs || HIDDEN_PING_MS;
    this.pongTimeoutMs = options.pongTimeoutMs || PONG_TIMEOUT_MS;
    this.lastFrameAt = 0; // when the socket last delivered anything
    this.host = host;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.retryAt = 0;
    this.stopped = false;
    this.timers = { reconnect: null, ping: null, pong: null, healthy: null };
    var self = this;
    this._onOnline = function () { self.reconnectNow(); };
    this._onOffline = function () { if (self.isOpen()) self._ping(); }; // let the pong deadline decide
    this._onVisible = function () {
      if (global.document.visibilityState === "visible") self._wake();
    };
    global.addEventListener("online", this._onOnline);
    global.addEventListener("offline", this._onOffline);
    global.document.addEventListener("visibilitychange", this._onVisible);
  }

  ParleyConnection.BACKOFF_CAP_MS = BACKOFF_CAP_MS;

  ParleyConnection.prototype = {
    connect: function () {
      this.stopped = false;
      if (this.ws) return;
      this._open();
    },

    isOpen: function () {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    },

    /** Send one frame (an object) if the socket is open; false otherwise. */
    send: function (frame) {
      if (!this.isOpen()) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    },

    /** Skip the backoff wait and reconnect now (the "retry now" button, the browser going online). */
    reconnectNow: function () {
      if (this.stopped || this.state === "signed-out" || this.state === "forbidden") return;
      if (this.ws) return;
      clearTimeout(this.timers.reconnect);
      this._open();
    },

    /** Forget the socket without waiting for a close handshake (a half-open socket never ends). */
    drop: function (why) {
      var ws = this.ws;
      if (!ws) return;
      why = why || "heartbeat timeout";
      try { ws.close(4000, why); } catch (e) { /* ignore */ }
      this._onClose(1006, why);
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

    // --- internals --------------------------------------------------------------------------

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
      this.lastFrameAt = Date.now();
      this._schedulePing();
      this.host.opened();
    },

    _onMessage: function (text) {
      // Whatever arrives proves the socket alive: a pong is not needed (busy rooms send none).
      this.lastFrameAt = Date.now();
      if (this.timers.pong) {
        clearTimeout(this.timers.pong);
        this.timers.pong = null;
        this._schedulePing();
      }
      var frame;
      try {
        frame = JSON.parse(text);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "pong") return;
      this.host.frame(frame);
    },

    _onClose: function (code, reason) {
      this._detach();
      this._clearTimers();
      this.host.closed(code, reason);
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
      else if (this.isOpen()) this._ping();
    },

    /** Ping once nothing has arrived for the idle time (checked when the timer fires, so a busy
     * socket costs one timer per idle period, not one per frame). */
    _schedulePing: function () {
      var self = this;
      clearTimeout(this.timers.ping);
      var idle = global.document.visibilityState === "hidden" ? this.hiddenPingMs : this.pingEveryMs;
      var wait = Math.max(0, this.lastFrameAt + idle - Date.now());
      this.timers.ping = setTimeout(function () {
        self.timers.ping = null;
        var quiet = Date.now() - self.lastFrameAt;
        var limit = global.document.visibilityState === "hidden" ? self.hiddenPingMs : self.pingEveryMs;
        if (quiet >= limit - 5) self._ping();
        else self._schedulePing();
      }, wait);
    },

    _ping: function () {
      var self = this;
      if (!this.isOpen()) return;
      clearTimeout(this.timers.ping);
      if (!this.timers.pong) {
        this.timers.pong = setTimeout(function () {
          self.timers.pong = null;
          self.drop("heartbeat timeout");
        }, this.pongTimeoutMs);
      }
      this.send({ type: "ping", t: Date.now() });
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
      this.host.status(state, extra);
    }
  };

  global.ParleyConnection = ParleyConnection;
})(window);
