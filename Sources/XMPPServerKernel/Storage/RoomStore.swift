import Synchronization

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

/// The persistent rooms of the multi-user chat services.
public protocol RoomStore: Sendable {
    /// Every stored room whose JID is on `domain`.
    func rooms(on domain: String) async throws -> [StoredRoom]
    /// Creates or replaces a room.
    func save(_ room: StoredRoom) async throws
    /// Forgets a room (destroyed, or no longer persistent).
    func delete(room jid: String) async throws
}

/// ``RoomStore`` in memory.
public final class InMemoryRoomStore: RoomStore {
    private let rooms = Mutex<[String: StoredRoom]>([:])

    /// Creates an empty store.
    public init() {}

    public func rooms(on domain: String) async throws -> [StoredRoom] {
        rooms.withLock { $0.values.filter { $0.jid.hasSuffix("@" + domain) }.sorted { $0.jid < $1.jid } }
    }

    public func save(_ room: StoredRoom) async throws {
        rooms.withLock { $0[room.jid] = room }
    }

    public func delete(room jid: String) async throws {
        _ = rooms.withLock { $0.removeValue(forKey: jid) }
    }
}
