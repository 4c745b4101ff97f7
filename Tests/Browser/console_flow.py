#!/usr/bin/env python3
"""Drives the Gatehouse console in headless Chromium (Debian's chromium + chromedriver, with
python3-selenium): sign in by keyboard, add a camera and decode the QR image it shows with
zbarimg, activate the camera as its agent would, create a registration code, revoke an
endpoint, delete the camera, check the phone-width layout, sign out. Screenshots go to the
artifacts directory. Prints one JSON line with what it saw; exits 1 with a message on failure.

Run by Tests/GatehouseIntegrationTests/ConsoleBrowserTests.swift, which starts the server and
prepares the account (user, preset, an onboarded endpoint). Arguments are environment variables:
CONSOLE_BASE_URL, CONSOLE_EMAIL, CONSOLE_PASSWORD, CONSOLE_ENDPOINT (external id of an active
endpoint of the account), CONSOLE_ARTIFACTS (directory for screenshots).
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["CONSOLE_BASE_URL"].rstrip("/")
EMAIL = os.environ["CONSOLE_EMAIL"]
PASSWORD = os.environ["CONSOLE_PASSWORD"]
ENDPOINT = os.environ["CONSOLE_ENDPOINT"]
ARTIFACTS = os.environ["CONSOLE_ARTIFACTS"]
SSID = "Café Net"
WIFI_PASSWORD = 'pw:1;2 "x"'
CAMERA = "Front door"

seen = {"screenshots": []}


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def shot(driver, name):
    path = os.path.join(ARTIFACTS, name + ".png")
    driver.save_screenshot(path)
    seen["screenshots"].append(path)


def zbar(path):
    result = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", "-Sbinary", path],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    check(result.returncode == 0, "zbarimg found no QR code in " + path)
    return result.stdout.decode("utf-8")


def wait(driver, condition, what, seconds=10):
    try:
        return WebDriverWait(driver, seconds).until(condition)
    except TimeoutException:
        shot(driver, "failed-" + re.sub(r"[^a-z0-9]+", "-", what.lower()))
        raise Failure("timed out waiting for " + what + " on " + driver.current_url)


def accept_confirm(driver):
    alert = wait(driver, EC.alert_is_present(), "the confirmation dialog")
    question = alert.text
    alert.accept()
    return question


def no_horizontal_scroll(driver):
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def csp_violations(driver):
    try:
        entries = driver.get_log("browser")
    except Exception:  # noqa: BLE001 - logs are a bonus; not every driver offers them
        return []
    return [e["message"] for e in entries if "Content Security Policy" in e.get("message", "")]


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                     "--lang=en-US", "--no-first-run", "--password-store=basic"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    try:
        flow(driver)
    finally:
        driver.quit()


def flow(driver):
    # Signed out: the console sends the browser to the sign-in page.
    driver.get(BASE + "/console")
    wait(driver, EC.url_contains("/console/sign-in"), "the sign-in page")
    shot(driver, "01-sign-in")

    # A wrong password: the error shows, the e-mail stays, the password does not.
    driver.find_element(By.ID, "email").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    error = wait(driver, EC.presence_of_element_located((By.ID, "sign-in-error")), "the sign-in error")
    check("wrong" in error.text, "the sign-in error says: " + error.text)
    check(driver.find_element(By.ID, "email").get_attribute("value") == EMAIL, "the e-mail was kept")
    check(driver.find_element(By.ID, "password").get_attribute("value") == "", "the password was not kept")
    shot(driver, "02-sign-in-refused")

    # Keyboard only: the password field, Enter submits.
    password = driver.find_element(By.ID, "password")
    password.click()
    password.send_keys(PASSWORD + Keys.ENTER)
    wait(driver, EC.url_contains("/devices"), "the devices page after sign-in")
    check(driver.find_element(By.TAG_NAME, "h1").text.startswith("Devices of"), "the devices page heading")
    # The first Tab reaches the skip link, and focus is visible (an outline).
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    check(active.get_attribute("class") == "skip", "the first Tab stop is the skip link, not " + active.tag_name)
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    check(outline not in ("", "none"), "the focused skip link has a visible outline, not " + str(outline))
    shot(driver, "03-devices")

    # Add camera: every control has a label; the token, its payload and its QR image appear.
    for field in ["camera-title", "camera-preset", "camera-ssid", "camera-wifi-password"]:
        check(driver.find_elements(By.CSS_SELECTOR, "label[for='%s']" % field), "a label for " + field)
    driver.find_element(By.ID, "camera-title").send_keys(CAMERA)
    driver.find_element(By.ID, "camera-ssid").send_keys(SSID)
    driver.find_element(By.ID, "camera-wifi-password").send_keys(WIFI_PASSWORD)
    driver.find_element(By.XPATH, "//button[normalize-space()='Add camera']").click()
    wait(driver, EC.presence_of_element_located((By.ID, "issued")), "the issued token")
    token = driver.find_element(By.ID, "issued-token").text
    payload = driver.find_element(By.ID, "qr-payload").text
    lines = payload.split("\n")
    check(len(lines) == 3 and lines[0] == SSID and lines[1] == WIFI_PASSWORD and lines[2].endswith(":" + token),
          "the payload on the page: " + repr(payload))
    operator_id = lines[2].split(":")[0]
    image = driver.find_element(By.ID, "qr-image")
    wait(driver, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image), "the QR image to load")
    check(image.get_attribute("alt"), "the QR image has alternative text")
    shot(driver, "04-camera-token")
    # What the browser shows decodes to the payload, and so do the image's own bytes.
    shown = os.path.join(ARTIFACTS, "qr-as-shown.png")
    with open(shown, "wb") as f:
        f.write(image.screenshot_as_png)
    decoded_shown = zbar(shown)
    check(decoded_shown == payload, "the QR as shown decodes to %r, not %r" % (decoded_shown, payload))
    cookie = "; ".join("%s=%s" % (c["name"], c["value"]) for c in driver.get_cookies())
    request = urllib.request.Request(image.get_attribute("src"), headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as answer:
        check(answer.headers.get("Content-Type") == "image/png", "the QR image is a PNG")
        fetched = os.path.join(ARTIFACTS, "qr-fetched.png")
        with open(fetched, "wb") as f:
            f.write(answer.read())
    decoded = zbar(fetched)
    check(decoded == payload, "the QR image decodes to %r, not %r" % (decoded, payload))
    seen["payload"] = decoded
    seen["token"] = token
    # The session cookie is not readable by scripts (HttpOnly).
    check(driver.execute_script("return document.cookie") == "", "document.cookie is empty: the session cookie is HttpOnly")

    # The camera's agent reads the QR code and activates with its third line.
    body = urllib.parse.urlencode({"operatorid": operator_id, "sign": token, "serial": "CAM-BROWSER-1"}).encode()
    with urllib.request.urlopen(urllib.request.Request(BASE + "/vsaas/api/v2/agents/activate", data=body), timeout=10) as answer:
        check(answer.status == 200, "the agent activated")

    # + Connection: a registration code with its expiry.
    driver.find_element(By.ID, "new-connection").click()
    code = wait(driver, EC.presence_of_element_located((By.ID, "code-value")), "the registration code").text
    check(re.fullmatch(r"[0-9a-f]{10}", code) is not None, "the registration code " + code)
    expires = driver.find_element(By.ID, "code-expires").get_attribute("datetime")
    check(bool(expires), "the code's expiry")
    seen["registration_code_expires"] = expires
    shot(driver, "05-registration-code")

    # Revoke the endpoint prepared through the API (the button names it; a dialog asks first).
    revoke = driver.find_element(By.CSS_SELECTOR, "button[aria-label='Revoke endpoint %s']" % ENDPOINT)
    revoke.click()
    question = accept_confirm(driver)
    check(ENDPOINT in question, "the dialog names the endpoint: " + question)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Endpoint revoked."), "the revoke notice")
    check(not driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Revoke endpoint %s']" % ENDPOINT), "no revoke button any more")
    check("revoked" in driver.find_element(By.ID, "endpoints").text, "the endpoint is listed as revoked")
    driver.execute_script("document.getElementById('endpoints-heading').scrollIntoView()")
    shot(driver, "06-endpoint-revoked")

    # The activated camera is listed; delete it.
    check("CAM-BROWSER-1" in driver.find_element(By.ID, "cameras").text, "the activated camera is listed")
    delete = driver.find_element(By.CSS_SELECTOR, "button[aria-label='Delete camera %s']" % CAMERA)
    # Keyboard: focus the button and press Enter.
    driver.execute_script("arguments[0].focus()", delete)
    delete.send_keys(Keys.ENTER)
    accept_confirm(driver)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Camera deleted."), "the delete notice")
    check("CAM-BROWSER-1" not in driver.find_element(By.ID, "cameras").text, "the camera is gone")
    shot(driver, "07-camera-deleted")

    # A rejected form keeps what was typed (not the Wi-Fi password), with the error at its field.
    driver.find_element(By.ID, "camera-title").send_keys("Garage")
    driver.find_element(By.ID, "camera-ssid").send_keys("x" * 40)
    driver.find_element(By.ID, "camera-wifi-password").send_keys("secret")
    driver.find_element(By.XPATH, "//button[normalize-space()='Add camera']").click()
    wait(driver, EC.presence_of_element_located((By.ID, "camera-ssid-error")), "the SSID error")
    check(driver.find_element(By.ID, "camera-title").get_attribute("value") == "Garage", "the camera name was kept")
    check(driver.find_element(By.ID, "camera-ssid").get_attribute("value") == "x" * 40, "the SSID was kept")
    check(driver.find_element(By.ID, "camera-wifi-password").get_attribute("value") == "", "the Wi-Fi password was not kept")
    check(driver.find_element(By.ID, "camera-ssid").get_attribute("aria-invalid") == "true", "the SSID field is marked invalid")
    shot(driver, "08-rejected-form")

    # Phone width: one column, nothing wider than the screen.
    driver.set_window_size(390, 844)
    driver.get(driver.current_url.split("?")[0].replace("/cameras", "/devices"))
    wait(driver, EC.presence_of_element_located((By.ID, "cameras-heading")), "the devices page at phone width")
    check(no_horizontal_scroll(driver), "no horizontal scrolling at 390 px")
    shot(driver, "09-phone-width")
    driver.execute_script("document.getElementById('endpoints-heading').scrollIntoView()")
    shot(driver, "09-phone-width-endpoints")
    driver.set_window_size(1280, 1000)

    violations = csp_violations(driver)
    check(not violations, "Content-Security-Policy violations: " + "; ".join(violations))

    # Sign out: back at the sign-in page, and the devices page is closed.
    devices_url = driver.current_url
    driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "You are signed out."), "the signed-out notice")
    driver.get(devices_url)
    wait(driver, EC.url_contains("/console/sign-in"), "the sign-in page after sign-out")
    shot(driver, "10-signed-out")
    seen["ok"] = True


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        seen["ok"] = False
        seen["failure"] = str(failure)
        print(json.dumps(seen, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps(seen, ensure_ascii=False))
