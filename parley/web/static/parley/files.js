/* Parley room page: files in the composer and in messages.
 *
 * ParleyUI.attachments(host): the composer's tray. Files come from the "Attach files" button,
 * a drop onto the room, or a paste into the composer; each is uploaded at once to
 * POST /rooms/<slug>/files (multipart, the page's CSRF token) with its progress shown, and its
 * answer (a file ref) waits in the tray until the message is sent with `send`'s `files`.
 *   host: {room(): slug, csrf, max (bytes), button, picker (<input type=file>), tray (<ul>),
 *          drop (element), input (the composer's textarea), notice(text, kind), changed()}
 *   returns {ready(): [refs], busy(): bool, clear(), count()}
 *
 * ParleyUI.fileList(refs): the files of a message (image thumbnails that open the full picture,
 * other files as a chip with name and size), for messages.js.
 *
 * File names go into the page with textContent only; URLs are the server's (same origin).
 */
(function (global) {
  "use strict";

  var ui = (global.ParleyUI = global.ParleyUI || {});
  var FILES_MAX = 10;

  function el(tag, className, text) {
    return ui.dom.el(tag, className, text);
  }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function isImage(ref) {
    return /^image\/(png|jpeg|gif|webp)$/.test(ref.type || "") && ref.width > 0;
  }

  /** Same-origin paths only: a ref's url is the server's own. */
  function safePath(url) {
    return typeof url === "string" && /^\/files\/\d+\//.test(url) ? url : null;
  }

  ui.fileList = function (refs) {
    var box = el("div", "msg-files");
    (refs || []).forEach(function (ref) {
      var url = safePath(ref.url);
      if (!url) return;
      if (isImage(ref)) {
        var link = el("a", "file-image");
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
        link.setAttribute("aria-label", "Open the picture " + ref.name + " (" + size(ref.size) + ")");
        var img = el("img");
        img.alt = ref.name;
        img.src = safePath(ref.thumb) || url; // the full picture until the thumbnail is made
        img.loading = "lazy";
        var scale = Math.min(1, 360 / Math.max(ref.width, ref.height));
        img.width = Math.max(1, Math.round(ref.width * scale));
        img.height = Math.max(1, Math.round(ref.height * scale));
        img.dataset.thumb = ref.thumb ? "1" : "0";
        link.appendChild(img);
        box.appendChild(link);
      } else {
        var chip = el("a", "file-chip");
        chip.href = url;
        chip.setAttribute("download", ref.name);
        var icon = el("span", "file-icon");
        icon.setAttribute("aria-hidden", "true");
        chip.appendChild(icon);
        chip.appendChild(el("span", "file-name", ref.name));
        chip.appendChild(el("span", "file-size", size(ref.size)));
        box.appendChild(chip);
      }
    });
    box.hidden = !box.firstChild;
    return box;
  };

  ui.attachments = function (host) {
    var items = []; // {file, li, ref, xhr, room}
    var tray = host.tray;

    function changed() {
      tray.hidden = items.length === 0;
      host.changed();
    }

    function remove(item) {
      if (item.xhr) item.xhr.abort();
      item.li.remove();
      items = items.filter(function (i) { return i !== item; });
      changed();
    }

    function fail(item, text) {
      item.xhr = null;
      item.failed = true;
      host.notice(item.file.name + ": " + text, "error");
      remove(item);
    }

    function upload(file) {
      if (items.length >= FILES_MAX) {
        host.notice("At most " + FILES_MAX + " files per message.", "error");
        return;
      }
      var name = file.name || "pasted-image.png";
      if (file.size > host.max) {
        host.notice(name + " is " + size(file.size) + ": files can be at most " + size(host.max) + ".", "error");
        return;
      }
      var item = { file: file, ref: null, xhr: null, room: host.room() };
      var li = (item.li = el("li", "tray-item uploading"));
      li.appendChild(el("span", "tray-name", name));
      var bar = el("progress", "tray-progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Uploading " + name);
      li.appendChild(bar);
      var state = el("span", "tray-state", "0%");
      li.appendChild(state);
      var drop = el("button", "tray-remove", "×");
      drop.type = "button";
      drop.setAttribute("aria-label", "Remove " + name);
      drop.addEventListener("click", function () { remove(item); host.input.focus(); });
      li.appendChild(drop);
      tray.appendChild(li);
      items.push(item);
      changed();

      var form = new FormData();
      form.append("file", file, name);
      var xhr = (item.xhr = new XMLHttpRequest());
      xhr.open("POST", "/rooms/" + encodeURIComponent(item.room) + "/files");
      xhr.setRequestHeader("X-CSRFToken", host.csrf);
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.round((e.loaded / e.total) * 100);
        bar.value = pct;
        state.textContent = pct + "%";
      });
      xhr.addEventListener("load", function () {
        var answer = xhr.response || {};
        if (xhr.status === 201 && answer.id) {
          item.xhr = null;
          item.ref = answer;
          li.classList.remove("uploading");
          bar.remove();
          state.textContent = size(answer.size);
          changed();
        } else if (xhr.status === 413) {
          fail(item, answer.detail || "the file is too large");
        } else {
          fail(item, answer.detail || "the upload failed (" + xhr.status + ")");
        }
      });
      xhr.addEventListener("error", function () { fail(item, "the upload failed: check the connection"); });
      xhr.send(form);
    }

    function addAll(list) {
      Array.prototype.forEach.call(list || [], upload);
    }

    host.button.addEventListener("click", function () { host.picker.click(); });
    host.picker.addEventListener("change", function () {
      addAll(host.picker.files);
      host.picker.value = "";
      host.input.focus();
    });

    host.input.addEventListener("paste", function (e) {
      var files = e.clipboardData && e.clipboardData.files;
      if (files && files.length) {
        e.preventDefault(); // the picture, not its name as text
        addAll(files);
      }
    });

    function hasFiles(e) {
      return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") !== -1;
    }
    var depth = 0;
    host.drop.addEventListener("dragenter", function (e) {
      if (!hasFiles(e)) return;
      depth += 1;
      host.drop.classList.add("dropping");
    });
    host.drop.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (depth === 0) host.drop.classList.remove("dropping");
    });
    host.drop.addEventListener("dragover", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    host.drop.addEventListener("drop", function (e) {
      depth = 0;
      host.drop.classList.remove("dropping");
      if (!hasFiles(e)) return;
      e.preventDefault();
      addAll(e.dataTransfer.files);
      host.input.focus();
    });

    return {
      ready: function () {
        var here = host.room();
        return items.filter(function (i) { return i.ref && i.room === here; }).map(function (i) { return i.ref; });
      },
      busy: function () {
        return items.some(function (i) { return i.xhr !== null; });
      },
      count: function () { return items.length; },
      clear: function () {
        items.slice().forEach(remove);
      }
    };
  };
})(window);
