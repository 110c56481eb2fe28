import XMPPCore

/// A command an entity offers (XEP-0050 §3.2).
public struct CommandListing: Sendable, Hashable {
    /// The entity that runs it (the server, usually).
    public var jid: JID
    /// Its node.
    public var node: String
    /// Its name, as the entity gives it.
    public var name: String?
}

/// Where a command execution stands after a step (XEP-0050 §4).
public struct CommandStage: Sendable, Hashable {
    /// How the execution stands.
    public enum Status: String, Sendable, Hashable {
        /// A form waits to be filled in (``form``).
        case executing
        /// Done; ``notes`` and ``form`` (results) say how it went.
        case completed
        /// Cancelled.
        case canceled
    }

    /// A note the command shows.
    public struct Note: Sendable, Hashable {
        /// `info`, `warn` or `error`.
        public var type: String
        /// The text.
        public var text: String
    }

    /// The entity running it.
    public var jid: JID
    /// The command's node.
    public var node: String
    /// The session, for the next step.
    public var sessionID: String?
    /// How it stands.
    public var status: Status
    /// The form to fill in (executing), or the results (completed).
    public var form: DataForm?
    /// Notes.
    public var notes: [Note]
    /// The actions allowed now (`next`, `prev`, `complete`), and the one a plain submission means.
    public var actions: [String]
    /// The action a submission takes by default.
    public var defaultAction: String?

    /// Whether a note says the command failed.
    public var failed: Bool { notes.contains { $0.type == "error" } }
}

/// Runs the ad-hoc commands an entity offers (XEP-0050): lists them, executes them, walks multi-step forms. With an
/// administrator's account, the service administration commands of XEP-0133 (``AdminCommands``) on any server that
/// offers them.
///
/// ```swift
/// let commands = client.add(AdHocCommandsModule())
/// for command in try await commands.list() { print(command.node, command.name ?? "") }
/// let stage = try await commands.run(AdminCommands.addUser, values: ["accountjid": ["carol@example.com"],
///                                                                    "password": ["s3cret"], "password-verify": ["s3cret"]])
/// ```
public final class AdHocCommandsModule: XMPPClientModule {
    /// `http://jabber.org/protocol/commands`.
    public static let namespace = "http://jabber.org/protocol/commands"
    private let client = ClientReference()
    private let offered = OfferedCommands()

    /// Creates the module.
    public init() {}

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// Offers a command to other entities: by default only to the account's own other clients (`allows` widens it).
    /// Each step gets what was submitted so far and answers with a form or the outcome.
    public func offer(_ node: String, name: String, allows: (@Sendable (JID) -> Bool)? = nil,
                      _ step: @escaping @Sendable (CommandRequest) async throws -> CommandReply) {
        let client = self.client
        offered.offer(OfferedCommand(node: node, name: name, allows: allows ?? { $0.bare == client.value?.configuration.jid.bare },
                                     step: step))
    }

    public var discoFeatures: [String] { [Self.namespace] }

