import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp`: a command-line chat client for people and scripts, built only on the XMPPClient library.
@main
struct XMPPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmpp",
        abstract: "Chat over XMPP from the command line.",
        discussion: """
            Credentials come from --jid/--password, XMPP_JID/XMPP_PASSWORD, or an account in \(AccountFile.displayPath) \
            (--account NAME). Exit status: 0 success, 1 usage, 2 authentication failed, 3 cannot connect or TLS \
            failed, 4 refused by the server, 5 timed out. --verbose adds the underlying error to a failure.
            """,
        subcommands: [Register.self, Passwd.self, Send.self, RosterCommand.self, Chat.self, MUCCommand.self, Block.self, Unblock.self,
                      Blocklist.self, AvatarCommand.self, UploadCommand.self, SendFile.self, ReceiveFiles.self, BookmarksCommand.self, PubSubCommand.self, Status.self,
                      History.self, Conversations.self, Commands.self, AdminCommand.self])

    static func main() async {
        await ToolRunner.main(self, present: ErrorPresentation.failure(for:))
    }
}

/// Connects with `options`, runs `body`, disconnects. A failure propagates to ``ToolRunner``, which reports it.
func withClient(_ options: ConnectionOptions, presence: Bool = false, registering: Bool = false,
                setUp: (XMPPClient) -> Void = { _ in },
                _ body: (XMPPClient) async throws -> Void) async throws {
    let client = XMPPClient(configuration: try options.configuration(sendsInitialPresence: presence))
    setUp(client)
    do {
        try await client.connect(registering: registering)
        try await body(client)
        await client.disconnect()
    } catch {
        await client.disconnect()
        throw error
    }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the account (in-band registration).")
    @OptionGroup var options: ConnectionOptions

    func run() async throws {
        try await withClient(options, registering: true) { client in
            print("registered \(client.jid?.bare.description ?? "")")
        }
    }
}

struct Passwd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change the account's password.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The new password.") var newPassword: String

    func run() async throws {
        let source = try options.credentials().passwordSource
        if case .accountFile = source, !AccountFile.canStore(newPassword) {
            throw ToolFailure.usage("a password kept in \(AccountFile.path) cannot start or end with spaces or hold a line break")
        }
        let registration = RegistrationModule()
        try await withClient(options, setUp: { $0.add(registration) }) { _ in
            try await registration.changePassword(to: newPassword)
            print("password changed")
        }
        // The next command must not log in with the old password.
        switch source {
        case .accountFile(let name):
            do {
                try AccountFile.updatePassword(of: name, to: newPassword)
            } catch var failure as ToolFailure {
                failure.message = "the server has the new password, but \(failure.message)"
                failure.hint = "put the new password in \(AccountFile.path) by hand"
                throw failure
            }
            Feedback.say("updated the password of account \(name) in \(AccountFile.path)")
        case .environment:
            Feedback.say("note: XMPP_PASSWORD still holds the old password; set it to the new one before the next command")
        case .option:
            break
        }
    }
}

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send one chat message and exit.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The recipient's JID.") var to: String
    @Argument(help: "The text; read from standard input when omitted.") var text: String?

    func run() async throws {
        let recipient = try parseJID(to)
        let body = text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let chat = ChatModule()
        try await withClient(options, setUp: { $0.add(chat) }) { _ in
            let id = try await chat.send(body, to: recipient, requestReceipt: false)
            print("sent \(id)")
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log in, and print the session and the server's software.")
    @OptionGroup var options: ConnectionOptions

    func run() async throws {
        try await withClient(options) { client in
            print("online \(client.jid?.description ?? "") \(client.authenticationMechanism?.rawValue ?? "")")
            let version = try? await client.query(Element("query", namespace: "jabber:iq:version"), to: client.jid?.domain)
            if let name = version?.child("name")?.text {
                print("server \(name) \(version?.child("version")?.text ?? "")")
            }
        }
    }
}
