// jiralink web app: forms and buttons marked data-api="METHOD /path" call the JSON API with the
// page's CSRF token; sync progress arrives as server-sent events, an access audit's end is polled.
// No inline script anywhere.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";

  function call(spec, body) {
    var sp = spec.split(" ");
    var opts = { method: sp[0], headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(sp[1], opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, json: j }; });
    });
  }

  function text(el, cls, t) {
    el.className = "result " + cls;
    el.textContent = t;
  }

  function show(el, res, how) {
    if (!el) return;
    var j = res.json;
    if (how === "report" && res.ok) {
      el.innerHTML = "";
      var p = document.createElement("p");
      if (j.ok) {
        p.className = "ok";
        p.dataset.code = "ok";
        p.textContent = "ok: " + (j.deployment ? j.deployment.kind + " " + j.deployment.version + ", " : "") + "as " + ((j.account && j.account.display_name) || "the account") + " (" + j.timings.requests + " requests)";
        el.appendChild(p);
      } else {
        p.className = "bad";
        p.dataset.code = j.code;
        p.innerHTML = "<b></b><br>Cause: <span class=cause></span><br>Fix: <span class=fix></span>";
        p.querySelector("b").textContent = j.code;
        p.querySelector(".cause").textContent = j.cause || "";
        p.querySelector(".fix").textContent = j.fix || "";
        el.appendChild(p);
      }
      return;
    }
    if (how === "token" && res.ok) {
      text(el, "ok", "Your token (shown once, copy it now): " + j.token);
      return;
    }
    if (res.ok) { text(el, "ok", "done"); return; }
    var m = (j.message || ("HTTP " + res.status));
    var code = m.split(":")[0];
    el.className = "result bad";
    el.dataset.code = j.error === "connection_failed" ? code : (j.error || "");
    el.textContent = (j.error || "error") + ": " + m;
  }

  function then(target, res) {
    if (!res.ok || !target) return false;
    if (target === "reload") { location.reload(); return true; }
    location.href = target;
    return true;
  }

  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (e) {
      if (!e.name || e.disabled || e.value === "") return;
      body[e.name] = e.value;
    });
    return body;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.dataset.api) return;
    ev.preventDefault();
    var out = form.querySelector("[data-result]");
    if (out) text(out, "busy", "working…");
    var sel = form.querySelector("select[data-kind]");
    if (sel && sel.value === "oauth1") {
      // OAuth 1.0a: a request token and its approval link, then the verifier Jira shows.
      var step = form.querySelector("[data-oauth1-step]");
      var finishing = ev.submitter && ev.submitter.hasAttribute("data-oauth1-finish");
      if (finishing && form.dataset.pending) {
        call("POST /api/oauth1/finish", { pending: form.dataset.pending, verifier: (form.elements.verifier || {}).value || "" }).then(function (res) {
          if (!then("reload", res)) show(out, res);
        });
        return;
      }
      var body = formBody(form);
      delete body.verifier;
      call("POST /api/oauth1/start", body).then(function (res) {
        if (!res.ok) { show(out, res); return; }
        form.dataset.pending = res.json.pending;
        var a = step.querySelector("[data-oauth1-link]");
        a.href = res.json.authorize_url;
        a.textContent = "the approval page";
        step.hidden = false;
        text(out, "ok", "approve in Jira, then give the verification code");
      });
      return;
    }
    if (sel && sel.value === "oauth2") {
      // OAuth 2.0: the app gives the authorization URL; the browser goes to the consent page.
      call("POST /api/oauth2/start", formBody(form)).then(function (res) {
        if (res.ok) { location.href = res.json.authorize_url; } else { show(out, res); }
      });
      return;
    }
    call(form.dataset.api, formBody(form)).then(function (res) {
      if (form.hasAttribute("data-sync-form") && res.ok) { watch(res.json.id); show(out, res); return; }
      if (form.hasAttribute("data-audit-form") && res.ok) { audit(res.json.id, out); return; }
      if (!then(form.dataset.then, res)) show(out, res, form.dataset.show);
    });
  });

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button[data-api]") : null;
    if (b) {
      if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
      var tile = b.closest("[data-credential]") || b.parentNode;
      var out = tile.querySelector(":scope > [data-result]") || tile.querySelector("[data-result]");
      if (out) text(out, "busy", "working…");
      call(b.dataset.api).then(function (res) {
        if (!then(b.dataset.then, res)) show(out, res, b.dataset.show);
      });
      return;
    }
    if (ev.target.closest && ev.target.closest("[data-signout]")) {
      call("DELETE /api/session").then(function () { location.href = "/signin"; });
    }
  });

  // The add form shows the fields of the chosen auth kind only.
  function kinds() {
    var sel = document.querySelector("select[data-kind]");
    if (!sel) return;
    document.querySelectorAll("[data-kinds]").forEach(function (el) {
      var on = el.dataset.kinds.split(" ").indexOf(sel.value) >= 0;
      el.hidden = !on;
      el.querySelectorAll("input, textarea").forEach(function (i) { i.disabled = !on; });
      if (el.tagName === "BUTTON") el.disabled = !on;
    });
    var step = document.querySelector("[data-oauth1-step]");
    if (step && sel.value !== "oauth1") step.hidden = true;
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches("select[data-kind]")) kinds();
    if (ev.target.matches("[data-autosubmit]")) ev.target.form.submit();
  });
  kinds();

  // An access audit run from the page: polled until it ends, then the page shows the new audit.
  function audit(id, out) {
    call("GET /api/audits/" + id).then(function (res) {
      var s = res.json;
      if (res.ok && s.status === "running") { setTimeout(function () { audit(id, out); }, 500); return; }
      if (res.ok && s.status === "ok") { location.reload(); return; }
      if (!out) return;
      out.className = "result bad";
      out.dataset.code = s.error ? s.error.code : (s.error || "");
      out.textContent = s.error && s.error.code ? s.error.code + ": " + s.error.cause + " Fix: " + s.error.fix : ((s.error || "error") + ": " + (s.message || ""));
    });
  }

  // Live progress of a sync run.
  function watch(id) {
    var box = document.getElementById("progress");
    if (!box) return;
    box.hidden = false;
    var bar = box.querySelector("progress"), line = box.querySelector("[data-progress]");
    var es = new EventSource("/api/syncs/" + id + "/events");
    function paint(s) {
      var p = s.progress, total = p.issues_expected || p.issues_planned || 0;
      bar.max = Math.max(total, 1);
      bar.value = Math.min(p.issues_written, bar.max);
      line.textContent = "run " + s.id + " · " + s.status + " · " + p.phase + " · projects " + p.projects_done + "/" + p.projects + " · issues " + p.issues_written + (total ? "/" + total : "");
      box.dataset.status = s.status;
    }
    es.addEventListener("progress", function (e) { paint(JSON.parse(e.data)); });
    es.addEventListener("end", function (e) {
      var s = JSON.parse(e.data);
      paint(s);
      if (s.status === "ok") { bar.value = bar.max; line.textContent += " · done: " + s.summary.issues_written + " issues written"; }
      else if (s.error) { line.textContent += " · " + s.error.code + ": " + s.error.cause + " Fix: " + s.error.fix; }
      es.close();
    });
  }
})();
