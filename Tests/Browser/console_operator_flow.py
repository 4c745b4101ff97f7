#!/usr/bin/env python3
"""Drives the platform operator's console pages in headless Chromium (Debian's chromium +
chromedriver, with python3-selenium): sign in, follow "Tenant tree", a rejected "Create a
node" form (the error next to its field, the typed values kept), create a distributor, open
it, switch its Generate Access Token feature on, disable it (confirmation accepted), check the
phone-width layout; then create an organization (after a rejected form) and its preset, add a
webhook to the new distributor for two of its three events (the secret shown once), revoke the super-admin certificate the
test issued (confirmation accepted); and check that the browser reported no
Content-Security-Policy violation.
Screenshots go to the artifacts directory. Prints one JSON line with what it saw; exits 1 with
a message on failure.

Run by Tests/GatehouseIntegrationTests/ConsoleRoleBrowserTests.swift, which starts the server
and creates the operator user. Environment: CONSOLE_BASE_URL, CONSOLE_EMAIL, CONSOLE_PASSWORD,
CONSOLE_ARTIFACTS, CONSOLE_CERT_SERIAL (a super-admin certificate to revoke).
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("CONSOLE_ENDPOINT", "")
import console_flow as common  # noqa: E402 - the same helpers (check, shot, wait, csp_violations, …)
from console_flow import check, shot, wait  # noqa: E402

BASE = os.environ["CONSOLE_BASE_URL"].rstrip("/")
EMAIL = os.environ["CONSOLE_EMAIL"]
PASSWORD = os.environ["CONSOLE_PASSWORD"]
ARTIFACTS = os.environ["CONSOLE_ARTIFACTS"]
NODE = "Browser Distribution"
ORGANIZATION = "Browser Organization"
PRESET = "Porch"
WEBHOOK = "https://hooks.example/browser"
SERIAL = os.environ["CONSOLE_CERT_SERIAL"].lower()
seen = common.seen


def flow(driver):
    driver.get(BASE + "/console/sign-in")
    driver.find_element(By.ID, "email").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    link = wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Tenant tree")), "the Tenant tree link")
    link.click()
    wait(driver, EC.presence_of_element_located((By.ID, "node-name")), "the Create a node form")
    shot(driver, "operator-01-tree")

    # Rejected: no name. The error is next to the name field, the kind and key stay.
    Select(driver.find_element(By.ID, "node-kind")).select_by_value("distributor")
    driver.find_element(By.ID, "node-key").send_keys("browser-dist")
    driver.find_element(By.XPATH, "//button[normalize-space()='Create node']").click()
    error = wait(driver, EC.presence_of_element_located((By.ID, "node-name-error")), "the name error")
    check("name" in error.text.lower(), "the name error says: " + error.text)
    name = driver.find_element(By.ID, "node-name")
    check(name.get_attribute("aria-invalid") == "true" and name.get_attribute("aria-describedby") == "node-name-error", "the name field points at its error")
    check(Select(driver.find_element(By.ID, "node-kind")).first_selected_option.get_attribute("value") == "distributor", "the kind was kept")
    check(driver.find_element(By.ID, "node-key").get_attribute("value") == "browser-dist", "the key was kept")
    shot(driver, "operator-02-rejected")

    # Created, by keyboard: type the name, Enter submits.
    name.send_keys(NODE + Keys.ENTER)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Node created."), "the created notice")
    row = driver.find_element(By.LINK_TEXT, NODE)
    shot(driver, "operator-03-created")
    row.click()
    wait(driver, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), NODE), "the new node's page")
    driver.find_element(By.CSS_SELECTOR, "button[aria-label^='Switch on Generate Access Token']").click()
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Feature switch saved."), "the feature notice")
    check(len(driver.find_elements(By.CSS_SELECTOR, "button[aria-label^='Switch off Generate Access Token']")) == 1, "the feature is on")
    shot(driver, "operator-04-feature-on")

    # Back to the platform through the trail; disable the new node (confirmation accepted).
    driver.find_element(By.CSS_SELECTOR, "nav.trail a").click()
    button = wait(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Disable " + NODE + "']")), "the Disable button")
    button.click()
    question = common.accept_confirm(driver)
    check(NODE in question, "the confirmation names the node: " + question)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Node disabled."), "the disabled notice")
    check(len(driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Enable " + NODE + "']")) == 1, "the node shows as disabled")

    driver.set_window_size(390, 844)
    check(common.no_horizontal_scroll(driver), "the tree page scrolls sideways at 390 px")
    shot(driver, "operator-05-phone")
    driver.set_window_size(1280, 1000)

    organizations_and_presets(driver)
    webhooks(driver)
    certificates(driver)
    driver.set_window_size(1280, 1000)
    violations = common.csp_violations(driver)
    check(not violations, "Content-Security-Policy violations: " + "; ".join(violations))
    seen["ok"] = True


def organizations_and_presets(driver):
    """Organizations of the platform node: a rejected form keeps its values, then create one and add a preset."""
    wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Organizations")), "the Organizations link").click()
    wait(driver, EC.presence_of_element_located((By.ID, "org-title")), "the Create an organization form")
    driver.find_element(By.ID, "org-title").send_keys(ORGANIZATION)
    driver.find_element(By.ID, "org-camera-limit").send_keys("many")
    driver.find_element(By.XPATH, "//button[normalize-space()='Create organization']").click()
    error = wait(driver, EC.presence_of_element_located((By.ID, "org-camera-limit-error")), "the camera limit error")
    check("whole number" in error.text, "the camera limit error says: " + error.text)
    limit = driver.find_element(By.ID, "org-camera-limit")
    check(limit.get_attribute("aria-invalid") == "true" and limit.get_attribute("aria-describedby") == "org-camera-limit-error",
          "the camera limit field points at its error")
    check(driver.find_element(By.ID, "org-title").get_attribute("value") == ORGANIZATION, "the name was kept")
    shot(driver, "operator-06-organization-rejected")
    limit.clear()
    limit.send_keys("25" + Keys.ENTER)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Organization created."), "the organization created notice")
    check(ORGANIZATION in driver.find_element(By.TAG_NAME, "h1").text, "the new organization's page")
    driver.find_element(By.ID, "preset-title").send_keys(PRESET)
    driver.find_element(By.ID, "preset-settings").send_keys("fps=15")
    driver.find_element(By.XPATH, "//button[normalize-space()='Add preset']").click()
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Preset created."), "the preset created notice")
    check(len(driver.find_elements(By.CSS_SELECTOR, "a[aria-label='Edit preset " + PRESET + "']")) == 1, "the preset is listed")
    shot(driver, "operator-07-organization-preset")
    seen["organization"] = ORGANIZATION


def webhooks(driver):
    """Webhooks of the distributor made above: choose it, add one (one event unticked), the secret shown once."""
    wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Webhooks")), "the Webhooks link").click()
    choice = Select(wait(driver, EC.presence_of_element_located((By.ID, "operator-choice")), "the operator choice"))
    option = next((o for o in choice.options if o.text.startswith(NODE + " (")), None)
    check(option is not None, "the distributor is offered as an operator")
    choice.select_by_value(option.get_attribute("value"))
    driver.find_element(By.XPATH, "//button[normalize-space()='Show']").click()
    wait(driver, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), NODE), "the distributor's webhooks")
    driver.find_element(By.ID, "webhook-url").send_keys(WEBHOOK)
    token_issued = driver.find_element(By.ID, "webhook-event-token-issued")
    check(token_issued.is_selected(), "every event is ticked at first")
    token_issued.send_keys(Keys.SPACE)
    check(not token_issued.is_selected(), "the space bar unticks an event")
    driver.find_element(By.XPATH, "//button[normalize-space()='Add webhook']").click()
    secret = wait(driver, EC.presence_of_element_located((By.ID, "webhook-secret")), "the new webhook's secret")
    check(secret.text.startswith("whsec_"), "the secret is shown: " + secret.text[:8])
    rows = driver.find_elements(By.CSS_SELECTOR, "#webhooks tbody tr")
    check(len(rows) == 1 and WEBHOOK in rows[0].text and "camera.activated" in rows[0].text and "token.issued" not in rows[0].text,
          "the webhook is listed with its events")
    shot(driver, "operator-08-webhook-added")
    seen["webhook"] = WEBHOOK


def certificates(driver):
    """Revoke the super-admin certificate the test issued (confirmation accepted); it shows as revoked."""
    wait(driver, EC.element_to_be_clickable((By.LINK_TEXT, "Certificates")), "the Certificates link").click()
    button = wait(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label$=' " + SERIAL + "']")), "the certificate's Revoke button")
    shot(driver, "operator-09-certificates")
    button.click()
    question = common.accept_confirm(driver)
    check(SERIAL in question, "the confirmation names the serial: " + question)
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "revoked"), "the revoked notice")
    row = driver.find_element(By.XPATH, "//tr[.//code[normalize-space()='" + SERIAL + "']]")
    check("revoked on" in row.text and not row.find_elements(By.TAG_NAME, "button"), "the certificate shows as revoked: " + row.text)
    driver.set_window_size(390, 844)
    check(common.no_horizontal_scroll(driver), "the certificates page (with the notice naming the serial) scrolls sideways at 390 px")
    shot(driver, "operator-10-certificate-revoked-phone")
    driver.set_window_size(1280, 1000)
    seen["revoked"] = SERIAL


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


if __name__ == "__main__":
    try:
        main()
    except common.Failure as failure:
        seen["ok"] = False
        seen["failure"] = str(failure)
        print(json.dumps(seen, ensure_ascii=False))
        sys.exit(1)
    print(json.dumps(seen, ensure_ascii=False))
