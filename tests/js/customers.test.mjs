// One customer across numbers and pages, in Chromium against the real server: an admin adds a field
// and an agent fills it in; a supervisor sees two records of one person, merges them, and the
// agent's console showing the merged one moves to the survivor live; a supervisor imports a CSV file
// after reading its report, and exports every customer for Excel.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { ADMIN_PASSWORD, Switchboard, launchChromium } from './harness.mjs';

const sb = new Switchboard();
let admin;
let browser;
let boss;
let thu;
let lan;

/** A browser of its own, logged in as `username`, on the customers screen. */
async function consoleOf(username, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${username}: page error:`, error.message));
  await page.goto(`${sb.callcenter}/`);
  await page.getByLabel('Tên đăng nhập').fill(username);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('[data-link="sender"][data-state="up"]').waitFor({ timeout: 10000 });
  await page.getByRole('link', { name: /Khách hàng/ }).click();
  return page;
}

async function customer(body) {
  const made = await sb.cc('POST', '/api/customers', admin, body);
  assert.equal(made.status, 200, JSON.stringify(made.body));
  return made.body.data;
}

before(async () => {
  await sb.startServe();
  admin = await sb.login();
  for (const [username, display_name, role] of [['thu', 'Lê Thị Thu', 'supervisor'], ['lan', 'Nguyễn Thị Lan', 'agent']]) {
    const made = await sb.api('POST', '/api/users', admin, { username, display_name, role, password: `${username} password 123` });
    assert.equal(made.status, 200, JSON.stringify(made.body));
  }
  browser = await launchChromium(chromium);
  boss = await consoleOf('admin', ADMIN_PASSWORD);
  thu = await consoleOf('thu', 'thu password 123');
  lan = await consoleOf('lan', 'lan password 123');
});

after(async () => {
  await browser?.close();
  await sb.stop();
});

test('an admin adds a choice field in the console and an agent fills it in for a customer', async () => {
  await boss.getByRole('link', { name: /Quản trị/ }).click();
  await boss.getByLabel('Tên trường').fill('Hạng thành viên');
  await boss.getByLabel('Kiểu').selectOption('choice');
  await boss.getByLabel('Các lựa chọn (cách nhau bởi dấu phẩy)').fill('Bạc, Vàng, Kim cương');
  await boss.getByLabel('Tên trường').press('Enter');
  await boss.locator('[data-custom-field="hang_thanh_vien"]').waitFor();

  const hoa = await customer({ fullName: 'Vũ Thị Hoa', phoneNumber: '0903 111 222' });
  await lan.goto(`${sb.callcenter}/#/customers/${hoa.id}`);
  const field = lan.locator('[data-field="hang_thanh_vien"] select');
  await field.selectOption('Vàng');
  await lan.getByRole('button', { name: 'Lưu' }).click();
  await lan.getByText('Đã lưu').first().waitFor();
  const saved = await sb.cc('GET', `/api/customers/${hoa.id}`, admin);
  assert.deepEqual(saved.body.data.customFields, { hang_thanh_vien: 'Vàng' });
  await lan.reload();
  await lan.locator('[data-field="hang_thanh_vien"] select').waitFor();
  assert.equal(await lan.locator('[data-field="hang_thanh_vien"] select').inputValue(), 'Vàng');
});

