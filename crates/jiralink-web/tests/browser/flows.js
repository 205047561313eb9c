// The web app's browser flows in headless Debian Chromium, driven by Playwright's core library.
// Run by crates/jiralink-web/tests/it/browser.rs, which starts the simulator and the app and passes
// everything in the environment (never in arguments). Exits non-zero at the first failed check;
// screenshots go to $SHOTS.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");
const os = require("os");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env("BASE_URL");
const SITE = env("SITE_URL");
const PASSWORD = env("PASSWORD");
const SHOTS = env("SHOTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(SHOTS, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function browserFor(user) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `jiralink-web-${user}-`));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.violations = [];
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) page.violations.push(m.text());
  });
  page.on("pageerror", (e) => page.violations.push(String(e)));
  // Nothing may leave loopback.
  await page.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost") {
      page.violations.push(`request to ${u.href}`);
      return route.abort();
    }
    return route.continue();
  });
  return { ctx, page, profile };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, user) {
  await page.goto(`${BASE}/signin`);
  await page.fill('input[name="name"]', user);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL(`${BASE}/credentials`), page.click("form button")]);
  check((await page.textContent("header")).includes(user), `${user} is signed in`);
}

async function addCredential(page, c) {
  const form = page.locator("form#add");
  await form.locator('select[name="auth"]').selectOption(c.auth);
  await form.locator('input[name="name"]').fill(c.name);
  await form.locator('input[name="url"]').fill(c.url);
  if (c.email) await form.locator('input[name="email"]').fill(c.email);
  await form.locator('input[name="secret"]:not([disabled])').fill(c.secret);
  await form.locator("button:not([hidden])").click();
}

async function tileTest(page, name) {
  const tile = page.locator(`[data-credential="${name}"]`);
  await tile.getByRole("button", { name: "Test connection" }).click();
  const result = tile.locator(":scope > .result p[data-code]");
  await result.waitFor();
  return { code: await result.getAttribute("data-code"), text: await result.textContent() };
}

