import Foundation
import XMPPCore
import XMPPServerKernel

/// What a persistent chat room keeps across restarts (XEP-0045 §10.2: configuration, affiliations, subject).
public struct StoredRoom: Sendable, Codable, Hashable {
    /// The room's bare JID.
    public var jid: String
    /// The owner's settings.
    public var configuration: RoomConfiguration
    /// Affiliations by bare JID.
    public var affiliations: [String: MUCAffiliation]
    /// The subject.
    public var subject: Room.Subject?

    /// Creates a record.
    public init(jid: String, configuration: RoomConfiguration, affiliations: [String: MUCAffiliation], subject: Room.Subject?) {
        self.jid = jid
        self.configuration = configuration
        self.affiliations = affiliations
        self.subject = subject
    }
}

/// The persistent rooms of one chat service, kept in the kernel's per-service records (``ServiceRecordStore``):
/// one JSON record per room, under the service's domain, keyed by the room's JID.
public struct RoomStore: Sendable {
    /// Where the records live.
    public let records: any ServiceRecordStore
    /// The service's domain.
    public let domain: String

    /// The rooms of `domain` in `records`.
    public init(records: any ServiceRecordStore, domain: String) {
        self.records = records
        self.domain = domain
    }

    /// Every stored room, ordered by JID.
    public func rooms() async throws -> [StoredRoom] {
        let decoder = JSONDecoder()
        return try await records.records(of: domain).map { try decoder.decode(StoredRoom.self, from: Data($0.data)) }
    }

    /// Creates or replaces a room.
    public func save(_ room: StoredRoom) async throws {
        try await records.save(Array(try JSONEncoder().encode(room)), id: room.jid, of: domain)
    }

    /// Forgets a room (destroyed, or no longer persistent).
    public func delete(room jid: String) async throws {
        try await records.delete(id: jid, of: domain)
    }
}
