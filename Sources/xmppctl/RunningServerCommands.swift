// xmppctl's commands that ask the running server, through its admin socket (``Common/ask(_:)``): sessions, kicks,
// remote domains, statistics, rooms, an account at a glance, the settings and the recent log.
import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPCore

extension Common {
    /// Prints the running server's answer to `command`, one line each, or says `empty` when there is none.
    func printLines(of command: String, empty: String) async throws {
        let lines = try await ask(command).split(separator: "\n")
        for line in lines { print(line) }
        if lines.isEmpty { Feedback.say(empty) }
    }
}

/// Refuses anything but a bare JID with a local part (`room@service`).
func validateRoomJID(_ room: String) throws {
    guard let jid = JID(validating: room), jid.localpart != nil, jid.resourcepart == nil else { throw ValidationError("not a room JID: \(room)") }
}

/// `command room words...`, without a trailing space when there are no words.
func commandLine(_ command: String, _ room: String, _ words: [String]) -> String {
    ([command, room] + words).joined(separator: " ")
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List the online sessions (server must run).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.printLines(of: "sessions", empty: "no sessions")
    }
}

struct Kick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kick", abstract: "Disconnect a full JID, or every session of a bare JID.")
    @OptionGroup var common: Common
    @Argument var jid: String

    func validate() throws {
        guard JID(validating: jid) != nil else { throw ValidationError("not a JID: \(jid)") }
    }

    func run() async throws {
        print(try await common.ask("kick \(jid)"), terminator: "")
    }
}

struct RemoteDomains: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote-domains", abstract: "List the remote servers' domains with a ready stream, and its directions: in, out (server must run).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.printLines(of: "remote-domains", empty: "no remote domains")
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Sessions, accounts and uptime of the running server.")
    @OptionGroup var common: Common

    func run() async throws {
        print(try await common.ask("stats"), terminator: "")
    }
}

struct Rooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rooms", abstract: "List the chat rooms: JID, occupants, persistent or temporary (server must run).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.printLines(of: "rooms", empty: "no rooms")
    }
}

struct MakeRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mkroom", abstract: "Create a persistent chat room owned by the first administrator (server must run).")
    @OptionGroup var common: Common
    @Argument(help: "The room's JID, name@conference.DOMAIN.") var room: String
    @Argument(help: "The room's name as clients show it.") var title: [String] = []

    func validate() throws { try validateRoomJID(room) }

    func run() async throws {
        print(try await common.ask(commandLine("mkroom", room, title)), terminator: "")
    }
}

struct DestroyRoom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rmroom", abstract: "Destroy a chat room; its occupants are told the reason (server must run).")
    @OptionGroup var common: Common
    @Argument(help: "The room's JID.") var room: String
    @Argument(help: "The reason told to the occupants.") var reason: [String] = []

    func validate() throws { try validateRoomJID(room) }

    func run() async throws {
        print(try await common.ask(commandLine("rmroom", room, reason)), terminator: "")
    }
}

struct ShowUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "An account at a glance: its sessions, contacts and vCard (server must run).")
    @OptionGroup var common: Common
    @Argument(help: "The username, or user@domain.") var username: String

    func run() async throws {
        print(try await common.ask("user \(username)"), terminator: "")
    }
}

struct Settings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "The running server's settings in effect, secrets masked (server must run).")
    @OptionGroup var common: Common

    func run() async throws {
        print(try await common.ask("settings"), terminator: "")
    }
}

struct RecentLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The running server's recent warnings and errors, newest first (server must run).")
    @OptionGroup var common: Common

    func run() async throws {
        try await common.printLines(of: "log", empty: "nothing at warning or above")
    }
}
