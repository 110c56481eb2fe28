import Foundation
import Logging
import XMPPCore

/// Service administration (XEP-0133) as ad-hoc commands for the server's administrators: add, delete, disable,
/// re-enable and change the password of users, read their roster and last login, end sessions, count and list users, announce to everyone online, the message of the
/// day shown at login, and the welcome message every new account finds waiting. Each is the kernel's own operation (the one `xmppctl` uses), so the account hooks of every
/// module run. Also a `ping` command for everyone, as other servers offer.
public struct ServiceAdministrationModule: ServerModule {
    public let name = "admin"
    public let specifications = ["XEP-0133 1.3.1"]

    /// `http://jabber.org/protocol/admin`, the commands' node prefix and FORM_TYPE.
    public static let namespace = "http://jabber.org/protocol/admin"

    /// Where the message of the day is kept (``ServiceRecordStore``).
    static let recordService = "admin"

    /// Creates the module.
    public init() {}

    /// `admin_record_last_login`: whether logins are recorded for get-user-lastlogin.
    public static let recordLastLogin = ConfigOption.boolean(
        "admin_record_last_login", default: true, "record each account's last login (one small write per login, off the login path) for get-user-lastlogin")
    public var options: [ConfigOption] { [Self.recordLastLogin] }

    /// The per-user document with the time of the last login (ISO 8601).
    static let lastLoginKey = "account.lastlogin"

    public func activate(in host: ModuleHost) {
        let texts = StoredTexts()
        for command in Self.commands(texts: texts) { host.addCommand(command) }
        if host.configuration.value(of: Self.recordLastLogin) as Bool {
            host.onSessionBound { session, kernel in
                guard let user = session.jid.localpart else { return }
                let stamp = Array(Date().formatted(.iso8601).utf8)
                kernel.startBackgroundTask { try? await kernel.storage.userData.setValue(stamp, for: Self.lastLoginKey, of: user) }
            }
        }
        host.onAccountCreated { username, kernel in
            guard let welcome = try await texts.value("welcome", kernel: kernel), !welcome.isEmpty else { return }
            var message = Message(type: .normal, to: try JID(localpart: username, domainpart: kernel.configuration.domain), body: welcome)
            message.from = kernel.domainJID
            message.element.append(Element("subject", namespace: XMLNamespace.client, text: "Welcome"))
            // A new account has no session yet: the message waits with its offline messages.
            _ = try await kernel.storage.offline.store(message.element, for: username, limit: 1000, byteLimit: .max)
        }
        host.onInitialPresence { session, kernel in
            guard let motd = try? await texts.value("motd", kernel: kernel), !motd.isEmpty else { return }
            var message = Message(type: .normal, to: session.jid, body: motd)
            message.from = kernel.domainJID
            message.element.append(Element("subject", namespace: XMLNamespace.client, text: "Message of the day"))
            session.deliver(message.element)
        }
    }

    // MARK: The commands

