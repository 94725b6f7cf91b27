// The report page's stylesheet (inlined into the page: no external resources) and the
// page geometry the figures are laid out to.

/** Width of the page's content and of a full-width figure, in CSS pixels. */
export const PAGE_W = 1120;
/** Gap between figures side by side. */
export const GAP = 20;

export const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1a1a1a;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}
main{max-width:${PAGE_W + 40}px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:28px;margin:0 0 4px}
h2{font-size:21px;margin:36px 0 6px;padding-top:12px;border-top:1px solid #e2e2e2}
h3{font-size:16px;margin:18px 0 6px}
p{margin:6px 0}
.sub,.note{color:#555}
.note{font-size:13.5px;max-width:${PAGE_W}px}
.row{display:flex;flex-wrap:wrap;gap:${GAP}px;margin:10px 0}
.row svg{display:block}
figure{margin:10px 0}
table{border-collapse:collapse;margin:8px 0 14px;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:5px 12px;border-bottom:1px solid #e6e6e6;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600;border-bottom:1px solid #cfcfcf}
th:first-child,td:first-child{text-align:left}
tr.ref td{background:#fff4ec}
tr.base td{color:#555;font-style:italic}
td .ci{color:#666;font-size:12.5px}
td.best{font-weight:700}
.sw{display:inline-block;width:11px;height:11px;margin-right:7px;vertical-align:baseline;border-radius:2px}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12.5px;font-weight:600}
.v-better{background:#d7efe6;color:#00573f}
.v-worse{background:#fbe0d0;color:#8a3300}
.v-tie{background:#ececec;color:#444}
ul.claims{margin:6px 0 10px;padding-left:22px}
ul.claims li{margin:3px 0}
pre{background:#f6f6f6;padding:10px 12px;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:13px;margin:6px 0}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.prov dt{color:#555}
dl.prov dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13.5px;word-break:break-all}
details summary{cursor:pointer;color:#333;margin:8px 0}
`;
