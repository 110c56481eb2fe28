import Atomics
import Foundation
import XMPPCore
import XMPPServerKernel

/// A room as the administration lists it.
public struct RoomSummary: Sendable, Codable, Hashable {
    /// The room's bare JID.
    public var jid: String
    /// Its name (the configured one, or the JID's local part).
    public var name: String
    /// Occupants inside now.
    public var occupants: Int
    public var isPersistent: Bool
    public var isPublic: Bool
    public var isMembersOnly: Bool
    public var isPasswordProtected: Bool
    /// Whether its creator has not configured it yet (nobody else may enter).
    public var isLocked: Bool
    /// The current subject, if any.
    public var subject: String?
}

/// A room in detail: who is inside, who is affiliated, how it is configured.
public struct RoomDetails: Sendable, Codable, Hashable {
    /// One occupant.
    public struct Occupant: Sendable, Codable, Hashable {
        public var nickname: String
        /// The occupant's account.
        public var jid: String
        public var role: String
        public var affiliation: String
    }

    public var summary: RoomSummary
    public var occupants: [Occupant]
    /// Affiliated accounts (owners, admins, members, outcasts) by bare JID.
    public var affiliations: [String: String]
    public var description: String
    public var isModerated: Bool
    public var maxOccupants: Int
    public var historyLength: Int
    public var realJIDsVisibleToAnyone: Bool
    public var allowsInvitations: Bool
}

/// Why an administrator's room action did not happen.
public enum RoomAdministrationError: Error, Sendable, CustomStringConvertible, Equatable {
    case exists(String)
    case notFound(String)
    case invalidName(String)
    case roomsNotLoaded

    public var description: String {
        switch self {
        case .exists(let jid): "the room \(jid) exists already"
        case .notFound(let jid): "no room \(jid)"
        case .invalidName(let name): "\(name) is not a room name"
        case .roomsNotLoaded: "the persistent chat rooms could not be read from storage"
        }
    }
}

/// What the server's administration (the admin socket, the web console and its JSON API) does with the rooms:
/// list them, look inside one, create a persistent one and destroy one, without being an occupant.
extension MUCService {
    /// Every room the service holds (persistent ones included), by JID.
    public func roomSummaries(kernel: ServerKernel) async -> [RoomSummary] {
        await loadRooms(kernel: kernel)
        let boxes = rooms.withLock { Array($0.values) }
        return boxes.compactMap { box in
            box.state.withLock { slot in slot.isClosed ? nil : Self.summary(of: slot.room) }
        }.sorted { $0.jid < $1.jid }
    }

    /// The room named `name` (its JID's local part) in detail, or nil.
    public func roomDetails(named name: String, kernel: ServerKernel) async -> RoomDetails? {
        await loadRooms(kernel: kernel)
        guard let box = rooms.withLock({ $0[name.lowercased()] }) else { return nil }
        return box.state.withLock { slot -> RoomDetails? in
            guard !slot.isClosed else { return nil }
            let room = slot.room
            let occupants = room.occupants.values.map { occupant in
                RoomDetails.Occupant(nickname: occupant.nickname, jid: occupant.account.description, role: occupant.role.rawValue,
                                     affiliation: room.affiliation(of: occupant.account).rawValue)
            }.sorted { $0.nickname < $1.nickname }
            let configuration = room.configuration
            return RoomDetails(
                summary: Self.summary(of: room), occupants: occupants,
                affiliations: Dictionary(uniqueKeysWithValues: room.affiliations.map { ($0.key.description, $0.value.rawValue) }),
                description: configuration.description, isModerated: configuration.isModerated,
                maxOccupants: configuration.maxOccupants, historyLength: configuration.historyLength,
                realJIDsVisibleToAnyone: configuration.realJIDsVisibleToAnyone, allowsInvitations: configuration.allowsInvitations)
        }
    }