    static func commands(texts: StoredTexts) -> [AdHocCommand] {
        [
            admin("add-user", "Add a User", fields: [
                jid("accountjid", "The Jabber ID for the account to be added"),
                field("password", .textPrivate, "The password for this account"),
                field("password-verify", .textPrivate, "Retype password"),
            ]) { step in
                let user = try localUser(step.value("accountjid"), step.kernel)
                guard let password = step.value("password"), !password.isEmpty else { return failed("give a password") }
                guard step.value("password-verify").map({ $0 == password }) ?? true else { return failed("the passwords differ") }
                guard try await step.kernel.createAccount(user, password: password) else { return failed("\(user) exists already") }
                return done("created \(user)")
            },
            admin("delete-user", "Delete a User", fields: [jids("accountjids", "The Jabber ID(s) to delete")]) { step in
                var deleted: [String] = []
                for text in step.values["accountjids"] ?? [] {
                    let user = try localUser(text, step.kernel)
                    guard try await step.kernel.deleteAccount(user) else { return failed("no account \(user)") }
                    step.kernel.closeSessions(of: try JID(localpart: user, domainpart: step.kernel.configuration.domain),
                                              with: StreamError(.notAuthorized, text: "the account was removed"))
                    deleted.append(user)
                }
                return done("deleted \(deleted.joined(separator: ", "))")
            },
            accountStatus("disable-user", "Disable a User", disable: true),
            accountStatus("reenable-user", "Re-Enable a User", disable: false),
            admin("change-user-password", "Change User Password", fields: [
                jid("accountjid", "The Jabber ID for this account"),
                field("password", .textPrivate, "The password for this account"),
            ]) { step in
                let user = try localUser(step.value("accountjid"), step.kernel)
                guard let password = step.value("password"), !password.isEmpty else { return failed("give a password") }
                guard try await step.kernel.changePassword(of: user, to: password) else { return failed("no account \(user)") }
                return done("password changed for \(user)")
            },
            admin("get-user-roster", "Get User Roster", fields: [jid("accountjid", "The Jabber ID for which to retrieve roster")]) { step in
                let user = try localUser(step.value("accountjid"), step.kernel)
                guard try await step.kernel.storage.accounts.accountExists(user) else { return failed("no account \(user)") }
                let account = try JID(localpart: user, domainpart: step.kernel.configuration.domain)
                var query = Element("query", namespace: RosterNamespace.roster)
                for item in await step.kernel.rosterItems(of: account) where item.isListed { query.append(item.element) }
                // XEP-0133 §4.18: the roster travels inside the results form.
                var results = result([field("accountjids", .jidSingle, "The Jabber ID", values: [account.description])]).element
                results.append(query)
                return .completedWithElement(note: nil, results: results)
            },
            admin("get-user-lastlogin", "Get User Last Login Time", fields: [jid("accountjid", "The Jabber ID")]) { step in
                let user = try localUser(step.value("accountjid"), step.kernel)
                guard try await step.kernel.storage.accounts.accountExists(user) else { return failed("no account \(user)") }
                let online = !step.kernel.registry.entries(of: try JID(localpart: user, domainpart: step.kernel.configuration.domain)).isEmpty
                let last = try await step.kernel.storage.userData.value(lastLoginKey, of: user).map { String(decoding: $0, as: UTF8.self) }
                return .completed(note: nil, results: result([
                    field("accountjid", .jidSingle, "The Jabber ID", values: ["\(user)@\(step.kernel.configuration.domain)"]),
                    field("lastlogin", .textSingle, online ? "Online now; last login" : "Last login", values: last.map { [$0] } ?? []),
                ]))
            },
            admin("end-user-session", "End User Session", fields: [jids("accountjids", "The Jabber ID(s) whose sessions end")]) { step in
                var ended = 0
                for text in step.values["accountjids"] ?? [] {
                    guard let jid = JID(validating: text), jid.domainpart == step.kernel.configuration.domain else {
                        return failed("not a user of this server: \(text)")
                    }
                    let sessions = step.kernel.registry.entries(of: jid.bare).map(\.session).filter { jid.isBare || $0.jid == jid }
                    for session in sessions { session.close(with: StreamError(.policyViolation, text: "disconnected by the administrator")) }
                    ended += sessions.count
                }
                return done("ended \(ended) session\(ended == 1 ? "" : "s")")
            },
            admin("get-registered-users-num", "Get Number of Registered Users", fields: []) { step in
                let count = try await step.kernel.storage.accounts.usernames().count
                return .completed(note: nil, results: result([field("registeredusersnum", .textSingle, "The number of all users", values: [String(count)])]))
            },
            admin("get-online-users-num", "Get Number of Online Users", fields: []) { step in
                let online = Set(step.kernel.registry.allSessions().map(\.jid.bare)).count
                return .completed(note: nil, results: result([field("onlineusersnum", .textSingle, "The number of online users", values: [String(online)])]))
            },
            admin("get-online-users-list", "Get List of Online Users", fields: []) { step in
                let online = Set(step.kernel.registry.allSessions().map(\.jid.bare.description)).sorted()
                return .completed(note: nil, results: result([field("onlineuserjids", .jidMulti, "The list of all online users", values: online)]))
            },
            admin("announce", "Send Announcement to Online Users", fields: [
                field("subject", .textSingle, "Subject"),
                field("announcement", .textMulti, "Announcement", required: true),
            ]) { step in
                let text = (step.values["announcement"] ?? []).joined(separator: "\n")
                guard !text.isEmpty else { return failed("the announcement is empty") }
                let sessions = step.kernel.registry.allSessions()
                for session in sessions {
                    var message = Message(type: .normal, to: session.jid, body: text)
                    message.from = step.kernel.domainJID
                    if let subject = step.value("subject"), !subject.isEmpty {
                        message.element.append(Element("subject", namespace: XMLNamespace.client, text: subject))
                    }
                    session.deliver(message.element)
                }
                return done("sent to \(sessions.count) session\(sessions.count == 1 ? "" : "s")")
            },
            admin("set-motd", "Set Message of the Day", fields: [field("motd", .textMulti, "Message of the Day", required: true)]) { step in
                try await setMessageOfTheDay((step.values["motd"] ?? []).joined(separator: "\n"), texts, step.kernel)
                return done("the message of the day is set")
            },
            AdHocCommand(node: namespace + "#edit-motd", name: "Edit Message of the Day", audience: .admins) { step in
                guard step.stage == 0 else {
                    try await setMessageOfTheDay((step.values["motd"] ?? []).joined(separator: "\n"), texts, step.kernel)
                    return done("the message of the day is set")
                }
                let current = try await texts.value("motd", kernel: step.kernel) ?? ""
                return .form(form("Edit Message of the Day", [field("motd", .textMulti, "Message of the Day", required: true,
                                                                     values: current.isEmpty ? [] : current.components(separatedBy: "\n"))]), isLast: true)
            },
            admin("delete-motd", "Delete Message of the Day", fields: []) { step in
                try await texts.set("motd", to: nil, kernel: step.kernel)
                return done("the message of the day is deleted")
            },
            AdHocCommand(node: namespace + "#edit-welcome", name: "Edit Welcome Message", audience: .admins) { step in
                guard step.stage == 0 else {
                    let text = (step.values["welcome"] ?? []).joined(separator: "\n")
                    guard text.utf8.count <= 4096 else { return failed("the welcome message is at most 4096 bytes") }
                    if text.isEmpty {
                        try await texts.set("welcome", to: nil, kernel: step.kernel)
                        return done("no welcome message")
                    }
                    try await texts.set("welcome", to: text, kernel: step.kernel)
                    return done("the welcome message is set")
                }
                let current = try await texts.value("welcome", kernel: step.kernel) ?? ""
                return .form(form("Edit Welcome Message", [field("welcome", .textMulti, "Welcome message for new accounts (empty: none)",
                                                                values: current.isEmpty ? [] : current.components(separatedBy: "\n"))]), isLast: true)
            },
            AdHocCommand(node: "ping", name: "Ping", audience: .users) { _ in done("Pong") },
        ]
    }

