/* Parley room page: which part of a room's log its list shows. One per room pane, made by
 * messages.js, which owns the list itself.
 *
 *   ParleyUI.history({client, room, page, notice, pane, scroller, loadEarlier, view})
 *     -> {start(info), reset(), earlier(), latest(), jumpTo(seq), jumpToDate(isoString)}
 *
 * `view` is the list's side (messages.js): add(events), clear(), item(seq), oldest(), newest(),
 * head(), edge(reachedStart), bottom(), setDetached(on), isDetached(), setLoaded().
 *
 * The list is either at the live edge (attached: every event from its oldest one to the newest,
 * live events appended) or a window of older history (detached: after a jump to a message or a
 * date). A detached list ignores live events (messages.js counts them on the pill, which becomes
 * "Jump to latest"), loads newer pages as the reader scrolls down, and attaches again once it
 * reaches the newest event. Older pages load before the top is reached (an IntersectionObserver
 * on the top edge, with the "Load earlier messages" button as the keyboard way), in both modes.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var document = global.document;
  var AHEAD_PX = 800; // load the next page while this much is still left to scroll
  var HIGHLIGHT_MS = 4000;

  ui.history = function (opts) {
    var client = opts.client;
    var room = opts.room;
    var PAGE = opts.page;
    var notice = opts.notice;
    var scroller = opts.scroller;
    var loadEarlierBtn = opts.loadEarlier;
    var edgeTop = loadEarlierBtn.parentNode;
    var view = opts.view;

    var started = false; // the first subscribe came: the room's last seq is known
    var lastSeq = 0; // the room's newest seq as far as this pane knows
    var wanted = null; // a jump asked before the room was open: {seq} or {at}
    var generation = 0; // bumped whenever the window is replaced: older answers are dropped
    var loadingEarlier = false;
    var loadingLater = false;
    var latestFailed = false; // the newest page did not come (connection lost): ask at the next subscribe

    var later = document.createElement("button");
    later.type = "button";
    later.className = "load-later";
    later.textContent = "Load newer messages";
    later.hidden = true;
    scroller.appendChild(later);

    function newestKnown() {
      return Math.max(lastSeq, view.head());
    }

    function failed(what) {
      return function (err) {
        notice("Could not load " + what + ": " + err.message, "error");
      };
    }

    /** Replace what the list shows with `events`, detached unless they reach the newest. */
    function showWindow(events) {
      generation += 1;
      view.clear();
      view.add(events);
      var newest = events.length ? events[events.length - 1].seq : 0;
      setDetached(events.length > 0 && newest < newestKnown());
      view.edge(events.length === 0 || events[0].seq <= 1);
      view.setLoaded();
    }

    function setDetached(on) {
      view.setDetached(on);
      later.hidden = !on;
    }

    // --- the newest page ------------------------------------------------------------------

    /** The newest page. Cleared first and attached at once: live events that come while it
     * loads are placed, and the page fills in below them (each seq once). */
    function latest() {
      generation += 1;
      var mine = generation;
      setDetached(false);
      view.clear();
      latestFailed = false;
      return client.page(room, { limit: PAGE }).then(function (events) {
        if (mine !== generation) return;
        view.add(events);
        view.edge(events.length === 0 || events[0].seq <= 1);
        view.setLoaded();
        view.bottom();
        nearTop();
      }, function (err) {
        if (mine === generation) latestFailed = true;
        failed("messages")(err);
      });
    }

    // --- older pages: before the top is reached -------------------------------------------

    function earlier() {
      var oldest = view.oldest();
      if (loadingEarlier || !isFinite(oldest) || oldest <= 1 || loadEarlierBtn.hidden) return;
      loadingEarlier = true;
      loadEarlierBtn.disabled = true;
      loadEarlierBtn.textContent = "Loading…";
      var mine = generation;
      var more = false; // a page came with events: the next may follow at once (not after a failure)
      client.page(room, { before: oldest, limit: PAGE }).then(function (events) {
        if (mine !== generation) return;
        var height = scroller.scrollHeight;
        var top = scroller.scrollTop;
        view.add(events);
        scroller.scrollTop = top + (scroller.scrollHeight - height);
        view.edge(events.length === 0 || view.oldest() <= 1);
        more = events.length > 0;
      }, failed("earlier messages")).then(function () {
        loadingEarlier = false;
        loadEarlierBtn.disabled = false;
        loadEarlierBtn.textContent = "Load earlier messages";
        if (more) nearTop();
      });
    }

    /** Still close to the top after a page (short messages, a tall window): load another. */
    function nearTop() {
      if (scroller.offsetParent === null) return; // hidden pane
      var gap = scroller.getBoundingClientRect().top - edgeTop.getBoundingClientRect().bottom;
      if (gap < AHEAD_PX && !loadEarlierBtn.hidden) earlier();
    }

    // --- newer pages, while detached --------------------------------------------------------

    function laterPage() {
      if (loadingLater || !view.isDetached()) return;
      loadingLater = true;
      later.disabled = true;
      var mine = generation;
      var more = false; // a page came with events: the next may follow at once
      client.page(room, { after: view.newest(), limit: PAGE }).then(function (events) {
        if (mine !== generation) return;
        view.add(events);
        more = events.length > 0;
        // Attached once it holds the newest seq known (a live event counted meanwhile is fetched
        // by the next page, not skipped).
        if (view.newest() >= newestKnown()) setDetached(false);
      }, failed("newer messages")).then(function () {
        loadingLater = false;
        later.disabled = false;
        if (more && mine === generation && view.isDetached()) nearBottom();
      });
    }

    function nearBottom() {
      if (scroller.offsetParent === null) return;
      var gap = later.getBoundingClientRect().top - scroller.getBoundingClientRect().bottom;
      if (gap < AHEAD_PX) laterPage();
    }

    if ("IntersectionObserver" in global) {
      var watch = function (node, fn, margin) {
        new global.IntersectionObserver(function (entries) {
          if (entries.some(function (e) { return e.isIntersecting; })) fn();
        }, { root: scroller, rootMargin: margin }).observe(node);
      };
      watch(edgeTop, earlier, AHEAD_PX + "px 0px 0px 0px");
      watch(later, laterPage, "0px 0px " + AHEAD_PX + "px 0px");
    }
    loadEarlierBtn.addEventListener("click", earlier);
    later.addEventListener("click", laterPage);

    // --- jumps ----------------------------------------------------------------------------

    function reveal(seq, block) {
      var li = view.item(seq);
      if (!li) return false;
      li.scrollIntoView({ block: block || "center" });
      li.classList.add("jump-target");
      li.tabIndex = -1;
      li.focus({ preventScroll: true });
      setTimeout(function () { li.classList.remove("jump-target"); }, HIGHLIGHT_MS);
      return true;
    }

    /** Show the message `seq` (loading the history around it when the list lacks it). */
    function jumpTo(seq) {
      if (!started) {
        wanted = { seq: seq };
        return Promise.resolve();
      }
      if (reveal(seq)) return Promise.resolve();
      var mine = ++generation;
      return client.page(room, { around: seq, limit: PAGE }).then(function (events) {
        if (mine !== generation) return;
        showWindow(events);
        if (!reveal(seq)) {
          notice("That message is no longer there.", "info");
          if (!events.length) latest();
        }
      }, failed("that message"));
    }

    /** Show the room from the first event made on or after `at` (an ISO 8601 date-time). */
    function jumpToDate(at) {
      if (!started) {
        wanted = { at: at };
        return Promise.resolve();
      }
      var mine = ++generation;
      return client.page(room, { at: at, limit: PAGE }).then(function (events) {
        if (mine !== generation) return;
        if (!events.length) {
          notice("Nothing was said in #" + room + " after that date: showing the latest messages.", "info");
          return latest();
        }
        showWindow(events);
        reveal(events[0].seq, "start");
        nearTop();
      }, failed("that date"));
    }

    return {
      /** The room's subscribe answered (first time, or after a reset). */
      start: function (info) {
        lastSeq = Math.max(lastSeq, info.lastSeq);
        var first = !started;
        started = true;
        var jump = wanted;
        wanted = null;
        if (jump && jump.seq != null) return jumpTo(jump.seq);
        if (jump && jump.at) return jumpToDate(jump.at);
        if (first || info.reset || latestFailed) {
          if (info.lastSeq === 0) {
            view.edge(true);
            view.setLoaded();
            return Promise.resolve();
          }
          return latest();
        }
        return Promise.resolve();
      },
      reset: function () {
        generation += 1;
        setDetached(false);
      },
      earlier: earlier,
      latest: latest,
      jumpTo: jumpTo,
      jumpToDate: jumpToDate
    };
  };
})(window);
