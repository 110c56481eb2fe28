"""A real browser (headless Chromium, selenium) on xmppd's /chat page: it logs in over XMPP over WebSocket with
SCRAM-SHA-256, shows a contact's presence, chats with a slixmpp client both ways and joins a room with it.

usage: python3 -u browser_chat_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT HTTP_PORT [SCREENSHOT_DIR]

Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1.
Run by Tests/XMPPServerTests/AdminConsoleTests.swift.
"""
import asyncio
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser_admin_scenario import browser
from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, ok

HTTP_PORT = int(sys.argv[6])
SHOTS = sys.argv[7] if len(sys.argv) > 7 else None
BASE = f"http://{HOST}:{HTTP_PORT}"


def wait_for(driver, step, condition):
    try:
        return WebDriverWait(driver, TIMEOUT).until(lambda d: condition(d))
    except Exception as error:
        fail(step, f"{error!r}; status: {driver.find_element(By.ID, 'status').text}; log: {driver.find_element(By.ID, 'log').text}")


def type_into(driver, element_id, text):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


async def main():
    web_user, friend = f"web{SUFFIX}", f"friend{SUFFIX}"
    # Two accounts that see each other's presence: the page's user and a slixmpp friend.
    web = Client(web_user, "web-secret", register=True)
    buddy = Client(friend, "friend-secret", register=True)
    for client in (web, buddy):
        client.connect(host=HOST, port=client.port)
        await asyncio.wait_for(client.started, TIMEOUT)
    buddy.auto_authorize = True
    buddy.auto_subscribe = True
    web.auto_authorize = True
    web.update_roster(f"{friend}@{DOMAIN}", name="Friend")
    web.send_presence(pto=f"{friend}@{DOMAIN}", ptype="subscribe")
    buddy.send_presence(pto=f"{web_user}@{DOMAIN}", ptype="subscribe")
    await asyncio.sleep(1.5)
    web.disconnect()
    buddy.send_presence(pshow="chat")

    driver = await asyncio.to_thread(browser)
    try:
        await run(driver, web_user, friend, buddy)
    finally:
        await asyncio.to_thread(driver.quit)
    buddy.disconnect()
    print("scenario complete", flush=True)


async def run(driver, web_user, friend, buddy):
    await asyncio.to_thread(driver.get, BASE + "/chat")
    type_into(driver, "jid", f"{web_user}@{DOMAIN}")
    type_into(driver, "password", "wrong")
    driver.find_element(By.ID, "connect").click()
    await asyncio.to_thread(wait_for, driver, "wrong password", lambda d: "wrong JID or password" in d.find_element(By.ID, "status").text)
    ok("the page refuses a wrong password")

    type_into(driver, "password", "web-secret")
    driver.find_element(By.ID, "connect").click()
    await asyncio.to_thread(wait_for, driver, "login", lambda d: "Online as" in d.find_element(By.ID, "status").text)
    if "(SCRAM-SHA-256)" not in driver.find_element(By.ID, "status").text:
        fail("login", driver.find_element(By.ID, "status").text)
    friend_jid = f"{friend}@{DOMAIN}"
    selector = f"#roster li[data-jid='{friend_jid}'] .online"
    await asyncio.to_thread(wait_for, driver, "roster presence", lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    ok("logged in over WebSocket (SCRAM-SHA-256); the roster shows the friend online")

    # The friend writes first; the page shows it in the conversation, and the reply reaches slixmpp.
    buddy.send_message(mto=f"{web_user}@{DOMAIN}/web", mbody=f"hello from slixmpp {SUFFIX}", mtype="chat")
    driver.find_element(By.CSS_SELECTOR, f"#roster li[data-jid='{friend_jid}'] button").click()
    await asyncio.to_thread(wait_for, driver, "message shown", lambda d: f"hello from slixmpp {SUFFIX}" in d.find_element(By.ID, "log").text)
    type_into(driver, "message", f"hello from the browser {SUFFIX}")
    driver.find_element(By.ID, "send").click()
    while True:
        message = await asyncio.wait_for(buddy.messages.get(), TIMEOUT)
        if message["body"] == f"hello from the browser {SUFFIX}":
            break
    if str(message["from"]) != f"{web_user}@{DOMAIN}/web":
        fail("reply", message["from"])
    if SHOTS:
        driver.save_screenshot(os.path.join(SHOTS, "chat.png"))
    ok("one-to-one chat both ways between the page and slixmpp")

    # A room: slixmpp creates it, the page joins and talks there.
    room = f"webroom{SUFFIX}@conference.{DOMAIN}"
    muc = buddy.plugin["xep_0045"]
    await muc.join_muc_wait(room, "buddy", timeout=TIMEOUT)
    form = await muc.get_room_config(room, timeout=TIMEOUT)
    await muc.set_room_config(room, form, timeout=TIMEOUT)
    while not buddy.room_presences.empty():
        buddy.room_presences.get_nowait()
    type_into(driver, "room-jid", room)
    type_into(driver, "room-nick", "browser")
    driver.find_element(By.ID, "join").click()
    while True:
        presence = await asyncio.wait_for(buddy.room_presences.get(), TIMEOUT)
        if presence["muc"]["nick"] == "browser":
            break
    type_into(driver, "message", f"hello room {SUFFIX}")
    driver.find_element(By.ID, "send").click()
    while True:
        message = await asyncio.wait_for(buddy.groupchat.get(), TIMEOUT)
        if message["body"] == f"hello room {SUFFIX}":
            break
    buddy.send_message(mto=room, mbody=f"welcome {SUFFIX}", mtype="groupchat")
    await asyncio.to_thread(wait_for, driver, "room message", lambda d: f"welcome {SUFFIX}" in d.find_element(By.ID, "log").text)
    ok("joined a room from the page; groupchat both ways")


asyncio.run(main())
