"""The Jinja2 template of the scoring report (inline CSS and JS: the file opens without a network).

The table's rows travel as JSON in a `<script type="application/json">` element and are drawn one page at a time
by a few lines of plain JS (sort, filter, paginate), so 100,000 rows stay a few MB and open instantly.
"""

REPORT_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="qclip-hf {{ version }}">
<title>{{ title }}</title>
<style>
  :root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg2:#f6f8fa; --accent:#0969da; --bad:#cf222e; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
         margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; }
  h1 { font-size: 24px; margin: 8px 0 4px; }
  h2 { font-size: 19px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
  h3 { font-size: 15px; margin: 0 0 6px; word-break: break-all; }
  .muted { color: var(--muted); }
  .note { color: var(--muted); font-size: 13px; margin: 4px 0 12px; }
  nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
  .stats { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
  .stat { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; background: var(--bg2); }
  .stat b { display: block; font-size: 20px; }
  .stat.failed b { color: var(--bad); }  /* only when something failed: "failed 0" is not an alarm */
  .plots { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
  .plots img { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
  .controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 8px 0; }
  .controls input[type=search] { width: 320px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; }
  .controls select, .controls button { padding: 4px 8px; }
  .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
  th, td { padding: 4px 6px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
  td.path { white-space: normal; overflow-wrap: anywhere; min-width: 200px; max-width: 460px; }
  /* Errors and warnings read in full on a line of their own under their row (never clipped at the right edge,
     never a row many lines tall). */
  tr.detail td { white-space: normal; overflow-wrap: anywhere; padding: 0 6px 4px 24px; font-size: 12px; }
  tr.detail.error td { color: var(--bad); }
  tr.detail.warnings td { color: var(--muted); }
  tr.has-detail td { border-bottom: none; }
  td.num, th.num { text-align: right; }
  th { background: var(--bg2); position: sticky; top: 0; cursor: pointer; user-select: none; }
  th:hover { background: #eaeef2; }
  th .arrow { color: var(--accent); font-size: 11px; }
  tr.failed td { background: #fff5f5; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 14px; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
  .card .meta { margin-bottom: 8px; }
  .card .score { font-size: 18px; font-weight: 600; }
  .strip { display: flex; flex-wrap: wrap; gap: 4px; padding: 4px 0; }  /* wraps: no strip to scroll */
  .strip figure { margin: 0; text-align: center; font-size: 11px; color: var(--muted); }
  .strip img { display: block; border-radius: 3px; }
  .card .charts { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
  .card .charts img { max-width: calc(50% - 4px); height: auto; }
  .failure-list { font-family: ui-monospace, monospace; font-size: 12px; }
  .failure-list li { margin: 2px 0; }
  .level-bar { display: inline-block; min-width: 60px; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="muted">results: <code>{{ results_path }}</code>{% if model %} · model: <code>{{ model }}</code>{% endif %}
 · written {{ created }} by qclip-hf {{ version }}</div>
<nav><a href="#summary">Summary</a><a href="#videos">All videos</a>{% if worst %}<a href="#worst">Worst {{ worst|length }}</a><a href="#best">Best {{ best|length }}</a>{% endif %}{% if failures_total %}<a href="#failures">Failures</a>{% endif %}</nav>

<h2 id="summary">Summary</h2>
<div class="stats">
  <div class="stat"><span class="muted">videos</span><b id="stat-total">{{ total }}</b></div>
  <div class="stat"><span class="muted">scored</span><b id="stat-ok">{{ ok }}</b></div>
  <div class="stat{% if failures_total %} failed{% endif %}"><span class="muted">failed</span><b id="stat-failed">{{ failures_total }}</b></div>
  {% for name, value in score_stats %}<div class="stat"><span class="muted">{{ name }}</span><b>{{ value }}</b></div>{% endfor %}
  <div class="stat"><span class="muted">scale</span><b id="stat-scale">{% if calibration.calibrated %}MOS{% else %}uncalibrated{% endif %}</b></div>
</div>
{% if calibration.calibrated %}<p class="note" id="scale-note"><b>MOS</b> is each video's score mapped to {{ calibration.scale }},
the scale the model was calibrated on{% if calibration.fitted %} ({{ calibration.fitted }}){% endif %}; its <b>level</b> is the
band of that MOS{% if calibration.bands %}: {% for name, low, high in calibration.bands %}{{ name }} {{ low }}–{{ high }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}.
<b>score</b> is the raw score on the model's own scale. The <b>prompt</b> columns are the softmax of the video's
similarity to each prompt ("{{ level_names|join('", "') }}"): what the video looks like to the backbone, which the
trained score need not follow — not the level.</p>
{% else %}<p class="note" id="scale-note"><b>Uncalibrated</b>: this model has no calibration (no
<code>calibration.json</code>), so its scores are on its own scale (a weighted sum of frame-text similarities), not
MOS, and no level is given: compare videos with each other, higher means better quality. Fit a calibration on
labelled videos with <code>qclip-vqa calibrate</code>. The <b>prompt</b> columns are the softmax of the video's
similarity to each prompt ("{{ level_names|join('", "') }}"), not a level.</p>{% endif %}
<div class="plots">
{% for plot in summary_plots %}<img src="{{ plot.uri }}" alt="{{ plot.alt }}" title="{{ plot.alt }}">{% endfor %}
</div>

<h2 id="videos">All videos</h2>
<p class="note">Click a column heading to sort (again to reverse). The filter matches the path, level, warnings
and error text.{% if common_prefix %} Paths are shown relative to <code>{{ common_prefix }}</code>.{% endif %}</p>
<div class="controls">
  <input type="search" id="filter" placeholder="filter: part of a path, a level, an error…" aria-label="filter rows">
  <label>status <select id="status"><option value="">all</option><option value="ok">ok</option><option value="failed">failed</option></select></label>
  <label>rows per page <select id="page-size"><option>25</option><option selected>50</option><option>100</option><option>500</option></select></label>
  <button id="prev" type="button">&larr; previous</button>
  <span id="page-info" class="muted"></span>
  <button id="next" type="button">next &rarr;</button>
</div>
<div class="table-wrap"><table id="videos-table"><thead><tr id="videos-head"></tr></thead><tbody id="videos-body"></tbody></table></div>

{% for section in [("worst", "Worst", worst), ("best", "Best", best)] %}{% if section[2] %}
<h2 id="{{ section[0] }}">{{ section[1] }} {{ section[2]|length }}</h2>
<p class="note">{{ frames_note }}</p>
<div class="cards">
{% for card in section[2] %}
<div class="card" id="{{ section[0] }}-{{ loop.index }}">
  <h3>#{{ card.rank }} {{ card.name }}</h3>
  <div class="meta">{% if card.mos %}<span class="score">MOS {{ card.mos }} · {{ card.level }}</span> <span class="muted">· score {{ card.score }}</span>{% else %}<span class="score">{{ card.score }}</span> <span class="muted">· uncalibrated (raw score, no level)</span>{% endif %}
  {% if card.warnings %}<div class="muted">warnings: {{ card.warnings }}</div>{% endif %}</div>
  {% if card.frames %}<div class="strip">{% for frame in card.frames %}<figure><img src="{{ frame.uri }}" alt="frame {{ frame.index }}" height="{{ frame.height }}"><figcaption>frame {{ frame.index }}</figcaption></figure>{% endfor %}</div>
  {% elif card.frames_error %}<div class="muted">frames not shown: {{ card.frames_error }}</div>{% endif %}
  <div class="charts">{% if card.levels_uri %}<img src="{{ card.levels_uri }}" alt="level probabilities">{% endif %}{% if card.temporal_uri %}<img src="{{ card.temporal_uri }}" alt="quality over time">{% endif %}</div>
</div>
{% endfor %}
</div>
{% endif %}{% endfor %}

{% if failures_total %}
<h2 id="failures">Failures ({{ failures_total }})</h2>
<p class="note">Files that could not be scored, with the reason. They are retried when <code>qclip-vqa score</code> runs again with the same output.</p>
<ul class="failure-list">
{% for failure in failures %}<li><b>{{ failure.path }}</b>: {{ failure.error }}</li>{% endfor %}
</ul>
{% if failures_total > failures|length %}<p class="note">… and {{ failures_total - failures|length }} more: choose status “failed” in the table above.</p>{% endif %}
{% endif %}

<script type="application/json" id="report-data">{{ data_json }}</script>
<script>
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const columns = data.columns;                  // [{key, label, type}]
  const rows = data.rows;                        // arrays in column order
  const head = document.getElementById("videos-head");
  const body = document.getElementById("videos-body");
  const filterBox = document.getElementById("filter");
  const statusBox = document.getElementById("status");
  const sizeBox = document.getElementById("page-size");
  const info = document.getElementById("page-info");
  const statusIndex = columns.findIndex(c => c.key === "status");
  const textIndexes = columns.map((c, i) => c.type === "text" ? i : -1).filter(i => i >= 0);
  let sortIndex = columns.findIndex(c => c.key === data.sort_key), sortDir = 1, page = 0, view = rows.slice();

  function format(value, column) {
    if (value === null || value === undefined) return "";
    if (column.type === "number") {
      return column.precision ? Number(Number(value).toPrecision(column.precision)).toString()
                              : Number(value).toFixed(column.digits);
    }
    return String(value);
  }
  function compare(a, b) {
    const x = a[sortIndex], y = b[sortIndex];
    if (x === y) return 0;
    if (x === null || x === undefined || x === "") return 1;    // empty cells last, whatever the direction
    if (y === null || y === undefined || y === "") return -1;
    return (x < y ? -1 : 1) * sortDir;
  }
  function refresh() {
    const needle = filterBox.value.trim().toLowerCase();
    const status = statusBox.value;
    view = rows.filter(row => (!status || row[statusIndex] === status) &&
      (!needle || textIndexes.some(i => row[i] !== null && String(row[i]).toLowerCase().includes(needle))));
    if (sortIndex >= 0) view.sort(compare);
    page = 0;
    draw();
  }
  const shown = columns.filter(c => c.display !== "detail").length;  // detail columns: a line under their row
  function drawHead() {
    head.textContent = "";
    columns.forEach((column, i) => {
      if (column.display === "detail") return;
      const th = document.createElement("th");
      th.dataset.key = column.key;
      th.title = column.help || "";
      if (column.type === "number") th.className = "num";
      th.textContent = column.label + " ";
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.textContent = i === sortIndex ? (sortDir > 0 ? "\u25B2" : "\u25BC") : "";
      th.appendChild(arrow);
      th.addEventListener("click", () => {
        sortDir = i === sortIndex ? -sortDir : 1;
        sortIndex = i;
        drawHead();
        refresh();
      });
      head.appendChild(th);
    });
  }
  function draw() {
    const size = Number(sizeBox.value);
    const pages = Math.max(1, Math.ceil(view.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    const start = page * size, stop = Math.min(view.length, start + size);
    const fragment = document.createDocumentFragment();
    for (let r = start; r < stop; r++) {
      const row = view[r];
      const tr = document.createElement("tr");
      if (row[statusIndex] === "failed") tr.className = "failed";
      const details = [];
      columns.forEach((column, i) => {
        if (column.display === "detail") {
          if (row[i] !== null && row[i] !== undefined && row[i] !== "") details.push([column, row[i]]);
          return;
        }
        const td = document.createElement("td");
        td.className = column.type === "number" ? "num" : column.key;
        td.textContent = format(row[i], column);
        tr.appendChild(td);
      });
      if (details.length) tr.classList.add("has-detail");
      fragment.appendChild(tr);
      for (const [column, value] of details) {
        const line = document.createElement("tr");
        line.className = "detail " + column.key + (row[statusIndex] === "failed" ? " failed" : "");
        const td = document.createElement("td");
        td.colSpan = shown;
        td.textContent = column.label + ": " + format(value, column);
        line.appendChild(td);
        fragment.appendChild(line);
      }
    }
    body.textContent = "";
    body.appendChild(fragment);
    info.textContent = view.length ? `rows ${start + 1}\u2013${stop} of ${view.length} (page ${page + 1} of ${pages})`
                                   : "no rows match";
    document.getElementById("prev").disabled = page === 0;
    document.getElementById("next").disabled = page >= pages - 1;
  }
  filterBox.addEventListener("input", refresh);
  statusBox.addEventListener("change", refresh);
  sizeBox.addEventListener("change", () => { page = 0; draw(); });
  document.getElementById("prev").addEventListener("click", () => { page--; draw(); });
  document.getElementById("next").addEventListener("click", () => { page++; draw(); });
  drawHead();
  refresh();
})();
</script>
</body>
</html>
"""
