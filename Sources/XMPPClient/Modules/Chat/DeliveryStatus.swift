import Foundation
import XMPPCore

/// How far a message this client sent has got, for the ticks an app shows beside it. Statuses only move forward:
/// queued → sent → acknowledged → delivered → read, or failed.
public enum DeliveryStatus: Sendable, Hashable, Codable, Comparable {
    /// Waiting in the outbox for a connection.
    case queued
    /// Written to the server.
    case sent
    /// The server confirmed it has it (stream management, XEP-0198).
    case acknowledged
    /// The recipient's client confirmed receipt (XEP-0184).
    case delivered
    /// The recipient displayed it (chat markers, XEP-0333).
    case read
    /// It came back with this error condition (`service-unavailable`, `item-not-found`, ...).
    case failed(condition: String)

    /// The order statuses move in; a failure ends everything.
    var rank: Int {
        switch self {
        case .queued: 0
        case .sent: 1
        case .acknowledged: 2
        case .delivered: 3
        case .read: 4
        case .failed: 5
        }
    }

    public static func < (lhs: DeliveryStatus, rhs: DeliveryStatus) -> Bool { lhs.rank < rhs.rank }

    /// A short word for storage and display: `queued`, `sent`, `acknowledged`, `delivered`, `read`, `failed:CONDITION`.
    public var word: String {
        switch self {
        case .queued: "queued"
        case .sent: "sent"
        case .acknowledged: "acknowledged"
        case .delivered: "delivered"
        case .read: "read"
        case .failed(let condition): "failed:\(condition)"
        }
    }

    /// The status a ``word`` names.
    public init?(word: String) {
        switch word {
        case "queued": self = .queued
        case "sent": self = .sent
        case "acknowledged": self = .acknowledged
        case "delivered": self = .delivered
        case "read": self = .read
        default:
            guard word.hasPrefix("failed:") else { return nil }
            self = .failed(condition: String(word.dropFirst(7)))
        }
    }
}

/// A message this client sent moved to a new ``DeliveryStatus``.
public struct DeliveryUpdate: Sendable, Hashable {
    /// The message's id (what ``ChatModule/send(_:to:thread:requestReceipt:chatState:)`` returned).
    public var messageID: String
    /// The recipient.
    public var to: JID
    /// The new status.
    public var status: DeliveryStatus
}

/// The chat markers of XEP-0333: a sender marks a message `markable`, the recipient's client answers `displayed`.
public enum ChatMarkers {
    /// `urn:xmpp:chat-markers:0`.
    public static let namespace = "urn:xmpp:chat-markers:0"
}