    /// Creates a persistent, public, configured room `name` owned by `owner`, stored at once.
    public func createRoom(named name: String, title: String, owner: JID, kernel: ServerKernel) async throws -> RoomSummary {
        await loadRooms(kernel: kernel)
        guard loadFailure.withLock({ $0 }) == nil else { throw RoomAdministrationError.roomsNotLoaded }
        guard let jid = try? JID(localpart: name, domainpart: domain), let local = jid.localpart else {
            throw RoomAdministrationError.invalidName(name)
        }
        var configuration = RoomConfiguration()
        configuration.name = title
        configuration.isPersistent = true
        var room = Room(jid: jid, configuration: configuration, owner: owner.bare, limits: limits)
        room.isLocked = false
        let created = rooms.withLock { table -> (RoomBox, Int)? in
            guard table[local] == nil else { return nil }
            let box = RoomBox(room: room, isNew: false)
            let version = writeVersions.wrappingIncrementThenLoad(ordering: .relaxed)
            box.state.withLock { $0.version = version }
            table[local] = box
            _ = ledger.replace(.none, with: PersistentRoomLedger.Share(room), within: nil)
            return (box, version)
        }
        guard let (box, version) = created else { throw RoomAdministrationError.exists(jid.description) }
        do {
            try await writer.write(.save(room.stored), version: version, store: RoomStore(records: kernel.storage.serviceRecords, domain: domain))
        } catch {
            // Not stored, so not created: the name is free again (unless someone entered meanwhile, making it theirs).
            let removed = box.state.withLock { slot -> Bool in
                guard !slot.isClosed, slot.room.occupantCount == 0 else { return false }
                slot.isClosed = true
                return true
            }
            if removed {
                rooms.withLock { table in if table[local] === box { table[local] = nil } }
                _ = ledger.replace(PersistentRoomLedger.Share(room), with: .none, within: nil)
            }
            throw error
        }
        return Self.summary(of: room)
    }

    /// Destroys the room `name`: its occupants are told (with `reason`), it is removed from storage and its archive
    /// goes. Throws ``RoomAdministrationError/notFound(_:)`` when there is no such room.
    public func destroyRoom(named name: String, reason: String?, kernel: ServerKernel) async throws {
        await loadRooms(kernel: kernel)
        let local = name.lowercased()
        let jid = (try? JID(localpart: local, domainpart: domain))?.description ?? name
        guard let box = rooms.withLock({ $0[local] }) else { throw RoomAdministrationError.notFound(jid) }
        let outcome = box.state.withLock { slot -> (wasPersistent: Bool, version: Int, room: JID)? in
            guard !slot.isClosed else { return nil }
            let before = slot.room.accountsInside
            let share = PersistentRoomLedger.Share(slot.room)
            var effects = RoomEffects()
            slot.room.destroy(alternate: nil, reason: reason, password: nil, effects: &effects)
            countRooms(entered: [], left: before)
            _ = ledger.replace(share, with: .none, within: nil)
            for (element, recipient) in effects.stanzas { kernel.deliverPresence(element, to: recipient) }
            slot.isClosed = true
            slot.version = writeVersions.wrappingIncrementThenLoad(ordering: .relaxed)
            return (slot.room.configuration.isPersistent, slot.version, slot.room.jid)
        }
        rooms.withLock { table in if table[local] === box { table[local] = nil } }
        guard let outcome else { throw RoomAdministrationError.notFound(jid) }
        maintainArchive(of: outcome.room, archived: true, destroyed: true, kernel: kernel)
        if outcome.wasPersistent {
            try await writer.write(.delete(outcome.room.description), version: outcome.version,
                                   store: RoomStore(records: kernel.storage.serviceRecords, domain: domain))
        }
    }

    private static func summary(of room: Room) -> RoomSummary {
        let configuration = room.configuration
        return RoomSummary(jid: room.jid.description, name: configuration.name.isEmpty ? room.jid.localpart ?? "" : configuration.name,
                           occupants: room.occupantCount, isPersistent: configuration.isPersistent, isPublic: configuration.isPublic,
                           isMembersOnly: configuration.isMembersOnly, isPasswordProtected: configuration.password != nil,
                           isLocked: room.isLocked, subject: room.subject?.text)
    }
}
