import Foundation
import NIOCore
import Switchboard
import SwitchboardTesting
import Testing

@testable import SwitchboardTestSupport

/// Bad input of every kind, each answered with an exact reply and survived: after each case the same
/// connection (where the protocol allows) and a second, untouched connection still work, and a new one
/// opens.
///
/// Refused upgrades go through a real server (the socket is what they test); bad messages on an open
/// connection test the core's answers and run in-process on `SwitchboardTesting`, on the same API.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BadInputCatalogue {
    // MARK: Upgrades whose URI is wrong: status line, then close 4000 + status

    struct Refused: Sendable, CustomTestStringConvertible {
        let path: String
        let reply: String
        var testDescription: String { path.count > 60 ? String(path.prefix(60)) + "…" : path }
        init(_ path: String, _ reply: String) {
            self.path = path
            self.reply = reply
        }
    }

    static let longValue = String(repeating: "x", count: 9000)

    static let refused: [Refused] = [
        // unknown resources
        .init(
            "/api/nosuch",
            "404: Not found. Could not locate any resource by 'nosuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/NoSuch/x=1",
            "404: Not found. Could not locate any resource by 'NoSuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/echo.x",
            "404: Not found. Could not locate any resource by 'echo.x'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/switchboard.",
            "404: Not found. Could not locate any resource by 'switchboard.'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/.echo",
            "404: Not found. Could not locate any resource by '.echo'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/echo..x",
            "404: Not found. Could not locate any resource by 'echo..x'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/ech",
            "404: Not found. Could not locate any resource by 'ech'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        .init(
            "/api/%E2%9C%93",
            "404: Not found. Could not locate any resource by '✓'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
        // bad percent-encoding
        .init(
            "/api/%ZZ",
            "400: Bad request. Syntax error: invalid percent-encoding in the resource name; '%' must be followed by two hex digits (write %25 for '%')"),
        .init(
            "/api/echo/prefix=%ZZ",
            "400: Bad request. Syntax error: invalid percent-encoding in the condition 'prefix=%ZZ'; '%' must be followed by two hex digits (write %25 for '%')"
        ),
        .init(
            "/api/echo/prefix=%4",
            "400: Bad request. Syntax error: invalid percent-encoding in the condition 'prefix=%4'; '%' must be followed by two hex digits (write %25 for '%')"),
        .init(
            "/api/echo/prefix=%",
            "400: Bad request. Syntax error: invalid percent-encoding in the condition 'prefix=%'; '%' must be followed by two hex digits (write %25 for '%')"),
        .init(
            "/api/echo/pre%GGfix=x",
            "400: Bad request. Syntax error: invalid percent-encoding in the condition 'pre%GGfix=x'; '%' must be followed by two hex digits (write %25 for '%')"
        ),
        .init(
            "/api/echo/_/x=%Z1",
            "400: Bad request. Syntax error: invalid percent-encoding in the meta-condition 'x=%Z1'; '%' must be followed by two hex digits (write %25 for '%')"
        ),
        .init("/api/echo/prefix=%C3%28", "400: Bad request. Syntax error: the condition 'prefix=%C3%28' does not decode to valid UTF-8"),
        .init("/api/echo/prefix=%ED%A0%80", "400: Bad request. Syntax error: the condition 'prefix=%ED%A0%80' does not decode to valid UTF-8"),
        // too many segments, empty names
        .init(
            "/api/echo/a=1/b/c",
            "400: Bad request. Syntax error: '/echo/a=1/b/c' has 4 segments; expected at most /<resource>/<conditions>/<metaconditions> (percent-encode '/' inside values as %2F)"
        ),
        .init(
            "/api/echo/a=1/b/c/d/e/f/g/h",
            "400: Bad request. Syntax error: '/echo/a=1/b/c/d/e/f/g/h' has 9 segments; expected at most /<resource>/<conditions>/<metaconditions> (percent-encode '/' inside values as %2F)"
        ),
        .init("/api/echo/=x", "400: Bad request. Syntax error: the condition '=x' has no property name"),
        .init("/api/echo/prefix=x&=y", "400: Bad request. Syntax error: the condition '=y' has no property name"),
        .init(
            "/api/echo/prefix",
            "400: Bad request. Syntax error: invalid condition 'prefix'; expected <property><operator><value> with one of = != < > <= >=, and '&' between conditions (percent-encode '&' and '/' inside values)"
        ),
        .init("/api/echo/prefix=a&prefix=b", "400: Bad request. Property 'Prefix' is assigned more than once in '/echo/prefix=a&prefix=b'"),
        .init(
            "/api//echo",
            "400: Bad request. Syntax error: invalid condition 'echo'; expected <property><operator><value> with one of = != < > <= >=, and '&' between conditions (percent-encode '&' and '/' inside values)"
        ),
        // huge URIs
        .init("/api/echo/prefix=" + longValue, "414: URI too long. The URI is 9013 bytes long; the limit is 8192"),
        .init("/api/" + longValue, "414: URI too long. The URI is 9001 bytes long; the limit is 8192"),
        // control characters
        .init(
            "/api/echo/pre%0Afix=x", "400: Bad request. Syntax error: the property name in condition 'pre%0Afix=x' contains white space or a control character"),
        .init("/api/%00", "400: Bad request. Syntax error: the resource name contains a NUL character"),
        .init("/api/echo/prefix=%00", "400: Bad request. Syntax error: the condition 'prefix=%00' contains a NUL character"),
        .init(
            "/api/echo/pre%1Bfix=x", "400: Bad request. Syntax error: the property name in condition 'pre%1Bfix=x' contains white space or a control character"),
        // unknown and read-only properties
        .init(
            "/api/echo/colour=red",
            "404: Not found. Unknown property 'colour' in terminal 'SwitchboardSamples.Echo'; its properties are Prefix, MessagesReceived"),
        .init(
            "/api/shell/nosuch=1",
            "404: Not found. Unknown property 'nosuch' in terminal 'Switchboard.Shell'; its properties are Query, Unsafe, WriteHeaders, AutoGet, AutoOptions, ReformatQueries, BinaryBodies"
        ),
        .init("/api/chatroom/nick=Ada", "404: Not found. Unknown property 'nick' in terminal 'SwitchboardSamples.ChatRoom'; its properties are Nickname, Room"),
        .init("/api/echo/messagesreceived=3", "400: Bad request. Property 'MessagesReceived' of terminal 'SwitchboardSamples.Echo' is read-only"),
        .init("/api/echo/MESSAGESRECEIVED=3", "400: Bad request. Property 'MessagesReceived' of terminal 'SwitchboardSamples.Echo' is read-only"),
        // wrong operators
        .init(
            "/api/echo/prefix!=x",
            "400: Bad request. Invalid operator '!=' in condition 'prefix!=x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        .init(
            "/api/echo/prefix>x",
            "400: Bad request. Invalid operator '>' in condition 'prefix>x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        .init(
            "/api/echo/prefix<x",
            "400: Bad request. Invalid operator '<' in condition 'prefix<x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        .init(
            "/api/echo/prefix>=x",
            "400: Bad request. Invalid operator '>=' in condition 'prefix>=x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        .init(
            "/api/echo/prefix<=x",
            "400: Bad request. Invalid operator '<=' in condition 'prefix<=x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        .init(
            "/api/echo?prefix>x",
            "400: Bad request. Invalid operator '>' in condition 'prefix>x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions"
        ),
        // values of the wrong type
        .init("/api/typed/count=abc", "400: Bad request. Invalid value abc for property 'Count' of terminal 'Tests.Typed': expected an integer"),
        .init("/api/typed/count=1.5", "400: Bad request. Invalid value 1.5 for property 'Count' of terminal 'Tests.Typed': expected an integer"),
        .init(
            "/api/typed/count=99999999999999999999",
            "400: Bad request. Invalid value 99999999999999999999 for property 'Count' of terminal 'Tests.Typed': expected an integer"),
        .init("/api/typed/count=null", "400: Bad request. Invalid value null for property 'Count' of terminal 'Tests.Typed': expected an integer"),
        .init("/api/typed/ratio=abc", "400: Bad request. Invalid value abc for property 'Ratio' of terminal 'Tests.Typed': expected a number"),
        .init(
            "/api/typed/when=yesterday",
            "400: Bad request. Invalid value yesterday for property 'When' of terminal 'Tests.Typed': expected an ISO 8601 date such as 2024-05-01, 2024-05-01T12:30 or 2024-05-01T12:30:00Z, or null"
        ),
        .init(
            "/api/typed/when=2026-13-45",
            "400: Bad request. Invalid value 2026-13-45 for property 'When' of terminal 'Tests.Typed': expected an ISO 8601 date such as 2024-05-01, 2024-05-01T12:30 or 2024-05-01T12:30:00Z, or null"
        ),
        .init("/api/typed/mode=purple", "400: Bad request. Invalid value purple for property 'Mode' of terminal 'Tests.Typed': expected one of 'fast', 'slow'"),
        .init("/api/typed/flag=yes", "400: Bad request. Invalid value yes for property 'Flag' of terminal 'Tests.Typed': expected true or false"),
        .init("/api/typed/flag=1", "400: Bad request. Invalid value 1 for property 'Flag' of terminal 'Tests.Typed': expected true or false"),
        .init("/api/typed/limit=abc", "400: Bad request. Invalid value abc for property 'Limit' of terminal 'Tests.Typed': expected an integer, or null"),
        .init(
            "/api/shell/autoget=maybe", "400: Bad request. Invalid value maybe for property 'AutoGet' of terminal 'Switchboard.Shell': expected true or false"),
        .init("/api/shell/autoget=true&autooptions=true", "400: Bad request. AutoGet and AutoOptions are mutually exclusive; set at most one of them to true"),
        .init(
            "/api/shell/autoget=true&autoget=false", "400: Bad request. Property 'AutoGet' is assigned more than once in '/shell/autoget=true&autoget=false'"),
        .init(
            "/api/shell/query=%2Fnosuch",
            "404: Not found. Could not locate any resource by 'nosuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed"
        ),
    ]

    @Test(arguments: refused)
    func refusedUpgrade(_ input: Refused) async throws {
        let server = try await SharedServer.shared.get()
        let witness = try await Witness.open(server)
        let client = try await WebSocketTestClient.connect(server.base + input.path)
        let reply = try await client.receiveText()
        let close = try await client.closeFrame()
        #expect(reply == input.reply)
        #expect(close?.code == 4000 + (Int(reply.prefix(3)) ?? 0))
        #expect(close?.reason?.hasPrefix(String(reply.prefix(40))) == true)
        try await witness.stillWorks()
        // And a new connection opens.
        try await Witness.open(server).stillWorks()
    }

    // MARK: Bad messages on an open connection: a status line, and the connection goes on

    struct Answered: Sendable, CustomTestStringConvertible {
        let path: String
        let input: String
        let replies: [String]
        var testDescription: String { "\(path) ← \(input.count > 50 ? String(input.prefix(50)) + "…" : input)" }
        init(_ path: String, _ input: String, _ replies: [String]) {
            self.path = path
            self.input = input
            self.replies = replies
        }
    }

    static let deepArray = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
    static let deepObject = String(repeating: "{\"a\":", count: 200) + "1" + String(repeating: "}", count: 200)

    static let answered: [Answered] = [
        // invalid JSON in #TERMINAL
        .init(
            "/api/echo", "#TERMINAL {", ["400: Bad request. JSON syntax error at position 2: expected a member name in double quotes but found end of input"]),
        .init("/api/echo", "#TERMINAL {\"Prefix\":}", ["400: Bad request. JSON syntax error at position 11: expected a value but found '}'"]),
        .init(
            "/api/echo", "#TERMINAL {'Prefix':'x'}",
            ["400: Bad request. JSON syntax error at position 2: expected a member name in double quotes but found '''"]),
        .init(
            "/api/echo", "#TERMINAL {\"Prefix\":\"x\",}",
            ["400: Bad request. JSON syntax error at position 15: expected a member name in double quotes but found '}'"]),
        .init("/api/echo", "#TERMINAL {\"Prefix\":\"x\"} trailing", ["400: Bad request. JSON syntax error at position 16: unexpected 't' after the value"]),
        .init("/api/echo", "#TERMINAL {\"Prefix\":\"\\uZZZZ\"}", ["400: Bad request. JSON syntax error at position 14: invalid hex digit in \\u escape"]),
        .init(
            "/api/echo", "#TERMINAL {\"Prefix\":\"a\u{01}b\"}", ["400: Bad request. JSON syntax error at position 13: control character in string; escape it"]),
        .init("/api/echo", "#TERMINAL " + deepArray, ["400: Bad request. JSON syntax error at position 65: nesting deeper than 64 levels"]),
        .init("/api/echo", "#TERMINAL " + deepObject, ["400: Bad request. JSON syntax error at position 321: nesting deeper than 64 levels"]),
        .init("/api/echo", "#TERMINAL [1]", ["400: Bad request. #TERMINAL takes a JSON object such as {\"Prefix\":\"\"}, but got an array"]),
        .init("/api/echo", "#TERMINAL \"Prefix\"", ["400: Bad request. #TERMINAL takes a JSON object such as {\"Prefix\":\"\"}, but got a string"]),
        .init("/api/echo", "#TERMINAL 42", ["400: Bad request. #TERMINAL takes a JSON object such as {\"Prefix\":\"\"}, but got a number"]),
        .init("/api/echo", "#TERMINAL null", ["400: Bad request. #TERMINAL takes a JSON object such as {\"Prefix\":\"\"}, but got null"]),
        // wrong properties and types in #TERMINAL
        .init(
            "/api/echo", "#TERMINAL {\"Prefix\": 1}",
            ["400: Bad request. Invalid value 1 for property 'Prefix' of terminal 'SwitchboardSamples.Echo': expected a string"]),
        .init(
            "/api/echo", "#TERMINAL {\"Prefix\": null}",
            ["400: Bad request. Invalid value null for property 'Prefix' of terminal 'SwitchboardSamples.Echo': expected a string"]),
        .init(
            "/api/echo", "#TERMINAL {\"Nope\": 1}",
            ["404: Not found. Unknown property 'Nope' in terminal 'SwitchboardSamples.Echo'; its properties are Prefix, MessagesReceived"]),
        .init(
            "/api/echo", "#TERMINAL {\"MessagesReceived\": 1}",
            ["400: Bad request. Property 'MessagesReceived' of terminal 'SwitchboardSamples.Echo' is read-only"]),
        .init(
            "/api/echo", "#TERMINAL {\"Prefix\":\"a\",\"Nope\":1}",
            ["404: Not found. Unknown property 'Nope' in terminal 'SwitchboardSamples.Echo'; its properties are Prefix, MessagesReceived"]),
        .init(
            "/api/typed", "#TERMINAL {\"Count\":\"abc\"}",
            ["400: Bad request. Invalid value \"abc\" for property 'Count' of terminal 'Tests.Typed': expected an integer"]),
        .init(
            "/api/typed", "#TERMINAL {\"Count\":1.5}",
            ["400: Bad request. Invalid value 1.5 for property 'Count' of terminal 'Tests.Typed': expected an integer"]),
        .init(
            "/api/typed", "#TERMINAL {\"Count\":1e30}",
            ["400: Bad request. Invalid value 1e+30 for property 'Count' of terminal 'Tests.Typed': expected an integer"]),
        .init(
            "/api/typed", "#TERMINAL {\"When\":\"nope\"}",
            [
                "400: Bad request. Invalid value \"nope\" for property 'When' of terminal 'Tests.Typed': expected an ISO 8601 date such as 2024-05-01, 2024-05-01T12:30 or 2024-05-01T12:30:00Z, or null"
            ]),
        .init(
            "/api/typed", "#TERMINAL {\"Mode\":\"purple\"}",
            ["400: Bad request. Invalid value \"purple\" for property 'Mode' of terminal 'Tests.Typed': expected one of 'fast', 'slow'"]),
        .init(
            "/api/typed", "#TERMINAL {\"Flag\":\"true\"}",
            ["400: Bad request. Invalid value \"true\" for property 'Flag' of terminal 'Tests.Typed': expected true or false"]),
        .init(
            "/api/typed", "#TERMINAL {\"Ratio\":[1]}", ["400: Bad request. Invalid value [1] for property 'Ratio' of terminal 'Tests.Typed': expected a number"]
        ),
        .init(
            "/api/typed", "#TERMINAL {\"Count\":null}",
            ["400: Bad request. Invalid value null for property 'Count' of terminal 'Tests.Typed': expected an integer"]),
        // #INFO
        .init("/api/echo", "#INFO {", ["400: Bad request. JSON syntax error at position 2: expected a member name in double quotes but found end of input"]),
        .init("/api/echo", "#INFO []", ["400: Bad request. #INFO takes a JSON object such as {\"CustomHeaders\": {\"X-Trace\": \"abc\"}}, but got an array"]),
        .init("/api/echo", "#INFO {\"WebSocketId\":\"x\"}", ["400: Bad request. Profile field 'WebSocketId' is read-only; only CustomHeaders can be set"]),
        .init(
            "/api/echo", "#INFO {\"Nope\":1}",
            [
                "404: Not found. Unknown profile field 'Nope'; the fields are Host, WebSocketId, IsEncrypted, ClientIP, ConnectedAt, CurrentTerminal, CustomHeaders, and only CustomHeaders can be set"
            ]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":\"x\"}",
            ["400: Bad request. CustomHeaders must be an object of header names to string values (or null to remove), but got a string"]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":{\"X-A\":1}}",
            ["400: Bad request. The value of header 'X-A' must be a string without line breaks, or null to remove it; got a number"]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":{\"X-A\":\"a\\nb\"}}",
            ["400: Bad request. The value of header 'X-A' must be a string without line breaks, or null to remove it; got a string"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Bad Name\":\"x\"}}", ["400: Bad request. 'Bad Name' is not a valid header name"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"\":\"x\"}}", ["400: Bad request. '' is not a valid header name"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Authorization\":\"x\"}}", ["400: Bad request. Cannot read or write reserved header 'Authorization'"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"host\":\"x\"}}", ["400: Bad request. Cannot read or write reserved header 'host'"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Cookie\":\"x\"}}", ["400: Bad request. Cannot read or write reserved header 'Cookie'"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Connection\":\"x\"}}", ["400: Bad request. Cannot read or write reserved header 'Connection'"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Upgrade\":\"x\"}}", ["400: Bad request. Cannot read or write reserved header 'Upgrade'"]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":{\"Sec-WebSocket-Key\":\"x\"}}",
            ["400: Bad request. Cannot read or write reserved header 'Sec-WebSocket-Key'"]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":{\"Proxy-Authorization\":\"x\"}}",
            ["400: Bad request. Cannot read or write reserved header 'Proxy-Authorization'"]),
        .init("/api/echo", "#INFO {\"CustomHeaders\":{\"Content-Length\":\"1\"}}", ["400: Bad request. Cannot read or write reserved header 'Content-Length'"]),
        .init(
            "/api/echo", "#INFO {\"CustomHeaders\":{\"Transfer-Encoding\":\"x\"}}",
            ["400: Bad request. Cannot read or write reserved header 'Transfer-Encoding'"]),
        // unknown global commands go to the terminal
        .init("/api/echo", "#FOO", ["#FOO"]),
        .init("/api/shell", "#FOO", ["400: Bad request. Unknown command '#FOO'. Type HELP for the list of commands", "? <no query>"]),
        .init("/api/shell", "#1", ["400: Bad request. Unknown command '#1'. Type HELP for the list of commands", "? <no query>"]),
        .init("/api/shell", "# x", ["400: Bad request. Unknown command '#'. Type HELP for the list of commands", "? <no query>"]),
        .init("/api/shell", "#", ["400: Bad request. Unknown command '#'. Type HELP for the list of commands", "? <no query>"]),
        // the Shell's REST commands and the query language
        .init(
            "/api/shell", "/superhero/year=abc",
            [
                "400: Bad request. Invalid value 'abc' in condition 'year=abc' on resource 'SwitchboardSamples.Superhero': 'Year' is Int, expected an integer",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "/superhero/cape=red",
            [
                "404: Not found. Unknown property 'cape' of resource 'SwitchboardSamples.Superhero'; the properties are Name, Year, HasSecretIdentity",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "/superhero//limit=many", ["400: Bad request. Invalid value 'many' for meta-condition 'limit': expected an integer", "? <no query>"]),
        .init(
            "/api/shell", "/superhero//sort=name",
            [
                "400: Bad request. Unknown meta-condition 'sort' in 'sort=name'; the meta-conditions are limit, offset, order_asc, order_desc, select, add, rename, distinct, search, search_regex, unsafe, safepost",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "/superhero//limit<2",
            ["400: Bad request. Invalid operator '<' in meta-condition 'limit<2'; meta-conditions take '='", "? <no query>"]),
        .init(
            "/api/shell", "/superhero/hassecretidentity=maybe",
            [
                "400: Bad request. Invalid value 'maybe' in condition 'hassecretidentity=maybe' on resource 'SwitchboardSamples.Superhero': 'HasSecretIdentity' is Bool, expected true or false",
                "? <no query>",
            ]),
        .init("/api/shell", "{\"Name\": 1}", ["400: Bad request. There is no query to run POST on; navigate first, as in /echo", "? <no query>"]),
        .init(
            "/api/shell", "NEXT", ["400: Bad request. NEXT pages through entity resources; navigate to one first, as in /superhero//limit=10", "? <no query>"]),
        .init("/api/shell", "OBSERVE soon", ["400: Bad request. OBSERVE takes a number of seconds above 0, but got 'soon'", "? <no query>"]),
        .init("/api/shell", "HEADER Cookie = x", ["400: Bad request. Cannot read or write reserved header 'Cookie'", "? <no query>"]),
        .init("/api/shell", "HEADER Bad Name = x", ["400: Bad request. 'Bad Name' is not a valid header name", "? <no query>"]),
        .init(
            "/api/shell", "DELETE /superhero/name=Nobody", ["400: Bad request. No entities to run DELETE on", "? /SwitchboardSamples.Superhero/Name=Nobody"]),
        .init(
            "/api/shell", "PATCH /superhero/nosuch=1 {}",
            [
                "404: Not found. Unknown property 'nosuch' of resource 'SwitchboardSamples.Superhero'; the properties are Name, Year, HasSecretIdentity",
                "? <no query>",
            ]),
        // the Shell's own commands
        .init("/api/shell", "FOO", ["400: Bad request. Unknown command 'FOO'. Type HELP for the list of commands", "? <no query>"]),
        .init(
            "/api/shell", "VAR Nope = 1",
            [
                "404: Not found. Unknown shell property 'Nope'; the properties are Query, Unsafe, WriteHeaders, AutoGet, AutoOptions, ReformatQueries, BinaryBodies. To list them with their values, type VAR",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "VAR AutoGet = maybe",
            ["400: Bad request. Invalid value maybe for property 'AutoGet' of terminal 'Switchboard.Shell': expected true or false", "? <no query>"]),
        .init("/api/shell", "VAR AutoGet", ["400: Bad request. Invalid property assignment syntax. Should be: VAR <property> = <value>", "? <no query>"]),
        .init(
            "/api/shell", "VAR = 1",
            [
                "404: Not found. Unknown shell property ''; the properties are Query, Unsafe, WriteHeaders, AutoGet, AutoOptions, ReformatQueries, BinaryBodies. To list them with their values, type VAR",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "VAR Query = /nosuch",
            [
                "404: Not found. Could not locate any resource by 'nosuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "GO /nosuch",
            [
                "404: Not found. Could not locate any resource by 'nosuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "GO /echo/prefix>x",
            [
                "400: Bad request. Invalid operator '>' in condition 'prefix>x' to terminal resource 'SwitchboardSamples.Echo'; only '=' is valid in terminal conditions",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "/echo/%ZZ",
            [
                "400: Bad request. Syntax error: invalid condition '%ZZ'; expected <property><operator><value> with one of = != < > <= >=, and '&' between conditions (percent-encode '&' and '/' inside values)",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "/echo/a=1/b/c",
            [
                "400: Bad request. Syntax error: '/echo/a=1/b/c' has 4 segments; expected at most /<resource>/<conditions>/<metaconditions> (percent-encode '/' inside values as %2F)",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "GET /nosuch",
            [
                "404: Not found. Could not locate any resource by 'nosuch'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, SwitchboardSamples.ChatRoom, SwitchboardSamples.Echo, SwitchboardSamples.Superhero, Tests.Blocker, Tests.Typed",
                "? <no query>",
            ]),
        .init(
            "/api/shell", "POST /echo",
            [
                "405: Method not allowed. Method 'POST' is not available for terminal resource 'SwitchboardSamples.Echo'; terminals support GET (to enter them) and OPTIONS",
                "? /SwitchboardSamples.Echo",
            ]),
        .init(
            "/api/shell", "PATCH /echo {}",
            [
                "405: Method not allowed. Method 'PATCH' is not available for terminal resource 'SwitchboardSamples.Echo'; terminals support GET (to enter them) and OPTIONS",
                "? /SwitchboardSamples.Echo",
            ]),
        .init("/api/shell", "DELETE", ["400: Bad request. There is no query to run DELETE on; navigate first, as in /echo", "? <no query>"]),
        .init("/api/shell", "{\"not\": \"postable\"}", ["400: Bad request. There is no query to run POST on; navigate first, as in /echo", "? <no query>"]),
        .init("/api/shell", "FOO\u{0}BAR", ["400: Bad request. Unknown command 'FOO\\u{0}BAR'. Type HELP for the list of commands", "? <no query>"]),
        .init(
            "/api/shell", String(repeating: "A", count: 100_000),
            ["400: Bad request. Unknown command 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA…'. Type HELP for the list of commands", "? <no query>"]),
    ]

    /// In-process, on the same API as the server: what is tested here is the core's answer, not the socket.
    @Test(arguments: answered)
    func answeredAndSurvived(_ input: Answered) async throws {
        let api = try await SharedAPI.shared.get()
        let witness = InProcessWitness.open(api)
        let client = TestConnection.open(api, uri: String(input.path.dropFirst("/api".count)))
        let opening = input.path.hasPrefix("/api/shell") ? 2 : 0
        for _ in 0..<opening { _ = try await client.receiveText() }
        await client.send(input.input)
        var replies: [String] = []
        for _ in input.replies { replies.append(try await client.receiveText()) }
        #expect(replies == input.replies)
        // The same connection still works.
        await client.send("#INFO")
        let info = try await client.receiveText()
        #expect(info.contains("\"WebSocketId\""))
        await client.close()
        try await witness.stillWorks()
        // And a new one opens.
        try await InProcessWitness.open(api).stillWorks()
    }

    // MARK: Binary where text is expected (the Shell POSTs binary input, so it needs a query)

    @Test(arguments: [
        ("/api/shell", "400: Bad request. There is no query to run POST on; navigate first, as in /echo"),
        ("/api/typed", "415: Unsupported media type. Terminal 'Tests.Typed' does not take binary input"),
    ])
    func binaryWhereTextIsExpected(_ path: String, _ expected: String) async throws {
        let api = try await SharedAPI.shared.get()
        let witness = InProcessWitness.open(api)
        let client = TestConnection.open(api, uri: String(path.dropFirst("/api".count)))
        if path.hasSuffix("shell") { for _ in 0..<2 { _ = try await client.receiveText() } }
        await client.send(ByteBuffer(string: "hello"))
        #expect(try await client.receiveText() == expected)
        if path.hasSuffix("shell") { #expect(try await client.receiveText() == "? <no query>") }
        await client.send("#INFO")
        #expect(try await client.receiveText().contains("\"WebSocketId\""))
        await client.close()
        try await witness.stillWorks()
        try await InProcessWitness.open(api).stillWorks()
    }
}

/// A connection opened before an in-process case and checked after it: the API still serves others.
struct InProcessWitness {
    let client: TestConnection

    static func open(_ api: SwitchboardAPI) -> InProcessWitness { InProcessWitness(client: TestConnection.open(api, uri: "/echo")) }

    func stillWorks() async throws {
        await client.send("still here")
        #expect(try await client.receiveText() == "still here")
        await client.close()
    }
}

/// One API for every in-process case of the catalogue, made on first use.
actor SharedAPI {
    static let shared = SharedAPI()
    private var api: SwitchboardAPI?

    func get() throws -> SwitchboardAPI {
        if let api { return api }
        let made = try TestServer.makeAPI()
        api = made
        return made
    }
}

/// One server for every case of the catalogue, started on first use and kept for the test process.
actor SharedServer {
    static let shared = SharedServer()
    private var server: Task<TestServer, any Error>?

    func get() async throws -> TestServer {
        if let server { return try await server.value }
        let task = Task { try await TestServer.start() }
        server = task
        return try await task.value
    }
}
