import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp pubsub`: publish-subscribe nodes (XEP-0060) on a service, or on the account's own PEP service.
struct PubSubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubsub", abstract: "Publish-subscribe nodes: create, publish, items, subscribe, delete.",
        discussion: "Without --service, the account's own personal eventing service (PEP) is used.",
        subcommands: [Create.self, Publish.self, Items.self, Subscribe.self, Delete.self])

    /// The node and service every subcommand names.
    struct NodeOptions: ParsableArguments {
        @Argument(help: "The node's name.") var node: String
        @Option(help: "The pubsub service, e.g. pubsub.example.com (default: the account's own PEP).") var service: String?

        func serviceJID() throws -> JID? { try service.map(parseJID) }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a node.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var target: NodeOptions
        @Option(help: "A configuration field, as FIELD=VALUE (e.g. pubsub#access_model=open); repeatable.")
        var config: [String] = []

        func run() async throws {
            let values = try fieldValues(config, option: "--config")
            try await withPubSub(options) { pubsub in
                let node = try await pubsub.create(node: target.node, on: try target.serviceJID(), configuration: values)
                print("created \(node)")
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish one item and print its id.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var target: NodeOptions
        @Argument(help: "The payload, one XML element with its namespace; read from standard input when omitted.")
        var payload: String?
        @Option(help: "The item id (default: the service chooses).") var id: String?
        @Option(help: "A publish option, as FIELD=VALUE (e.g. pubsub#access_model=presence); repeatable.")
        var option: [String] = []

        func run() async throws {
            let text = payload ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            let element: Element
            do {
                element = try Element(xml: text.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch {
                throw ValidationError("the payload is not one XML element: \(error)")
            }
            let publishOptions = try fieldValues(option, option: "--option")
            try await withPubSub(options) { pubsub in
                let itemID = try await pubsub.publish(element, to: target.node, on: try target.serviceJID(), itemID: id,
                                                      publishOptions: publishOptions)
                print("published \(itemID)")
            }
        }
    }

    struct Items: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a node's items: id, then the payload's XML (tab-separated).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var target: NodeOptions
        @Option(help: "Only the newest N items.") var max: Int?

        func run() async throws {
            try await withPubSub(options) { pubsub in
                let items = try await pubsub.items(of: target.node, on: try target.serviceJID(), max: max)
                for item in items { print("\(item.id ?? "")\t\(item.payload?.xmlString ?? "")") }
                if items.isEmpty { Feedback.say("no items in \(target.node)") }
            }
        }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Subscribe the account to a node; with --wait, print the next notifications as they arrive.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var target: NodeOptions
        @Option(help: "Stay and print this many notifications (id, then the payload's XML) before exiting.") var wait: Int = 0

        func run() async throws {
            guard wait >= 0 else { throw ValidationError("--wait takes a count of notifications, 0 or more") }
            // Notifications go to the bare JID's available resources: a waiting session must be available.
            try await withPubSub(options, presence: wait > 0) { pubsub in
                let events = pubsub.events
                let subscription = try await pubsub.subscribe(to: target.node, on: try target.serviceJID())
                print("subscribed \(target.node) (\(subscription.state.rawValue))")
                guard wait > 0 else { return }
                var printed = 0
                for await event in events where event.node == target.node {
                    guard case .published(let items) = event.kind else { continue }
                    for item in items { print("\(item.id ?? "")\t\(item.payload?.xmlString ?? "")") }
                    printed += items.count
                    if printed >= wait { break }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a node and its items.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var target: NodeOptions

        func run() async throws {
            try await withPubSub(options) { pubsub in
                try await pubsub.delete(node: target.node, on: try target.serviceJID())
                print("deleted \(target.node)")
            }
        }
    }
}

/// `FIELD=VALUE` arguments as form values.
private func fieldValues(_ pairs: [String], option: String) throws -> [String: String] {
    var values: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("\(option) takes FIELD=VALUE, not \(pair)")
        }
        values[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return values
}

/// Logs in with a pubsub module, runs `body`.
private func withPubSub(_ options: ConnectionOptions, presence: Bool = false,
                        _ body: @escaping (PubSubModule) async throws -> Void) async throws {
    let pubsub = PubSubModule()
    try await withClient(options, presence: presence, setUp: { $0.add(pubsub) }) { _ in try await body(pubsub) }
}
