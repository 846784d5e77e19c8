/* Parley room page: one line above the composer that says what the send queue is doing.
 *
 *   ParleyUI.sending({client, node, stage}) -> {render()}
 *
 * A send refused with `rate_limited` (or a busy server's `retry_after`) holds the whole queue
 * until the time the server gave. Instead of a spinner on every waiting message with no reason
 * given, the page shows one line: "Sending too fast: 12 messages waiting, sending in 3 s", counted
 * down. Once the rate limit has answered, the line stays until the queue is empty (a flood is
 * held many times, briefly: the line does not flicker), and the waiting messages are only dimmed
 * meanwhile (no "sending…" and spinner under each), as while the connection is down (the
 * `sends-held` class on `stage`).
 * Without either, the line shows only for a long queue.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var LONG_QUEUE = 4; // messages waiting without a hold: say so from this many

  function count(n) {
    return n === 1 ? "1 message" : n + " messages";
  }

  ui.sending = function (opts) {
    var client = opts.client;
    var node = opts.node;
    var stage = opts.stage;
    var timer = null;
    var limited = false; // the rate limit answered since the queue was last empty

    function text(s, now) {
      if (s.waiting === 0) return "";
      if (client.state !== "live") return count(s.waiting) + " waiting: sent when the connection is back.";
      var why = limited ? "Sending too fast" : "The server is busy";
      if (s.holdUntil > now) {
        var secs = Math.max(1, Math.ceil((s.holdUntil - now) / 1000));
        return why + ": " + count(s.waiting) + " waiting, sending in " + secs + " s.";
      }
      if (limited) return why + ": " + count(s.waiting) + " waiting, sending as the limit allows.";
      return s.waiting >= LONG_QUEUE ? "Sending " + count(s.waiting) + "…" : "";
    }

    function render() {
      var s = client.sendState();
      var now = Date.now();
      if (s.waiting === 0) limited = false;
      var line = text(s, now);
      if (node.textContent !== line) node.textContent = line;
      node.hidden = line === "";
      stage.classList.toggle("sends-held", s.waiting > 0 && (limited || s.holdUntil > now || client.state !== "live"));
      clearTimeout(timer);
      timer = null;
      if (s.waiting > 0) {
        // on the next whole second of the countdown, or soon if the queue is just moving
        var next = s.holdUntil > now ? (s.holdUntil - now) % 1000 || 1000 : 1000;
        timer = setTimeout(render, next + 20);
      }
    }

    client.on("retrying", function (info) {
      if (info.code === "rate_limited") limited = true;
    });
    ["pending", "ack", "retrying", "failed", "status"].forEach(function (name) { client.on(name, render); });
    render();
    return { render: render };
  };
})(window);
