import ArgumentParser
import CommandLineSupport
import XMPPClient
import XMPPCore

struct RosterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roster", abstract: "List and change contacts and subscriptions.",
        subcommands: [List.self, Add.self, Remove.self, Subscribe.self, Approve.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one contact per line: JID, subscription, name, groups (tab-separated).")
        @OptionGroup var options: ConnectionOptions

        func run() async throws {
            let roster = RosterModule()
            try await withClient(options, setUp: { $0.add(roster) }) { _ in
                for item in roster.items {
                    let subscription = item.subscription.rawValue + (item.isPendingOut ? "+ask" : "")
                    print([item.jid.description, subscription, item.name ?? "", item.groups.joined(separator: ",")].joined(separator: "\t"))
                }
                if roster.items.isEmpty { Feedback.say("the roster is empty") }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or update a contact (and ask to see their presence with --subscribe).")
        @OptionGroup var options: ConnectionOptions
        @Argument var contact: String
        @Option(help: "The contact's name.") var name: String?
        @Option(help: "A group; repeat for several.") var group: [String] = []
        @Flag(help: "Also ask to see the contact's presence.") var subscribe = false

        func run() async throws {
            let jid = try parseJID(contact)
            let roster = RosterModule(fetchesOnLogin: false)
            try await withClient(options, setUp: { $0.add(roster) }) { _ in
                try await roster.add(jid, name: name, groups: group)
                if subscribe { try await roster.subscribe(to: jid) }
                print("added \(jid)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a contact (cancelling both subscriptions).")
        @OptionGroup var options: ConnectionOptions
        @Argument var contact: String

        func run() async throws {
            try await changeRoster(options, contact) { roster, jid in
                try await roster.remove(jid)
                return "removed \(jid)"
            }
        }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask to see a contact's presence.")
        @OptionGroup var options: ConnectionOptions
        @Argument var contact: String

        func run() async throws {
            try await changeRoster(options, contact) { roster, jid in
                try await roster.subscribe(to: jid)
                return "subscription requested from \(jid)"
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a contact see your presence (accepts or pre-approves their request).")
        @OptionGroup var options: ConnectionOptions
        @Argument var contact: String

        func run() async throws {
            try await changeRoster(options, contact) { roster, jid in
                try await roster.approve(jid)
                return "approved \(jid)"
            }
        }
    }
}

/// Logs in without fetching the roster, applies one change about `contact`, prints what it returns.
func changeRoster(_ options: ConnectionOptions, _ contact: String,
                  _ change: @escaping (RosterModule, JID) async throws -> String) async throws {
    let jid = try parseJID(contact)
    let roster = RosterModule(fetchesOnLogin: false)
    try await withClient(options, setUp: { $0.add(roster) }) { _ in
        print(try await change(roster, jid))
    }
}

func parseJID(_ text: String) throws -> JID {
    guard let jid = JID(validating: text) else { throw ValidationError("not a JID: \(text)") }
    return jid
}
