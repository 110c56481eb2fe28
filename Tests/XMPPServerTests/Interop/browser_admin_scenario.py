"""A real browser (headless Chromium from Debian, driven by selenium from PyPI) in xmppd's web admin console, with a
slixmpp client whose session the console sees and ends.

usage: python3 -u browser_admin_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT HTTP_PORT [SCREENSHOT_DIR]

With SCREENSHOT_DIR, each console page is saved there as PNG (docs/ADMIN.md shows them; scripts/admin-screenshots.sh
regenerates them). Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1.
Run by Tests/XMPPServerTests/AdminConsoleTests.swift.
"""
import asyncio
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, ok

HTTP_PORT = int(sys.argv[6])
SHOTS = sys.argv[7] if len(sys.argv) > 7 else None
BASE = f"http://{HOST}:{HTTP_PORT}"
ADMIN, ADMIN_PASSWORD = "browser-admin", "admin-secret"


def browser():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,900",
                     "--no-first-run", "--disable-extensions"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


def shot(driver, name):
    if SHOTS:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1100, min(max(height + 40, 500), 2000))
        driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))
        driver.set_window_size(1100, 900)


def gone(element):
    """A wait condition: `element` left the document (the page it was on was replaced). Like selenium's
    staleness_of, but chromedriver sometimes reports a node of the page that is going away as "does not belong to
    the document" (an inspector error) rather than as a stale element: that is gone too."""
    def predicate(_):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
    return predicate


def submit(driver, form_action, fields):
    """Fills the form posting to `form_action` and submits it (as a user would: typing, ticking, clicking)."""
    form = driver.find_element(By.CSS_SELECTOR, f"form[method='post'][action='{form_action}']")
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        if field.get_attribute("type") == "checkbox":
            if not field.is_selected():
                field.click()
        else:
            field.clear()
            field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, TIMEOUT).until(gone(form))


def click(driver, selector):
    """Clicks a button and waits for the page it loads."""
    button = driver.find_element(By.CSS_SELECTOR, selector)
    button.click()
    WebDriverWait(driver, TIMEOUT).until(gone(button))


def text(driver):
    for _ in range(20):
        try:
            return driver.find_element(By.TAG_NAME, "main").text
        except StaleElementReferenceException:
            continue
    return ""