    /// Answers the disco requests for the offered commands and runs them.
    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard stanza.name == "iq", let iq = IQ(element: stanza), let query = iq.payload, let requester = iq.from else { return false }
        let own = client.jid ?? client.configuration.jid
        switch (iq.type, query.namespace) {
        case (.get?, DiscoNamespace.items) where query.attribute("node") == Self.namespace:
            var items = Element("query", namespace: DiscoNamespace.items, attributes: ["node": Self.namespace])
            for command in offered.list(for: requester) {
                items.append(Element("item", namespace: DiscoNamespace.items, attributes: ["jid": own.description, "node": command.node, "name": command.name]))
            }
            client.enqueue(iq.result(payload: items).element)
            return true
        case (.get?, DiscoNamespace.info):
            guard let node = query.attribute("node"), let command = offered.list(for: requester).first(where: { $0.node == node }) else { return false }
            let info = Element("query", namespace: DiscoNamespace.info, attributes: ["node": node], children: [
                .element(DiscoIdentity(category: "automation", type: "command-node", name: command.name).element),
                .element(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": Self.namespace])),
                .element(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": DataForm.namespace])),
            ])
            client.enqueue(iq.result(payload: info).element)
            return true
        case (.set?, Self.namespace) where query.name == "command":
            let offered = self.offered
            Task {
                do {
                    let answer = try await offered.answer(query, from: requester)
                    client.enqueue(iq.result(payload: answer).element)
                } catch {
                    client.enqueue(iq.errorReply(error as? StanzaError ?? StanzaError(.internalServerError)))
                }
            }
            return true
        default:
            return false
        }
    }

    /// The commands `entity` (the own server by default) offers this account.
    public func list(at entity: JID? = nil) async throws -> [CommandListing] {
        let client = try client.require()
        let target = try entity ?? server(of: client)
        let query = Element("query", namespace: DiscoNamespace.items, attributes: ["node": Self.namespace])
        let answer = try await client.query(query, to: target)
        return (answer?.children("item", namespace: DiscoNamespace.items) ?? []).compactMap { item in
            guard let jid = item.attribute("jid").flatMap(JID.init(validating:)), let node = item.attribute("node") else { return nil }
            return CommandListing(jid: jid, node: node, name: item.attribute("name"))
        }
    }

    /// Starts command `node` at `entity` (the own server by default).
    public func execute(_ node: String, at entity: JID? = nil) async throws -> CommandStage {
        let client = try client.require()
        return try await step(node: node, at: try entity ?? server(of: client), sessionID: nil, action: "execute", form: nil)
    }

    /// Submits `form` and goes on (`next`), or finishes (`complete`, the default for a last form).
    public func submit(_ stage: CommandStage, values: [String: [String]], action: String? = nil) async throws -> CommandStage {
        var form = DataForm(type: .submit)
        // FORM_TYPE goes back as given, then the values.
        if let formType = stage.form?.formType { form.setValues([formType], for: "FORM_TYPE", type: .hidden) }
        for (variable, values) in values.sorted(by: { $0.key < $1.key }) { form.setValues(values, for: variable) }
        return try await step(node: stage.node, at: stage.jid, sessionID: stage.sessionID,
                              action: action ?? stage.defaultAction ?? "complete", form: form)
    }

    /// Goes back to the previous form.
    public func previous(_ stage: CommandStage) async throws -> CommandStage {
        try await step(node: stage.node, at: stage.jid, sessionID: stage.sessionID, action: "prev", form: nil)
    }

    /// Cancels the execution.
    public func cancel(_ stage: CommandStage) async throws -> CommandStage {
        try await step(node: stage.node, at: stage.jid, sessionID: stage.sessionID, action: "cancel", form: nil)
    }

    /// Runs command `node` to its end, answering every form with `values` (fields it does not ask for are left out).
    /// Returns the final stage: completed (see its notes and results) or canceled.
    public func run(_ node: String, at entity: JID? = nil, values: [String: [String]] = [:]) async throws -> CommandStage {
        var stage = try await execute(node, at: entity)
        for _ in 0..<10 where stage.status == .executing {
            let asked = Set(stage.form?.fields.compactMap(\.variable) ?? [])
            stage = try await submit(stage, values: values.filter { asked.contains($0.key) })
        }
        return stage
    }

    private func server(of client: XMPPClient) throws -> JID {
        guard let domain = client.jid?.domain else { throw XMPPClientError.notConnected }
        return domain
    }

    private func step(node: String, at entity: JID, sessionID: String?, action: String, form: DataForm?) async throws -> CommandStage {
        var command = Element("command", namespace: Self.namespace, attributes: ["node": node, "action": action])
        command.setAttribute("sessionid", to: sessionID)
        if let form { command.append(form.element) }
        guard let answer = try await client.require().query(command, type: .set, to: entity), answer.name == "command" else {
            throw XMPPClientError.unexpectedResponse("no command in the answer")
        }
        let actions = answer.child("actions", namespace: Self.namespace)
        return CommandStage(
            jid: entity, node: node, sessionID: answer.attribute("sessionid") ?? sessionID,
            status: answer.attribute("status").flatMap(CommandStage.Status.init(rawValue:)) ?? .completed,
            form: answer.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:)),
            notes: answer.children("note", namespace: Self.namespace).map { CommandStage.Note(type: $0.attribute("type") ?? "info", text: $0.text) },
            actions: actions?.elements.map(\.name) ?? [], defaultAction: actions?.attribute("execute"))
    }
}

/// The nodes of the service administration commands (XEP-0133).
public enum AdminCommands {
    /// `http://jabber.org/protocol/admin`.
    public static let namespace = "http://jabber.org/protocol/admin"
    /// Add a user: `accountjid`, `password`, `password-verify`.
    public static let addUser = namespace + "#add-user"
    /// Delete users: `accountjids`.
    public static let deleteUser = namespace + "#delete-user"
    /// Disable accounts (logins refused with `account-disabled`): `accountjids`.
    public static let disableUser = namespace + "#disable-user"
    /// Enable disabled accounts again: `accountjids`.
    public static let reenableUser = namespace + "#reenable-user"
    /// Change a user's password: `accountjid`, `password`.
    public static let changeUserPassword = namespace + "#change-user-password"
    /// A user's roster: `accountjid`; the `jabber:iq:roster` query comes inside the results form.
    public static let userRoster = namespace + "#get-user-roster"
    /// When a user last logged in: `accountjid`; `lastlogin` in the results.
    public static let userLastLogin = namespace + "#get-user-lastlogin"
    /// End the sessions of users: `accountjids`.
    public static let endUserSession = namespace + "#end-user-session"
    /// The online users: `onlineuserjids` in the results.
    public static let onlineUsersList = namespace + "#get-online-users-list"
    /// The same as ``onlineUsersList`` under its older name (Prosody).
    public static let onlineUsers = namespace + "#get-online-users"
    /// How many users are registered: `registeredusersnum`.
    public static let registeredUsersCount = namespace + "#get-registered-users-num"
    /// Send an announcement to everyone online: `subject`, `announcement`.
    public static let announce = namespace + "#announce"
    /// Set the message of the day: `motd`.
    public static let setMessageOfTheDay = namespace + "#set-motd"
    /// Delete the message of the day.
    public static let deleteMessageOfTheDay = namespace + "#delete-motd"
}