(async () => {
  const ann = await browserFor("ann");
  const p = ann.page;
  await signIn(p, "ann");
  await shot(p, "01-signed-in");

  // A cloud-token credential: added (tested first), then Test connection says ok.
  await addCredential(p, { auth: "cloud-token", name: "ann-prod", url: SITE, email: env("ADMIN_EMAIL"), secret: env("ADMIN_SECRET") });
  await p.waitForSelector('[data-credential="ann-prod"]');
  let t = await tileTest(p, "ann-prod");
  check(t.code === "ok", `Test connection of ann-prod is ok (${t.text})`);
  await shot(p, "02-test-ok");

  // A wrong token: refused with bad_credentials, its cause and its fix shown.
  await addCredential(p, { auth: "cloud-token", name: "ann-wrong", url: SITE, email: env("ADMIN_EMAIL"), secret: "wrong-token-0123456789" });
  const err = p.locator("form#add .result.bad");
  await err.waitFor();
  const errText = await err.textContent();
  check((await err.getAttribute("data-code")) === "bad_credentials", `a wrong token answers bad_credentials (${errText})`);
  check(/Fix: \S/.test(errText), "the fix is shown");
  check((await p.locator('[data-credential="ann-wrong"]').count()) === 0, "the refused credential is not kept");
  await shot(p, "03-bad-credentials");

  // A scoped token: the form lists the scopes each feature needs; the token works through the gateway.
  await p.locator('form#add select[name="auth"]').selectOption("scoped-token");
  const scopes = p.locator("form#add .scopes");
  check(await scopes.isVisible(), "the scopes list shows for a scoped token");
  const scopesText = await scopes.textContent();
  check(scopesText.includes("read:jira-work") && scopesText.includes("sync:issues"), "it names the features and their scopes");
  await shot(p, "04-scoped-token-scopes");
  await addCredential(p, { auth: "scoped-token", name: "ann-scoped", url: SITE, email: env("SCOPED_EMAIL"), secret: env("SCOPED_SECRET") });
  await p.waitForSelector('[data-credential="ann-scoped"]');
  t = await tileTest(p, "ann-scoped");
  check(t.code === "ok", `the scoped token tests ok (${t.text})`);

  // OAuth 2.0 (3LO): the app sends the browser to the consent page (the simulator's, as
  // auth.atlassian.com), the user accepts, the app exchanges the code and keeps the credential.
  await p.locator('form#add select[name="auth"]').selectOption("oauth2");
  const f = p.locator("form#add");
  await f.locator('input[name="name"]').fill("ann-oauth");
  await f.locator('input[name="url"]').fill(SITE);
  await f.locator('input[name="client_id"]').fill(env("OAUTH_CLIENT_ID"));
  await f.locator('input[name="client_secret"]').fill(env("OAUTH_CLIENT_SECRET"));
  await f.locator('input[name="authorize_url"]').fill(`${SITE}/authorize`);
  await f.locator('input[name="token_url"]').fill(env("OAUTH_TOKEN_URL"));
  await Promise.all([p.waitForURL(/\/authorize\?/), f.locator("button[data-consent]").click()]);
  const asked = new URL(p.url()).searchParams;
  check(asked.get("audience") === "api.atlassian.com" && asked.get("response_type") === "code" && asked.get("prompt") === "consent" && asked.get("state").length >= 32, "the consent URL carries Atlassian's parameters and a state");
  check((await p.textContent("#scopes")).includes("offline_access"), "the consent page lists the scopes, offline_access included");
  await shot(p, "05a-oauth-consent");
  await p.fill('input[name="email"]', env("ADMIN_EMAIL"));
  await Promise.all([p.waitForURL(`${BASE}/credentials`), p.click('button[value="accept"]')]);
  await p.waitForSelector('[data-credential="ann-oauth"]');
  t = await tileTest(p, "ann-oauth");
  check(t.code === "ok", `the OAuth 2.0 credential tests ok after the consent (${t.text})`);
  await shot(p, "05b-oauth-added");

  // OAuth 1.0a (a Data Center application link): the approval link, the user's approval in Jira
  // (the simulator's authorize page, signed in there), then the verification code in the form.
  const dc = env("DC_URL");
  await p.goto(`${BASE}/credentials`);
  const o1 = p.locator("form#add");
  await o1.locator('select[name="auth"]').selectOption("oauth1");
  await o1.locator('input[name="name"]').fill("ann-dc");
  await o1.locator('input[name="url"]').fill(dc);
  await o1.locator('input[name="consumer_key"]').fill(env("OAUTH1_CONSUMER_KEY"));
  await o1.locator('textarea[name="private_key"]').fill(env("OAUTH1_PRIVATE_KEY"));
  await o1.locator("button[data-oauth1-start]").click();
  const approve = o1.locator("[data-oauth1-link]");
  await approve.waitFor({ state: "visible" });
  const approveUrl = await approve.getAttribute("href");
  check(approveUrl.startsWith(`${dc}/plugins/servlet/oauth/authorize?oauth_token=`), `the form shows the approval link (${approveUrl})`);
  await shot(p, "05c-oauth1-approval-link");
  const jira = await ann.ctx.newPage();
  const basic = Buffer.from(`${env("DC_ADMIN_USER")}:${env("DC_ADMIN_SECRET")}`).toString("base64");
  await jira.setExtraHTTPHeaders({ Authorization: `Basic ${basic}` });
  await jira.goto(approveUrl);
  const verifier = (await jira.textContent("#verifier")).trim();
  await jira.close();
  check(verifier.length > 0, "Jira shows a verification code after the approval");
  await o1.locator('input[name="verifier"]').fill(verifier);
  await Promise.all([p.waitForEvent("framenavigated"), o1.locator("button[data-oauth1-finish]").click()]);
  await p.waitForSelector('[data-credential="ann-dc"]');
  t = await tileTest(p, "ann-dc");
  check(t.code === "ok", `the OAuth 1.0a credential tests ok after the approval (${t.text})`);
  await shot(p, "05d-oauth1-added");

  // A sync with live progress to the end.
  await p.goto(`${BASE}/sync`);
  await p.selectOption('select[name="credential"]', "ann-prod");
  await p.click("form#start-sync button");
  await p.waitForSelector('#progress[data-status="ok"]', { timeout: 120000 });
  const line = await p.textContent("[data-progress]");
  check(/done: \d+ issues written/.test(line), `the progress reached the end (${line})`);
  const bar = await p.$eval("#progress progress", (b) => [b.value, b.max]);
  check(bar[0] === bar[1] && bar[1] > 1, `the progress bar is full (${bar})`);
  await shot(p, "05-sync-done");

  // Dashboards: the charts draw, a filter changes them, a drill-down lists issues with Jira links.
  await p.goto(`${BASE}/insights`);
  await p.waitForFunction(() => document.body.dataset.rendered);
  const rendered = await p.evaluate(() => document.body.dataset.rendered);
  const [drawn, all] = rendered.split("/").map(Number);
  check(all > 0 && drawn === all, `every chart draws (${rendered})`);
  const before = await p.textContent("main p.muted");
  await shot(p, "06-dashboard");
  const project = await p.$eval('select[name="project"] option:nth-child(2)', (o) => o.value);
  await Promise.all([p.waitForURL(/project=/), p.selectOption('select[name="project"]', project)]);
  await p.waitForFunction(() => document.body.dataset.rendered);
  const after = await p.textContent("main p.muted");
  check(before !== after, `the project filter changes the dashboard (${before} → ${after})`);
  await shot(p, "07-dashboard-filtered");
  // The dashboard's promises: a definition on every card, dated forecasts, the scatter's marks.
  const cards = await p.$$eval(".report .card", (cs) => cs.map((c) => !!c.querySelector(".def") && c.querySelector(".def").textContent.length > 20));
  check(cards.length === 8 && cards.every(Boolean), `every metric card carries its definition (${cards.length})`);
  const when = await p.$$eval("#forecast-when tr[data-confidence] td:nth-child(2)", (ts) => ts.map((t) => t.textContent));
  check(when.length === 3 && when.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) || d === "not within 10 years"), `the forecast answers when, with dates at 50/85/95% (${when})`);
  const scatter = await p.$eval('svg[data-chart="scatter"]', (s) => [Number(s.dataset.points), s.querySelectorAll("circle").length, s.querySelectorAll(".beyond").length, Number(s.dataset.beyondAxis)]);
  check(scatter[0] === scatter[1] + scatter[2] && scatter[2] === scatter[3], `every scatter point is drawn or marked beyond the axis (${scatter})`);
  // Asking the forecast another question: when will 7 items be done.
  await p.fill('form#filters input[name="items"]', "7");
  await Promise.all([p.waitForURL(/items=7/), p.click("form#filters button")]);
  await p.waitForFunction(() => document.body.dataset.rendered);
  check((await p.textContent(".report")).includes("When will 7 items be done?"), "the forecast's question follows the form");
  await shot(p, "07b-dashboard-forecast");
  await Promise.all([p.waitForURL(/insights\/issues/), p.click('a.drill:has-text("done")')]);
  const links = await p.$$eval("#issues a", (as) => as.map((a) => a.href));
  check(links.length > 0 && links.every((h) => h.startsWith(`${SITE}/browse/${project}-`)), `the drill-down lists ${project}'s done issues with links to Jira (${links.length})`);
  await shot(p, "08-drill-down");

  // Access: the last audit's permission matrix and findings; acknowledge one, then revoke it.
  await p.goto(`${BASE}/access?credential=ann-prod`);
  const rows = await p.$$eval("#matrix tr[data-project]", (rs) => rs.map((r) => r.dataset.project));
  check(rows.length > 0, `the access page shows the permission matrix (${rows})`);
  const finding = p.locator("article.finding").first();
  const fid = await finding.getAttribute("data-finding");
  await finding.locator('input[name="reason"]').fill("the vendor needs it");
  await Promise.all([p.waitForLoadState("load"), p.waitForEvent("framenavigated"), finding.getByRole("button", { name: "Acknowledge" }).click()]);
  const acked = p.locator(`article.finding[data-finding="${fid}"]`);
  await acked.locator(".badge.ok").waitFor();
  const ackText = await acked.textContent();
  check(ackText.includes("accepted") && ackText.includes("by ann (jiralink serve)") && ackText.includes("the vendor needs it"), `the finding ${fid} is acknowledged, with who and why`);
  await shot(p, "09a-access-acknowledged");
  await Promise.all([p.waitForEvent("framenavigated"), acked.getByRole("button", { name: "Revoke the acceptance" }).click()]);
  await p.locator(`article.finding[data-finding="${fid}"] input[name="reason"]`).waitFor();
  check((await p.locator(`article.finding[data-finding="${fid}"] .badge.ok`).count()) === 0, `the acceptance of ${fid} is revoked`);
  // Run audit: the audit runs in the background and the page then shows the new one (the site's
  // three projects; the test's canned last audit had two).
  await Promise.all([p.waitForEvent("framenavigated"), p.click("form#run-audit button")]);
  await p.waitForFunction(() => document.querySelectorAll("#matrix tr[data-project]").length === 3);
  const audited = await p.$$eval("#matrix tr[data-project]", (rs) => rs.map((r) => r.dataset.project));
  check(audited.includes("WEB"), `Run audit shows the new audit's matrix (${audited})`);
  await shot(p, "09c-access-audit-run");

  // Write-back: the apply log (the test wrote two of ann-prod's writes and one of another
  // credential's), filtered by credential, then by run from a row's link.
  await p.goto(`${BASE}/writes`);
  const creds = await p.$$eval("#writes tr td:nth-child(3)", (ts) => ts.map((t) => t.textContent));
  check(creds.length === 2 && creds.every((c) => c === "ann-prod"), `ann's write-back log shows her credentials' writes only (${creds})`);
  await p.fill('#write-filters input[name="credential"]', "ann-prod");
  await Promise.all([p.waitForURL(/credential=ann-prod/), p.click("#write-filters button")]);
  await Promise.all([p.waitForURL(/run=run-1/), p.click('#writes a:has-text("run-1")')]);
  const outcomes = await p.$$eval("#writes tr td:last-child", (ts) => ts.map((t) => t.textContent));
  check(outcomes.join() === "failed: no permission,ok", `the run's writes, newest first, with their outcomes (${outcomes})`);
  await shot(p, "09b-write-back");
  // The store's sync runs list the sync above.
  await p.goto(`${BASE}/sync`);
  const runs = await p.$$eval("#store-runs tr td:nth-child(2)", (ts) => ts.map((t) => t.textContent));
  check(runs.includes("ann-prod"), `the store's sync runs list ann-prod's sync (${runs.length} runs)`);
  check(p.violations.length === 0, `no CSP violation, script error or outside request (${p.violations.join("; ")})`);

  // The admin sets a waiting status on the Stages page; the dashboard then measures flow efficiency.
  const root = await browserFor("root");
  await signIn(root.page, "root");
  await root.page.goto(`${BASE}/insights`);
  await root.page.waitForFunction(() => document.body.dataset.rendered);
  check((await root.page.$("#flow-efficiency-unmeasured")) !== null, "flow efficiency is flagged while no status is waiting");
  await root.page.goto(`${BASE}/stages`);
  const select = root.page.locator('form#stages select').filter({ has: root.page.locator('option[value="active"][selected]') }).first();
  const status = await select.getAttribute("data-status");
  await select.selectOption("waiting");
  await Promise.all([root.page.waitForEvent("framenavigated"), root.page.click("form#stages button")]);
  await root.page.waitForSelector(`form#stages select[data-status="${status}"] option[value="waiting"][selected]`, { state: "attached" });
  await shot(root.page, "10-stages");
  await root.page.goto(`${BASE}/insights`);
  await root.page.waitForFunction(() => document.body.dataset.rendered);
  const eff = await root.page.textContent('.card[data-metric="flow_efficiency"] b');
  check((await root.page.$("#flow-efficiency-unmeasured")) === null && /%$/.test(eff), `with ${status} waiting, flow efficiency is measured (${eff})`);
  check(root.page.violations.length === 0, `no CSP violation for root (${root.page.violations.join("; ")})`);
  await root.ctx.close();
  fs.rmSync(root.profile, { recursive: true, force: true });

  // Another member sees only their own credentials.
  const bob = await browserFor("bob");
  await signIn(bob.page, "bob");
  const tiles = await bob.page.$$eval("[data-credential]", (ts) => ts.map((t) => t.dataset.credential));
  check(tiles.length === 0, `bob sees none of ann's credentials (${tiles})`);
  await addCredential(bob.page, { auth: "cloud-token", name: "bob-prod", url: SITE, email: env("ADMIN_EMAIL"), secret: env("ADMIN_SECRET") });
  await bob.page.waitForSelector('[data-credential="bob-prod"]');
  const bobTiles = await bob.page.$$eval("[data-credential]", (ts) => ts.map((t) => t.dataset.credential));
  check(bobTiles.join() === "bob-prod", `bob sees his own only (${bobTiles})`);
  await shot(bob.page, "11-member-own-only");
  check(bob.page.violations.length === 0, `no CSP violation for bob (${bob.page.violations.join("; ")})`);

  await ann.ctx.close();
  await bob.ctx.close();
  fs.rmSync(ann.profile, { recursive: true, force: true });
  fs.rmSync(bob.profile, { recursive: true, force: true });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
