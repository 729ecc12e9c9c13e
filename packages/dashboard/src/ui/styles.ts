/** The dashboard's one style sheet (served as /ui/dashboard.css; no inline styles anywhere). */
export const DASHBOARD_CSS = `:root {
  --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6ec; --accent: #2f5bd3;
  --ok: #1f8f4e; --ok-bg: #e5f5ec; --bad: #c2362b; --bad-bg: #fbe9e7; --warn: #b26b00; --warn-bg: #fdf1dc;
  --info: #2f6fb3; --info-bg: #e6f0fa; --sim: #7a3fb8; --sim-bg: #f1e9fa; --neutral-bg: #eef0f3;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto, sans-serif; }
header.top { display: flex; align-items: center; gap: 24px; padding: 0 24px; height: 52px; background: #172033; color: #fff; }
.brand { font-weight: 650; font-size: 16px; letter-spacing: .2px; white-space: nowrap; }
.brand .logo { color: #7fa6ff; margin-right: 8px; }
nav.main-nav { display: flex; gap: 4px; flex: 1; overflow-x: auto; }
nav.main-nav a { color: #c9d3e6; text-decoration: none; padding: 6px 12px; border-radius: 6px; white-space: nowrap; }
nav.main-nav a:hover { background: #24314d; color: #fff; }
nav.main-nav a.active { background: #2f5bd3; color: #fff; }
.access { font-size: 12px; color: #9fb0cf; border: 1px solid #3a4866; padding: 2px 8px; border-radius: 10px; white-space: nowrap; }
main { padding: 20px 24px 8px; max-width: 1480px; margin: 0 auto; }
footer { color: var(--muted); font-size: 12px; padding: 12px 24px 24px; text-align: center; }
h1 { font-size: 20px; margin: 0; font-weight: 650; }
h2 { font-size: 15px; margin: 0 0 12px; font-weight: 600; }
h3 { font-size: 13px; margin: 14px 0 6px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
.page-head { display: flex; align-items: center; justify-content: space-between; gap: 16px; margin-bottom: 16px; flex-wrap: wrap; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(16,24,40,.04); min-width: 0; }
.card.error { border-color: var(--bad); color: var(--bad); }
.grid-charts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 16px; margin-bottom: 0; }
.grid-charts .wide { grid-column: 1 / -1; }
.grid-2 { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; }
@media (max-width: 900px) { .grid-charts, .grid-2 { grid-template-columns: minmax(0, 1fr); } }
.muted { color: var(--muted); }
.count { font-weight: 400; font-size: 13px; }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
.field { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; color: var(--muted); }
select, input, button { font: inherit; font-size: 13px; }
select, input { border: 1px solid #cfd4dc; border-radius: 6px; padding: 5px 8px; background: #fff; color: var(--ink); }
button { border: 1px solid #cfd4dc; background: #fff; border-radius: 6px; padding: 6px 14px; cursor: pointer; color: var(--ink); }
button:hover { background: #f2f4f7; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { background: #2549b0; }
button:disabled { opacity: .5; cursor: default; }
button.link { border: 0; background: none; color: var(--accent); padding: 0; text-decoration: underline; }
a { color: var(--accent); }
a.back { font-size: 13px; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .3px; padding: 8px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; background: #fafbfc; }
td { overflow-wrap: break-word; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:last-child td { border-bottom: 0; }
tr.clickable { cursor: pointer; }
tr.clickable:hover td, tr.clickable:focus td { background: #f3f6fd; }
tr[data-state="broken"] td { background: var(--bad-bg); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.wrap { overflow-wrap: break-word; max-width: 420px; }
td.empty { color: var(--muted); text-align: center; padding: 20px; }
td.claim-name { white-space: nowrap; width: 1%; }
td.claim-value { overflow-wrap: anywhere; font-family: var(--mono); font-size: 12px; }
code, .hex { font-family: var(--mono); font-size: 12px; }
code.hex { color: #344054; overflow-wrap: anywhere; }
code.hex.short { white-space: nowrap; }
.advisories { white-space: nowrap; }
.code { font-family: var(--mono); font-size: 11px; color: var(--muted); }
pre.json { font-family: var(--mono); font-size: 12px; background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 420px; overflow: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge-ok { background: var(--ok-bg); color: var(--ok); }
.badge-bad { background: var(--bad-bg); color: var(--bad); }
.badge-warn { background: var(--warn-bg); color: var(--warn); }
.badge-info { background: var(--info-bg); color: var(--info); }
.badge-sim { background: var(--sim-bg); color: var(--sim); }
.badge-neutral { background: var(--neutral-bg); color: #475467; }
dl.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 16px; margin: 0; }
dl.kv dt { color: var(--muted); font-size: 13px; }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
dl.kv .badge { white-space: normal; overflow-wrap: anywhere; }
ol.steps { list-style: none; padding: 0; margin: 0; }
.step { display: grid; grid-template-columns: 22px minmax(0, 1fr); gap: 2px 8px; padding: 6px 0; border-bottom: 1px solid var(--line); }
.step:last-child { border-bottom: 0; }
.step .mark { font-weight: 700; }
.step.ok .mark { color: var(--ok); }
.step.bad .mark { color: var(--bad); }
.step-name { font-weight: 600; }
.step-detail { grid-column: 2; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.chart-wrap { width: 100%; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: #e6e8ee; stroke-width: 1; }
svg.chart text { font-size: 11px; fill: #667085; }
svg.chart text.label { fill: #344054; font-size: 12px; }
svg.chart text.value { fill: #344054; font-size: 12px; font-weight: 600; }
.fill-ok { fill: #2fa463; } .fill-bad { fill: #d8473c; } .fill-warn { fill: #e39b1b; } .fill-warn2 { fill: #c77d12; }
.fill-info { fill: #3d83cc; } .fill-info2 { fill: #69a3dc; } .fill-info3 { fill: #9bc2ea; }
.fill-p0 { fill: #4c6ef5; } .fill-p1 { fill: #15aabf; } .fill-p2 { fill: #845ef7; } .fill-p3 { fill: #f06595; }
.fill-p4 { fill: #94d82d; } .fill-p5 { fill: #868e96; } .fill-p6 { fill: #fab005; } .fill-p7 { fill: #20c997; }
.bg-ok { background: #2fa463; } .bg-bad { background: #d8473c; } .bg-warn { background: #e39b1b; } .bg-warn2 { background: #c77d12; }
.bg-info { background: #3d83cc; } .bg-info2 { background: #69a3dc; } .bg-info3 { background: #9bc2ea; }
.bg-p0 { background: #4c6ef5; } .bg-p1 { background: #15aabf; } .bg-p2 { background: #845ef7; } .bg-p3 { background: #f06595; }
.bg-p4 { background: #94d82d; } .bg-p5 { background: #868e96; } .bg-p6 { background: #fab005; } .bg-p7 { background: #20c997; }
ul.legend { list-style: none; display: flex; gap: 16px; padding: 0; margin: 8px 0 0 36px; flex-wrap: wrap; font-size: 12px; color: #475467; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
nav.tabs { display: flex; gap: 4px; }
.tab { padding: 6px 14px; border-radius: 6px; text-decoration: none; color: var(--ink); border: 1px solid var(--line); background: #fff; }
.tab.active { background: var(--accent); color: #fff; border-color: var(--accent); }
.meta { margin: 0 0 12px; color: var(--muted); font-size: 13px; }
.editor { display: grid; grid-template-columns: 44px minmax(0, 1fr); border: 1px solid #cfd4dc; border-radius: 6px; overflow: hidden; height: 380px; background: #fff; }
.gutter { font-family: var(--mono); font-size: 13px; line-height: 20px; color: #98a2b3; text-align: right; padding: 8px 8px 8px 0; background: #f7f8fa; border-right: 1px solid var(--line); overflow: hidden; user-select: none; }
.gutter .ln.err { color: #fff; background: var(--bad); border-radius: 3px; }
textarea.code-editor { font-family: var(--mono); font-size: 13px; line-height: 20px; padding: 8px 10px; border: 0; resize: none; outline: none; width: 100%; height: 100%; color: var(--ink); white-space: pre; tab-size: 4; }
.parse-status { margin: 10px 0; min-height: 22px; font-size: 13px; }
.actions { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.test-result { margin-top: 12px; }
.verify-result { font-size: 13px; }
.key-list details.key { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin-bottom: 10px; }
.key-list summary { cursor: pointer; display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.right { margin-left: auto; }
.reason { color: var(--bad); }
tr[data-state="granted"] .reason { color: inherit; }
form.login { max-width: 420px; margin: 60px auto; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 24px; }
form.login h1 { margin-bottom: 8px; }
p.error { color: var(--bad); }
`;
