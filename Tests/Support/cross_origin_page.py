"""A web page on an origin of its own that uses a Switchboard server's REST API with fetch, in headless Chromium.

Usage: cross_origin_page.py
Serves the page on 127.0.0.1 at a free port and prints `page PORT`. Then, for each line `PORT KEY` read from
stdin, loads the page against the Switchboard server on that port and prints one JSON line of what the page's
fetches got: `get` (a GET with the key: status and Switchboard-Info), `post` (a JSON POST with the key), `report`
(REPORT with a wrong key: the status); each is "blocked" when the browser kept the answer from the page.
Needs Debian's chromium and chromium-driver, and `pip install selenium`.
"""
import http.server
import json
import sys
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

PAGE = b"""<!doctype html><html><body><script>
async function attempt(name, url, options, read) {
  try {
    const answer = await fetch(url, options);
    return read(answer);
  } catch (error) {
    return "blocked";
  }
}
(async () => {
  const query = new URLSearchParams(location.search);
  const api = "http://127.0.0.1:" + query.get("port") + "/api";
  const key = { Authorization: "Bearer " + query.get("key") };
  const results = {};
  results.get = await attempt("get", api + "/superhero//limit=1", { headers: key },
    (a) => a.status + " " + a.headers.get("Switchboard-Info"));
  results.post = await attempt("post", api + "/superhero", {
    method: "POST", headers: { ...key, "Content-Type": "application/json" },
    body: JSON.stringify({ Name: "Cross Origin", Year: 2020, HasSecretIdentity: false }) },
    (a) => a.status + " " + a.headers.get("Switchboard-Info"));
  results.report = await attempt("report", api + "/superhero", { method: "REPORT", headers: { Authorization: "Bearer wrong" } },
    (a) => String(a.status));
  window.results = results;
})();
</script></body></html>"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_port = server.server_address[1]
    print(f"page {page_port}", flush=True)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        for line in sys.stdin:
            port, key = line.split()
            driver.get(f"http://127.0.0.1:{page_port}/?port={port}&key={key}")
            results = WebDriverWait(driver, 20).until(lambda d: d.execute_script("return window.results"))
            print(json.dumps(results, sort_keys=True), flush=True)
    finally:
        driver.quit()
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
