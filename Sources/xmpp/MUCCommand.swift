import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp muc`: multi-user chat rooms (XEP-0045) from the command line.
struct MUCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muc", abstract: "Chat rooms: list, join, send, invite, kick, ban.",
        discussion: "A room that does not exist is created by entering it, with the server's default settings.",
        subcommands: [List.self, Join.self, Send.self, Invite.self, Kick.self, Ban.self])

    /// The room options every subcommand shares.
    struct RoomOptions: ParsableArguments {
        @Argument(help: "The room's JID, e.g. tea@conference.example.com.") var room: String
        @Option(help: "The nickname in the room (default: the account's name).") var nick: String?
        @Option(help: "The room's password.") var roomPassword: String?
        @Flag(help: "When this creates the room, keep it after everyone has left (otherwise it ends with its last occupant).")
        var persistent = false
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public rooms: JID and name (tab-separated).")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The chat service (default: the one the server lists).") var service: String?

        func run() async throws {
            let muc = MultiUserChatModule()
            try await withClient(options, setUp: { $0.add(muc) }) { _ in
                var found = try service.map(parseJID)
                if found == nil { found = try await muc.findService() }
                guard let service = found else {
                    throw XMPPClientError.unexpectedResponse("the server lists no chat service")
                }
                let rooms = try await muc.rooms(on: service)
                for room in rooms { print("\(room.jid)\t\(room.name ?? "")") }
                if rooms.isEmpty { Feedback.say("no public rooms on \(service)") }
            }
        }
    }

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enter a room: its messages print as they arrive (`nick: text`), typed lines are sent; leave with EOF (Ctrl-D).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var room: RoomOptions
        @Option(help: "How many messages of history to show on entry.") var history = 20

        func run() async throws {
            try await inRoom(options, room, presence: true, history: .init(maxStanzas: history)) { chatRoom, events in
                Feedback.say("joined \(chatRoom.jid) as \(chatRoom.nickname) (type a line to send it, Ctrl-D to leave)")
                // Typed lines go to the room until standard input ends or this user is out of the room.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await Self.printEvents(events) }
                    group.addTask {
                        for await line in Chat.standardInputLines() where !line.isEmpty {
                            try await chatRoom.send(line)
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }

        /// Prints what happens in the room; returns once this user is out of it.
        private static func printEvents(_ events: AsyncStream<RoomEvent>) async {
            for await event in events {
                switch event {
                case .message(let message): print("\(message.nickname ?? "*"): \(message.body)")
                case .privateMessage(let message): print("\(message.nickname ?? "*") (private): \(message.body)")
                case .subject(let subject, let nickname) where !subject.isEmpty: print("* subject: \(subject)" + (nickname.map { " (set by \($0))" } ?? ""))
                case .occupantJoined(let occupant) where !occupant.isSelf: print("* \(occupant.nickname) joined")
                case .occupantLeft(let occupant, let exit) where !occupant.isSelf: print("* \(occupant.nickname) left (\(exit))")
                case .messageRefused(let error): print("* refused: \(error)")
                case .voiceRequested(let nickname, _): print("* \(nickname) asks for voice")
                case .exited(let exit):
                    print("* you are out of the room: \(exit)")
                    return
                default: break
                }
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enter a room, send one message, leave.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var room: RoomOptions
        @Argument(help: "The text; read from standard input when omitted.") var text: String?

        func run() async throws {
            let body = text ?? (String(data: FileHandle.standardInput.readDataToEndOfFile(), encoding: .utf8) ?? "")
            try await inRoom(options, room) { chatRoom, events in
                let id = try await chatRoom.send(body.trimmingCharacters(in: .newlines))
                // Wait for the room's reflection, so the message is known to have gone out to everyone.
                let reflected = await ChatRoom.first(events, within: .seconds(10)) { if case .message(let message) = $0 { message.id == id } else { false } }
                guard reflected != nil else { throw XMPPClientError.timeout }
                print("sent to \(chatRoom.jid)")
            }
        }
    }

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Invite someone to a room (through the room).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var room: RoomOptions
        @Argument(help: "Who to invite.") var invitee: String
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            let jid = try parseJID(invitee)
            try await inRoom(options, room) { chatRoom, _ in
                try await chatRoom.invite(jid, reason: reason)
                print("invited \(jid) to \(chatRoom.jid)")
            }
        }
    }

    struct Kick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Kick an occupant out of a room (moderators).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var room: RoomOptions
        @Argument(help: "The occupant's nickname.") var nickname: String
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            try await inRoom(options, room) { chatRoom, _ in
                try await chatRoom.kick(nickname, reason: reason)
                print("kicked \(nickname) from \(chatRoom.jid)")
            }
        }
    }

    struct Ban: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ban a user from a room (admins and owners).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var room: RoomOptions
        @Argument(help: "The user's JID.") var user: String
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            let jid = try parseJID(user)
            try await inRoom(options, room) { chatRoom, _ in
                try await chatRoom.ban(jid, reason: reason)
                print("banned \(jid.bare) from \(chatRoom.jid)")
            }
        }
    }
}

/// Connects, enters the room (accepting the default settings, or making it persistent, when this creates it), runs
/// `body` with the room
/// and its events, and leaves.
private func inRoom(_ options: ConnectionOptions, _ room: MUCCommand.RoomOptions, presence: Bool = false,
                    history: RoomHistoryRequest = .none,
                    _ body: (ChatRoom, AsyncStream<RoomEvent>) async throws -> Void) async throws {
    let roomJID = try parseJID(room.room).bare
    let muc = MultiUserChatModule(rejoinsAfterReconnection: false)
    try await withClient(options, presence: presence, setUp: { $0.add(muc) }) { client in
        let nickname = room.nick ?? client.jid?.localpart ?? "xmpp"
        let chatRoom = muc.room(roomJID, nickname: nickname)
        let events = chatRoom.events
        try await chatRoom.join(password: room.roomPassword, history: history)
        if chatRoom.wasCreated {
            if room.persistent {
                try await chatRoom.configure(["muc#roomconfig_persistentroom": "1"])
            } else {
                try await chatRoom.acceptDefaultConfiguration()
            }
        }
        try await body(chatRoom, events)
        if chatRoom.isJoined { try await chatRoom.leave() }
    }
}