    /// disable-user or reenable-user: the same operation, both ways.
    static func accountStatus(_ name: String, _ title: String, disable: Bool) -> AdHocCommand {
        admin(name, title, fields: [jids("accountjids", "The Jabber ID(s)")]) { step in
            var changed: [String] = []
            for text in step.values["accountjids"] ?? [] {
                let user = try localUser(text, step.kernel)
                guard try await step.kernel.setDisabled(user, disable, reason: "by \(step.requester.bare)") else { return failed("no account \(user)") }
                changed.append(user)
            }
            return done("\(disable ? "disabled" : "re-enabled") \(changed.joined(separator: ", "))")
        }
    }

    // MARK: The message of the day

    static func setMessageOfTheDay(_ text: String, _ texts: StoredTexts, _ kernel: ServerKernel) async throws {
        guard text.utf8.count <= 4096 else { throw StanzaError(.notAcceptable, text: "the message of the day is at most 4096 bytes") }
        try await texts.set("motd", to: text, kernel: kernel)
    }

    // MARK: Building blocks

    /// An administrators' command that shows one form (with `fields`; none: it runs at once) and then acts.
    static func admin(_ name: String, _ title: String, fields: [DataForm.Field],
                      act: @escaping @Sendable (AdHocStep) async throws -> AdHocStage) -> AdHocCommand {
        AdHocCommand(node: namespace + "#" + name, name: title, audience: .admins) { step in
            if step.stage == 0 && !fields.isEmpty { return .form(form(title, fields), isLast: true) }
            return try await act(step)
        }
    }

