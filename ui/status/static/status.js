// The live status page: renders the trader's snapshot (server-sent events, /api/events) and sends
// the guarded controls with the token as a Bearer header. Data is only ever set as text, never
// as markup. The token comes from the page address (#token=...), is kept for this tab only
// (sessionStorage) and removed from the address bar at once.
"use strict";

var TOKEN_KEY = "day-trader-control-token";
var updates = 0;

function $(id) { return document.getElementById(id); }

function money(value) {
  if (value === null || value === undefined || isNaN(value)) { return "—"; }
  var text = Math.abs(value).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  return (value > 0 ? "+" : value < 0 ? "-" : "") + text;
}

function price(value) {
  return (value === null || value === undefined) ? "—" : Number(value).toFixed(2);
}

function clock(iso) {
  if (!iso) { return "—"; }
  var match = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return match ? match[1] : String(iso);
}

function signClass(value) { return value > 0 ? "pos" : value < 0 ? "neg" : ""; }

function setBadge(id, text, level) {
  var el = $(id);
  el.textContent = text;
  el.className = "badge " + level;
}

function cell(row, text, css) {
  var td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (css) { td.className = css; }
  row.appendChild(td);
  return td;
}

function fill(tableId, items, build, keyOf) {
  var body = $(tableId).tBodies[0];
  body.textContent = "";
  items.forEach(function (item) {
    var row = document.createElement("tr");
    if (keyOf) { row.setAttribute("data-symbol", keyOf(item)); }
    build(row, item);
    body.appendChild(row);
  });
  $(tableId + "-empty").classList.toggle("hidden", items.length > 0);
}

function describeExit(exit) {
  // take-profit (LMT), stop (STP), and the broker-held backstop market sell (MKT, good after)
  var level = exit.type === "STP" ? "stop " + price(exit.stop)
    : exit.type === "LMT" ? "target " + price(exit.limit)
    : exit.type === "MKT" ? "backstop sell" : exit.type;
  var after = exit.good_after ? " from " + clock(exit.good_after) : "";
  return exit.qty + " " + level + after + " (" + exit.status + ")";
}

function render(s) {
  updates += 1;
  document.body.setAttribute("data-updates", String(updates));
  $("day").textContent = s.day || "—";
  $("clock").textContent = clock(s.time);
  var conn = s.connection || "unknown";
  setBadge("connection", "IB " + conn, conn === "lost" ? "bad" : conn === "restored" ? "warn" : "ok");
  setBadge("reconnects", "reconnects " + (s.reconnects || 0), s.reconnects ? "warn" : "muted");
  if (s.flattening && s.flat_at) {
    setBadge("entries", "flat: entries stopped until resumed", "warn");
  } else if (s.flattening) {
    setBadge("entries", "flattening…", "bad");
  } else if (s.entries_paused) {
    setBadge("entries", "entries paused: " + s.entries_paused, "warn");
  } else {
    setBadge("entries", "entries open", "ok");
  }
  setBadge("flat", s.flat_at ? "flat at " + clock(s.flat_at) : "not flat yet", s.flat_at ? "ok" : "muted");

  var realized = Number(s.realized_pnl || 0), unrealized = Number(s.unrealized_pnl || 0);
  $("realized").textContent = money(realized);
  $("realized").className = "value " + signClass(realized);
  $("unrealized").textContent = money(unrealized);
  $("unrealized").className = "value " + signClass(unrealized);
  $("total").textContent = money(realized + unrealized);
  $("total").className = "value " + signClass(realized + unrealized);
  var trades = s.trades || [];
  $("trade-count").textContent = String(trades.length);
  var health = s.health;
  $("health").textContent = health ? health.status : "—";
  $("health").className = "value " + (health && health.status !== "normal" ? "neg" : "");
  $("health-detail").textContent = health ? clock(health.time) + " " + (health.detail || "") : "no health check yet";

  fill("positions", s.positions || [], function (row, p) {
    cell(row, p.symbol);
    cell(row, p.qty, "num");
    cell(row, price(p.avg_cost), "num");
    cell(row, price(p.last), "num");
    cell(row, money(p.unrealized), "num " + signClass(p.unrealized));
    var td = cell(row, "");
    (p.exits || []).forEach(function (exit) {
      var span = document.createElement("span");
      span.className = "exit";
      span.textContent = describeExit(exit);
      td.appendChild(span);
    });
    if (!(p.exits || []).length) { td.textContent = "NONE"; td.className = "neg"; }
  }, function (p) { return p.symbol; });

  var foreign = s.foreign_shares || {};
  var names = Object.keys(foreign).sort();
  $("foreign").textContent = names.length ? "not the bot's, seen and left alone: " +
    names.map(function (n) { return n + " " + foreign[n]; }).join(", ") : "";

  fill("orders", s.working_orders || [], function (row, o) {
    cell(row, o.order_ref); cell(row, o.symbol); cell(row, o.side); cell(row, o.type);
    cell(row, o.qty, "num"); cell(row, o.remaining, "num");
    cell(row, o.limit === null ? "" : price(o.limit), "num");
    cell(row, o.stop === null ? "" : price(o.stop), "num"); cell(row, o.status);
  }, function (o) { return o.symbol; });

  var decisions = s.decisions || {};
  var symbols = Object.keys(decisions).sort();
  fill("decisions", symbols, function (row, symbol) {
    var d = decisions[symbol] || {};
    cell(row, symbol); cell(row, clock(d.time)); cell(row, d.verdict); cell(row, d.reason);
  }, function (symbol) { return symbol; });

  fill("trades", trades.slice().reverse(), function (row, t) {
    cell(row, t.symbol); cell(row, t.qty, "num");
    cell(row, clock(t.entry_time)); cell(row, price(t.entry_price), "num");
    cell(row, clock(t.exit_time)); cell(row, price(t.exit_price), "num");
    cell(row, t.exit_reason); cell(row, money(t.pnl), "num " + signClass(t.pnl));
  }, function (t) { return t.symbol; });
}

function say(text, ok) {
  var el = $("message");
  el.textContent = text;
  el.className = "message " + (ok ? "ok" : "error");
}

function send(action) {
  var token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  var headers = token ? {"Authorization": "Bearer " + token} : {};
  return fetch("/api/" + action, {method: "POST", headers: headers, cache: "no-store"})
    .then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          say(action + ": " + body.result, true);
        } else {
          say(action + " refused (" + response.status + "): " + (body.error || "error"), false);
        }
      });
    })
    .catch(function (err) { say(action + " failed: " + err, false); });
}

function connect() {
  var source = new EventSource("/api/events");
  source.addEventListener("status", function (event) {
    setBadge("stream", "live", "ok");
    render(JSON.parse(event.data));
  });
  source.onerror = function () { setBadge("stream", "stream lost, retrying…", "bad"); };
}

function init() {
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("pause").addEventListener("click", function () { send("pause"); });
  $("resume").addEventListener("click", function () { send("resume"); });
  $("flatten").addEventListener("click", function () {
    if (window.confirm("Flatten now? This cancels the bot's orders and sells everything it owns at market.")) {
      send("flatten");
    }
  });
  fetch("/api/status", {cache: "no-store"}).then(function (r) { return r.json(); }).then(render)
    .catch(function () { /* the event stream will deliver the first snapshot */ });
  connect();
}

document.addEventListener("DOMContentLoaded", init);
