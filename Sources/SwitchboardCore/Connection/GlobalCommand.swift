import HTTPTypes

/// A global command: `#` followed by a letter, handled by Switchboard for every terminal.
struct GlobalCommand: Equatable {
    enum Kind: Equatable { case terminal, info, shell, disconnect, options }
    let kind: Kind
    let word: String
    /// The text after the command word, trimmed; `nil` when there is none.
    let argument: String?

    /// Reads a global command; `nil` when the text is not one (including unknown `#WORD`s, which go to
    /// the terminal).
    init?(_ text: String) {
        // Most messages are not commands: those that start (after ASCII spaces) with another ASCII byte are
        // told apart without making a trimmed copy.
        if let first = text.utf8.first(where: { !Self.isASCIISpace($0) }), first < 0x80, first != UInt8(ascii: "#") { return nil }
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("#"), let second = trimmed.dropFirst().first, second.isLetter else { return nil }
        let word = trimmed.prefix { !$0.isWhitespace }
        switch word.uppercased() {
        case "#TERMINAL": kind = .terminal
        case "#INFO": kind = .info
        case "#SHELL", "#HOME": kind = .shell
        case "#DISCONNECT": kind = .disconnect
        case "#OPTIONS": kind = .options
        default: return nil
        }
        self.word = word.uppercased()
        let rest = trimmed.dropFirst(word.count).trimmingWhitespace()
        argument = rest.isEmpty ? nil : rest
    }

    private static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

extension ConnectionDispatcher {
    /// Runs a global command; its errors go to the client as status lines.
    func run(_ command: GlobalCommand) async {
        do {
            switch command.kind {
            case .terminal:
                guard let attachment else { return }
                if let argument = command.argument {
                    // The example names a property of this terminal, with its current value.
                    let writable = attachment.properties.boxes.first { !$0.box.isReadOnly }
                    let example = writable.map { JSON.object([$0.name: $0.box.jsonValue]).compact } ?? #"{"Name": "value"}"#
                    let object = try Self.jsonObject(argument, command: command.word, example: example)
                    _ = try await update(attachment, object.members.map { ($0.key, .json($0.value)) })
                    try await endpoint.send(.text("Terminal updated"))
                }
                try await endpoint.send(.text(attachment.properties.json.prettyPrinted))
            case .info:
                if let argument = command.argument {
                    let object = try Self.jsonObject(argument, command: command.word, example: #"{"CustomHeaders": {"X-Trace": "abc"}}"#)
                    endpoint.headers = try endpoint.headers.updatingCustomHeaders(from: object)
                    try await endpoint.send(.text("Profile updated"))
                }
                try await endpoint.send(.text(endpoint.profile.json.prettyPrinted))
            case .shell:
                try Self.expectNoArgument(command)
                await switchToShell(droppingInput: true)
            case .disconnect:
                try Self.expectNoArgument(command)
                await endpoint.close(code: .normalClosure, reason: "")
            case .options:
                try Self.expectNoArgument(command)
                guard let attachment else { return }
                try await endpoint.send(.text(attachment.descriptor.options.prettyPrinted))
            }
        } catch {
            await endpoint.sendStatus(SwitchboardError(wrapping: error, logger: endpoint.logger))
        }
    }

    private static func expectNoArgument(_ command: GlobalCommand) throws(SwitchboardError) {
        if let argument = command.argument {
            throw SwitchboardError(
                .badRequest, code: .invalidInput, "\(command.word) takes no argument, but got '\(argument)'")
        }
    }

    static func jsonObject(_ text: String, command: String, example: String) throws -> JSONObject {
        let json = try JSON(parsing: text)
        guard case .object(let object) = json else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput,
                "\(command) takes a JSON object such as \(example), but got \(json.kindDescription)")
        }
        return object
    }
}
