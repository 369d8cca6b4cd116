import ArgumentParser

@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Serve interactive terminal resources over WebSocket, or connect to them.",
        subcommands: [ServeCommand.self, ConnectCommand.self, KeysCommand.self]
    )
}
