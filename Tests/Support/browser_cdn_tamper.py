"""Loads Switchboard's browser console in headless Chromium while the CDN it loads xterm.js from serves other code.

Usage: browser_cdn_tamper.py CONSOLE_URL CERT KEY
CONSOLE_URL is `/console?token=…` of a server that loads xterm.js from cdn.jsdelivr.net (its default). The script
serves, over HTTPS with CERT and KEY, a script of its own at the pinned xterm.js path (one that defines
`Terminal` and marks that it ran) and a stylesheet at the pinned xterm.css path, with CORS allowed as jsDelivr
does, and points Chromium's cdn.jsdelivr.net at it. It prints what it saw, and exits 0 when the CDN was reached
and served its files, the page ran neither, the browser said they failed their integrity check, and the status
line says xterm.js did not load; 1 otherwise.
Needs Debian's chromium and chromium-driver, and `pip install selenium`.
"""
import http.server
import ssl
import sys
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SCRIPT_PATH = "/npm/@xterm/xterm@5.5.0/lib/xterm.js"
STYLESHEET_PATH = "/npm/@xterm/xterm@5.5.0/css/xterm.css"
TAMPERED_SCRIPT = b"window.tamperedScriptRan = true; window.Terminal = function () { window.tamperedTerminal = true; };\n"
TAMPERED_STYLESHEET = b"body { background: rgb(1, 2, 3) !important; }\n"


class FakeCDN(http.server.BaseHTTPRequestHandler):
    requested = []

    def do_GET(self):
        FakeCDN.requested.append(self.path)
        body, kind = {SCRIPT_PATH: (TAMPERED_SCRIPT, "application/javascript"),
                      STYLESHEET_PATH: (TAMPERED_STYLESHEET, "text/css")}.get(self.path, (None, None))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    url, cert, key = sys.argv[1:4]
    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeCDN)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    cdn.socket = context.wrap_socket(cdn.socket, server_side=True)
    threading.Thread(target=cdn.serve_forever, daemon=True).start()

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,600",
                 f"--host-resolver-rules=MAP cdn.jsdelivr.net:443 127.0.0.1:{cdn.server_address[1]}",
                 "--ignore-certificate-errors"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 20)
        # Either the page gives up on xterm.js, or the CDN's script ran.
        wait.until(lambda d: "xterm.js" in d.find_element(By.ID, "status").text
                   or d.execute_script("return window.tamperedScriptRan === true"))
        status = driver.find_element(By.ID, "status").text
        ran = driver.execute_script("return [window.tamperedScriptRan === true, window.tamperedTerminal === true,"
                                    " getComputedStyle(document.body).backgroundColor];")
        log = [entry["message"] for entry in driver.get_log("browser")]
        # The CDN is reached and serves its script: the page's check, not the network, kept it out.
        driver.get("https://cdn.jsdelivr.net" + SCRIPT_PATH)
        served = driver.find_element(By.TAG_NAME, "body").text.strip()
    finally:
        driver.quit()
        cdn.shutdown()
    blocked = [line for line in log if "integrity" in line]
    print("status:", status)
    print("requested:", sorted(set(FakeCDN.requested)))
    print("ran:", ran)
    print("served:", served)
    print("integrity messages:", len(blocked))
    for line in log:
        print("log:", line)
    ok = (SCRIPT_PATH in FakeCDN.requested and STYLESHEET_PATH in FakeCDN.requested
          and served == TAMPERED_SCRIPT.decode().strip()
          and ran[0] is False and ran[1] is False and ran[2] != "rgb(1, 2, 3)"
          and any(SCRIPT_PATH in line for line in blocked) and any(STYLESHEET_PATH in line for line in blocked)
          and status.startswith("Could not load xterm.js from cdn.jsdelivr.net"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
