"""Loads Switchboard's browser console in headless Chromium, types a command and reads the rendered screen.

Usage: browser_console.py URL [--screenshot FILE] [--replay] [--paste TOKEN]
Prints the screen's text and exits 0 when `echo $((6*7))` shows 42 on a line of its own, 1 otherwise.
With --replay, URL opens a recording (`/console?replay=ID`) of such a session: the script waits for the replay
to end, prints the screen and the terminal's size, and exits 0 when 42 is on the screen.
Needs Debian's chromium and chromium-driver, and `pip install selenium`.
"""
import argparse
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--screenshot")
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--replay", action="store_true")
    parser.add_argument("--paste", help="open URL without a token, and type this one into the field the page shows")
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(args.url)
        wait = WebDriverWait(driver, args.timeout)
        if args.replay:
            # A replay can be over, its socket closed, before the first poll: wait for the end, never for "open".
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-exited") == "true")
            text = screen(driver)
            print(text)
            size = driver.execute_script("var t = window.switchboardConsole.terminal; return [t.cols, t.rows];")
            print(f"size={size[0]}x{size[1]}")
            print("status:", driver.find_element(By.ID, "status").text)
            return 0 if any(line.strip() == "42" for line in text.splitlines()) else 1
        if args.paste:
            field = wait.until(lambda d: d.find_elements(By.ID, "key") and d.find_element(By.ID, "key"))
            print("asked:", driver.find_element(By.ID, "status").text)
            field.send_keys(args.paste + "\n")
        # Connected, and the shell has drawn its prompt.
        wait.until(lambda d: d.execute_script(
            "return window.switchboardConsole && window.switchboardConsole.socket.readyState === 1"))
        wait.until(lambda d: screen(d).strip() != "")
        # Where the key went: the socket's address (without a key) and the subprotocol the server answered.
        print("socket:", driver.execute_script(
            "var s = window.switchboardConsole.socket; return s.url + ' protocol=' + s.protocol;"))
        rows_before = driver.execute_script("return window.switchboardConsole.terminal.rows")
        textarea = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        textarea.send_keys("echo $((6*7))\n")
        wait.until(lambda d: any(line.strip() == "42" for line in screen(d).splitlines()))
        text = screen(driver)
        print(text)
        print(f"rows={rows_before}")
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
        # Exit the shell: the page shows the exit status.
        textarea.send_keys("exit 5\n")
        wait.until(lambda d: "exited with status 5" in d.find_element(By.ID, "status").text)
        print("status:", driver.find_element(By.ID, "status").text)
        # The key left the address and stayed in the tab, in no cookie; a reload connects again with it.
        print("address:", driver.current_url)
        print("cookies:", len(driver.get_cookies()))
        print("key in the tab:", driver.execute_script("return sessionStorage.getItem('switchboard.key') !== null"))
        driver.refresh()
        wait.until(lambda d: d.execute_script(
            "return window.switchboardConsole && window.switchboardConsole.socket.readyState === 1"))
        print("reloaded:", driver.find_element(By.ID, "status").text)
        return 0
    except Exception as error:  # noqa: BLE001 - report anything, with the screen
        print("failed:", repr(error), file=sys.stderr)
        try:
            print(screen(driver), file=sys.stderr)
            print("status:", driver.find_element(By.ID, "status").text, file=sys.stderr)
        except Exception:  # noqa: BLE001
            pass
        return 1
    finally:
        driver.quit()


def screen(driver):
    return driver.execute_script(
        "var rows = document.querySelector('.xterm-rows'); return rows ? rows.innerText : '';")


if __name__ == "__main__":
    sys.exit(main())
