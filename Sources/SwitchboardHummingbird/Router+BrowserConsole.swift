public import Hummingbird
import HTTPTypes
import NIOCore
public import Switchboard

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the browser console loads xterm.js from.
public enum XtermAssets: Sendable {
    /// A pinned public CDN (jsDelivr, `@xterm/xterm` 5.5.0), each file checked by the browser against its
    /// SHA-384 (Subresource Integrity): a CDN, or a package, that served other code for the pinned version would
    /// not run it in a page that holds a shell.
    case cdn
    /// A local directory holding `xterm.js` (a browser build that defines `Terminal`, or `XtermModule.Terminal`)
    /// and `xterm.css`, served below the console's path.
    case directory(String)

    static let cdnScript = "https://cdn.jsdelivr.net/npm/@xterm/xterm@5.5.0/lib/xterm.js"
    static let cdnStylesheet = "https://cdn.jsdelivr.net/npm/@xterm/xterm@5.5.0/css/xterm.css"
    /// The SHA-384 of the npm package's `lib/xterm.js` and `css/xterm.css` (289,441 and 5,559 bytes), as
    /// `integrity` attributes write them.
    static let cdnScriptIntegrity = "sha384-M169f14mRZOXm3hD/v2Ti0ThIT/RnAQagXA9nlE15yHAtrW19gdePJh/HaTzUOe/"
    static let cdnStylesheetIntegrity = "sha384-8Xk9wy/gzEDUKrXtrmCFa2bBuK3BpjpDuL/p0SeKQX19Khl/M+lHOgD/CyYf7efP"

    /// The attributes that have the browser check a file of the CDN (none for a local directory).
    func integrityAttributes(stylesheet: Bool) -> String {
        guard case .cdn = self else { return "" }
        let hash = stylesheet ? Self.cdnStylesheetIntegrity : Self.cdnScriptIntegrity
        return #" integrity="\#(hash)" crossorigin="anonymous""#
    }

    /// What the console's status line says when xterm.js did not load, and what to do about it.
    var loadFailure: String {
        switch self {
        case .cdn:
            "Could not load xterm.js from cdn.jsdelivr.net (no way out to the internet, blocked, or not the pinned file, "
                + "whose SHA-384 the page checks); the server can serve it itself: switchboard serve --xterm-dir DIR"
        case .directory:
            "Could not load xterm.js from the server's --xterm-dir (it holds a browser build of xterm.js as xterm.js, and xterm.css)"
        }
    }
}

