import Foundation
import XMPPCore

/// A message from the server's archive (XEP-0313).
public struct ServerArchivedMessage: Sendable, Hashable {
    /// The archive's id for it.
    public var id: String
    /// When the server archived it.
    public var timestamp: Date
    /// The message as archived.
    public var stanza: Element
}

/// One page of the server's archive.
public struct ServerArchivePage: Sendable, Hashable {
    /// The messages, oldest first.
    public var messages: [ServerArchivedMessage]
    /// Whether the page reaches the end of the results in the direction asked.
    public var isComplete: Bool
    /// The archive id of the first and last message of the page, for the next query.
    public var first: String?
    /// The archive id of the last message of the page.
    public var last: String?
    /// How many messages match the query in all, if the server said.
    public var count: Int?
}
