// report_page.mjs - render a `ladder report` page in Debian's headless
// Chromium (playwright-core, no browser download) and check what a reader
// sees first: every image loaded, the verdict and the gates on the first
// screen, the verdict naming the policy compare.json ranks first, the gates
// as compare.json says. Usage:
//   node report_page.mjs DIR/report.html DIR/compare.json SHOT.png USERDATA
// Prints ok/not ok lines and "# N checks, M failed".
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { ok, finish, watchdog } from './lib.mjs';

const [page_path, compare_path, shot, user_data] = process.argv.slice(2);
const W = 1280, H = 800;
watchdog(60000);

const cmp = JSON.parse(fs.readFileSync(compare_path, 'utf8'));
const top = cmp.scenarios.length > 1 ? cmp.overall : cmp.scenarios[0];
const winner = top.ranking[0];

const ctx = await chromium.launchPersistentContext(user_data, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: W, height: H },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync'],
});
try {
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
  await page.goto('file://' + page_path, { waitUntil: 'load' });
  await page.screenshot({ path: shot });

  // (a) no broken image
  const imgs = await page.$$eval('img', (els) => els.map((e) => ({
    src: e.getAttribute('src'), complete: e.complete, w: e.naturalWidth })));
  const broken = imgs.filter((i) => !i.complete || !(i.w > 0));
  ok(imgs.length >= 2, 'the page shows charts', `${imgs.length} <img>`);
  ok(broken.length === 0, 'every chart loaded (naturalWidth > 0)', broken);
  ok(errors.length === 0, 'nothing failed to load', errors);
  const srcs = imgs.map((i) => i.src);
  const first_outcomes = srcs.findIndex((s) => /\/outcomes\.(png|svg)$/.test(s));
  const first_summary = srcs.findIndex((s) => /\/summary\.(png|svg)$/.test(s));
  ok(first_outcomes >= 0 && first_summary > first_outcomes &&
     srcs.findIndex((s) => /\/(latency_cdf|cost)\.(png|svg)$/.test(s)) > first_summary,
     "a scenario's charts start with outcomes over time, then the summary", srcs);
  if (cmp.scenarios.length > 1)
    ok(/summary_overall\.(png|svg)$/.test(srcs[0]),
       'the overall summary chart comes before the scenarios', srcs);

  // (b) the verdict and the gates on the first screen
  for (const sel of ['#verdict', '#gates']) {
    const b = await page.$eval(sel, (e) => {
      const r = e.getBoundingClientRect();
      return { top: r.top, left: r.left, bottom: r.bottom, right: r.right };
    }).catch(() => null);
    ok(b !== null && b.top >= 0 && b.left >= 0 && b.bottom <= H && b.right <= W,
       `${sel} is within the first ${W}x${H} screen`, b ?? 'not on the page');
  }

  // (c) the verdict names the winner compare.json ranks first
  const win = await page.$eval('#verdict .win', (e) => e.textContent).catch(() => null);
  ok(win === winner, `the verdict names ${winner} (ranked first in compare.json)`, win);
  const ranked = await page.$$eval('#verdict ol.ranking > li', (els) =>
    els.map((e) => e.textContent));
  ok(ranked.length === top.ranking.length &&
     ranked.every((t, i) => t.startsWith(`${i + 1}. ${top.ranking[i]}`)),
     'the verdict lists the ranking of compare.json', ranked);
  const verdict = await page.$eval('#verdict', (e) => e.textContent);
  ok(/[0-9]+\.[0-9]+% of requests \(±[0-9.]+\)/.test(verdict),
     "the verdict gives the winner's success rate with its interval", verdict);
  ok(!/[0-9]e[+-]?[0-9]/.test(verdict), 'no exponent notation in the verdict', verdict);

  // the gates: one row each, PASS/FAIL as compare.json says
  const gates = await page.$$eval('#gates tr', (rows) => rows.slice(1).map((r) =>
    [...r.querySelectorAll('td')].map((c) => c.textContent)));
  ok(gates.length === cmp.gates.length &&
     gates.every((g, i) => g[0] === cmp.gates[i].gate &&
                 g[3] === (cmp.gates[i].pass ? 'PASS' : 'FAIL') &&
                 g[1] !== '' && g[2] !== ''),
     'every gate is listed with its values and PASS/FAIL', gates);

  // colours: a significant improvement green, a regression red, else grey
  const colours = await page.$$eval('#verdict .good, #verdict .bad, #verdict .ns',
    (els) => els.map((e) => [e.className, getComputedStyle(e).color]));
  const want = { good: 'rgb(10, 122, 47)', bad: 'rgb(198, 40, 40)', ns: 'rgb(102, 102, 102)' };
  ok(colours.length > 0 && colours.every(([c, rgb]) => want[c] === rgb),
     'differences are green, red or grey by their class', colours);
  // the colour of one difference follows compare.json: the winner's success
  // against the baseline
  const base = top.baseline;
  const d = top.policies[0].metrics.success_rate.diff;
  if (winner !== base && d) {
    const cls = await page.$eval('#verdict p.vs', (p) => {
      const s = [...p.querySelectorAll('span.good, span.bad, span.ns')]
        .find((e) => e.textContent.startsWith('success'));
      return s ? s.className : null;
    }).catch(() => null);
    const expect = !d.significant ? 'ns' : d.mean > 0 ? 'good' : 'bad';
    ok(cls === expect, `the winner's success against ${base} is coloured ${expect}`, cls);
  }
} finally {
  await ctx.close();
}
finish();