extension Router {
    /// Serves a page that opens a PTY terminal in xterm.js over the terminado protocol, fits it to the
    /// window (and resizes with it), and shows when the program exits.
    ///
    /// The terminal needs a key, like everything else; the page holds none and is served to every client the
    /// host check lets in. Open it once per tab as `/console#token=<key>` (or `?token=`, which the server's
    /// request line, and so a proxy's log, would carry), or paste the key into the field it shows without one:
    /// its script moves the key out of the address (and the history) into the tab's `sessionStorage`, asks `<path>/key` whether it is valid
    /// (`204` or `401`, by the API's `Authenticator`; without a key, whether one is needed), and sends it with the WebSocket as a subprotocol
    /// (`AccessCredentials.subprotocolKeyPrefix`). No cookie: a browser sends a host's cookies to every port
    /// of that host. Without a valid key the status line says how to get in. The page and its assets may not be framed
    /// (`X-Frame-Options: DENY`, `frame-ancestors 'none'`) and are sent with `nosniff` and
    /// `Referrer-Policy: no-referrer`. A `HEAD` is answered as the `GET`, without the body.
    /// - Parameters:
    ///   - path: Where the page is (`/console`).
    ///   - terminalURI: The WebSocket path of the terminal, such as `/api/pty`; `mode=terminado` is added.
    ///   - replayURI: The WebSocket path of the replay terminal (`/api/replay`), when recordings can be played:
    ///     `/console?replay=<id>` then plays that recording at its recorded size instead of opening a terminal.
    ///   - assets: Where xterm.js comes from.
    ///   - api: The API whose `Authenticator` checks the key at `<path>/key`.
    ///   - configuration: The server's configuration, for the hosts it answers.
    public func addBrowserConsole(
        at path: String = "/console", terminalURI: String, replayURI: String? = nil, assets: XtermAssets = .cdn, api: SwitchboardAPI,
        configuration: SwitchboardServerConfiguration
    ) {
        let guardian = configuration.browserGuard
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let script: String
        let stylesheet: String
        switch assets {
        case .cdn:
            script = XtermAssets.cdnScript
            stylesheet = XtermAssets.cdnStylesheet
        case .directory(let directory):
            script = base + "/xterm.js"
            stylesheet = base + "/xterm.css"
            for (file, type) in [("xterm.js", "text/javascript; charset=utf-8"), ("xterm.css", "text/css; charset=utf-8")] {
                getAndHead(base + "/" + file) { request, _ -> Response in
                    guard guardian.allowsHost(request.head.authority) else { return Response(status: .forbidden) }
                    guard let data = FileManager.default.contents(atPath: directory + "/" + file) else {
                        return Response(status: .notFound)
                    }
                    var headers = Self.consoleSecurityHeaders(script: script, host: nil)
                    headers[.contentType] = type
                    return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
                }
            }
        }
        let separator = terminalURI.split(separator: "/").count >= 3 ? "&" : "/"
        let page = Self.consolePage(
            script: script, stylesheet: stylesheet, assets: assets, keyPath: base + "/key",
            socketPath: terminalURI + separator + "mode=terminado",
            replayPath: replayURI.map { $0 + ($0.split(separator: "/").count >= 3 ? "&" : "/") })
        getAndHead(base) { request, _ -> Response in
            var headers = Self.consoleSecurityHeaders(script: script, host: request.head.authority)
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.cacheControl] = "no-store"
            guard guardian.allowsHost(request.head.authority) else { return .unknownHost(headers: headers) }
            // The page holds no secret: the key stays in the browser's tab. A key that an older console kept in a
            // cookie, which the browser would send to every port of this host, is cleared.
            if Self.holdsKeyCookie(request.headers) {
                headers[.setCookie] = "\(AccessCredentials.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        // The page asks here whether a key is valid before it connects: a refused WebSocket upgrade tells a
        // browser's script nothing but 1006.
        getAndHead(base + "/key") { request, _ -> Response in
            var headers = Self.consoleSecurityHeaders(script: script, host: nil)
            headers[.cacheControl] = "no-store"
            guard guardian.allowsHost(request.head.authority) else { return .unknownHost(headers: headers) }
            // Without a key, `204` says that none is needed (authentication off, or rights for anonymous callers).
            guard (try? await api.authenticate(headers: request.headers, uriKey: nil)) != nil else {
                headers[.wwwAuthenticate] = #"Bearer realm="Switchboard""#
                return Response(status: .unauthorized, headers: headers)
            }
            return Response(status: .noContent, headers: headers)
        }
    }

    /// Whether a request carries the cookie in which older consoles kept the key.
    static func holdsKeyCookie(_ headers: HTTPFields) -> Bool {
        headers.contains { field in
            field.name == .cookie
                && field.value.split(separator: ";").contains {
                    $0.split(separator: "=", maxSplits: 1).first?.filter { $0 != " " && $0 != "\t" } == AccessCredentials.cookieName
                }
        }
    }

    /// The headers of the console's page and assets: no framing, no sniffing, no referrer, and a content
    /// security policy that allows xterm.js's origin and WebSockets to this host only.
    static func consoleSecurityHeaders(script: String, host: String?) -> HTTPFields {
        var headers = HTTPFields()
        let scriptOrigin = script.hasPrefix("https://") ? " https://cdn.jsdelivr.net" : ""
        let sockets = host.map { " ws://\($0) wss://\($0)" } ?? ""
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self' 'unsafe-inline'\(scriptOrigin); style-src 'self' 'unsafe-inline'\(scriptOrigin); connect-src 'self'\(sockets); img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    static func htmlEscaped(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("\"", with: "&quot;").replacing("<", with: "&lt;")
    }

    /// The console's page. Its script takes the key out of the address (`?token=`) into the tab's
    /// `sessionStorage` (scoped to this origin, port included), asks `keyPath` whether it is valid, and sends
    /// it with the WebSocket as a subprotocol (`AccessCredentials.subprotocolKeyPrefix`, or, for a key that is
    /// not an HTTP token, base64url of its UTF-8 after `AccessCredentials.subprotocolEncodedKeyPrefix`).
    static func consolePage(
        script: String, stylesheet: String, assets: XtermAssets, keyPath: String, socketPath: String,
        replayPath: String? = nil
    ) -> String {
        let socketJSON = JSON.string(socketPath).compact
        let keyPathJSON = JSON.string(keyPath).compact
        let subprotocolsJSON = JSON.array([
            .string(AccessCredentials.subprotocol), .string(AccessCredentials.subprotocolKeyPrefix),
            .string(AccessCredentials.subprotocolEncodedKeyPrefix),
        ]).compact
        let failureJSON = JSON.string(assets.loadFailure).compact
        let replayJSON = replayPath.map { JSON.string($0).compact } ?? "null"
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Switchboard console</title>
            <link rel="stylesheet" href="\(htmlEscaped(stylesheet))"\(assets.integrityAttributes(stylesheet: true))>
            <style>
              html, body { height: 100%; margin: 0; background: #101010; }
              #terminal { position: absolute; top: 0; left: 0; right: 0; bottom: 26px; padding: 4px; }
              #status { position: absolute; left: 0; right: 0; bottom: 0; height: 18px; padding: 4px 8px;
                        font: 13px monospace; color: #ccc; background: #222; white-space: nowrap; overflow: hidden; }
            </style>
            </head>
            <body>
            <div id="terminal"></div>
            <div id="status">Connecting…</div>
            <script>
            // First of all, the key leaves the address (and so the history) for this tab's storage: no cookie,
            // which the browser would send to every server on this host, whatever its port.
            // `#token=` (what serve prints: a fragment never leaves the browser, so no proxy's log has it) or `?token=`.
            (function () {
              var query = new URLSearchParams(location.search);
              var fragment = new URLSearchParams(location.hash.slice(1));
              var given = fragment.get('token') !== null ? fragment.get('token') : query.get('token');
              if (given === null) { return; }
              query.delete('token');
              history.replaceState(null, '', location.pathname + (query.toString() ? '?' + query.toString() : ''));
              if (given) { sessionStorage.setItem('switchboard.key', given); }
            })();
            </script>
            <script src="\(htmlEscaped(script))"\(assets.integrityAttributes(stylesheet: false))></script>
            <script>
            (function () {
              // xterm.js 5 defines Terminal; a bundle of an older one may define XtermModule.Terminal.
              var TerminalClass = window.Terminal || (window.XtermModule && (window.XtermModule.Terminal || window.XtermModule.default));
              var element = document.getElementById('terminal');
              var status = document.getElementById('status');
              function fail(text) {
                status.style.cssText = 'height: auto; white-space: normal; color: #f88';
                status.textContent = text;
              }
              if (!TerminalClass) { fail(\(failureJSON)); return; }
              var refusal = "This console needs the server's access token: paste it here and press Enter, or open the "
                + 'address switchboard serve prints, /console#token=<token> (it keeps the token in <data directory>/token).';
              // Without a key, or with a wrong one, the status line takes one.
              function ask(text) {
                fail(text);
                var field = document.createElement('input');
                field.id = 'key';
                field.type = 'password';
                field.autocomplete = 'off';
                field.placeholder = 'access token';
                field.style.cssText = 'display: block; margin-top: 4px; width: 40em; max-width: 90%; font: 13px monospace';
                field.addEventListener('keydown', function (event) {
                  if (event.key !== 'Enter' || !field.value.trim()) { return; }
                  sessionStorage.setItem('switchboard.key', field.value.trim());
                  status.style.cssText = '';
                  status.textContent = 'Connecting…';
                  check(field.value.trim());
                });
                status.appendChild(field);
                field.focus();
              }
              // A key that is not an HTTP token (a passphrase of an authenticator of the application's) goes as
              // base64 of its UTF-8: as Basic's password here, in the URL alphabet as a subprotocol.
              function isToken(key) { return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key); }
              function base64(text) {
                var binary = '';
                new TextEncoder().encode(text).forEach(function (byte) { binary += String.fromCharCode(byte); });
                return btoa(binary);
              }
              // Without a key the server is asked too: with authentication off, or rights for anonymous callers,
              // none is needed.
              function check(key) {
                var headers = !key ? {} : { Authorization: isToken(key) ? 'Bearer ' + key : 'Basic ' + base64(':' + key) };
                fetch(\(keyPathJSON), { headers: headers, cache: 'no-store' }).then(function (answer) {
                  if (answer.status === 401) {
                    sessionStorage.removeItem('switchboard.key');
                    ask(key ? 'The token is not valid. ' + refusal : refusal);
                  } else {
                    start(key);
                  }
                }, function () { fail('Could not reach the server.'); });
              }
              check(sessionStorage.getItem('switchboard.key'));

              function start(key) {
              var term = new TerminalClass({ fontFamily: 'monospace', fontSize: 14, rendererType: 'dom' });
              term.open(element);
              function on(event, handler) {
                var method = 'on' + event.charAt(0).toUpperCase() + event.slice(1);
                if (typeof term[method] === 'function') { term[method](handler); } else { term.on(event, handler); }
              }
              var exited = false;
              // /console?replay=<id> plays a recording (Switchboard.Replay) at its recorded size.
              var replay = \(replayJSON) !== null ? new URLSearchParams(location.search).get('replay') : null;
              var path = replay ? \(replayJSON) + 'id=' + encodeURIComponent(replay) + '&mode=terminado' : \(socketJSON);
              // The key as a subprotocol, beside 'switchboard', which the server answers; never in the URI, which
              // a proxy's log keeps.
              var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
              var offers = \(subprotocolsJSON);
              var offer = !key ? null : isToken(key) ? offers[1] + key
                : offers[2] + base64(key).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
              var socket = offer ? new WebSocket(scheme + location.host + path, [offers[0], offer]) : new WebSocket(scheme + location.host + path);
              function send(message) { if (socket.readyState === 1 && !exited) { socket.send(JSON.stringify(message)); } }
              function cell() {
                var probe = document.createElement('span');
                probe.style.cssText = 'position:absolute;visibility:hidden;font:14px monospace;white-space:pre';
                probe.textContent = 'WWWWWWWWWW';
                document.body.appendChild(probe);
                var size = { width: probe.getBoundingClientRect().width / 10, height: probe.getBoundingClientRect().height };
                document.body.removeChild(probe);
                return size;
              }
              function fit() {
                if (replay) { return; }
                var size = cell();
                var cols = Math.max(2, Math.floor((element.clientWidth - 8) / size.width));
                var rows = Math.max(1, Math.floor((element.clientHeight - 8) / (size.height * 1.02)));
                if (cols !== term.cols || rows !== term.rows) { term.resize(cols, rows); }
                send(['set_size', term.rows, term.cols]);
              }
              socket.onopen = function () {
                status.textContent = replay ? 'Replaying ' + replay + ': space pauses, + and - change the speed, q stops' : 'Connected';
                fit(); term.focus();
              };
              socket.onmessage = function (event) {
                var message;
                try { message = JSON.parse(event.data); } catch (error) { return; }
                if (message[0] === 'stdout') { term.write(message[1]); }
                else if (message[0] === 'resize' && replay) { term.resize(message[2], message[1]); }
                else if (message[0] === 'disconnect') { exited = true; document.body.setAttribute('data-exited', 'true'); status.textContent = replay ? 'The replay has ended' : 'The program has exited'; }
                else if (message[0] === 'error' || message[0] === 'notice') { status.textContent = message[1]; }
              };
              socket.onclose = function (event) { status.textContent = exited ? (event.reason || 'The program has exited') : 'Connection closed (' + event.code + (event.reason ? ': ' + event.reason : '') + ')'; };
              on('data', function (data) { send(['stdin', data]); });
              window.addEventListener('resize', fit);
              window.switchboardConsole = { terminal: term, socket: socket };
              }
            })();
            </script>
            </body>
            </html>
            """
    }
}
