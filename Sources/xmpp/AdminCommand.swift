import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp admin`: service administration (XEP-0133) over XMPP, with an administrator's account, on any server that
/// offers the commands (xmppd, Prosody's mod_admin_adhoc, ejabberd).
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Administer the server over XMPP (XEP-0133), as one of its administrators.",
        discussion: "A refusal (not an administrator, no such account) exits 4 with the server's words.",
        subcommands: [Users.self, Online.self, Announce.self, MessageOfTheDay.self])

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add, delete, disable, enable, or set the password of accounts.",
                                                        subcommands: [Add.self, Delete.self, Disable.self, Enable.self, Passwd.self])

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable accounts: their sessions end and logins are refused.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The accounts' JIDs.") var accounts: [String]

            func run() async throws {
                try await runAdmin(options, AdminCommands.disableUser, ["accountjids": try accounts.map { try parseJID($0).bare.description }])
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enable disabled accounts again.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The accounts' JIDs.") var accounts: [String]

            func run() async throws {
                try await runAdmin(options, AdminCommands.reenableUser, ["accountjids": try accounts.map { try parseJID($0).bare.description }])
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create an account.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The new account's JID.") var account: String
            @Argument(help: "Its password.") var newPassword: String

            func run() async throws {
                let jid = try parseJID(account).bare.description
                try await runAdmin(options, AdminCommands.addUser,
                                   ["accountjid": [jid], "password": [newPassword], "password-verify": [newPassword]])
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete accounts and all their data.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The accounts' JIDs.") var accounts: [String]

            func validate() throws {
                guard !accounts.isEmpty else { throw ValidationError("name at least one account") }
            }

            func run() async throws {
                try await runAdmin(options, AdminCommands.deleteUser, ["accountjids": try accounts.map { try parseJID($0).bare.description }])
            }
        }

        struct Passwd: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set an account's password.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The account's JID.") var account: String
            @Argument(help: "The new password.") var newPassword: String

            func run() async throws {
                try await runAdmin(options, AdminCommands.changeUserPassword,
                                   ["accountjid": [try parseJID(account).bare.description], "password": [newPassword]])
            }
        }
    }

    struct Online: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the online users, one JID per line.")
        @OptionGroup var options: ConnectionOptions

        func run() async throws {
            let commands = AdHocCommandsModule()
            try await withClient(options, setUp: { $0.add(commands) }) { _ in
                // The node of XEP-0133, or the older one some servers (Prosody) use.
                var stage: CommandStage
                do {
                    stage = try await commands.run(AdminCommands.onlineUsersList)
                } catch XMPPClientError.stanzaError(let error) where error.condition == .itemNotFound {
                    stage = try await commands.run(AdminCommands.onlineUsers, values: ["max_items": ["all"]])
                }
                try check(stage)
                let users = stage.form?.field("onlineuserjids")?.values ?? []
                for user in users { print(user) }
                if users.isEmpty { Feedback.say("nobody is online") }
            }
        }
    }

    struct Announce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a message to every online user.")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The text.") var text: String
        @Option(help: "A subject line.") var subject: String?

        func run() async throws {
            var values = ["announcement": text.components(separatedBy: "\n")]
            if let subject { values["subject"] = [subject] }
            try await runAdmin(options, AdminCommands.announce, values)
        }
    }

    struct MessageOfTheDay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "motd", abstract: "Set or clear the message shown at login.",
                                                        subcommands: [Set.self, Clear.self])

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set the message of the day.")
            @OptionGroup var options: ConnectionOptions
            @Argument(help: "The text.") var text: String

            func run() async throws {
                try await runAdmin(options, AdminCommands.setMessageOfTheDay, ["motd": text.components(separatedBy: "\n")])
            }
        }

        struct Clear: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete the message of the day.")
            @OptionGroup var options: ConnectionOptions

            func run() async throws {
                try await runAdmin(options, AdminCommands.deleteMessageOfTheDay, [:])
            }
        }
    }
}

/// Runs one administration command with `values` and prints its notes; a failure note exits 4.
private func runAdmin(_ options: ConnectionOptions, _ node: String, _ values: [String: [String]]) async throws {
    let commands = AdHocCommandsModule()
    try await withClient(options, setUp: { $0.add(commands) }) { _ in
        let stage = try await commands.run(node, values: values)
        try check(stage)
        for note in stage.notes { print(note.text) }
        if stage.notes.isEmpty { print("done") }
    }
}

/// Throws the refusal a stage reports: a cancelled command, or an error note.
private func check(_ stage: CommandStage) throws {
    if let error = stage.notes.first(where: { $0.type == "error" }) {
        throw ToolFailure("the server refused: \(error.text)", status: ExitStatus.refused)
    }
    if stage.status == .canceled { throw ToolFailure("the command was cancelled", status: ExitStatus.refused) }
}

/// `xmpp commands`: the ad-hoc commands (XEP-0050) an entity offers this account.
struct Commands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the commands an entity (the server by default) offers: node and name, tab-separated.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The entity's JID (default: the account's server).") var entity: String?

    func run() async throws {
        let commands = AdHocCommandsModule()
        let target = try entity.map(parseJID)
        try await withClient(options, setUp: { $0.add(commands) }) { _ in
            let listed = try await commands.list(at: target)
            for command in listed { print("\(command.node)\t\(command.name ?? "")") }
            if listed.isEmpty { Feedback.say("no commands") }
        }
    }
}
