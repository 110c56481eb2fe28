import Foundation
import XMPPCore

// The server's archive (XEP-0313): queries, synchronization forward from the newest stored message, paging back, and
// the unread rule for what comes from it.
extension MessageArchiveModule {
    /// One page of the server's archive of this account (XEP-0313), or of a room's own archive when `archive` is the
    /// room's JID; oldest first. Without `after` or `before` the first page; `before: ""` asks for the last one.
    public func queryServer(archive: JID? = nil, with peer: JID? = nil, start: Date? = nil, end: Date? = nil, after: String? = nil,
                            before: String? = nil, max: Int? = nil) async throws -> ServerArchivePage {
        let client = try client.require()
        let archive = archive?.bare ?? client.configuration.jid.bare
        let queryID = StanzaID.make()
        var form = DataForm(type: .submit, formType: Self.namespace)
        if let peer { form.setValues([peer.description], for: "with") }
        if let start { form.setValues([start.formatted(.iso8601)], for: "start") }
        if let end { form.setValues([end.formatted(.iso8601)], for: "end") }
        var query = Element("query", namespace: Self.namespace, attributes: ["queryid": queryID])
        query.append(form.element)
        query.append(ResultSetPage(max: max ?? pageSize, after: after, before: before).element)
        collecting.withLock { $0[queryID] = (archive, []) }
        defer { _ = collecting.withLock { $0.removeValue(forKey: queryID) } }
        let fin = try await client.query(query, type: .set, to: archive == client.configuration.jid.bare ? nil : archive)
        let messages = collecting.withLock { $0[queryID]?.messages } ?? []
        let set = fin?.child("set", namespace: ResultSetPage.namespace).flatMap(ResultSetPage.init(element:))
        return ServerArchivePage(messages: messages, isComplete: fin?.attribute("complete") == "true",
                                 first: set?.first, last: set?.last, count: set?.count)
    }

    /// Fetches what the server archived since the newest stored message (or, the first time, the newest page),
    /// stores it, and returns how many messages were new.
    @discardableResult
    public func synchronize() async throws -> Int {
        let account = try client.require().configuration.jid.bare
        return try await catchUp(room: nil, after: try storage.latestArchiveID(account: account))
    }

    /// Fetches what the account's archive (with `room`, the room's own) holds after the archive id `start`, page by page
    /// (at most 50 pages), or its newest page when `start` is nil; stores it and returns how many messages were new.
    func catchUp(room: ChatRoom?, after start: String?) async throws -> Int {
        let account = try client.require().configuration.jid.bare
        guard var after = start else {
            return try store(try await queryServer(archive: room?.jid, before: "").messages, account: account, room: room)
        }
        var added = 0
        for _ in 0..<50 {
            let page = try await queryServer(archive: room?.jid, after: after)
            added += try store(page.messages, account: account, room: room)
            guard !page.isComplete, let last = page.last else { break }
            after = last
        }
        return added
    }

    /// Fetches the page of the conversation with `peer` before the oldest stored message the server archived,
    /// stores it, and returns the conversation's messages from the store (oldest first).
    @discardableResult
    public func loadEarlier(with peer: JID, limit: Int? = nil) async throws -> [ArchivedMessage] {
        try await pageBack(peer: peer.bare, room: nil, limit: limit)
    }

    /// Fetches the page before the oldest stored message of the conversation with `peer` that has an archive id, from
    /// the account's archive (with `room`, the room's own), stores it, and returns the conversation from the store.
    func pageBack(peer: JID, room: ChatRoom?, limit: Int?) async throws -> [ArchivedMessage] {
        let account = try client.require().configuration.jid.bare
        let oldest = try storage.oldestArchiveID(account: account, peer: peer)
        let page = try await queryServer(archive: room?.jid, with: room == nil ? peer : nil, before: oldest ?? "", max: limit)
        _ = try store(page.messages, account: account, room: room)
        return try messages(with: peer)
    }

    /// Stores messages from the server's archive (or, with `room`, from that room's archive) and applies the unread
    /// rule for history (see ``Conversation/unreadCount``): what the account answered is read up to its answer, and
    /// displayed markers it sent (stored with the archive, XEP-0333 with the `store` hint) are read marks as they are
    /// live.
    func store(_ messages: [ServerArchivedMessage], account: JID, room: ChatRoom? = nil) throws -> Int {
        var added = 0
        var answered: [JID: Date] = [:]
        for message in messages {
            let action = if let room {
                Self.roomAction(for: message.stanza, in: room, account: account, timestamp: message.timestamp, archiveID: message.id)
            } else {
                Self.action(for: message.stanza, account: account, timestamp: message.timestamp, archiveID: message.id)
            }
            guard let action else { continue }
            if case .add(let entry) = action, entry.direction == .outgoing {
                answered[entry.peer] = max(answered[entry.peer] ?? entry.timestamp, entry.timestamp)
            }
            if try perform(action, account: account) { added += 1 }
        }
        for (peer, answer) in answered { try storage.markRead(account: account, peer: peer, upTo: answer) }
        if !messages.isEmpty { publishConversations(account: account) }
        return added
    }

    /// A result of one of our queries: only from the archive queried (for the account's, no `from` or its bare JID),
    /// only for a query under way.
    func collect(_ result: Element, from stanza: Element, account: JID) {
        guard let queryID = result.attribute("queryid"), let id = result.attribute("id"),
              let sender = stanza.attribute("from").map({ JID(validating: $0) }) ?? account,
              let forwarded = result.child("forwarded", namespace: Forwarded.namespace).flatMap(Forwarded.init(element:)) else { return }
        let message = ServerArchivedMessage(id: id, timestamp: forwarded.delay?.stamp ?? Date(), stanza: forwarded.stanza)
        collecting.withLock { collecting in
            guard collecting[queryID]?.archive == sender else { return }
            collecting[queryID]!.messages.append(message)
        }
    }
}
