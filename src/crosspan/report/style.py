"""Inline CSS of the report page (no web fonts, no external URL)."""

CSS = """
:root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f5f6f8; --accent:#3b6fb6; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { background: linear-gradient(120deg, #1f3b63, #3b6fb6); color: #fff; padding: 26px 0 12px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: .2px; }
header .sub { margin: 0 0 14px; opacity: .85; font-size: 13px; }
nav a { color: #fff; text-decoration: none; margin-right: 18px; font-size: 13px; opacity: .9;
  border-bottom: 1px solid rgba(255,255,255,.35); }
nav a:hover { opacity: 1; border-bottom-color: #fff; }
main.wrap { padding-top: 20px; }
.convention { background:#fff; border:1px solid var(--line); border-left:4px solid var(--accent); border-radius:8px;
  padding: 12px 16px; font-size: 13px; color: #344054; }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin:16px 0; }
.card { flex:1 1 120px; background:#fff; border:1px solid var(--line); border-radius:10px; padding:10px 14px;
  color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.card .big { font-size: 24px; color: var(--ink); font-weight: 650; text-transform: none; letter-spacing: 0; }
.note { border-radius:8px; padding:10px 14px; margin:10px 0; font-size:13px; }
.note.oracle { background:#fff7e6; border:1px solid #f5c26b; }
.note.skipped { background:#f2f4f7; border:1px solid #d0d5dd; }
section { background:#fff; border:1px solid var(--line); border-radius:12px; padding: 18px 22px; margin: 18px 0;
  box-shadow: 0 1px 2px rgba(16,24,40,.04); }
section h2 { margin: 0 0 4px; font-size: 18px; font-weight: 650; }
.what { margin: 0 0 12px; color: #475467; font-size: 13px; }
figure { margin: 8px 0 12px; text-align: center; }
figure img { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th { text-align: left; background: #f2f4f7; color: #344054; font-weight: 600; padding: 7px 10px;
  border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 6px 10px; border-bottom: 1px solid #f0f1f3; white-space: nowrap; }
td.num { text-align: right; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4fc; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11px; font-weight: 600; }
.badge.oracle { background:#fdb022; color:#3d2800; }
.badge.warn { background:#fee4e2; color:#b42318; }
.badge.ok { background:#d1fadf; color:#05603a; }
.badge.muted { background:#e4e7ec; color:#344054; }
details { margin-top: 8px; } summary { cursor: pointer; color: var(--accent); font-size: 13px; }
.muted { color: var(--muted); }
code { background:#f2f4f7; padding: 0 4px; border-radius: 4px; font-size: 12px; }
footer { color: var(--muted); font-size: 12px; padding: 8px 24px 30px; }
"""
