import XMPPCore

/// Records a hosted service or module keeps for itself (chat rooms, pubsub nodes), by service and id: the
/// "per-service records" storage shape. The kernel stores bytes; the service chooses the encoding.
public protocol ServiceRecordStore: Sendable {
    /// Every record of `service` (a domain such as `conference.example.com`, or a module's name), ordered by id.
    func records(of service: String) async throws -> [(id: String, data: [UInt8])]
    /// Creates or replaces a record.
    func save(_ data: [UInt8], id: String, of service: String) async throws
    /// Removes a record (nothing happens when there is none).
    func delete(id: String, of service: String) async throws
}

/// ``ServiceRecordStore`` in memory.
public final class InMemoryServiceRecordStore: ServiceRecordStore {
    private let services = Locked<[String: [String: [UInt8]]]>([:])

    /// Creates an empty store.
    public init() {}

    public func records(of service: String) async throws -> [(id: String, data: [UInt8])] {
        services.withLock { ($0[service] ?? [:]).sorted { $0.key < $1.key }.map { (id: $0.key, data: $0.value) } }
    }

    public func save(_ data: [UInt8], id: String, of service: String) async throws {
        services.withLock { $0[service, default: [:]][id] = data }
    }

    public func delete(id: String, of service: String) async throws {
        _ = services.withLock { $0[service]?.removeValue(forKey: id) }
    }
}
