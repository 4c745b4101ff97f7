#!/usr/bin/env python3
"""Drives the vendor and application developer console pages in headless Chromium (Debian's
chromium + chromedriver, with python3-selenium), as a user of a vendor node with manage_clients:
follow "Models", create a model by keyboard, upload a CSV with bad rows (each row listed next
to the file field, the chosen file kept), upload a CSV of CONSOLE_SERIALS serials with the
upload slowed down so that the progress bar is seen moving, upload a firmware file, then follow
"Applications": a rejected form (bad redirect URL, the typed values kept), create an application
with a generated key pair and read the private key shown once (text and download link). Checks
the phone width and that the browser reported no Content-Security-Policy violation.
Screenshots go to the artifacts directory. Prints one JSON line with what it saw (progress
values, the private key, the firmware size); exits 1 with a message on failure.

Run by Tests/GatehouseIntegrationTests/ConsoleVendorBrowserTests.swift, which starts the server
and creates the vendor and its user. Environment: CONSOLE_BASE_URL, CONSOLE_EMAIL,
CONSOLE_PASSWORD, CONSOLE_ARTIFACTS, CONSOLE_SERIALS.
"""
import base64
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("CONSOLE_ENDPOINT", "")
import console_flow as common  # noqa: E402 - the same helpers (check, shot, wait, csp_violations, …)
from console_flow import check, shot, wait  # noqa: E402

BASE = os.environ["CONSOLE_BASE_URL"].rstrip("/")
EMAIL = os.environ["CONSOLE_EMAIL"]
PASSWORD = os.environ["CONSOLE_PASSWORD"]
ARTIFACTS = os.environ["CONSOLE_ARTIFACTS"]
SERIALS = int(os.environ.get("CONSOLE_SERIALS", "20000"))
MODEL = "browser-cam"
seen = common.seen
seen["progress"] = []


def write(name, data):
    path = os.path.join(ARTIFACTS, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def notice(driver, text, what):
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), text), what, seconds=30)


def vendor(driver):
    driver.get(BASE + "/console/sign-in")
    driver.find_element(By.ID, "email").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Models")), "the Models link").click()
    name = wait(driver, EC.presence_of_element_located((By.ID, "model-name")), "the Create a model form")
    shot(driver, "vendor-01-models")
    name.send_keys(MODEL + Keys.ENTER)
    notice(driver, "Model created.", "the model created notice")
    check(driver.find_element(By.TAG_NAME, "h1").text == "Model " + MODEL, "the model's page is shown")

    # A file with bad rows: nothing imported, each bad row listed, the chosen file still chosen.
    bad = write("bad-serials.csv", b"BR-OK-1\nnot a serial!\nBR-OK-1\n")
    driver.find_element(By.ID, "serials-file").send_keys(bad)
    driver.find_element(By.XPATH, "//button[normalize-space()='Upload serial numbers']").click()
    error = wait(driver, EC.presence_of_element_located((By.ID, "serials-file-error")), "the CSV error")
    check("Nothing was imported" in error.text and "bad-serials.csv" in error.text, "the CSV error says: " + error.text)
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#row-problems tbody tr")]
    check(len(rows) == 2 and rows[0].startswith("2") and "not a serial!" in rows[0] and "named twice" in rows[1], "the bad rows are listed: %r" % rows)
    field = driver.find_element(By.ID, "serials-file")
    check(field.get_attribute("aria-invalid") == "true" and "serials-file-error" in field.get_attribute("aria-describedby"), "the file field points at its error")
    kept = driver.execute_script("var f = document.getElementById('serials-file'); return f.files.length ? f.files[0].name : ''")
    check(kept == "bad-serials.csv", "the chosen file was kept after the rejection, got %r" % kept)
    check(driver.switch_to.active_element.get_attribute("id") == "serials-file", "focus moved to the field at fault")
    shot(driver, "vendor-02-csv-rejected")

    # A large file, uploaded slowly enough to watch: the progress bar moves, then the result.
    lines = "".join("BR-%05d,batch 7\n" % number for number in range(SERIALS)).encode()
    good = write("serials.csv", lines)
    driver.set_network_conditions(offline=False, latency=5, download_throughput=4 * 1024 * 1024, upload_throughput=96 * 1024)
    try:
        driver.find_element(By.ID, "serials-file").send_keys(good)
        driver.find_element(By.XPATH, "//button[normalize-space()='Upload serial numbers']").click()
        shot_taken = False
        deadline = time.time() + 60
        while time.time() < deadline:
            state = driver.execute_script(
                "var p = document.getElementById('serials-progress'); var s = document.querySelector('.upload-status');"
                "var n = document.querySelector('p.notice');"
                "return [p ? p.value : -1, s ? s.textContent : '', n ? n.textContent : '', p ? !p.closest('.upload-progress').hidden : false]")
            value, status, done, shown = int(state[0]), state[1], state[2], state[3]
            if shown and value >= 0 and (not seen["progress"] or seen["progress"][-1] != value):
                seen["progress"].append(value)
            if shown and 0 < value < 100 and not shot_taken:
                check(status.startswith("Uploading: "), "the status says how far the upload is: " + status)
                shot(driver, "vendor-03-csv-progress")
                shot_taken = True
            if "Imported" in done:
                break
            time.sleep(0.05)
    finally:
        driver.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
    notice(driver, "Imported %d serial numbers." % SERIALS, "the imported notice")
    check(driver.current_url.endswith("?done=serials-imported&count=%d" % SERIALS), "the address is the result's: " + driver.current_url)
    first = driver.find_element(By.CSS_SELECTOR, "#serials tbody tr th").text
    check(first == "BR-00000", "the serial list starts with BR-00000, not " + first)
    check(len(driver.find_elements(By.LINK_TEXT, "Next 100")) == 1, "the serial list has a next page")
    shot(driver, "vendor-04-csv-imported")

    # Firmware with its version.
    firmware = bytes(range(256)) * 1200
    seen["firmware_size"] = len(firmware)
    driver.find_element(By.ID, "content-id").send_keys("fw-1.0.0")
    driver.find_element(By.ID, "content-version").send_keys("1.0.0")
    driver.find_element(By.ID, "content-file").send_keys(write("fw.bin", firmware))
    driver.find_element(By.XPATH, "//button[normalize-space()='Upload content']").click()
    notice(driver, "Content uploaded", "the content uploaded notice")
    cells = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#contents tbody tr td")]
    check("1.0.0" in cells and "307 KB" in cells, "the content row shows version and size: %r" % cells)
    shot(driver, "vendor-05-content")

    driver.set_window_size(390, 844)
    check(common.no_horizontal_scroll(driver), "the model page scrolls sideways at 390 px")
    shot(driver, "vendor-06-phone")
    driver.set_window_size(1280, 1000)