    static func form(_ title: String, _ fields: [DataForm.Field]) -> DataForm {
        var form = DataForm(type: .form, title: title, fields: fields)
        form.fields.insert(DataForm.Field(variable: "FORM_TYPE", type: .hidden, values: [namespace]), at: 0)
        return form
    }

    static func result(_ fields: [DataForm.Field]) -> DataForm {
        var form = DataForm(type: .result, fields: fields)
        form.fields.insert(DataForm.Field(variable: "FORM_TYPE", type: .hidden, values: [namespace]), at: 0)
        return form
    }

    static func field(_ variable: String, _ type: DataForm.Field.FieldType, _ label: String, required: Bool = false,
                      values: [String] = []) -> DataForm.Field {
        DataForm.Field(variable: variable, type: type, label: label, isRequired: required, values: values)
    }

    static func jid(_ variable: String, _ label: String) -> DataForm.Field { field(variable, .jidSingle, label, required: true) }
    static func jids(_ variable: String, _ label: String) -> DataForm.Field { field(variable, .jidMulti, label, required: true) }

    static func done(_ text: String) -> AdHocStage { .completed(note: AdHocNote(.info, text), results: nil) }
    static func failed(_ text: String) -> AdHocStage { .completed(note: AdHocNote(.error, text), results: nil) }

    /// The username of `text`, a JID on this server.
    static func localUser(_ text: String?, _ kernel: ServerKernel) throws -> String {
        guard let text, let jid = JID(validating: text), let user = jid.localpart, jid.domainpart == kernel.configuration.domain else {
            throw StanzaError(.badRequest, text: "not a user of this server: \(text ?? "(none)")")
        }
        return user
    }
}

/// The module's texts (the message of the day, the welcome message): kept in the service records, and in memory
/// after the first read, so a login does not read storage for them.
final class StoredTexts: Sendable {
    private let cache = Locked<[String: String]?>(nil)

    /// The text `id`, if set.
    func value(_ id: String, kernel: ServerKernel) async throws -> String? {
        if let cached = cache.withLock({ $0 }) { return cached[id] }
        let records = try await kernel.storage.serviceRecords.records(of: ServiceAdministrationModule.recordService)
        let texts = Dictionary(records.map { ($0.id, String(decoding: $0.data, as: UTF8.self)) }, uniquingKeysWith: { $1 })
        return cache.withLock { cache in
            cache = cache ?? texts
            return cache?[id]
        }
    }

    /// Sets (or, with nil, removes) the text `id`, in storage and in memory.
    func set(_ id: String, to text: String?, kernel: ServerKernel) async throws {
        _ = try await value(id, kernel: kernel)   // in memory before it changes
        if let text {
            try await kernel.storage.serviceRecords.save(Array(text.utf8), id: id, of: ServiceAdministrationModule.recordService)
        } else {
            try await kernel.storage.serviceRecords.delete(id: id, of: ServiceAdministrationModule.recordService)
        }
        cache.withLock { $0?[id] = text }
    }
}
