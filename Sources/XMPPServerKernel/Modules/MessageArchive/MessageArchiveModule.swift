import Logging
import Foundation
import XMPPCore

/// Message Archive Management (XEP-0313, `urn:xmpp:mam:2`) for accounts: the server keeps each user's one-to-one
/// messages, both directions, and serves them page by page (XEP-0059) filtered by contact, time and id. Every
/// archived message is delivered with the archive's `<stanza-id/>` (XEP-0359), which the client uses to ask for
/// what came after it; stanza ids that claim to come from the user's archive but arrive from outside are removed.
/// Users choose what is kept (`<prefs/>`: always, roster contacts, never, with per-contact exceptions); entries
/// older than `mam_retention_days` are removed.
///
/// Built on the kernel's hooks: inbound and outbound filters stamp and queue entries (an ``ArchiveWriter`` stores
/// them in batches off the routing path), IQ handlers for queries and preferences, the archive storage shape.
/// A message to an offline account passes the filters once when it is stored offline and is archived then; its
/// later delivery is a redelivery and is not archived again.
public struct MessageArchiveModule: ServerModule {
    public let name = "mam"
    public let specifications = ["XEP-0313 1.1.3", "XEP-0359 0.7.0", "XEP-0059 1.0"]

    /// `urn:xmpp:mam:2`.
    public static let namespace = "urn:xmpp:mam:2"
    /// The extended query fields (`before-id`, `after-id`, `ids`).
    public static let extendedFeature = "urn:xmpp:mam:2#extended"
    /// The per-user document the preferences are stored under.
    static let preferencesKey = "mam-prefs"

    /// `mam_default`: what is archived for users who set no preferences.
    public static let defaultPolicy = ConfigOption.choice(
        "mam_default", default: "always", ArchivePreferences.Default.allCases.map(\.rawValue),
        "what the message archive keeps for users who chose nothing: always, roster (contacts only) or never")
    /// `mam_max_page`: the longest page.
    public static let maxPage = ConfigOption.integer(
        "mam_max_page", default: 100, range: 1...1000,
        "most messages in one archive page; a query asking for more (or for no limit) gets this many")
    /// `mam_retention_days`: how long entries are kept.
    public static let retentionDays = ConfigOption.integer(
        "mam_retention_days", default: 365, range: 0...36_500,
        "days a message stays in the archive (0: forever); older entries are removed when the user next logs in")
    /// `mam_write_queue`: entries waiting for storage.
    public static let writeQueue = ConfigOption.integer(
        "mam_write_queue", default: 50_000, range: 100...10_000_000,
        "archive entries waiting to be stored, server-wide; past it, new messages are refused with resource-constraint")
    /// `mam_max_preference_jids`: the longest always/never list.
    public static let maxPreferenceJIDs = ConfigOption.integer(
        "mam_max_preference_jids", default: 1000, range: 0...100_000,
        "most JIDs in a user's always and never archiving lists together")
    public var options: [ConfigOption] { [Self.defaultPolicy, Self.maxPage, Self.retentionDays, Self.writeQueue, Self.maxPreferenceJIDs] }