def post(path, fields, cookie=None, headers=None):
    """A raw POST, for what a browser would not send (forged forms)."""
    request = urllib.request.Request(BASE + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
    if cookie:
        request.add_header("Cookie", cookie)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def main():
    # The administrator's account (on the `admins` list) and a user whose session the console will see.
    admin = Client(ADMIN, ADMIN_PASSWORD, register=True)
    admin.connect(host=HOST, port=admin.port)
    await asyncio.wait_for(admin.started, TIMEOUT)
    admin.disconnect()
    driver = await asyncio.to_thread(browser)
    try:
        await run(driver)
    finally:
        await asyncio.to_thread(driver.quit)
    print("scenario complete", flush=True)


async def run(driver):
    def go(path):
        driver.get(BASE + path)

    # Unauthenticated: the console sends the browser to its login page.
    await asyncio.to_thread(go, "/admin/users")
    if not driver.current_url.endswith("/admin/login"):
        fail("login required", driver.current_url)
    shot(driver, "login")
    await asyncio.to_thread(submit, driver, "/admin/login", {"jid": f"{ADMIN}@{DOMAIN}", "password": "wrong"})
    if "Wrong JID or password" not in text(driver):
        fail("wrong password refused", text(driver))
    # A user who is not an administrator, with the right password, does not get in either.
    user = Client(f"user{SUFFIX}", "user-secret", register=True)
    user.connect(host=HOST, port=user.port)
    await asyncio.wait_for(user.started, TIMEOUT)
    await asyncio.to_thread(submit, driver, "/admin/login", {"jid": f"user{SUFFIX}@{DOMAIN}", "password": "user-secret"})
    if "Wrong JID or password" not in text(driver):
        fail("non-admin refused", text(driver))
    ok("wrong password and non-administrator refused")

    await asyncio.to_thread(submit, driver, "/admin/login", {"jid": f"{ADMIN}@{DOMAIN}", "password": ADMIN_PASSWORD})
    if "Dashboard" not in driver.title or "Sessions" not in text(driver):
        fail("login", driver.page_source[:500])
    cookie = driver.get_cookie("xmppd_admin")
    if not cookie or not cookie.get("httpOnly") or cookie.get("sameSite") != "Strict":
        fail("session cookie", cookie)
    await asyncio.sleep(6)  # one more chart sample
    await asyncio.to_thread(go, "/admin")
    shot(driver, "dashboard")
    ok("administrator logged in (HttpOnly, SameSite=Strict cookie)")

    # A form posted without the session's CSRF token (as another site would) is refused, and creates nothing.
    session_cookie = f"xmppd_admin={cookie['value']}"
    status, _ = post("/admin/users", {"jid": f"forged{SUFFIX}", "password": "x"}, cookie=session_cookie)
    status2, _ = post("/admin/users", {"jid": f"forged{SUFFIX}", "password": "x", "csrf": "0" * 64}, cookie=session_cookie)
    if status != 403 or status2 != 403:
        fail("CSRF", (status, status2))
    ok("forms without the CSRF token refused")

    # Create a user; search finds it.
    await asyncio.to_thread(go, "/admin/users")
    await asyncio.to_thread(submit, driver, "/admin/users", {"jid": f"carol{SUFFIX}", "password": "carol-secret"})
    if "The account was created." not in text(driver) or f"carol{SUFFIX}@{DOMAIN}" not in driver.title:
        fail("create user", text(driver))
    await asyncio.to_thread(go, f"/admin/users?q=carol{SUFFIX}")
    if f"carol{SUFFIX}@{DOMAIN}" not in text(driver) or "1 accounts" not in text(driver):
        fail("search", text(driver))
    if "forged" in text(driver):
        fail("forged account", text(driver))
    shot(driver, "users")
    ok("user created in the console, found by search")

    # The new user logs in with slixmpp: the sessions page shows the session, the kick ends it.
    carol = Client(f"carol{SUFFIX}", "carol-secret", resource="phone")
    disconnected = asyncio.get_event_loop().create_future()
    carol.add_event_handler("disconnected", lambda _: disconnected.done() or disconnected.set_result(True))
    carol.connect(host=HOST, port=carol.port)
    await asyncio.wait_for(carol.started, TIMEOUT)
    carol.send_presence(pstatus="here")
    await asyncio.sleep(0.5)
    await asyncio.to_thread(go, "/admin/sessions")
    full = f"carol{SUFFIX}@{DOMAIN}/phone"
    if full not in text(driver) or "c2s_starttls" not in text(driver) or "TLSv1." not in text(driver):
        fail("session listed", text(driver))
    shot(driver, "sessions")
    await asyncio.to_thread(go, f"/admin/users/{urllib.parse.quote(f'carol{SUFFIX}@{DOMAIN}')}")
    if "phone" not in text(driver):
        fail("user page sessions", text(driver))
    shot(driver, "user")
    await asyncio.to_thread(go, "/admin/sessions")
    await asyncio.to_thread(click, driver, f"button[aria-label='Kick {full}']")
    if "The session was ended." not in text(driver):
        fail("kick", text(driver))
    try:
        await asyncio.wait_for(disconnected, TIMEOUT)
    except asyncio.TimeoutError:
        fail("kick", "the slixmpp client was not disconnected")
    await asyncio.to_thread(go, "/admin/sessions")
    if full in text(driver):
        fail("kicked session gone", text(driver))
    ok("session seen in the console and kicked (slixmpp disconnected)")

    # Rooms: create one in the console, the user joins it (the console lists the occupant), destroy it.
    room = f"lobby{SUFFIX}@conference.{DOMAIN}"
    await asyncio.to_thread(go, "/admin/rooms")
    await asyncio.to_thread(submit, driver, "/admin/rooms", {"jid": room, "title": "The lobby"})
    if "The room was created." not in text(driver) or "persistent" not in text(driver):
        fail("create room", text(driver))
    user.plugin["xep_0045"].join_muc(room, "usernick")
    await asyncio.wait_for(user.room_presences.get(), TIMEOUT)
    await asyncio.to_thread(go, f"/admin/rooms/{urllib.parse.quote(room)}")
    if "usernick" not in text(driver) or f"{ADMIN}@{DOMAIN}" not in text(driver):
        fail("room occupants", text(driver))
    shot(driver, "room")
    await asyncio.to_thread(go, "/admin/rooms")
    shot(driver, "rooms")
    await asyncio.to_thread(go, f"/admin/rooms/{urllib.parse.quote(room)}")
    await asyncio.to_thread(submit, driver, f"/admin/rooms/{urllib.parse.quote(room, safe='@')}/destroy", {"reason": "closing time", "sure": "on"})
    if "The room was destroyed." not in text(driver) or room in text(driver):
        fail("destroy room", text(driver))
    gone = await asyncio.wait_for(user.room_presences.get(), TIMEOUT)
    if gone["type"] != "unavailable" or "closing time" not in str(gone):
        fail("occupant told", gone)
    ok("room created, occupant seen, room destroyed (occupant told the reason)")

    # The configuration (secrets masked) and the log pages.
    await asyncio.to_thread(go, "/admin/config")
    if "c2s_port" not in text(driver) or "muc_max_occupants" not in text(driver):
        fail("config page", text(driver))
    shot(driver, "config")
    await asyncio.to_thread(go, "/admin/logs")
    if "Time" not in text(driver):
        fail("log page", text(driver))
    shot(driver, "logs")
    ok("configuration and log pages")

    # The JSON API with Basic credentials, as a script would; the same data the console shows.
    credentials = base64.b64encode(f"{ADMIN}@{DOMAIN}:{ADMIN_PASSWORD}".encode()).decode()
    request = urllib.request.Request(f"{BASE}/admin/api/users?q=carol{SUFFIX}", headers={"Authorization": f"Basic {credentials}"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        page = json.load(response)
    if page["total"] != 1 or page["accounts"][0]["jid"] != f"carol{SUFFIX}@{DOMAIN}":
        fail("API", page)
    ok("JSON API with Basic credentials")

    # Logging out ends the session: the old cookie no longer works.
    await asyncio.to_thread(go, "/admin")
    await asyncio.to_thread(click, driver, "form.logout button")
    status, _ = post("/admin/users", {"jid": "late", "password": "x"}, cookie=session_cookie)
    if "/admin/login" not in driver.current_url or status != 403:
        fail("logout", (driver.current_url, status))
    ok("logged out")
    user.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
