/* The till page: camera QR scanning (BarcodeDetector, else the vendored jsQR) and the live quote. */
(function () {
  "use strict";
  /* Django's JavaScript catalog (/jsi18n/, loaded before this file) translates; without it, English. */
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (match, name) { return String(values[name]); });
  };

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* --- camera scanning ---------------------------------------------------------------------- */
  var scanButton = document.getElementById("scan-button");
  var scanner = document.getElementById("scanner");
  var video = document.getElementById("camera");
  var canvas = document.getElementById("camera-frame");
  var statusLine = document.getElementById("scan-status");
  var field = document.getElementById("id_q");
  var stream = null;
  var detector = null;

  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    if (scanner) { scanner.classList.add("hidden"); }
  }

  function found(text) {
    try { sessionStorage.setItem("tillDecoder", detector ? "BarcodeDetector" : "jsQR"); } catch (e) { /* private mode */ }
    stopCamera();
    field.value = text;
    document.getElementById("search-form").submit();
  }

  function scanFrame() {
    if (!stream) { return; }
    if (video.readyState < 2) { requestAnimationFrame(scanFrame); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) { found(codes[0].rawValue); } else { requestAnimationFrame(scanFrame); }
      }).catch(function () { detector = null; requestAnimationFrame(scanFrame); });
      return;
    }
    if (typeof window.jsQR !== "function") { statusLine.textContent = gettext("No QR decoder is available."); return; }
    var width = video.videoWidth, height = video.videoHeight;
    canvas.width = width; canvas.height = height;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height);
    var image = context.getImageData(0, 0, width, height);
    var code = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
    if (code && code.data) { found(code.data); } else { setTimeout(function () { requestAnimationFrame(scanFrame); }, 120); }
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      alert(gettext("This browser cannot use the camera here (it needs HTTPS). Type or scan the number instead."));
      return;
    }
    scanner.classList.remove("hidden");
    statusLine.textContent = gettext("Point the camera at the member's QR code.");
    var ready = Promise.resolve();
    if ("BarcodeDetector" in window) {
      ready = window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") !== -1) { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); }
      }).catch(function () { detector = null; });
    }
    ready.then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () { requestAnimationFrame(scanFrame); })
      .catch(function (error) { statusLine.textContent = interpolate(gettext("Camera unavailable: %(error)s"), { error: error.message }, true); });
  }

  if (scanButton && scanner) {
    scanButton.addEventListener("click", startCamera);
    document.getElementById("scan-stop").addEventListener("click", stopCamera);
  }

  /* --- keyboard: Esc anywhere goes back to the search field (a scanner then types and presses
     Enter to find); on the member panel the amount has the focus, and Enter confirms. ---------- */
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && field) {
      stopCamera();
      field.focus();
      field.select();
    }
  });

  /* --- live quote ---------------------------------------------------------------------------- */
  var form = document.getElementById("purchase-form");
  if (!form) { return; }
  var box = document.getElementById("quote");
  var timer = null;
  var sequence = 0;

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* the purchase form's labels, for the quote's field errors */
  var FIELD_LABELS = {
    amount: gettext("Amount"),
    currency: gettext("Currency"),
    coupon_code: gettext("Coupon"),
    redeem_points: gettext("Points to redeem")
  };

  function renderQuote(q) {
    var rows = [
      [gettext("Discount"), q.discount.amount + " " + q.discount.currency],
      [gettext("Points used"), q.points_to_redeem],
      [gettext("To pay"), q.amount_due.amount + " " + q.amount_due.currency],
      [gettext("Points earned"), "+" + q.points_to_earn],
      [gettext("Most points usable"), q.max_redeemable_points]
    ];
    var html = "<dl>";
    rows.forEach(function (r) { html += "<dt>" + escapeHtml(r[0]) + "</dt><dd>" + escapeHtml(r[1]) + "</dd>"; });
    html += "</dl>";
    if (q.applied && q.applied.length) {
      html += '<ul class="muted" style="margin:.4rem 0 0;padding-left:1.1rem">';
      q.applied.forEach(function (line) { html += "<li>" + escapeHtml(line.description) + "</li>"; });
      html += "</ul>";
    }
    box.innerHTML = html;
    box.dataset.state = "ok";
  }

  function renderError(message) {
    box.innerHTML = '<span class="notice error" style="display:block;margin:0">' + escapeHtml(message) + "</span>";
    box.dataset.state = "error";
  }

  function requestQuote() {
    var amount = form.querySelector("[name=amount]").value.trim();
    if (!amount) { box.innerHTML = '<span class="muted">' + escapeHtml(gettext("Enter an amount to see the quote.")) + "</span>"; box.dataset.state = ""; return; }
    var mine = ++sequence;
    box.dataset.state = "loading";
    fetch(form.dataset.quoteUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), "X-Requested-With": "fetch" },
      body: new FormData(form)
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (mine !== sequence) { return; }
      if (result.ok) { renderQuote(result.body); } else {
        var error = result.body.error || {};
        var message = error.message || gettext("The quote failed.");
        if (error.fields) {
          Object.keys(error.fields).forEach(function (name) {
            var label = FIELD_LABELS[name] || name.replace(/_/g, " ");
            message += " " + label + ": " + error.fields[name].join(" ");
          });
        }
        renderError(message);
      }
    }).catch(function () { if (mine === sequence) { renderError(gettext("The quote could not be fetched. Check the connection.")); } });
  }

  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(requestQuote, 250); });
  var couponField = form.querySelector("[name=coupon_code]");
  var couponButtons = document.querySelectorAll(".use-coupon");
  function markCoupon() {
    couponButtons.forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.code === couponField.value.trim().toUpperCase()));
    });
  }
  couponButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      couponField.value = button.dataset.code;
      markCoupon();
      requestQuote();
      form.querySelector("[name=amount]").focus();
    });
  });
  couponField.addEventListener("input", markCoupon);
  markCoupon();
  form.addEventListener("submit", function () { document.getElementById("confirm-purchase").disabled = true; });
  if (form.querySelector("[name=amount]").value) { requestQuote(); }
})();