    /// The queue of entries being written.
    let writer = ArchiveWriter()

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let settings = Settings(maxPage: host.option(Self.maxPage), retentionDays: host.option(Self.retentionDays),
                                maxPreferenceJIDs: host.option(Self.maxPreferenceJIDs))
        let preferences = ArchivePreferencesStore(serverDefault: ArchivePreferences.Default(rawValue: host.option(Self.defaultPolicy)) ?? .always)
        let writer = self.writer
        writer.setCapacity(host.option(Self.writeQueue))
        let retention = RetentionSweeps()
        for feature in [Self.namespace, Self.extendedFeature, StanzaIdentifier.namespace] { host.addAccountFeature(feature) }
        host.onSessionBound { session, kernel in
            await preferences.ensureLoaded(kernel: kernel)
            guard settings.retentionDays > 0, let user = session.jid.localpart, retention.isDue(user) else { return }
            kernel.startBackgroundTask {
                let cutoff = Date().addingTimeInterval(-Double(settings.retentionDays) * 86_400)
                do { try await kernel.storage.archives.removeEntries(olderThan: cutoff, in: user) } catch {
                    kernel.logger.error("archive retention failed", metadata: ["user": "\(user)", "error": "\(error)"])
                }
            }
        }
        host.filterInbound(priority: .late, prepare: { _, kernel in await preferences.ensureLoaded(kernel: kernel) }) { stanza in
            Self.archiveInbound(&stanza, preferences: preferences, writer: writer)
        }
        host.filterOutbound(priority: .late) { stanza in
            Self.archiveOutbound(stanza, preferences: preferences, writer: writer)
        }
        // Storage that falls behind slows the senders down rather than refusing their messages.
        host.throttleSenders { eventLoop in writer.relief(on: eventLoop) }
        host.addStatistic("mam_write_queue") { _ in writer.depth }
        host.addStatistic("mam_write_queue_peak") { _ in writer.peakDepth }
        host.handleIQ(Self.namespace, for: [.ownAccount]) { request in
            switch request.payload.name {
            case "query":
                // The messages the account just sent or received are in what it reads.
                await writer.awaitQueuedWrites()
                return try await ArchiveQueryHandler.answer(request, archive: request.senderUsername, maxPage: settings.maxPage)
            case "prefs": return try await Self.handlePreferences(request, store: preferences, maxJIDs: settings.maxPreferenceJIDs)
            default: throw StanzaError(.featureNotImplemented)
            }
        }
        host.onAccountDeleted { user, kernel in
            try await kernel.storage.archives.removeArchive(user)
            try await kernel.storage.userData.setValue(nil, for: Self.preferencesKey, of: user)
            preferences.set(nil, of: user)
        }
    }

    struct Settings: Sendable {
        var maxPage: Int
        var retentionDays: Int
        var maxPreferenceJIDs: Int
    }

    // MARK: Archiving

    /// Whether a message belongs in a user's archive (XEP-0313 §5.1.1): a one-to-one message with content — a body, an
    /// encrypted payload, or the `<store/>` hint — unless it is an error, a headline, a room message, or marked
    /// `<no-store/>`/`<no-permanent-store/>` (XEP-0334).
    static func isArchivable(_ element: Element) -> Bool {
        switch element.attribute("type") {
        case nil, "chat", "normal": break
        default: return false
        }
        var hasContent = false
        for child in element.elements {
            switch (child.name, child.namespace) {
            case ("no-store", CarbonsModule.hintsNamespace), ("no-permanent-store", CarbonsModule.hintsNamespace): return false
            case ("body", _), ("store", CarbonsModule.hintsNamespace), ("encrypted", _): hasContent = true
            default: continue
            }
        }
        return hasContent
    }

    /// A message reaching a local account: drops stanza ids that pretend to be the account's, and archives the
    /// message, stamped with its archive id when the preferences settle it now.
    static func archiveInbound(_ stanza: inout InboundStanza, preferences: ArchivePreferencesStore, writer: ArchiveWriter) -> StanzaVerdict {
        guard stanza.element.name == "message", !stanza.isRedelivery, let user = stanza.to.localpart else { return .pass }
        let owner = stanza.to.bare
        if stanza.element.child("stanza-id", namespace: StanzaIdentifier.namespace) != nil {
            stanza.element.children.removeAll { node in
                guard case .element(let child) = node, child.name == "stanza-id", child.namespace == StanzaIdentifier.namespace else { return false }
                return child.attribute("by").flatMap { JID(validating: $0) } == owner
            }
        }
        guard stanza.from.bare != owner, isArchivable(stanza.element) else { return .pass }
        let decision = preferences.preferences(of: user).decision(for: stanza.from)
        if decision == false { return .pass }
        let id = StanzaID.make()
        if decision == true { stanza.element.append(StanzaIdentifier(id: id, by: owner).element) }
        let entry = ArchivedStanza(id: id, timestamp: Date(), with: stanza.from, element: stanza.element)
        guard writer.enqueue(.init(archive: user, entry: entry, onlyWithRosterContact: decision == nil), kernel: stanza.kernel) else {
            return .reject(StanzaError(.resourceConstraint, text: "the message archive is behind; try again shortly"))
        }
        return .pass
    }

    /// A message a local user sends: archived in the sender's archive with the recipient as the other party.
    static func archiveOutbound(_ stanza: OutboundStanza, preferences: ArchivePreferencesStore, writer: ArchiveWriter) -> StanzaVerdict {
        guard stanza.isAddressed, stanza.element.name == "message", let user = stanza.from.localpart,
              stanza.to.bare != stanza.from.bare, isArchivable(stanza.element) else { return .pass }
        let decision = preferences.preferences(of: user).decision(for: stanza.to)
        if decision == false { return .pass }
        var element = stanza.element
        if element.attribute("to") == nil { element.setAttribute("to", to: stanza.to.description) }
        let entry = ArchivedStanza(id: StanzaID.make(), timestamp: Date(), with: stanza.to, element: element)
        guard writer.enqueue(.init(archive: user, entry: entry, onlyWithRosterContact: decision == nil), kernel: stanza.kernel) else {
            return .reject(StanzaError(.resourceConstraint, text: "the message archive is behind; try again shortly"))
        }
        return .pass
    }

    // MARK: Preferences

    static func handlePreferences(_ request: IQRequest, store: ArchivePreferencesStore, maxJIDs: Int) async throws -> IQReply {
        let user = request.senderUsername
        guard request.iq.type == .set else { return IQReply(store.preferences(of: user).element) }
        let chosen = try ArchivePreferences(element: request.payload)
        guard chosen.always.count + chosen.never.count <= maxJIDs else {
            throw StanzaError(.resourceConstraint, text: "at most \(maxJIDs) JIDs in the archiving lists")
        }
        try await request.kernel.storage.userData.setValue(chosen.document, for: preferencesKey, of: user)
        store.set(chosen, of: user)
        return IQReply(chosen.element)
    }
}

/// Which archives had their retention applied today: each is swept at most once a day (a user's at login, a room's
/// when it next archives a message).
public final class RetentionSweeps: Sendable {
    private let swept = Locked<(day: Int, users: Set<String>)>((0, []))

    /// No archive swept yet.
    public init() {}

    /// Whether `user`'s archive is due for a sweep (and marks it done for today).
    public func isDue(_ user: String) -> Bool {
        let today = Int(Date().timeIntervalSince1970 / 86_400)
        return swept.withLock { state in
            if state.day != today { state = (today, []) }
            return state.users.insert(user).inserted
        }
    }
}