def developer(driver):
    driver.find_element(By.LINK_TEXT, "Applications").click()
    name = wait(driver, EC.presence_of_element_located((By.ID, "application-name")), "the Create an application form")
    check(driver.find_element(By.ID, "application-key-generate").is_selected(), "generating a key pair is the default")
    name.send_keys("Browser app")
    redirects = driver.find_element(By.ID, "application-redirects")
    redirects.send_keys("https://app.example/back\nnot a url")
    driver.find_element(By.XPATH, "//button[normalize-space()='Create application']").click()
    error = wait(driver, EC.presence_of_element_located((By.ID, "application-redirects-error")), "the redirect URL error")
    check("Line 2" in error.text, "the error names the line: " + error.text)
    check(driver.find_element(By.ID, "application-name").get_attribute("value") == "Browser app", "the name was kept")
    redirects = driver.find_element(By.ID, "application-redirects")
    check(redirects.get_attribute("value") == "https://app.example/back\nnot a url", "the URLs were kept: %r" % redirects.get_attribute("value"))
    shot(driver, "developer-01-rejected")

    redirects.clear()
    redirects.send_keys("https://app.example/back")
    driver.find_element(By.XPATH, "//button[normalize-space()='Create application']").click()
    key = wait(driver, EC.presence_of_element_located((By.ID, "private-key")), "the private key")
    pem = key.text.strip() + "\n"
    check(pem.startswith("-----BEGIN PRIVATE KEY-----"), "the private key is shown: " + pem[:40])
    link = driver.find_element(By.ID, "private-key-download")
    href = link.get_attribute("href")
    check(href.startswith("data:application/x-pem-file;base64,"), "the download link holds the key")
    check(base64.b64decode(href.split(",", 1)[1]).decode().strip() == pem.strip(), "the download is the key shown")
    check(link.get_attribute("download").endswith("-private-key.pem"), "the download has a file name")
    seen["private_key"] = pem
    shot(driver, "developer-02-key-pair")

    # Shown once: the application's page, opened again from the list, has no private key.
    driver.find_element(By.CSS_SELECTOR, "nav.trail a").click()
    wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Browser app")), "the application in the list").click()
    wait(driver, EC.presence_of_element_located((By.ID, "public-key")), "the application page")
    check(len(driver.find_elements(By.ID, "private-key")) == 0 and "PRIVATE KEY" not in driver.page_source, "the private key is not shown again")
    driver.set_window_size(390, 844)
    check(common.no_horizontal_scroll(driver), "the application page scrolls sideways at 390 px")
    shot(driver, "developer-03-phone")
    driver.set_window_size(1280, 1000)


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                     "--lang=en-US", "--no-first-run", "--password-store=basic"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    try:
        vendor(driver)
        developer(driver)
        violations = common.csp_violations(driver)
        check(not violations, "Content-Security-Policy violations: " + "; ".join(violations))
        seen["ok"] = True
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        main()
    except common.Failure as failure:
        seen["ok"] = False
        seen["failure"] = str(failure)
        print(json.dumps(seen, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps(seen, ensure_ascii=False))