test('a supervisor merges two records of one person; the agent showing the merged one moves to the survivor live', async () => {
  const duc = await customer({ fullName: 'Trần Đức', phoneNumber: '0912 345 678', notes: 'Gọi buổi sáng' });
  const dup = await customer({ fullName: 'Duc Tran', phoneNumbers: ['+84912345678', '0987 654 321'], email: 'duc@example.vn' });
  await lan.goto(`${sb.callcenter}/#/customers/${dup.id}`);
  await lan.getByRole('heading', { name: 'Duc Tran' }).waitFor();
  // An agent sees the suggestion but does not merge.
  await lan.locator(`[data-duplicate="${duc.id}"]`).getByText(/Cùng số .?\+84912345678/).waitFor();
  assert.equal(await lan.getByRole('button', { name: 'Gộp vào khách này' }).count(), 0);

  await thu.goto(`${sb.callcenter}/#/customers/${duc.id}`);
  await thu.getByRole('heading', { name: 'Trần Đức' }).waitFor();
  const suggestion = thu.locator(`[data-duplicate="${dup.id}"]`);
  await suggestion.getByText(/Cùng số .?\+84912345678/).waitFor();
  thu.once('dialog', (dialog) => dialog.accept());
  await suggestion.getByRole('button', { name: 'Gộp vào khách này' }).click();
  await thu.getByText('Đã gộp khách hàng').first().waitFor();
  await thu.locator(`[data-duplicate="${dup.id}"]`).waitFor({ state: 'detached' });

  // The agent was looking at the record that is now gone: the survivor opens by itself.
  await lan.getByRole('heading', { name: 'Trần Đức' }).waitFor();
  assert.equal(await lan.getByLabel('Số điện thoại (cách nhau bởi dấu phẩy)').inputValue(), '+84912345678, +84987654321');
  assert.equal(await lan.getByLabel('Email (cách nhau bởi dấu phẩy)').inputValue(), 'duc@example.vn');
  const gone = await sb.cc('GET', `/api/customers/${dup.id}`, admin);
  assert.equal(gone.status, 404);
});

test('a supervisor imports a CSV file after reading its report, and exports every customer for Excel', async () => {
  assert.equal(await lan.getByText('Nhập từ CSV').count(), 0, 'agents neither import nor export');
  const file = '\uFEFFHọ tên;SĐT;Hạng thành viên;Mã cũ\r\n'
    + 'Phạm Văn Nhập;0938 000 111;Kim cương;A1\r\n'
    + 'Trùng Số;0912.345.678;;A2\r\n'
    + 'Sai Hạng;0938 000 222;Đồng;A3\r\n';
  await thu.locator('input[type=file]').setInputFiles({ name: 'khach-hang.csv', mimeType: 'text/csv', buffer: Buffer.from(file, 'utf8') });
  const report = thu.getByRole('dialog', { name: 'Kiểm tra tệp khach-hang.csv' });
  await report.getByText('3 dòng; nhập được 1 khách hàng').waitFor();
  await report.getByText(/Dòng 4: column `Hạng thành viên`: `Đồng` is not one of the choices/).waitFor();
  await report.getByText('Dòng 3: số +84912345678 đã có ở khách #').waitFor();
  await report.getByText('Cột không dùng: Mã cũ').waitFor();
  assert.equal((await sb.cc('GET', '/api/customers?q=pham%20van%20nhap', admin)).body.data.length, 0, 'the report writes nothing');
  await report.getByRole('button', { name: 'Nhập 1 khách hàng' }).click();
  await thu.getByText('Đã nhập 1 khách hàng').first().waitFor();
  await report.waitFor({ state: 'detached' });
  const imported = await sb.cc('GET', '/api/customers?q=pham%20van%20nhap', admin);
  assert.deepEqual(imported.body.data.map((c) => [c.fullName, c.phoneNumbers, c.customFields]), [['Phạm Văn Nhập', ['+84938000111'], { hang_thanh_vien: 'Kim cương' }]]);

  const [download] = await Promise.all([thu.waitForEvent('download'), thu.getByRole('link', { name: 'Xuất CSV' }).click()]);
  const bytes = readFileSync(await download.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'a byte-order mark, for Excel');
  const text = bytes.subarray(3).toString('utf8');
  assert.match(text, /^id,fullName,phoneNumbers,emails,cif,notes,hang_thanh_vien\r\n/);
  assert.match(text, /Phạm Văn Nhập,'\+84938000111,,,,Kim cương\r\n/);
  assert.match(text, /Trần Đức,'\+84912345678; \+84987654321,duc@example\.vn,,Gọi buổi sáng,/);
});
