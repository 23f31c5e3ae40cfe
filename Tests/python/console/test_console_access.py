"""The console for people who use a keyboard or a screen reader, or read in bright light: every
control has a name, each page one heading, text contrast of at least 4.5:1 (WCAG AA), and
sign-in, navigation and confirmations work from the keyboard alone."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, requested_urls
from test_console import go, sign_in, text_appears, visible

PAGES = ["#/overview", "#/instances", "#/images", "#/vpcs", "#/identity/users", "#/identity/members",
         "#/identity/roles", "#/identity/keys", "#/identity/quotas", "#/audit"]

# Controls without an accessible name, images without alt, and text below 4.5:1 against the
# background it is drawn on (the first opaque one up the tree).
AUDIT = """
const named = (el) => {
  if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
  if (el.labels && el.labels.length) return true;
  if (el.tagName === 'BUTTON' || el.tagName === 'A') return el.textContent.trim().length > 0;
  return false;
};
const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const problems = [];
for (const el of document.querySelectorAll('main input, main select, main textarea, main button, header button, header a, main a')) {
  if (el.type === 'hidden' || el.closest('[hidden]')) continue;
  if (!named(el)) problems.push(`unnamed ${el.tagName.toLowerCase()} ${el.outerHTML.slice(0, 80)}`);
}
for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push(`img without alt ${img.src}`);
const h1 = document.querySelectorAll('main h1').length;
if (h1 !== 1) problems.push(`${h1} h1 headings`);
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
while (walker.nextNode()) {
  const el = walker.currentNode.parentElement;
  if (!walker.currentNode.textContent.trim() || seen.has(el) || el.closest('[hidden], noscript, svg, dialog:not([open])')) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none' || el.getClientRects().length === 0) continue;
  const fg = rgb(style.color).slice(0, 3);
  const bg = background(el);
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${el.textContent.trim().slice(0, 30)}" (${style.color} on rgb(${bg}))`);
}
return problems;
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_names_its_controls_and_keeps_contrast(browser, gateway, platform, compute, scheme):
    driver = browser
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
    sign_in(driver, gateway)
    assert driver.execute_script("return document.documentElement.lang") == "en"
    # The audit catches what it looks for: a pale line and a nameless field, put there on purpose.
    planted = driver.execute_script("""
        const p = document.createElement('p'); p.textContent = 'pale'; p.style.color = '#bbbbbb'; p.style.background = '#ffffff';
        const input = document.createElement('input');
        document.querySelector('main .page').append(p, input);
        const found = (new Function(arguments[0]))();
        p.remove(); input.remove();
        return found;""", AUDIT)
    assert any(x.startswith("contrast") and "pale" in x for x in planted) and any(x.startswith("unnamed input") for x in planted), planted
    for page in PAGES:
        go(driver, gateway, page)
        visible(driver, "main .card, main table, main .empty")
        problems = driver.execute_script(AUDIT)
        assert not problems, f"{page} ({scheme}): {problems}"


def test_keyboard_alone_signs_in_navigates_and_cancels(browser, gateway, platform):
    driver = browser
    driver.get(f"{gateway.url}/console/")
    email = visible(driver, "#email")
    assert driver.switch_to.active_element == email  # the form has the focus
    email.send_keys(ADMIN_EMAIL, Keys.TAB)
    driver.switch_to.active_element.send_keys(ADMIN_PASSWORD, Keys.ENTER)
    text_appears(driver, "main h1", "Overview")

    # From the top of the page: the skip link, then the brand and the navigation, in order.
    first = driver.execute_script("return document.querySelector('a[href], button, input, select, textarea')")
    assert first.text == "" and first.get_attribute("class") == "skip"  # shown only when focused
    driver.execute_script("arguments[0].focus()", first)
    assert driver.switch_to.active_element.text == "Skip to content"
    for _ in range(20):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.text == "Identity":
            break
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    text_appears(driver, "main h1", "Identity")

    # A confirmation dialog takes the focus and Escape cancels it: nothing is revoked.
    go(driver, gateway, "#/identity/keys")
    button = visible(driver, "#key-list button")
    key_id = button.find_element(By.XPATH, "ancestor::tr").get_attribute("data-key")
    button.send_keys(Keys.ENTER)
    dialog = visible(driver, "#confirm")
    assert driver.switch_to.active_element.tag_name == "button"
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not dialog.is_displayed()
    assert "Revoked" not in driver.find_element(By.CSS_SELECTOR, f'#key-list tr[data-key="{key_id}"]').text
    assert all(u.startswith(gateway.url + "/") or u.startswith("data:") for u in requested_urls(driver, gateway.url))
