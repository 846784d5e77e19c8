/* Parley room page: small DOM and user helpers shared by messages.js, people.js and ui.js.
 *
 * Chat text (names, bodies) only ever goes into the page through textContent or text nodes.
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});

  /** A new element with a class and text (textContent: never parsed as HTML). */
  function el(tag, className, text) {
    var node = global.document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  /** The element with this id (the room page's hooks are ids). */
  function byId(id) {
    return global.document.getElementById(id);
  }

  /** One of eight colour classes, stable per user. */
  function hue(user) {
    var key = String(user && (user.id != null ? user.id : user.username) || "?");
    var h = 0;
    for (var i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    return "hue-" + (h % 8);
  }

  function displayName(user) {
    return (user && (user.name || user.username)) || "someone";
  }

  function initials(user) {
    var name = displayName(user).trim();
    var parts = name.split(/[\s._-]+/).filter(Boolean);
    var letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
    return Array.from(letters).slice(0, 2).join("").toUpperCase();
  }

  /** A round avatar: the user's picture when `user.avatar` is a URL, else their initials (also
   * when the picture cannot be loaded: an event keeps the URL it was posted with, and a replaced
   * picture's file is gone). Decorative: the name is always next to it. */
  function avatar(user, extraClass) {
    var node = el("div", "avatar " + hue(user) + (extraClass ? " " + extraClass : ""), initials(user));
    node.setAttribute("aria-hidden", "true");
    var url = user && typeof user.avatar === "string" ? user.avatar : "";
    if (url && /^(\/(?!\/)|https:\/\/)/.test(url)) { // a path on this site or an https URL, nothing else
      var img = global.document.createElement("img");
      img.className = "avatar-img";
      img.alt = "";
      img.decoding = "async";
      img.loading = "lazy";
      img.addEventListener("error", function () {
        node.classList.remove("has-img");
        img.remove();
      });
      img.src = url;
      node.classList.add("has-img");
      node.appendChild(img);
    }
    return node;
  }

  /** Guest names may already say so ("Guest 1234", "ann (guest)"): no second tag then. */
  function needsGuestTag(user) {
    return !!(user && user.guest && !/guest/i.test(displayName(user)));
  }

  /** The small tags after a name: "bot" for a bot account, "guest" for a guest (unless the
   * name says so already). Appended to `parent`. */
  function appendBadges(parent, user) {
    if (user && user.bot) parent.appendChild(el("span", "guest-tag bot-tag", "bot"));
    else if (needsGuestTag(user)) parent.appendChild(el("span", "guest-tag", "guest"));
  }

  ui.dom = {
    el: el,
    byId: byId,
    hue: hue,
    displayName: displayName,
    initials: initials,
    avatar: avatar,
    needsGuestTag: needsGuestTag,
    appendBadges: appendBadges
  };
})(window);
